//! `Replace`: one snapshot that replaces a group of data files of one partition by new
//! files holding the same live rows, as a compaction commits each group. On the table as
//! each attempt finds it, the group must still be replaceable (`replace_rules::validate`),
//! the delete files it makes useless are removed with it, and the new files keep the data
//! sequence number of the snapshot the rewrite read, so deletes committed meanwhile still
//! apply to them.

use std::collections::BTreeSet;

use async_trait::async_trait;
use iceberg::spec::{DataFile, Operation};

use super::replace_rules::{removable_deletes, validate, ReplaceConflict};
use super::{Plan, TableOperation};
use crate::catalog::LoadedTable;
use crate::error::Result;
use crate::files::{ManifestCache, Partition};
use crate::snapshot::{Removal, SnapshotProducer};

/// How a replace ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplaceOutcome {
    /// The snapshot landed.
    Committed {
        /// Its id.
        snapshot_id: i64,
        /// Its sequence number.
        sequence_number: i64,
        /// Delete files it removed with the group.
        removed_deletes: usize,
    },
    /// The table changed so that the group cannot replace its files: nothing committed.
    Skipped(ReplaceConflict),
}

/// Replaces a group of data files of one partition.
pub struct Replace {
    producer: SnapshotProducer,
    partition: Partition,
    start_sequence: i64,
    rewritten: BTreeSet<String>,
    cache: ManifestCache,
    /// Delete files the last attempt removed.
    removed_deletes: usize,
}

impl Replace {
    /// Replaces the data files `rewritten` of `partition`, as read from the snapshot of
    /// sequence number `start_sequence`, by `new_files`. `cache` holds the manifests read
    /// and written before in the same run.
    pub fn new(
        partition: Partition,
        start_sequence: i64,
        rewritten: BTreeSet<String>,
        new_files: Vec<DataFile>,
        cache: ManifestCache,
    ) -> Self {
        let mut producer = SnapshotProducer::new(Operation::Replace);
        producer.add_files(new_files);
        producer.set_partition_spec(partition.spec_id);
        producer.set_data_sequence_number(start_sequence);
        Self {
            producer,
            partition,
            start_sequence,
            rewritten,
            cache,
            removed_deletes: 0,
        }
    }

    /// Sets a snapshot summary entry.
    pub fn set_summary(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.producer.set_summary(key, value);
        self
    }

    /// Copies table property `key` into the snapshot's summary.
    pub fn carry_table_property(&mut self, key: &str) -> &mut Self {
        self.producer.carry_table_property(key);
        self
    }
}

#[async_trait]
impl TableOperation for Replace {
    type Output = ReplaceOutcome;

    async fn plan(&mut self, base: &LoadedTable, attempt: u32) -> Result<Plan<ReplaceOutcome>> {
        let (manifests, files) = self.cache.live(&base.file_io, &base.metadata).await?;
        if let Err(conflict) = validate(&self.rewritten, self.start_sequence, &files) {
            return Ok(Plan::Done(ReplaceOutcome::Skipped(conflict)));
        }
        let removed_deletes = removable_deletes(
            &self.rewritten,
            &self.partition,
            self.start_sequence,
            &files,
        );
        self.removed_deletes = removed_deletes.len();
        let removing: BTreeSet<String> = self
            .rewritten
            .iter()
            .chain(&removed_deletes)
            .cloned()
            .collect();
        let removal = Removal {
            files: &removing,
            partition: &self.partition,
            manifests,
            cache: &self.cache,
        };
        let commit = self.producer.produce(base, attempt, Some(removal)).await?;
        Ok(Plan::Commit(commit))
    }

    fn landed(&mut self, table: &LoadedTable) -> Option<ReplaceOutcome> {
        self.producer
            .find_in(&table.metadata)
            .map(|s| ReplaceOutcome::Committed {
                snapshot_id: s.snapshot_id(),
                sequence_number: s.sequence_number(),
                removed_deletes: self.removed_deletes,
            })
    }
}
