//! `floe expire-snapshots`: removes a table's snapshots older than its retention
//! (`history.expire.max-snapshot-age-ms`, keeping `history.expire.min-snapshots-to-keep`),
//! then deletes the files that only they reached. Nothing is deleted when the removal's
//! outcome is unknown.

use super::CatalogArgs;
use anyhow::{anyhow, bail};
use clap::Args;
use floe_compaction::expire_snapshots;

/// `floe expire-snapshots`'s arguments.
#[derive(Args, Debug)]
pub struct ExpireArgs {
    /// The catalog.
    #[command(flatten)]
    pub catalog: CatalogArgs,
    /// The table: namespace.table.
    #[arg(long)]
    pub table: String,
    /// Expire snapshots older than this (1h, 5d; default: the table's retention).
    #[arg(long)]
    pub older_than: Option<String>,
    /// Keep at least this many snapshots of each branch (default: the table's retention).
    #[arg(long)]
    pub retain_last: Option<usize>,
}

/// Runs `floe expire-snapshots`.
pub async fn run(args: ExpireArgs) -> anyhow::Result<()> {
    let max_age = match &args.older_than {
        None => None,
        Some(text) => Some(
            humantime::parse_duration(text)
                .map_err(|e| anyhow!("--older-than {text:?} is not a duration like 5d: {e}"))?
                .as_millis() as i64,
        ),
    };
    let (catalog, ident) = args.catalog.table(&args.table).await?;
    let report = expire_snapshots(catalog.as_ref(), &ident, max_age, args.retain_last).await?;
    if report.outcome_unknown {
        bail!(
            "the removal of {} snapshots has an unknown outcome; no file was deleted",
            report.expired_snapshots
        );
    }
    println!(
        "{}: expired {} snapshots, deleted {} files ({} could not be deleted)",
        args.table, report.expired_snapshots, report.deleted_files, report.failed_deletes
    );
    Ok(())
}
