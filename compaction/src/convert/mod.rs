//! Converting a table's equality deletes into position deletes, partition by partition,
//! so readers join no data file against equality deletes: on the table's current snapshot
//! (S0) each partition with equality-delete files reads the key columns of the data files
//! they may apply to (`floe_table::conversions_of`), finds the rows they hide, writes
//! those positions as position-delete files (read back and checked against the positions
//! found, unless `floe.compaction.verify` is false), and commits a `replace` snapshot
//! (`floe_table::ConvertDeletes`) that removes the converted files and the partition's
//! dangling delete files. Rows stay exactly the same for every reader. A partition whose
//! files a compaction replaced meanwhile is skipped (and converted another time); upserts
//! committed meanwhile are no conflict; an unknown outcome keeps every file.

mod partition;
mod threshold;

pub use threshold::{delete_file_counts, DeleteFileCounts};

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use floe_table::properties::{
    parquet_properties, target_file_size, OPERATION, OPERATION_CONVERT_DELETES,
};
use floe_table::{
    commit, conversions_of, ConversionConflict, ConversionOutcome, ConvertDeletes,
    DeleteConversion, Error, ErrorKind, LiveFile, ManifestCache, TableCatalog,
};
use iceberg::scan::FileScanTask;
use iceberg::spec::FormatVersion;
use iceberg::TableIdent;

use crate::error::CompactionError;
use crate::plan::CompactionOptions;
use crate::rewrite::{Fault, RewriteSettings};
use crate::run::{
    key_columns, partition_text, read_start, scan_tasks, Start, DEFAULT_SORT_BUDGET_BYTES,
};
use partition::{hidden_positions, write_positions};

/// What a conversion run does.
#[derive(Clone, Debug, Default)]
pub struct ConversionRequest {
    /// Plan only: read, write and commit nothing.
    pub dry_run: bool,
    /// Break the conversion on purpose (tests of its check); `None` in real runs.
    pub fault: Option<Fault>,
}

/// How one partition's conversion ended.
#[derive(Clone, Debug)]
pub enum PartitionOutcome {
    /// Planned only (a dry run).
    Planned,
    /// Its `replace` snapshot landed.
    Committed {
        /// Its id.
        snapshot_id: i64,
        /// Its sequence number.
        sequence_number: i64,
        /// Delete files it removed: the converted ones and those left dangling.
        removed_deletes: usize,
    },
    /// The table changed so that the conversion cannot commit; it is left for next time.
    Skipped(ConversionConflict),
    /// Its equality deletes are on other columns than the table's key: left as they are.
    NotOnTheKey,
    /// The commit may have landed or not; its files are kept.
    Unknown(Arc<Error>),
}

/// One partition's conversion.
#[derive(Clone, Debug)]
pub struct PartitionReport {
    /// The partition, as a path (`id_bucket=3`).
    pub partition: String,
    /// Equality-delete files converted.
    pub equality_delete_files: usize,
    /// Data files whose key columns were read.
    pub data_files_read: usize,
    /// Rows the converted deletes hide: the position deletes written.
    pub position_deletes: u64,
    /// Position-delete files written.
    pub position_delete_files: usize,
    /// How it ended; an error that stopped it before its commit.
    pub outcome: Result<PartitionOutcome, Arc<CompactionError>>,
}

/// What a conversion run did.
#[derive(Clone, Debug, Default)]
pub struct ConversionReport {
    /// The table.
    pub table: String,
    /// The snapshot read.
    pub start_snapshot: Option<i64>,
    /// Each partition with equality deletes.
    pub partitions: Vec<PartitionReport>,
    /// How long the run took.
    pub elapsed: Duration,
}

impl ConversionReport {
    /// Partitions whose conversion committed.
    pub fn committed(&self) -> usize {
        self.partitions
            .iter()
            .filter(|p| matches!(p.outcome, Ok(PartitionOutcome::Committed { .. })))
            .count()
    }

    /// Partitions whose conversion failed or has an unknown outcome.
    pub fn failed(&self) -> usize {
        self.partitions
            .iter()
            .filter(|p| matches!(p.outcome, Err(_) | Ok(PartitionOutcome::Unknown(_))))
            .count()
    }
}

/// Converts the equality deletes of the table `ident` of `catalog` into position deletes.
pub async fn convert_deletes(
    catalog: Arc<dyn TableCatalog>,
    ident: &TableIdent,
    request: &ConversionRequest,
) -> Result<ConversionReport, CompactionError> {
    let started = Instant::now();
    let mut report = ConversionReport {
        table: ident.to_string(),
        ..Default::default()
    };
    let Some(Start {
        table,
        start,
        manifests,
        live,
    }) = read_start(catalog.as_ref(), ident).await?
    else {
        return Ok(report);
    };
    let metadata = table.metadata.clone();
    if metadata.format_version() > FormatVersion::V2 {
        return Err(CompactionError::Unsupported(format!(
            "{ident} has format version {}: its rows are deleted by deletion vectors, which \
             a data file's position-delete files do not add to; equality deletes are \
             converted in format version 2 tables",
            metadata.format_version()
        )));
    }
    report.start_snapshot = Some(start.snapshot_id());
    let live: Vec<LiveFile> = live.into_iter().map(|(f, _)| f).collect();
    let conversions = conversions_of(&live, start.sequence_number());
    let planned = |c: &DeleteConversion, outcome| PartitionReport {
        partition: partition_text(&metadata, &c.partition),
        equality_delete_files: c.converted.len(),
        data_files_read: c.read.len(),
        position_deletes: 0,
        position_delete_files: 0,
        outcome,
    };
    if request.dry_run || conversions.is_empty() {
        report.partitions = conversions
            .iter()
            .map(|c| planned(c, Ok(PartitionOutcome::Planned)))
            .collect();
        report.elapsed = started.elapsed();
        return Ok(report);
    }
    let mut tasks: HashMap<String, FileScanTask> = scan_tasks(&table, start.snapshot_id())
        .await?
        .into_iter()
        .map(|t| (t.data_file_path.clone(), t))
        .collect();
    let settings = Arc::new(RewriteSettings {
        file_io: table.file_io.clone(),
        metadata: metadata.clone(),
        parquet: parquet_properties(metadata.properties())?,
        target_file_size: target_file_size(metadata.properties())?,
        key_columns: key_columns(&metadata),
        sort_budget_bytes: DEFAULT_SORT_BUDGET_BYTES,
        sequence_numbers: Arc::new(
            live.iter()
                .map(|f| (f.path.clone(), f.sequence_number))
                .collect(),
        ),
        // The position-delete files written are checked as a compaction's files are.
        verify: CompactionOptions::resolve(metadata.properties(), &[])?.verify,
        fault: request.fault,
    });
    // Partitions are read and written in parallel, one per core, and commit one at a
    // time (their commits would only conflict with each other).
    let parallel = std::thread::available_parallelism().map_or(1, |n| n.get());
    let limit = Arc::new(tokio::sync::Semaphore::new(parallel));
    let commits = Arc::new(Commits {
        catalog,
        ident: ident.clone(),
        manifests,
        one_at_a_time: tokio::sync::Mutex::new(()),
    });
    let mut running = Vec::new();
    for conversion in conversions {
        let read: Vec<FileScanTask> = conversion
            .read
            .iter()
            .filter_map(|p| tasks.remove(p))
            .collect();
        if read.len() != conversion.read.len() {
            return Err(CompactionError::Internal(
                "the scan of the start snapshot lacks data files of a partition".into(),
            ));
        }
        let mut partition = planned(&conversion, Ok(PartitionOutcome::Planned));
        let (settings, commits, limit) = (settings.clone(), commits.clone(), limit.clone());
        running.push(tokio::spawn(async move {
            let _slot = limit.acquire_owned().await;
            let outcome =
                convert_partition(&commits, &settings, conversion, read, &mut partition).await;
            partition.outcome = outcome.map_err(Arc::new);
            partition
        }));
    }
    for handle in running {
        report.partitions.push(handle.await?);
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

/// What the partitions of one run share to commit: the table, the manifests read and
/// written, and the lock that lets one partition commit at a time.
struct Commits {
    catalog: Arc<dyn TableCatalog>,
    ident: TableIdent,
    manifests: ManifestCache,
    one_at_a_time: tokio::sync::Mutex<()>,
}

/// Reads, writes and commits one partition's conversion.
async fn convert_partition(
    commits: &Commits,
    settings: &RewriteSettings,
    conversion: DeleteConversion,
    read: Vec<FileScanTask>,
    report: &mut PartitionReport,
) -> Result<PartitionOutcome, CompactionError> {
    let Some(positions) = hidden_positions(settings, &conversion, read).await? else {
        return Ok(PartitionOutcome::NotOnTheKey);
    };
    report.position_deletes = positions.iter().map(|(_, p)| p.len() as u64).sum();
    let files = write_positions(settings, &conversion.partition, positions).await?;
    report.position_delete_files = files.len();
    let mut operation = ConvertDeletes::new(conversion, files.clone(), commits.manifests.clone());
    operation.set_summary(OPERATION, OPERATION_CONVERT_DELETES);
    let outcome = {
        let _turn = commits.one_at_a_time.lock().await;
        let catalog = commits.catalog.as_ref();
        let table = catalog.load_table(&commits.ident).await?;
        match commit(catalog, table, &mut operation).await {
            Ok(finished) => match finished.output {
                ConversionOutcome::Committed {
                    snapshot_id,
                    sequence_number,
                    removed_deletes,
                } => Ok(PartitionOutcome::Committed {
                    snapshot_id,
                    sequence_number,
                    removed_deletes,
                }),
                ConversionOutcome::Skipped(conflict) => Ok(PartitionOutcome::Skipped(conflict)),
            },
            Err(e) if e.kind() == ErrorKind::Unknown => Ok(PartitionOutcome::Unknown(Arc::new(e))),
            Err(e) => Err(CompactionError::from(e)),
        }
    };
    let certainly_not_committed = match &outcome {
        Ok(PartitionOutcome::Skipped(_)) | Err(_) => true,
        Ok(_) => false,
    };
    if certainly_not_committed {
        // The position-delete files are referenced by nothing.
        for file in &files {
            if let Err(e) = settings.file_io.delete(file.file_path()).await {
                tracing::warn!(path = file.file_path(), error = %e, "could not delete an unused position-delete file");
            }
        }
    }
    outcome
}
