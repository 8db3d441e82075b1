//! What the table layer needs from a catalog: load a table, and commit requirements plus
//! updates to it. The `floe` binary implements [`TableCatalog`] over the Iceberg REST
//! protocol and in-process over its own catalog; tests implement it over anything that
//! keeps Iceberg's commit semantics.

use std::sync::Arc;

use async_trait::async_trait;
use iceberg::io::FileIO;
use iceberg::spec::{SnapshotRef, TableMetadata, MAIN_BRANCH};
use iceberg::table::Table;
use iceberg::{TableIdent, TableRequirement, TableUpdate};

use crate::error::Result;

/// Separates namespace levels in a REST catalog's URL path segment (the spec's `%1F`),
/// and in the catalog store's keys.
pub const NAMESPACE_SEPARATOR: char = '\u{1f}';

/// A table as a catalog answered it: its name, its current metadata file and what that
/// says, and the file I/O that reaches its files.
#[derive(Clone, Debug)]
pub struct LoadedTable {
    /// The table's name in its catalog.
    pub ident: TableIdent,
    /// Where the current metadata file is.
    pub metadata_location: String,
    /// The current metadata.
    pub metadata: Arc<TableMetadata>,
    /// Reaches the table's files (the local filesystem, or object storage).
    pub file_io: FileIO,
}

impl LoadedTable {
    /// The snapshots of the main branch, newest first.
    pub fn main_ancestry(&self) -> impl Iterator<Item = &SnapshotRef> {
        main_ancestry(&self.metadata)
    }

    /// The table as an iceberg-rust [`Table`], for scans. Call it inside a tokio runtime:
    /// the table runs its work there.
    pub fn to_table(&self) -> Result<Table> {
        Ok(Table::builder()
            .runtime(iceberg::Runtime::try_current()?)
            .identifier(self.ident.clone())
            .metadata(self.metadata.clone())
            .metadata_location(self.metadata_location.clone())
            .file_io(self.file_io.clone())
            .build()?)
    }
}

/// The snapshots of `metadata`'s main branch, newest first.
pub fn main_ancestry(metadata: &TableMetadata) -> impl Iterator<Item = &SnapshotRef> {
    let mut next = metadata.snapshot_for_ref(MAIN_BRANCH);
    std::iter::from_fn(move || {
        let current = next?;
        next = current
            .parent_snapshot_id()
            .and_then(|id| metadata.snapshot_by_id(id));
        Some(current)
    })
}

/// One commit to one table: the requirements the catalog checks on its current
/// metadata, and the updates it applies when they hold.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TableCommit {
    /// Checked first; any that fails makes the commit a conflict.
    pub requirements: Vec<TableRequirement>,
    /// Applied in order.
    pub updates: Vec<TableUpdate>,
}

/// The tables of a catalog, as the writers of the table layer reach them.
#[async_trait]
pub trait TableCatalog: Send + Sync {
    /// The table as it is now.
    async fn load_table(&self, ident: &TableIdent) -> Result<LoadedTable>;

    /// Commits `commit` to the table if its requirements hold, and answers the table as
    /// the commit left it. A failed requirement is [`ErrorKind::Conflict`]; an answer
    /// that leaves the outcome open is [`ErrorKind::Unknown`].
    ///
    /// [`ErrorKind::Conflict`]: crate::ErrorKind::Conflict
    /// [`ErrorKind::Unknown`]: crate::ErrorKind::Unknown
    async fn commit_table(&self, ident: &TableIdent, commit: TableCommit) -> Result<LoadedTable>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{metadata, Snap};

    const W1: &[(&str, &str)] = &[("floe.writer-id", "w1")];
    const HISTORY: &[Snap] = &[
        (10, None, 1, W1),
        (11, Some(10), 2, W1),
        (12, Some(11), 3, &[]),
        (13, Some(12), 4, W1),
    ];

    fn with(extra: &[Snap]) -> Vec<Snap> {
        HISTORY.iter().chain(extra).copied().collect()
    }

    #[test]
    fn main_ancestry_newest_first() {
        let cases: Vec<(&str, TableMetadata, Vec<i64>)> = vec![
            ("no snapshots", metadata(&[], None, &[]), vec![]),
            (
                "linear history",
                metadata(HISTORY, Some(13), &[]),
                vec![13, 12, 11, 10],
            ),
            (
                "main behind the newest snapshot",
                metadata(HISTORY, Some(11), &[]),
                vec![11, 10],
            ),
            (
                "a dangling snapshot off 11 is not on main",
                metadata(&with(&[(14, Some(11), 5, W1)]), Some(13), &[]),
                vec![13, 12, 11, 10],
            ),
            (
                "a branch's own snapshot is not on main",
                metadata(&with(&[(14, Some(12), 5, W1)]), Some(13), &[("audit", 14)]),
                vec![13, 12, 11, 10],
            ),
            (
                "parent expired: ancestry stops",
                metadata(
                    &[(12, Some(11), 3, &[]), (13, Some(12), 4, W1)],
                    Some(13),
                    &[],
                ),
                vec![13, 12],
            ),
        ];
        for (name, metadata, expected) in cases {
            let got: Vec<i64> = main_ancestry(&metadata).map(|s| s.snapshot_id()).collect();
            assert_eq!(got, expected, "{name}");
        }
    }
}
