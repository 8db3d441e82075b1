//! `ConvertDeletes`: one `replace` snapshot that swaps a partition's equality-delete files
//! for position deletes of the rows they hide (with its position-delete files folded in),
//! and removes with them every delete file of the partition that no live data file is left
//! for. On the table as each attempt
//! finds it the conversion must still hold (`convert_rules::validate_conversion`); the
//! position deletes keep the data sequence number of the snapshot the conversion read,
//! which is at or above that of every data file they point at.

use std::collections::BTreeSet;

use async_trait::async_trait;
use iceberg::spec::{DataFile, Operation};

use super::convert_rules::{
    dangling_deletes, validate_conversion, ConversionConflict, DeleteConversion,
};
use super::{Plan, TableOperation};
use crate::catalog::LoadedTable;
use crate::error::Result;
use crate::files::ManifestCache;
use crate::snapshot::{Removal, SnapshotProducer};

/// How a partition's conversion ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConversionOutcome {
    /// The snapshot landed.
    Committed {
        /// Its id.
        snapshot_id: i64,
        /// Its sequence number.
        sequence_number: i64,
        /// Delete files it removed: the converted ones and those left dangling.
        removed_deletes: usize,
    },
    /// The table changed so that the conversion cannot commit: nothing committed.
    Skipped(ConversionConflict),
}

/// Converts one partition's equality deletes into position deletes.
pub struct ConvertDeletes {
    producer: SnapshotProducer,
    conversion: DeleteConversion,
    cache: ManifestCache,
    removed_deletes: usize,
}

impl ConvertDeletes {
    /// Commits `conversion` with `position_deletes`, the position deletes of every row its
    /// equality deletes hide in the data files it read. `cache` holds the manifests read
    /// and written before in the same run.
    pub fn new(
        conversion: DeleteConversion,
        position_deletes: Vec<DataFile>,
        cache: ManifestCache,
    ) -> Self {
        let mut producer = SnapshotProducer::new(Operation::Replace);
        producer.add_files(position_deletes);
        producer.set_partition_spec(conversion.partition.spec_id);
        producer.set_data_sequence_number(conversion.start_sequence);
        Self {
            producer,
            conversion,
            cache,
            removed_deletes: 0,
        }
    }

    /// Sets a snapshot summary entry.
    pub fn set_summary(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.producer.set_summary(key, value);
        self
    }
}

#[async_trait]
impl TableOperation for ConvertDeletes {
    type Output = ConversionOutcome;

    async fn plan(&mut self, base: &LoadedTable, attempt: u32) -> Result<Plan<ConversionOutcome>> {
        let (manifests, files) = self.cache.live(&base.file_io, &base.metadata).await?;
        if let Err(conflict) = validate_conversion(&self.conversion, &files) {
            return Ok(Plan::Done(ConversionOutcome::Skipped(conflict)));
        }
        let removing: BTreeSet<String> = self
            .conversion
            .converted
            .iter()
            .chain(&self.conversion.folded)
            .cloned()
            .chain(dangling_deletes(&self.conversion.partition, &files))
            .collect();
        self.removed_deletes = removing.len();
        let removal = Removal {
            files: &removing,
            partition: &self.conversion.partition,
            manifests,
            cache: &self.cache,
        };
        let commit = self.producer.produce(base, attempt, Some(removal)).await?;
        Ok(Plan::Commit(commit))
    }

    fn landed(&mut self, table: &LoadedTable) -> Option<ConversionOutcome> {
        self.producer
            .find_in(&table.metadata)
            .map(|s| ConversionOutcome::Committed {
                snapshot_id: s.snapshot_id(),
                sequence_number: s.sequence_number(),
                removed_deletes: self.removed_deletes,
            })
    }
}
