//! Committing one rewritten group: a `replace` snapshot (the table layer's `Replace`)
//! marked as the compactor's and carrying the table's watermark forward, through the one
//! commit loop. A conflict reloads and tries again; a group the table no longer allows
//! is skipped; an unknown outcome keeps the group's files.

use std::collections::BTreeSet;
use std::sync::Arc;

use floe_table::properties::{OPERATION, OPERATION_COMPACTION, WATERMARK};
use floe_table::{
    commit, Error, ErrorKind, ManifestCache, Partition, Replace, ReplaceConflict, ReplaceOutcome,
    TableCatalog,
};
use iceberg::spec::DataFile;
use iceberg::TableIdent;
use uuid::Uuid;

use crate::error::CompactionError;

/// A rewritten group, ready to commit.
#[derive(Clone, Debug)]
pub(crate) struct GroupChange {
    pub table_uuid: Uuid,
    pub partition: Partition,
    /// The data sequence number of the snapshot the compaction started from.
    pub start_sequence: i64,
    pub rewritten: BTreeSet<String>,
    pub new_files: Vec<DataFile>,
}

/// How a group's commit ended.
#[derive(Clone, Debug)]
pub enum GroupOutcome {
    /// The group's `replace` snapshot landed.
    Committed {
        /// Its id.
        snapshot_id: i64,
        /// Its sequence number.
        sequence_number: i64,
        /// Delete files it removed with the group.
        removed_deletes: usize,
    },
    /// The table changed so that the group cannot replace its files; it is left for the
    /// next run.
    Skipped(ReplaceConflict),
    /// The commit may have landed or not; its files are kept.
    Unknown(Arc<Error>),
}

/// Commits `change` to the table `ident`. `cache` holds the manifests read and written
/// before, by the run's earlier commits.
pub(crate) async fn commit_group(
    catalog: &dyn TableCatalog,
    ident: &TableIdent,
    change: &GroupChange,
    cache: &ManifestCache,
) -> Result<GroupOutcome, CompactionError> {
    let table = catalog.load_table(ident).await?;
    let uuid = table.metadata.uuid();
    if uuid != change.table_uuid {
        return Err(Error::table_replaced(ident, change.table_uuid, uuid).into());
    }
    let mut replace = Replace::new(
        change.partition.clone(),
        change.start_sequence,
        change.rewritten.clone(),
        change.new_files.clone(),
        cache.clone(),
    );
    replace
        .set_summary(OPERATION, OPERATION_COMPACTION)
        .carry_table_property(WATERMARK);
    match commit(catalog, table, &mut replace).await {
        Ok(finished) => Ok(match finished.output {
            ReplaceOutcome::Committed {
                snapshot_id,
                sequence_number,
                removed_deletes,
            } => GroupOutcome::Committed {
                snapshot_id,
                sequence_number,
                removed_deletes,
            },
            ReplaceOutcome::Skipped(conflict) => GroupOutcome::Skipped(conflict),
        }),
        Err(e) if e.kind() == ErrorKind::Unknown => Ok(GroupOutcome::Unknown(Arc::new(e))),
        Err(e) => Err(e.into()),
    }
}
