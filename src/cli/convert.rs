//! `floe convert-deletes`: turns one table's equality deletes into position deletes,
//! partition by partition, printing what each partition converted (equality-delete files,
//! data files read, position deletes written) and how its commit ended; `--dry-run`
//! prints what it would convert.

use std::fmt::Write as _;

use anyhow::bail;
use clap::Args;
use floe_compaction::{convert_deletes, ConversionReport, ConversionRequest, PartitionOutcome};

use super::CatalogArgs;
use crate::maintenance_lock::{holding, MaintenanceLockArgs};

/// `floe convert-deletes`'s arguments.
#[derive(Args, Debug)]
pub struct ConvertArgs {
    /// The catalog.
    #[command(flatten)]
    pub catalog: CatalogArgs,
    /// The table: namespace.table.
    #[arg(long)]
    pub table: String,
    /// Print what would be converted and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The table's maintenance lock.
    #[command(flatten)]
    pub lock: MaintenanceLockArgs,
}

fn outcome_text(outcome: &PartitionOutcome) -> String {
    match outcome {
        PartitionOutcome::Planned => "planned".to_string(),
        PartitionOutcome::Committed {
            snapshot_id,
            sequence_number,
            removed_deletes,
        } => format!(
            "committed snapshot {snapshot_id} (sequence number {sequence_number}), {removed_deletes} delete files removed"
        ),
        PartitionOutcome::Skipped(why) => format!("skipped, left for the next run: {why}"),
        PartitionOutcome::NotOnTheKey => {
            "left as they are: the equality deletes are not on the table's key".to_string()
        }
        PartitionOutcome::Unknown(why) => format!("outcome unknown, its files are kept: {why}"),
    }
}

/// The report `floe convert-deletes` prints.
pub fn render(report: &ConversionReport) -> String {
    let mut out = String::new();
    let Some(start) = report.start_snapshot else {
        return format!("{}: no snapshot, nothing to convert\n", report.table);
    };
    let files: usize = report
        .partitions
        .iter()
        .map(|p| p.equality_delete_files)
        .sum();
    let _ = writeln!(
        out,
        "{}: {} partitions with {files} equality-delete files on snapshot {start}",
        report.table,
        report.partitions.len(),
    );
    for p in &report.partitions {
        let outcome = match &p.outcome {
            Ok(outcome) => outcome_text(outcome),
            Err(e) => format!("failed: {e}"),
        };
        let _ = writeln!(
            out,
            "  {}: {} equality-delete files over {} data files -> {} position deletes in {} files; {outcome}",
            p.partition,
            p.equality_delete_files,
            p.data_files_read,
            p.position_deletes,
            p.position_delete_files,
        );
    }
    let _ = writeln!(
        out,
        "{} of {} partitions converted in {:.2} s",
        report.committed(),
        report.partitions.len(),
        report.elapsed.as_secs_f64()
    );
    out
}

/// Runs `floe convert-deletes`.
pub async fn run(args: ConvertArgs) -> anyhow::Result<()> {
    let (catalog, ident) = args.catalog.table(&args.table).await?;
    let lock = (args.lock)
        .acquire(catalog.as_ref(), &ident, args.dry_run)
        .await?;
    let request = ConversionRequest {
        dry_run: args.dry_run,
        ..Default::default()
    };
    let report = holding(lock, convert_deletes(catalog, &ident, &request)).await?;
    print!("{}", render(&report));
    let failed = report.failed();
    if failed > 0 {
        bail!("{failed} partitions failed or have an unknown outcome");
    }
    Ok(())
}
