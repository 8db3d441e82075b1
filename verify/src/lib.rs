//! Proof that two sets of rows are the same, for `floe verify`: the order-independent
//! digests of a table snapshot's live rows (deletes applied) and of a second side (another
//! snapshot, another table, or the Parquet files a table was loaded from), per column (row
//! and null counts, the sum of integer-like values, a commutative hash of every value, min
//! and max), for the whole table and, when asked, per partition of the first side's
//! partition spec, compared with every difference named ([`verify`]). Reading streams
//! with bounded memory and runs partitions (or files) in parallel.
#![deny(missing_docs)]

mod compare;
mod error;
mod files;
mod partition;
mod read;
mod summary;

pub use compare::{compare, differences, Comparison, Figures, Part};
pub use error::VerifyError;
pub use partition::Partitioning;
pub use read::{digest_files, digest_snapshot, snapshot_of, DigestPlan};
pub use summary::{ColumnSummary, Digests, Summary};

use std::sync::Arc;

use floe_table::LoadedTable;

/// The second side of a comparison.
pub enum Against {
    /// A snapshot of a table (the same table or another); `None`: its current snapshot.
    Snapshot(LoadedTable, Option<i64>),
    /// The Parquet files a glob matches: of local paths, or of S3 keys after
    /// `s3://bucket/` (the endpoint and credentials from the AWS environment).
    Files(String),
}

/// How to compare.
#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    /// Only these columns (all of the first side's without it).
    pub columns: Option<Vec<String>>,
    /// Compare partition by partition too (by the first side's default spec).
    pub by_partition: bool,
    /// Partitions or files read at once (at least 1).
    pub parallel: usize,
}

/// Compares `table` at `snapshot` (its current snapshot without one) with `against`.
pub async fn verify(
    table: &LoadedTable,
    snapshot: Option<i64>,
    against: &Against,
    options: &VerifyOptions,
) -> Result<Comparison, VerifyError> {
    let snapshot = snapshot_of(table, snapshot)?;
    let plan = Arc::new(DigestPlan::of_table(
        table,
        snapshot.as_ref(),
        options.columns.as_deref(),
        options.by_partition,
    )?);
    let parallel = options.parallel.max(1);
    let left = digest_snapshot(table, snapshot.as_ref(), plan.clone(), parallel).await?;
    let right = match against {
        Against::Snapshot(other, id) => {
            let other_snapshot = snapshot_of(other, *id)?;
            digest_snapshot(other, other_snapshot.as_ref(), plan, parallel).await?
        }
        Against::Files(pattern) => digest_files(pattern, plan, parallel).await?,
    };
    Ok(compare(&left, &right, options.by_partition))
}
