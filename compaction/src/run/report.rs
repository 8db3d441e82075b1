//! What a compaction run reports: the groups it planned, what each group it rewrote did,
//! and, in a run together with other nodes, the groups it left to them; and the
//! [`Progress`] listener that hears about a run as it goes.

use std::sync::Arc;
use std::time::Duration;

use floe_table::ReplaceConflict;

use super::group::GroupOutcome;
use crate::error::CompactionError;

/// Hears about a run as it goes (a progress bar, logs).
pub trait Progress: Send + Sync {
    /// The run planned these groups.
    fn planned(&self, _groups: &[PlannedGroup]) {}
    /// A group was rewritten and its commit ended.
    fn group_done(&self, _group: &GroupReport) {}
    /// A group was left to another node compacting the table together with this one.
    fn group_left(&self, _group: &LeftGroup) {}
}

/// A progress listener that hears nothing.
pub struct Silent;
impl Progress for Silent {}

/// One planned group, for reports.
#[derive(Clone, Debug)]
pub struct PlannedGroup {
    /// Its name, by which the nodes compacting the table together claim it: the partition
    /// and the group's index among that partition's groups (`id_bucket=3#0`).
    pub name: String,
    /// The partition, as a path (`id_bucket=3`).
    pub partition: String,
    /// Data files to rewrite.
    pub data_files: usize,
    /// Delete files applying to them.
    pub delete_files: usize,
    /// Bytes of the data files.
    pub input_bytes: u64,
    /// Rows of the data files, before deletes.
    pub input_records: u64,
    /// Files the rewrite should write.
    pub expected_output_files: usize,
    /// Why the group is rewritten.
    pub reason: String,
}

/// One group's result.
#[derive(Clone, Debug)]
pub struct GroupReport {
    /// What was planned.
    pub planned: PlannedGroup,
    /// Files written.
    pub output_files: usize,
    /// Bytes written.
    pub output_bytes: u64,
    /// Rows written.
    pub output_records: u64,
    /// How its commit ended, or why the group failed.
    pub outcome: Result<GroupOutcome, Arc<CompactionError>>,
    /// Time taken to rewrite and commit it.
    pub elapsed: Duration,
}

/// What a run planned and did.
#[derive(Clone, Debug, Default)]
pub struct CompactionReport {
    /// The table's name.
    pub table: String,
    /// The snapshot the run started from; none for a table without snapshots.
    pub start_snapshot: Option<i64>,
    /// The groups planned.
    pub planned: Vec<PlannedGroup>,
    /// What each group this run rewrote did (or why it failed).
    pub groups: Vec<GroupReport>,
    /// The groups this run left to the other nodes compacting the table together with it
    /// (none when it compacts alone).
    pub left: Vec<LeftGroup>,
    /// Time the whole run took.
    pub elapsed: Duration,
}

impl CompactionReport {
    /// How many groups committed.
    pub fn committed(&self) -> usize {
        self.groups
            .iter()
            .filter(|g| matches!(g.outcome, Ok(GroupOutcome::Committed { .. })))
            .count()
    }

    /// How many groups failed or have an unknown outcome.
    pub fn failed(&self) -> usize {
        self.groups
            .iter()
            .filter(|g| matches!(g.outcome, Err(_) | Ok(GroupOutcome::Unknown(_))))
            .count()
    }
}

/// How a group ended, as one word: `committed`, `skipped`, `unknown`, `verify_failed`
/// (its output differed from its input) or `failed`.
pub fn group_outcome_label(outcome: &Result<GroupOutcome, Arc<CompactionError>>) -> &'static str {
    match outcome {
        Ok(GroupOutcome::Committed { .. }) => "committed",
        Ok(GroupOutcome::Skipped(_)) => "skipped",
        Ok(GroupOutcome::Unknown(_)) => "unknown",
        Err(e) if e.is_verification_failure() => "verify_failed",
        Err(_) => "failed",
    }
}

/// A group a run compacting together with other nodes left to them.
#[derive(Clone, Debug)]
pub struct LeftGroup {
    /// What was planned.
    pub planned: PlannedGroup,
    /// Why it was left.
    pub why: Elsewhere,
}

/// Why a group was left to another node.
#[derive(Clone, Debug)]
pub enum Elsewhere {
    /// Its claim was free, but its files had been replaced (or the table changed so that
    /// it cannot commit): another node did it.
    Done(ReplaceConflict),
    /// Another node still held its claim after this run waited that long: it is that
    /// node's (alive, and still rewriting it).
    StillHeld(Duration),
}

impl std::fmt::Display for Elsewhere {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Elsewhere::Done(why) => write!(f, "done by another node ({why})"),
            Elsewhere::StillHeld(waited) => write!(
                f,
                "another node still held its claim after {:.1} s: left to it",
                waited.as_secs_f64()
            ),
        }
    }
}
