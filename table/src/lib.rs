//! Floe's Iceberg table layer, shared by every writer (the upsert writer, the compactor,
//! snapshot expiry) and by the catalog server:
//!
//! - [`TableCatalog`] and [`LoadedTable`]: what a writer needs from a catalog;
//! - [`commit`]: the one commit loop, with the table's `commit.retry.*` policy
//!   ([`RetryPolicy`]), which settles unknown outcomes by looking for the change;
//! - [`TableOperation`]s planned afresh for each attempt: [`RowDelta`] and [`Replace`]
//!   build their snapshot with the one [`SnapshotProducer`], as [`ConvertDeletes`] does
//!   (equality deletes become position deletes), [`RemoveSnapshots`] removes snapshots;
//! - the main branch's live files ([`ManifestCache`], [`LiveFile`], [`live_files`]) and
//!   the sequence-number rules of deletes ([`may_apply`], [`validate`]);
//! - [`RowDigest`]: an order-independent digest of rows, to prove a rewrite kept them;
//! - [`properties`]: every table property and summary key Floe reads or writes;
//! - [`storage`]: S3 settings, `object_store` and the FileIO bridge over it;
//! - one [`Error`] with a kind that says whether to retry and whether files may go.
#![deny(missing_docs)]

mod catalog;
mod commit;
mod digest;
mod error;
mod files;
mod operation;
pub mod properties;
mod snapshot;
pub mod storage;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use catalog::{main_ancestry, LoadedTable, TableCatalog, TableCommit, NAMESPACE_SEPARATOR};
pub use commit::{commit, Finished, RetryPolicy, Waits};
pub use digest::{ColumnDigest, RowDigest};
pub use error::{Error, ErrorKind, Result};
pub use files::{
    live_data_files, live_entries, live_files, main_manifests, position_delete_schema,
    snapshot_manifests, write_position_deletes, LiveFile, LoadedManifests, ManifestCache,
    Partition, PositionDeleteWriter, POSITION_DELETE_FILE_PATH, POSITION_DELETE_POS,
};
pub use operation::{
    conversions_of, dangling_deletes, deletes_by_data_file, may_apply, removable_deletes, validate,
    validate_conversion, ConversionConflict, ConversionOutcome, ConvertDeletes, DeleteConversion,
    Plan, RemoveSnapshots, RemovedSnapshots, Replace, ReplaceConflict, ReplaceOutcome, RowDelta,
    SnapshotLanded, TableOperation,
};
pub use snapshot::{new_snapshot_id, spec_of, Removal, SnapshotProducer};
