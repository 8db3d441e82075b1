//! `RowDelta`: one snapshot that adds data files and delete files (equality and position)
//! on top of the main branch, as Iceberg Java's `RowDelta` does, and may set table
//! properties in the same commit.
//!
//! Its files inherit the sequence number of the snapshot that finally lands (their
//! manifests are written once, and a retry only rewrites the manifest list). A row delta
//! is never merged with another: each is its own snapshot, so a later delta's equality
//! deletes (sequence number S) hide an earlier delta's rows (sequence number < S).

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use iceberg::spec::{DataContentType, DataFile, Operation};
use iceberg::TableUpdate;

use super::{Plan, SnapshotLanded, TableOperation};
use crate::catalog::LoadedTable;
use crate::error::{Error, Result};
use crate::files::live_data_files;
use crate::snapshot::SnapshotProducer;

/// Adds data and delete files in one snapshot.
pub struct RowDelta {
    producer: SnapshotProducer,
    properties: HashMap<String, String>,
}

impl Default for RowDelta {
    fn default() -> Self {
        Self::new()
    }
}

impl RowDelta {
    /// An empty row delta with a fresh snapshot id.
    pub fn new() -> Self {
        Self {
            producer: SnapshotProducer::new(Operation::Append),
            properties: HashMap::new(),
        }
    }

    /// Adds data and delete files (by their content type).
    pub fn add_files(&mut self, files: impl IntoIterator<Item = DataFile>) -> &mut Self {
        self.producer.add_files(files);
        let operation = if self.producer.delete_files().is_empty() {
            Operation::Append
        } else {
            Operation::Overwrite
        };
        self.producer.set_operation(operation);
        self
    }

    /// Sets a snapshot summary entry.
    pub fn set_summary(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.producer.set_summary(key, value);
        self
    }

    /// Sets a table property in the same commit.
    pub fn set_property(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.properties.insert(key.to_string(), value.into());
        self
    }

    /// No longer sets table property `key`.
    pub fn unset_property(&mut self, key: &str) -> &mut Self {
        self.properties.remove(key);
        self
    }

    /// The data files added.
    pub fn data_files(&self) -> &[DataFile] {
        self.producer.data_files()
    }

    /// The delete files added.
    pub fn delete_files(&self) -> &[DataFile] {
        self.producer.delete_files()
    }

    /// Whether the delta adds no file.
    pub fn is_empty(&self) -> bool {
        self.data_files().is_empty() && self.delete_files().is_empty()
    }

    /// The snapshot's id.
    pub fn snapshot_id(&self) -> i64 {
        self.producer.snapshot_id()
    }

    /// Data files that this delta's position deletes point at but does not add itself:
    /// they must still be live when it commits.
    pub fn referenced_elsewhere(&self) -> BTreeSet<String> {
        let own: BTreeSet<&str> = self.data_files().iter().map(|f| f.file_path()).collect();
        self.delete_files()
            .iter()
            .filter(|f| f.content_type() == DataContentType::PositionDeletes)
            .filter_map(|f| f.referenced_data_file())
            .filter(|p| !own.contains(p.as_str()))
            .collect()
    }
}

#[async_trait]
impl TableOperation for RowDelta {
    type Output = SnapshotLanded;

    async fn plan(&mut self, base: &LoadedTable, attempt: u32) -> Result<Plan<SnapshotLanded>> {
        let required = self.referenced_elsewhere();
        if !required.is_empty() {
            let live = live_data_files(&base.file_io, &base.metadata, &required).await?;
            let gone: Vec<String> = required.difference(&live).cloned().collect();
            if !gone.is_empty() {
                return Err(Error::invalid(format!(
                    "data files that this commit's position deletes point at are no longer live: {gone:?}"
                )));
            }
        }
        let mut commit = self.producer.produce(base, attempt, None).await?;
        if !self.properties.is_empty() {
            commit.updates.push(TableUpdate::SetProperties {
                updates: self.properties.clone(),
            });
        }
        Ok(Plan::Commit(commit))
    }

    fn landed(&mut self, table: &LoadedTable) -> Option<SnapshotLanded> {
        self.producer
            .find_in(&table.metadata)
            .map(|s| SnapshotLanded {
                snapshot_id: s.snapshot_id(),
                sequence_number: s.sequence_number(),
            })
    }
}
