//! `RemoveSnapshots`: removes snapshots from a table's metadata (files are not touched).
//! Which snapshots is decided afresh on each attempt's table by the caller's rule, so a
//! retry after a conflict removes what the rule says of the table as it is then.

use async_trait::async_trait;
use iceberg::spec::TableMetadata;
use iceberg::{TableRequirement, TableUpdate};

use super::{Plan, TableOperation};
use crate::catalog::{LoadedTable, TableCommit};
use crate::error::Result;

/// What a removal removed.
#[derive(Clone, Debug)]
pub struct RemovedSnapshots {
    /// The snapshots removed (none when the rule chose none).
    pub snapshot_ids: Vec<i64>,
    /// The table they were chosen from, which still holds them: the files they reached
    /// are read from here.
    pub chosen_from: LoadedTable,
}

/// Removes the snapshots that `choose` picks from each attempt's metadata.
pub struct RemoveSnapshots<F> {
    choose: F,
    planned: Option<RemovedSnapshots>,
}

impl<F> RemoveSnapshots<F>
where
    F: FnMut(&TableMetadata) -> Result<Vec<i64>> + Send,
{
    /// Removes the snapshots `choose` answers (ids of the metadata it is given).
    pub fn new(choose: F) -> Self {
        Self {
            choose,
            planned: None,
        }
    }

    /// The snapshots the last attempt asked to remove.
    pub fn last_planned(&self) -> &[i64] {
        self.planned.as_ref().map_or(&[], |p| &p.snapshot_ids)
    }
}

#[async_trait]
impl<F> TableOperation for RemoveSnapshots<F>
where
    F: FnMut(&TableMetadata) -> Result<Vec<i64>> + Send,
{
    type Output = RemovedSnapshots;

    async fn plan(&mut self, base: &LoadedTable, _attempt: u32) -> Result<Plan<RemovedSnapshots>> {
        let snapshot_ids = (self.choose)(&base.metadata)?;
        let removed = RemovedSnapshots {
            snapshot_ids: snapshot_ids.clone(),
            chosen_from: base.clone(),
        };
        if snapshot_ids.is_empty() {
            return Ok(Plan::Done(removed));
        }
        self.planned = Some(removed);
        Ok(Plan::Commit(TableCommit {
            requirements: vec![TableRequirement::UuidMatch {
                uuid: base.metadata.uuid(),
            }],
            updates: vec![TableUpdate::RemoveSnapshots { snapshot_ids }],
        }))
    }

    /// Landed once none of the planned snapshots is in `table` any more.
    fn landed(&mut self, table: &LoadedTable) -> Option<RemovedSnapshots> {
        let planned = self.planned.as_ref()?;
        let gone = planned
            .snapshot_ids
            .iter()
            .all(|id| table.metadata.snapshot_by_id(*id).is_none());
        gone.then(|| planned.clone())
    }
}
