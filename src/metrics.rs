//! Every metric Floe exports, named and described once, in [`METRICS`]: the Prometheus
//! recorder of the process, the catalog's [`Telemetry`] over it (requests, commits, lock
//! waits, and the health and per-table gauges set at each scrape), and what scheduled
//! compaction and delete conversion count.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use floe_compaction::{group_outcome_label, CompactionReport, ConversionReport, DeleteFileCounts};
use floe_rest_catalog::{watermark_lag_seconds, CommitOutcome, Readiness, TableFigures, Telemetry};
use metrics::Unit;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use metrics_util::MetricKindMask;

/// What kind of metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up.
    Counter,
    /// Set to a value.
    Gauge,
    /// A distribution of durations.
    Histogram,
}

/// One exported metric.
#[derive(Clone, Copy, Debug)]
pub struct Metric {
    /// Its Prometheus name.
    pub name: &'static str,
    /// Its kind.
    pub kind: Kind,
    /// Its labels.
    pub labels: &'static [&'static str],
    /// Its HELP text.
    pub help: &'static str,
}

const fn metric(
    name: &'static str,
    kind: Kind,
    labels: &'static [&'static str],
    help: &'static str,
) -> Metric {
    Metric {
        name,
        kind,
        labels,
        help,
    }
}

/// Every HTTP request.
pub const HTTP_REQUESTS: Metric = metric(
    "floe_http_requests_total",
    Kind::Counter,
    &["method", "route", "status"],
    "HTTP requests by method, route and status",
);
/// Every HTTP request's latency.
pub const HTTP_REQUEST_DURATION: Metric = metric(
    "floe_http_request_duration_seconds",
    Kind::Histogram,
    &["method", "route", "status"],
    "HTTP request latency by method, route and status",
);
/// Table commits (one per table of a transaction).
pub const COMMITS: Metric = metric(
    "floe_commits_total",
    Kind::Counter,
    &["outcome"],
    "table commits by outcome: ok, conflict, unknown, failed",
);
/// Commit latency.
pub const COMMIT_DURATION: Metric = metric(
    "floe_commit_duration_seconds",
    Kind::Histogram,
    &["outcome"],
    "commit latency by outcome",
);
/// Waits for table commit locks.
pub const LOCK_WAIT: Metric = metric(
    "floe_lock_wait_seconds",
    Kind::Histogram,
    &[],
    "time spent waiting for table commit locks",
);
/// The catalog store's health.
pub const STORE_UP: Metric = metric(
    "floe_store_up",
    Kind::Gauge,
    &[],
    "1 when the catalog store answered the last check",
);
/// The warehouse storage's health.
pub const WAREHOUSE_UP: Metric = metric(
    "floe_warehouse_up",
    Kind::Gauge,
    &[],
    "1 when the warehouse's storage answered the last check",
);
/// The ZooKeeper session's health.
pub const ZOOKEEPER_CONNECTED: Metric = metric(
    "floe_zookeeper_session_connected",
    Kind::Gauge,
    &[],
    "1 while the ZooKeeper session is connected (only with ZooKeeper)",
);
/// Live data files per table.
pub const TABLE_DATA_FILES: Metric = metric(
    "floe_table_data_files",
    Kind::Gauge,
    &["table"],
    "live data files of a table",
);
/// Live delete files per table.
pub const TABLE_DELETE_FILES: Metric = metric(
    "floe_table_delete_files",
    Kind::Gauge,
    &["table"],
    "live delete files of a table",
);
/// Ingestion lag per table.
pub const TABLE_WATERMARK_LAG: Metric = metric(
    "floe_table_watermark_lag_seconds",
    Kind::Gauge,
    &["table"],
    "now minus the table's floe.watermark, in seconds",
);
/// Scheduled compaction runs.
pub const COMPACTION_RUNS: Metric = metric(
    "floe_compaction_runs_total",
    Kind::Counter,
    &["outcome"],
    "scheduled compaction runs by outcome: ok, failed",
);
/// Scheduled compaction groups.
pub const COMPACTION_GROUPS: Metric = metric(
    "floe_compaction_groups_total",
    Kind::Counter,
    &["outcome"],
    "file groups of scheduled compactions by outcome: committed, skipped, unknown, \
     verify_failed (the output differed from the input: nothing committed), failed, \
     left_to_others (compacting together: another node claimed it)",
);
/// Files replaced by committed compaction groups.
pub const COMPACTION_FILES_REWRITTEN: Metric = metric(
    "floe_compaction_files_rewritten_total",
    Kind::Counter,
    &[],
    "data and delete files that committed compaction groups replaced",
);
/// Bytes replaced by committed compaction groups.
pub const COMPACTION_BYTES_REWRITTEN: Metric = metric(
    "floe_compaction_bytes_rewritten_total",
    Kind::Counter,
    &[],
    "bytes of data files that committed compaction groups replaced",
);

/// Live equality-delete files per table, as the last maintenance round counted them.
pub const TABLE_EQUALITY_DELETE_FILES: Metric = metric(
    "floe_table_equality_delete_files",
    Kind::Gauge,
    &["table"],
    "live equality-delete files of the table, as the last maintenance round counted them",
);
/// Live position-delete files per table, as the last maintenance round counted them.
pub const TABLE_POSITION_DELETE_FILES: Metric = metric(
    "floe_table_position_delete_files",
    Kind::Gauge,
    &["table"],
    "live position-delete files of the table, as the last maintenance round counted them",
);
/// Scheduled conversions of equality deletes into position deletes.
pub const DELETE_CONVERSIONS: Metric = metric(
    "floe_delete_conversion_runs_total",
    Kind::Counter,
    &["outcome"],
    "scheduled conversions of a table's equality deletes by outcome: ok (every partition \
     converted), partial (some skipped or unknown), failed",
);

/// Every metric Floe exports.
pub const METRICS: &[Metric] = &[
    HTTP_REQUESTS,
    HTTP_REQUEST_DURATION,
    COMMITS,
    COMMIT_DURATION,
    LOCK_WAIT,
    STORE_UP,
    WAREHOUSE_UP,
    ZOOKEEPER_CONNECTED,
    TABLE_DATA_FILES,
    TABLE_DELETE_FILES,
    TABLE_WATERMARK_LAG,
    COMPACTION_RUNS,
    COMPACTION_GROUPS,
    COMPACTION_FILES_REWRITTEN,
    COMPACTION_BYTES_REWRITTEN,
    TABLE_EQUALITY_DELETE_FILES,
    TABLE_POSITION_DELETE_FILES,
    DELETE_CONVERSIONS,
];

/// Histogram buckets, in seconds, for request, commit and lock-wait times.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The process's metrics: the Prometheus recorder, installed as the `metrics` recorder,
/// and the delete files the last maintenance round counted per table (set again as gauges
/// at each scrape, as the other per-table gauges are).
pub struct Metrics {
    handle: PrometheusHandle,
    delete_files: Mutex<HashMap<String, DeleteFileCounts>>,
}

impl Metrics {
    /// The process's metrics, installing the recorder (and describing every metric) on
    /// first use. When another recorder was installed first, `/metrics` renders only
    /// what this one saw.
    pub fn install() -> Arc<Metrics> {
        static METRICS_OF_THE_PROCESS: OnceLock<Arc<Metrics>> = OnceLock::new();
        METRICS_OF_THE_PROCESS
            .get_or_init(|| {
                // Every gauge is set again at each scrape; one not set for a minute
                // belongs to a table dropped or renamed since, and goes.
                let recorder = PrometheusBuilder::new()
                    .set_buckets(BUCKETS)
                    .expect("buckets are not empty")
                    .idle_timeout(MetricKindMask::GAUGE, Some(Duration::from_secs(60)))
                    .build_recorder();
                let handle = recorder.handle();
                if metrics::set_global_recorder(recorder).is_err() {
                    tracing::warn!(
                        "a metrics recorder was installed before Floe's; /metrics stays empty"
                    );
                }
                describe();
                Arc::new(Metrics {
                    handle,
                    delete_files: Mutex::default(),
                })
            })
            .clone()
    }
}

/// Gives every metric its HELP text (and durations their unit).
fn describe() {
    for m in METRICS {
        match m.kind {
            Kind::Counter => metrics::describe_counter!(m.name, m.help),
            Kind::Gauge => metrics::describe_gauge!(m.name, m.help),
            Kind::Histogram => metrics::describe_histogram!(m.name, Unit::Seconds, m.help),
        }
    }
}

/// 1 or 0.
fn flag(up: bool) -> f64 {
    f64::from(u8::from(up))
}

impl Telemetry for Metrics {
    fn request(&self, method: &str, route: &str, status: u16, took: Duration) {
        let labels = [
            ("method", method.to_string()),
            ("route", route.to_string()),
            ("status", status.to_string()),
        ];
        metrics::counter!(HTTP_REQUESTS.name, &labels).increment(1);
        metrics::histogram!(HTTP_REQUEST_DURATION.name, &labels).record(took);
    }

    fn commit(&self, outcome: CommitOutcome, took: Duration) {
        let outcome = outcome.as_str();
        metrics::counter!(COMMITS.name, "outcome" => outcome).increment(1);
        metrics::histogram!(COMMIT_DURATION.name, "outcome" => outcome).record(took);
    }

    fn lock_wait(&self, took: Duration) {
        metrics::histogram!(LOCK_WAIT.name).record(took);
    }

    fn scrape(
        &self,
        readiness: &Readiness,
        tables: &[(String, TableFigures)],
        now_ms: i64,
    ) -> String {
        metrics::gauge!(STORE_UP.name).set(flag(readiness.store_error.is_none()));
        metrics::gauge!(WAREHOUSE_UP.name).set(flag(readiness.warehouse_error.is_none()));
        if let Some(connected) = readiness.zookeeper_connected {
            metrics::gauge!(ZOOKEEPER_CONNECTED.name).set(flag(connected));
        }
        for (table, f) in tables {
            metrics::gauge!(TABLE_DATA_FILES.name, "table" => table.clone())
                .set(f.data_files as f64);
            metrics::gauge!(TABLE_DELETE_FILES.name, "table" => table.clone())
                .set(f.delete_files as f64);
            if let Some(w) = f.watermark_ms {
                metrics::gauge!(TABLE_WATERMARK_LAG.name, "table" => table.clone())
                    .set(watermark_lag_seconds(w, now_ms));
            }
        }
        for (table, counts) in self
            .delete_files
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            metrics::gauge!(TABLE_EQUALITY_DELETE_FILES.name, "table" => table.clone())
                .set(counts.equality as f64);
            metrics::gauge!(TABLE_POSITION_DELETE_FILES.name, "table" => table.clone())
                .set(counts.position as f64);
        }
        self.handle.render()
    }
}

impl Metrics {
    /// The delete files of every table a maintenance round counted (tables it did not
    /// see are forgotten).
    pub fn record_delete_files(&self, counted: HashMap<String, DeleteFileCounts>) {
        *self.delete_files.lock().unwrap_or_else(|e| e.into_inner()) = counted;
    }
}

/// Counts a scheduled conversion run: `Ok` with its report, or failed.
pub fn record_conversion(report: Option<&ConversionReport>) {
    let outcome = match report {
        None => "failed",
        Some(r) if r.committed() == r.partitions.len() => "ok",
        Some(_) => "partial",
    };
    metrics::counter!(DELETE_CONVERSIONS.name, "outcome" => outcome).increment(1);
}

/// Counts a scheduled compaction run: `Ok` with its report (its groups by outcome, and
/// the files and bytes the committed groups rewrote), or failed.
pub fn record_compaction(report: Option<&CompactionReport>) {
    let Some(report) = report else {
        metrics::counter!(COMPACTION_RUNS.name, "outcome" => "failed").increment(1);
        return;
    };
    metrics::counter!(COMPACTION_RUNS.name, "outcome" => "ok").increment(1);
    for group in &report.groups {
        let outcome = group_outcome_label(&group.outcome);
        metrics::counter!(COMPACTION_GROUPS.name, "outcome" => outcome).increment(1);
        if outcome == "committed" {
            let files = group.planned.data_files + group.planned.delete_files;
            metrics::counter!(COMPACTION_FILES_REWRITTEN.name).increment(files as u64);
            metrics::counter!(COMPACTION_BYTES_REWRITTEN.name).increment(group.planned.input_bytes);
        }
    }
    if !report.left.is_empty() {
        metrics::counter!(COMPACTION_GROUPS.name, "outcome" => "left_to_others")
            .increment(report.left.len() as u64);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use floe_compaction::{CompactionError, GroupOutcome, Mismatch};
    use floe_table::RowDigest;

    use super::*;

    #[test]
    fn compaction_groups_are_counted_by_outcome() {
        let digest = |rows| RowDigest {
            rows,
            columns: vec![],
        };
        let refused = CompactionError::Rewrite(Box::new(CompactionError::Verification(Box::new(
            Mismatch {
                read: digest(2),
                written: digest(1),
                differences: vec!["rows: 2 against 1".into()],
            },
        ))));
        let cases = [
            (
                Ok(GroupOutcome::Committed {
                    snapshot_id: 1,
                    sequence_number: 2,
                    removed_deletes: 0,
                }),
                "committed",
            ),
            (Err(Arc::new(refused)), "verify_failed"),
            (
                Err(Arc::new(CompactionError::Internal("x".into()))),
                "failed",
            ),
        ];
        for (outcome, label) in cases {
            assert_eq!(group_outcome_label(&outcome), label);
        }
    }

    #[test]
    fn every_metric_is_named_once_in_prometheus_style() {
        let names: BTreeSet<&str> = METRICS.iter().map(|m| m.name).collect();
        assert_eq!(names.len(), METRICS.len(), "a name twice");
        for m in METRICS {
            assert!(m.name.starts_with("floe_"), "{}", m.name);
            let suffix_ok = match m.kind {
                Kind::Counter => m.name.ends_with("_total"),
                Kind::Histogram => m.name.ends_with("_seconds"),
                Kind::Gauge => !m.name.ends_with("_total"),
            };
            assert!(
                suffix_ok,
                "{} does not end as a {:?} should",
                m.name, m.kind
            );
            assert!(!m.help.is_empty(), "{} has no help", m.name);
        }
    }
}
