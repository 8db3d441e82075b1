//! `floe compact`: one compaction run of one table, printing what it planned and did
//! (groups, files and bytes in and out, deletes removed, time); `--dry-run` prints the
//! plan only. With `--zookeeper` the run compacts the table together with the other nodes
//! and commands compacting it (each group rewritten by whoever claims it), and also prints
//! the groups it left to them. A progress line is drawn when stdout is a terminal.

use super::CatalogArgs;
use crate::group_claims::ZooKeeperGroupClaims;
use crate::maintenance_lock::ZooKeeperArgs;
use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail};
use clap::Args;
use floe_compaction::{
    compact, compact_together, CompactionReport, CompactionRequest, GroupOutcome, GroupReport,
    LeftGroup, PlannedGroup, Progress, Silent,
};

/// `floe compact`'s arguments.
#[derive(Args, Debug)]
pub struct CompactArgs {
    /// The catalog.
    #[command(flatten)]
    pub catalog: CatalogArgs,
    /// The table: namespace.table.
    #[arg(long)]
    pub table: String,
    /// Target size of the files written (bytes, or with a unit: 128MiB, 512KiB); the
    /// option target-file-size-bytes.
    #[arg(long)]
    pub target_file_size: Option<String>,
    /// Fewest files a group needs, unless its deletes call for a rewrite; the option
    /// min-input-files.
    #[arg(long)]
    pub min_input_files: Option<usize>,
    /// Any option of Iceberg's `rewrite_data_files`, as NAME=VALUE (repeatable):
    /// target-file-size-bytes, min-file-size-bytes, max-file-size-bytes, min-input-files,
    /// delete-file-threshold, delete-ratio-threshold, max-concurrent-file-group-rewrites,
    /// max-file-group-size-bytes; and Floe's verify (true: each group's files are read back
    /// and checked against the rows read before it commits).
    #[arg(long = "option", value_name = "NAME=VALUE")]
    pub options: Vec<String>,
    /// Print the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Where the catalog's ZooKeeper is, to compact together with the others.
    #[command(flatten)]
    pub zk: ZooKeeperArgs,
    /// Test hook: each group claimed waits this long (ms) before it is rewritten, so a
    /// test can stop the run while it holds a claim.
    #[arg(long, hide = true)]
    pub test_pause_after_claim_ms: Option<u64>,
}

impl CompactArgs {
    /// The `--option`s, then the flags that stand for one.
    fn request(&self) -> anyhow::Result<CompactionRequest> {
        let mut overrides = Vec::new();
        for option in &self.options {
            let (name, value) = option
                .split_once('=')
                .ok_or_else(|| anyhow!("--option {option}: expected NAME=VALUE"))?;
            overrides.push((name.trim().to_string(), value.trim().to_string()));
        }
        // (An error names the option, target-file-size-bytes, which --help ties to the flag.)
        let request = CompactionRequest {
            overrides,
            dry_run: self.dry_run,
            pause_after_claim: self.test_pause_after_claim_ms.map(Duration::from_millis),
            ..Default::default()
        };
        Ok(request.with_shorthands(self.target_file_size.clone(), self.min_input_files))
    }
}

/// Bytes for people: 1.5 MiB.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn outcome_text(group: &GroupReport) -> String {
    match &group.outcome {
        Ok(GroupOutcome::Committed {
            snapshot_id,
            sequence_number,
            removed_deletes,
        }) => format!(
            "committed snapshot {snapshot_id} (sequence number {sequence_number}), {removed_deletes} delete files removed"
        ),
        Ok(GroupOutcome::Skipped(why)) => format!("skipped, left for the next run: {why}"),
        Ok(GroupOutcome::Unknown(why)) => {
            format!("outcome unknown, its files are kept: {why}")
        }
        Err(e) => format!("failed: {e}"),
    }
}

fn planned_text(out: &mut String, group: &PlannedGroup) -> std::fmt::Result {
    writeln!(
        out,
        "  {}: {} data files, {} delete files, {} ({} rows) -> about {} files [{}]",
        group.name,
        group.data_files,
        group.delete_files,
        bytes(group.input_bytes),
        group.input_records,
        group.expected_output_files,
        group.reason
    )
}

/// The report `floe compact` prints.
pub fn render(report: &CompactionReport, dry_run: bool) -> String {
    let mut out = String::new();
    let Some(start) = report.start_snapshot else {
        return format!("{}: no snapshot, nothing to compact\n", report.table);
    };
    let input: u64 = report.planned.iter().map(|g| g.input_bytes).sum();
    let files: usize = report.planned.iter().map(|g| g.data_files).sum();
    let _ = writeln!(
        out,
        "{}: planned {} groups on snapshot {start}: {files} data files, {}",
        report.table,
        report.planned.len(),
        bytes(input)
    );
    if dry_run {
        for group in &report.planned {
            let _ = planned_text(&mut out, group);
        }
        return out;
    }
    for group in &report.groups {
        let _ = planned_text(&mut out, &group.planned);
        let _ = writeln!(
            out,
            "    wrote {} files, {} ({} rows) in {:.2} s; {}",
            group.output_files,
            bytes(group.output_bytes),
            group.output_records,
            group.elapsed.as_secs_f64(),
            outcome_text(group)
        );
    }
    for group in &report.left {
        let _ = writeln!(
            out,
            "  {}: left to another node: {}",
            group.planned.name, group.why
        );
    }
    let output: u64 = report.groups.iter().map(|g| g.output_bytes).sum();
    let input: u64 = report.groups.iter().map(|g| g.planned.input_bytes).sum();
    let secs = report.elapsed.as_secs_f64();
    let left = match report.left.len() {
        0 => String::new(),
        n => format!(" ({n} left to other nodes)"),
    };
    let _ = writeln!(
        out,
        "{} of {} groups committed{left}; {} in, {} out, in {secs:.2} s ({:.1} MB/s of input)",
        report.committed(),
        report.groups.len(),
        bytes(input),
        bytes(output),
        input as f64 / 1e6 / secs.max(1e-9)
    );
    out
}

/// A progress line on a terminal.
struct Line {
    total: AtomicUsize,
    done: AtomicUsize,
}

impl Progress for Line {
    fn planned(&self, groups: &[PlannedGroup]) {
        self.total.store(groups.len(), Ordering::Relaxed);
    }
    fn group_done(&self, _group: &GroupReport) {
        self.one_more();
    }
    fn group_left(&self, _group: &LeftGroup) {
        self.one_more();
    }
}

impl Line {
    fn one_more(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let total = self.total.load(Ordering::Relaxed).max(1);
        let width = 30;
        let filled = done * width / total;
        print!(
            "\r[{}{}] {done}/{total} groups",
            "#".repeat(filled),
            "-".repeat(width - filled)
        );
        let _ = std::io::stdout().flush();
        if done == total {
            println!();
        }
    }
}

/// Runs `floe compact`.
pub async fn run(args: CompactArgs) -> anyhow::Result<()> {
    let (catalog, ident) = args.catalog.table(&args.table).await?;
    let request = args.request()?;
    let progress: Arc<dyn Progress> = if std::io::stdout().is_terminal() && !args.dry_run {
        Arc::new(Line {
            total: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
        })
    } else {
        Arc::new(Silent)
    };
    let session = match args.dry_run {
        true => None,
        false => args.zk.session().await?,
    };
    let report = match &session {
        None => compact(catalog, &ident, &request, progress).await,
        Some(session) => {
            let claims = Arc::new(ZooKeeperGroupClaims::new(session.clone(), &args.zk.zk_root));
            let report = compact_together(catalog, &ident, &request, progress, claims).await;
            // Every claim is released by now; end the session rather than leave it to expire.
            session.close();
            report
        }
    }?;
    print!("{}", render(&report, args.dry_run));
    let failed = report.failed();
    if failed > 0 {
        bail!("{failed} groups failed or have an unknown outcome");
    }
    Ok(())
}
