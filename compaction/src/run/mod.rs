//! One compaction run of one table: load it, plan on its current snapshot (S0), rewrite
//! the groups in parallel (up to `max-concurrent-file-group-rewrites`), and commit each
//! group on its own as soon as it is written (`group`), so one failed group undoes
//! nothing else. Alone ([`compact`]) a run rewrites every group; together with other
//! nodes ([`compact_together`], `cluster`) it rewrites the groups whose claims it gets.

mod claim;
mod cluster;
mod group;
mod report;

pub use cluster::{GroupClaim, GroupClaims};
pub use group::GroupOutcome;
pub use report::{
    group_outcome_label, CompactionReport, Elsewhere, GroupReport, LeftGroup, PlannedGroup,
    Progress, Silent,
};

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use floe_table::properties::parquet_properties;
use floe_table::{
    deletes_by_data_file, live_files, LiveFile, LoadedTable, ManifestCache, TableCatalog,
};
use futures::TryStreamExt;
use iceberg::scan::FileScanTask;
use iceberg::spec::{DataContentType, ManifestEntryRef, SnapshotRef, TableMetadata, MAIN_BRANCH};
use iceberg::TableIdent;
use tokio::sync::{Mutex, Semaphore};

use crate::error::CompactionError;
use crate::plan::{
    plan, CompactionOptions, DataFileInfo, DeleteFileInfo, DeleteKind, MIN_INPUT_FILES,
    TARGET_FILE_SIZE,
};
use crate::rewrite::{rewrite_group, Fault, RewriteSettings};
use group::{commit_group, GroupChange};

/// Memory a group rewrite may use for sorting before it spills sorted runs to disk.
pub const DEFAULT_SORT_BUDGET_BYTES: usize = 128 << 20;

/// What to run.
#[derive(Clone, Debug)]
pub struct CompactionRequest {
    /// Option overrides by `rewrite_data_files` name (over the table's properties).
    pub overrides: Vec<(String, String)>,
    /// Plan only: rewrite and commit nothing.
    pub dry_run: bool,
    /// Memory a group rewrite may use for sorting before it spills to disk.
    pub sort_budget_bytes: usize,
    /// Breaks every group's rewrite on purpose, for the tests that show verification
    /// refuses it; `None` in real runs.
    pub fault: Option<Fault>,
    /// How long a group claimed in a run together with other nodes waits before it is
    /// rewritten, for the tests that stop a node while it holds a claim; `None` in real
    /// runs.
    pub pause_after_claim: Option<Duration>,
}

impl CompactionRequest {
    /// Adds the overrides the CLI and the Python package take as arguments of their own:
    /// the target file size (`target-file-size-bytes`) and the fewest input files
    /// (`min-input-files`), after (so over) the overrides already given.
    pub fn with_shorthands(
        mut self,
        target_file_size: Option<String>,
        min_input_files: Option<usize>,
    ) -> Self {
        if let Some(size) = target_file_size {
            self.overrides.push((TARGET_FILE_SIZE.to_string(), size));
        }
        if let Some(n) = min_input_files {
            self.overrides
                .push((MIN_INPUT_FILES.to_string(), n.to_string()));
        }
        self
    }
}

impl Default for CompactionRequest {
    fn default() -> Self {
        Self {
            overrides: Vec::new(),
            dry_run: false,
            sort_budget_bytes: DEFAULT_SORT_BUDGET_BYTES,
            fault: None,
            pause_after_claim: None,
        }
    }
}

/// A partition as a path (`id_bucket=3`).
pub(crate) fn partition_text(
    metadata: &TableMetadata,
    partition: &floe_table::Partition,
) -> String {
    metadata
        .partition_spec_by_id(partition.spec_id)
        .map(|spec| spec.partition_to_path(&partition.value, metadata.current_schema().clone()))
        .unwrap_or_else(|| format!("{:?}", partition.value))
}

/// The planner's view of the live files.
fn planner_input(
    live: &[LiveFile],
    sizes: &HashMap<String, (u64, u64)>,
) -> (Vec<DataFileInfo>, Vec<DeleteFileInfo>) {
    let deletes: Vec<DeleteFileInfo> = live
        .iter()
        .filter(|f| f.content != DataContentType::Data)
        .map(|f| DeleteFileInfo {
            path: f.path.clone(),
            kind: if f.content == DataContentType::EqualityDeletes {
                DeleteKind::Equality
            } else {
                DeleteKind::Position
            },
            record_count: sizes[&f.path].1,
            size_bytes: sizes[&f.path].0,
        })
        .collect();
    let index: HashMap<&str, usize> = deletes
        .iter()
        .enumerate()
        .map(|(i, d)| (d.path.as_str(), i))
        .collect();
    let applying = deletes_by_data_file(live);
    let data = live
        .iter()
        .filter(|f| f.content == DataContentType::Data)
        .map(|f| DataFileInfo {
            path: f.path.clone(),
            partition: f.partition.clone(),
            size_bytes: sizes[&f.path].0,
            record_count: sizes[&f.path].1,
            deletes: applying[&f.path]
                .iter()
                .map(|d| index[d.as_str()])
                .collect(),
        })
        .collect();
    (data, deletes)
}

/// The positions of the identifier fields among the schema's top-level fields.
pub(crate) fn key_columns(metadata: &TableMetadata) -> Vec<usize> {
    let schema = metadata.current_schema();
    let fields = schema.as_struct().fields();
    schema
        .identifier_field_ids()
        .filter_map(|id| fields.iter().position(|f| f.id == id))
        .collect()
}

/// The scan tasks of a snapshot: every data file with the deletes that apply to it.
pub(crate) async fn scan_tasks(
    table: &LoadedTable,
    snapshot_id: i64,
) -> Result<Vec<FileScanTask>, CompactionError> {
    let scan = table
        .to_table()?
        .scan()
        .snapshot_id(snapshot_id)
        .select_all()
        .build()?;
    Ok(scan.plan_files().await?.try_collect().await?)
}

/// The table as a maintenance run starts from: its main branch's snapshot (S0), the
/// manifests read (to serve the run's commits too) and the live files with their entries.
pub(crate) struct Start {
    pub table: LoadedTable,
    pub start: SnapshotRef,
    pub manifests: ManifestCache,
    pub live: Vec<(LiveFile, ManifestEntryRef)>,
}

/// Loads the table and reads its start; `None` for a table without a snapshot.
pub(crate) async fn read_start(
    catalog: &dyn TableCatalog,
    ident: &TableIdent,
) -> Result<Option<Start>, CompactionError> {
    let table = catalog.load_table(ident).await?;
    let Some(start) = table.metadata.snapshot_for_ref(MAIN_BRANCH).cloned() else {
        return Ok(None);
    };
    let manifests = ManifestCache::default();
    let loaded = manifests.main(&table.file_io, &table.metadata).await?;
    let live = live_files(&table.metadata, &loaded);
    Ok(Some(Start {
        table,
        start,
        manifests,
        live,
    }))
}

/// Runs one compaction of the table `ident` of `catalog`, alone: every planned group is
/// rewritten.
pub async fn compact(
    catalog: Arc<dyn TableCatalog>,
    ident: &TableIdent,
    request: &CompactionRequest,
    progress: Arc<dyn Progress>,
) -> Result<CompactionReport, CompactionError> {
    run(catalog, ident, request, progress, None).await
}

/// Runs one compaction of the table `ident` of `catalog` together with the other nodes
/// that claim its groups from `claims`: this run rewrites the groups whose claims it gets
/// and leaves the others to their holders (`cluster`).
pub async fn compact_together(
    catalog: Arc<dyn TableCatalog>,
    ident: &TableIdent,
    request: &CompactionRequest,
    progress: Arc<dyn Progress>,
    claims: Arc<dyn GroupClaims>,
) -> Result<CompactionReport, CompactionError> {
    run(catalog, ident, request, progress, Some(claims)).await
}

/// A planned group ready to rewrite: its change (the files it replaces) and their scan
/// tasks.
pub(crate) struct Prepared {
    planned: PlannedGroup,
    change: GroupChange,
    tasks: Vec<FileScanTask>,
}

/// What the groups of one run share.
pub(crate) struct RunContext {
    settings: Arc<RewriteSettings>,
    catalog: Arc<dyn TableCatalog>,
    commits: GroupCommits,
    progress: Arc<dyn Progress>,
    /// One permit per group rewritten at once.
    slots: Arc<Semaphore>,
}

async fn run(
    catalog: Arc<dyn TableCatalog>,
    ident: &TableIdent,
    request: &CompactionRequest,
    progress: Arc<dyn Progress>,
    claims: Option<Arc<dyn GroupClaims>>,
) -> Result<CompactionReport, CompactionError> {
    let started = Instant::now();
    let mut report = CompactionReport {
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
    report.start_snapshot = Some(start.snapshot_id());
    let options = CompactionOptions::resolve(metadata.properties(), &request.overrides)?;
    let sizes: HashMap<String, (u64, u64)> = live
        .iter()
        .map(|(f, e)| (f.path.clone(), (e.file_size_in_bytes(), e.record_count())))
        .collect();
    let live: Vec<LiveFile> = live.into_iter().map(|(f, _)| f).collect();
    let (data, deletes) = planner_input(&live, &sizes);
    let groups = plan(&data, &deletes, &options);
    let partitions: Vec<String> = groups
        .iter()
        .map(|g| partition_text(&metadata, &g.partition))
        .collect();
    let names = claim::group_names(partitions.iter().map(String::as_str));
    report.planned = groups
        .iter()
        .zip(partitions.into_iter().zip(names))
        .map(|(g, (partition, name))| PlannedGroup {
            name,
            partition,
            data_files: g.data_files.len(),
            delete_files: g.delete_files.len(),
            input_bytes: g.input_bytes,
            input_records: g.input_records,
            expected_output_files: g.expected_output_files,
            reason: format!("{:?}", g.reason),
        })
        .collect();
    progress.planned(&report.planned);
    if request.dry_run || groups.is_empty() {
        report.elapsed = started.elapsed();
        return Ok(report);
    }
    let mut tasks: HashMap<String, FileScanTask> = scan_tasks(&table, start.snapshot_id())
        .await?
        .into_iter()
        .map(|t| (t.data_file_path.clone(), t))
        .collect();
    let mut prepared = Vec::with_capacity(groups.len());
    for (group, planned) in groups.into_iter().zip(report.planned.clone()) {
        let paths: BTreeSet<String> = group
            .data_files
            .iter()
            .map(|&i| data[i].path.clone())
            .collect();
        let group_tasks: Vec<FileScanTask> = paths.iter().filter_map(|p| tasks.remove(p)).collect();
        if group_tasks.len() != paths.len() {
            return Err(CompactionError::Internal(
                "the scan of the start snapshot lacks files of a group".into(),
            ));
        }
        let change = GroupChange {
            table_uuid: metadata.uuid(),
            partition: group.partition.clone(),
            start_sequence: start.sequence_number(),
            rewritten: paths,
            new_files: Vec::new(),
        };
        prepared.push(Prepared {
            planned,
            change,
            tasks: group_tasks,
        });
    }
    let context = Arc::new(RunContext {
        settings: Arc::new(RewriteSettings {
            file_io: table.file_io.clone(),
            metadata: metadata.clone(),
            parquet: parquet_properties(metadata.properties())?,
            target_file_size: options.target_file_size_bytes as usize,
            key_columns: key_columns(&metadata),
            sort_budget_bytes: request.sort_budget_bytes,
            sequence_numbers: Arc::new(
                live.iter()
                    .map(|f| (f.path.clone(), f.sequence_number))
                    .collect(),
            ),
            verify: options.verify,
            fault: request.fault,
        }),
        catalog,
        commits: GroupCommits {
            ident: ident.clone(),
            manifests,
            one_at_a_time: Mutex::new(()),
        },
        progress,
        slots: Arc::new(Semaphore::new(options.max_concurrent_file_group_rewrites)),
    });
    match claims {
        None => report.groups = rewrite_all(context, prepared).await?,
        Some(claims) => {
            let pause = request.pause_after_claim;
            (report.groups, report.left) =
                cluster::rewrite_claimed(context, prepared, claims, pause).await?;
        }
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Rewrites and commits every group, up to the run's slots at once.
async fn rewrite_all(
    context: Arc<RunContext>,
    groups: Vec<Prepared>,
) -> Result<Vec<GroupReport>, CompactionError> {
    let mut running = Vec::new();
    for group in groups {
        let context = context.clone();
        running.push(tokio::spawn(async move {
            let _slot = context.slots.clone().acquire_owned().await;
            rewrite_and_commit(&context, group).await
        }));
    }
    let mut reports = Vec::with_capacity(running.len());
    for handle in running {
        reports.push(handle.await?);
    }
    Ok(reports)
}

/// What the group commits of one run share: the table, the manifests read and written,
/// and the lock that lets one group commit at a time.
struct GroupCommits {
    ident: TableIdent,
    manifests: ManifestCache,
    one_at_a_time: Mutex<()>,
}

/// Rewrites one group and commits it (one commit of the run at a time), and tells the
/// run's listener.
pub(crate) async fn rewrite_and_commit(context: &RunContext, group: Prepared) -> GroupReport {
    let Prepared {
        planned,
        mut change,
        tasks,
    } = group;
    let (settings, commits) = (&context.settings, &context.commits);
    let started = Instant::now();
    let written = match rewrite_group(settings, &change.partition, tasks).await {
        Ok(written) => written,
        Err(e) => {
            let report = GroupReport {
                planned,
                output_files: 0,
                output_bytes: 0,
                output_records: 0,
                outcome: Err(Arc::new(CompactionError::Rewrite(Box::new(e)))),
                elapsed: started.elapsed(),
            };
            context.progress.group_done(&report);
            return report;
        }
    };
    let (output_files, output_bytes, output_records) =
        (written.files.len(), written.bytes, written.records);
    change.new_files = written.files;
    let outcome = {
        let _turn = commits.one_at_a_time.lock().await;
        let catalog = context.catalog.as_ref();
        commit_group(catalog, &commits.ident, &change, &commits.manifests).await
    };
    if certainly_not_committed(&outcome) {
        // The new files are referenced by nothing.
        for file in &change.new_files {
            if let Err(e) = settings.file_io.delete(file.file_path()).await {
                tracing::warn!(path = file.file_path(), error = %e, "could not delete an unused compacted file");
            }
        }
    }
    let report = GroupReport {
        planned,
        output_files,
        output_bytes,
        output_records,
        outcome: outcome.map_err(Arc::new),
        elapsed: started.elapsed(),
    };
    context.progress.group_done(&report);
    report
}

/// Whether a group's commit certainly did not land, so its new files may go: skipped, or
/// failed in a way that is not an unknown outcome (the commit loop reports every failure
/// after an unknown outcome as unknown).
fn certainly_not_committed(outcome: &Result<GroupOutcome, CompactionError>) -> bool {
    match outcome {
        Ok(GroupOutcome::Skipped(_)) => true,
        Ok(_) => false,
        Err(CompactionError::Table(e)) => e.kind() != floe_table::ErrorKind::Unknown,
        Err(_) => true,
    }
}
