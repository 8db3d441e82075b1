//! A compaction run together with other nodes: every node plans the table, and each group
//! is rewritten by the node that claims it ([`GroupClaims`]: ephemeral locks in ZooKeeper
//! in `floe`, so a node that dies loses its claims with its session). The order of the
//! claims is `claim::Claims`; this is the driver around it.
//!
//! Pass 1 tries each group's claim without waiting (a claim tried while another node holds
//! it waits [`GroupClaims::try_wait`], a few round trips); pass 2 waits for the groups
//! another node held, at most [`GroupClaims::others_wait`]. A claimed group is first
//! checked against the table as it is now: when its files are no longer all live (another
//! node replaced them), it is left as done elsewhere; otherwise it is rewritten and
//! committed as its own `replace` snapshot, as in a run alone. The commit keeps its own
//! conflict check, so even a node that lost its claim unnoticed cannot replace files twice.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use floe_table::{validate, Error, ReplaceConflict};
use tokio::sync::mpsc;
use tokio::sync::OwnedSemaphorePermit;
use uuid::Uuid;

use super::claim::{Claim, Claims, Event, Step};
use super::report::{Elsewhere, GroupReport, LeftGroup, PlannedGroup};
use super::{rewrite_and_commit, Prepared, RunContext};
use crate::error::CompactionError;

/// Where the nodes compacting a table together claim its groups.
#[async_trait]
pub trait GroupClaims: Send + Sync {
    /// Claims group `group` of the table `table_uuid`, waiting at most `wait` while
    /// another node holds it; `Ok(None)` when it still does.
    async fn claim(
        &self,
        table_uuid: Uuid,
        group: &str,
        wait: Duration,
    ) -> Result<Option<Box<dyn GroupClaim>>, Box<dyn std::error::Error + Send + Sync>>;

    /// How long pass 1 waits for a claim: long enough to take a free one.
    fn try_wait(&self) -> Duration;

    /// How long pass 2 waits for another node's claim: long enough for the claims of a
    /// node that died to go (its session to expire).
    fn others_wait(&self) -> Duration;
}

/// A claim held. Dropping it releases it too, in the background.
#[async_trait]
pub trait GroupClaim: Send + Sync {
    /// Releases the claim and answers once it is released.
    async fn release(self: Box<Self>);
}

/// What a group's task tells the driver.
enum Message {
    /// The claim was taken (the task goes on).
    Claimed,
    /// Another node held the claim past the wait: the group, for pass 2.
    Busy(Prepared),
    /// Claimed, but its files were replaced meanwhile.
    Stale(PlannedGroup, ReplaceConflict),
    /// This node did the group (or failed to, once claimed): its report.
    Report(GroupReport),
    /// Taking the claim failed: the group's report.
    ClaimFailed(GroupReport),
    /// The group's task panicked, before or after taking the claim (which it then dropped,
    /// releasing it): the group's report.
    Crashed(GroupReport),
}

impl Message {
    /// The event of this message about a group in state `state`.
    fn event(&self, state: Claim) -> Event {
        match self {
            Message::Claimed => Event::Claimed,
            Message::Busy(_) => Event::Busy,
            Message::Stale(..) => Event::Stale,
            Message::Report(_) => Event::Rewritten,
            Message::Crashed(_) if state == Claim::Mine => Event::Rewritten,
            Message::ClaimFailed(_) | Message::Crashed(_) => Event::Failed,
        }
    }
}

/// Rewrites the groups of `groups` whose claims this node gets; answers the reports of
/// the groups it did and the groups it left to others.
pub(crate) async fn rewrite_claimed(
    context: Arc<RunContext>,
    groups: Vec<Prepared>,
    claims: Arc<dyn GroupClaims>,
    pause: Option<Duration>,
) -> Result<(Vec<GroupReport>, Vec<LeftGroup>), CompactionError> {
    // Where this node starts: nodes starting together each begin at a group of their own.
    let first = (Uuid::new_v4().as_u128() % groups.len().max(1) as u128) as usize;
    let mut state = Claims::new(groups.len(), first);
    let mut waiting: Vec<Option<Prepared>> = groups.into_iter().map(Some).collect();
    let (mut reports, mut left) = (Vec::new(), Vec::new());
    let (tx, mut rx) = mpsc::unbounded_channel::<(usize, Message)>();
    loop {
        let step = state.next();
        let (group, wait, slot) = match step {
            Step::Finished => break,
            Step::Pending => {
                let (group, message) = rx.recv().await.ok_or_else(|| {
                    CompactionError::Internal("a group's task ended without a word".into())
                })?;
                let event = message.event(state.states()[group]);
                if !state.record(group, event) {
                    return Err(CompactionError::Internal(format!(
                        "group {group}: {event:?} out of turn"
                    )));
                }
                match message {
                    Message::Claimed => {}
                    // Tried in pass 1: waited for in pass 2.
                    Message::Busy(prepared) if state.states()[group] == Claim::HeldElsewhere => {
                        waiting[group] = Some(prepared)
                    }
                    Message::Busy(prepared) => {
                        let why = Elsewhere::StillHeld(claims.others_wait());
                        left.push((group, left_group(&context, prepared.planned, why)));
                    }
                    Message::Stale(planned, why) => {
                        let why = Elsewhere::Done(why);
                        left.push((group, left_group(&context, planned, why)));
                    }
                    Message::ClaimFailed(report) | Message::Crashed(report) => {
                        context.progress.group_done(&report);
                        reports.push((group, report))
                    }
                    Message::Report(report) => reports.push((group, report)),
                }
                continue;
            }
            // A try takes a rewrite slot first, so this node never holds a claim it cannot
            // work on; a wait takes one once it has the claim.
            Step::Try(group) => {
                let slot = context.slots.clone().acquire_owned().await;
                (group, claims.try_wait(), slot.ok())
            }
            Step::Wait(group) => (group, claims.others_wait(), None),
        };
        let prepared = waiting[group]
            .take()
            .ok_or_else(|| CompactionError::Internal(format!("group {group} started twice")))?;
        let task = Task {
            context: context.clone(),
            claims: claims.clone(),
            group,
            wait,
            pause,
            tx: tx.clone(),
        };
        tokio::spawn(task.run(prepared, slot));
    }
    // In plan order, as a run alone reports them.
    Ok((in_plan_order(reports), in_plan_order(left)))
}

/// The items of `list`, by group index.
fn in_plan_order<T>(mut list: Vec<(usize, T)>) -> Vec<T> {
    list.sort_by_key(|(group, _)| *group);
    list.into_iter().map(|(_, item)| item).collect()
}

/// A group left to another node, told to the run's listener.
fn left_group(context: &RunContext, planned: PlannedGroup, why: Elsewhere) -> LeftGroup {
    let group = LeftGroup { planned, why };
    context.progress.group_left(&group);
    group
}

/// One claim attempt of one group, and the group's work once claimed.
struct Task {
    context: Arc<RunContext>,
    claims: Arc<dyn GroupClaims>,
    group: usize,
    wait: Duration,
    pause: Option<Duration>,
    tx: mpsc::UnboundedSender<(usize, Message)>,
}

impl Task {
    /// Runs the attempt in a task of its own, so that the driver hears of the group even
    /// when it panics.
    async fn run(self, prepared: Prepared, slot: Option<OwnedSemaphorePermit>) {
        let (group, tx) = (self.group, self.tx.clone());
        let planned = prepared.planned.clone();
        let message = match tokio::spawn(self.attempt(prepared, slot)).await {
            Ok(message) => message,
            Err(e) => Message::Crashed(failed(planned, CompactionError::Task(e))),
        };
        // The driver outlives every task it started.
        let _ = tx.send((group, message));
    }

    async fn attempt(self, prepared: Prepared, slot: Option<OwnedSemaphorePermit>) -> Message {
        let uuid = prepared.change.table_uuid;
        let name = prepared.planned.name.clone();
        let claim = match self.claims.claim(uuid, &name, self.wait).await {
            Ok(Some(claim)) => claim,
            Ok(None) => return Message::Busy(prepared),
            Err(source) => {
                let error = CompactionError::Claim {
                    group: name,
                    source,
                };
                return Message::ClaimFailed(failed(prepared.planned, error));
            }
        };
        tracing::debug!(group = %name, "group claimed");
        let _ = self.tx.send((self.group, Message::Claimed));
        let _slot = match slot {
            Some(slot) => Some(slot),
            None => self.context.slots.clone().acquire_owned().await.ok(),
        };
        let message = match still_to_do(&self.context, &prepared).await {
            Ok(Some(why)) => Message::Stale(prepared.planned, why),
            Ok(None) => {
                if let Some(pause) = self.pause {
                    tokio::time::sleep(pause).await;
                }
                Message::Report(rewrite_and_commit(&self.context, prepared).await)
            }
            Err(e) => {
                let report = failed(prepared.planned, e);
                self.context.progress.group_done(&report);
                Message::Report(report)
            }
        };
        claim.release().await;
        message
    }
}

/// `None` when the group's files are all still live (and nothing committed since the
/// run started keeps it from committing); else why not.
async fn still_to_do(
    context: &RunContext,
    group: &Prepared,
) -> Result<Option<ReplaceConflict>, CompactionError> {
    let ident = &context.commits.ident;
    let table = context.catalog.load_table(ident).await?;
    let (expected, uuid) = (group.change.table_uuid, table.metadata.uuid());
    if uuid != expected {
        return Err(Error::table_replaced(ident, expected, uuid).into());
    }
    let (_, current) = (context.commits.manifests)
        .live(&table.file_io, &table.metadata)
        .await?;
    let change = &group.change;
    Ok(validate(&change.rewritten, change.start_sequence, &current).err())
}

/// The report of a group this node claimed (or tried to) and could not do.
fn failed(planned: PlannedGroup, error: CompactionError) -> GroupReport {
    GroupReport {
        planned,
        output_files: 0,
        output_bytes: 0,
        output_records: 0,
        outcome: Err(Arc::new(error)),
        elapsed: Duration::ZERO,
    }
}
