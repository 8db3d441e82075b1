//! What the catalog tells its operators: whether it is ready (store, warehouse and
//! ZooKeeper reachable), the per-table figures kept from the metadata of each commit and
//! load, and [`Telemetry`], the seam through which the catalog reports what happens
//! (requests, commits, lock waits) and answers `/metrics`. The catalog names no metric:
//! the `floe` binary implements `Telemetry` with its one module of metrics.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use floe_table::properties::watermark;
use iceberg::spec::TableMetadata;

/// What a table's current metadata says about it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableFigures {
    /// Live data files (the current snapshot's `total-data-files`).
    pub data_files: u64,
    /// Live delete files (the current snapshot's `total-delete-files`).
    pub delete_files: u64,
    /// `floe.watermark`, epoch milliseconds, when the table has one.
    pub watermark_ms: Option<i64>,
    /// The metadata's `last-updated-ms`: which of two figures is newer.
    pub updated_ms: i64,
}

/// The figures of `metadata`: the current snapshot's `total-data-files` and
/// `total-delete-files` (0 without a snapshot) and the `floe.watermark` property.
pub fn table_figures(metadata: &TableMetadata) -> TableFigures {
    let total = |key: &str| {
        metadata
            .current_snapshot()
            .and_then(|s| s.summary().additional_properties.get(key))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    TableFigures {
        data_files: total("total-data-files"),
        delete_files: total("total-delete-files"),
        watermark_ms: watermark(metadata.properties()),
        updated_ms: metadata.last_updated_ms(),
    }
}

/// How far ingestion is behind `now_ms`, in seconds (never negative).
pub fn watermark_lag_seconds(watermark_ms: i64, now_ms: i64) -> f64 {
    (now_ms - watermark_ms).max(0) as f64 / 1000.0
}

/// The latest figures of every table this node has committed or loaded since it started.
#[derive(Clone, Default)]
pub struct TableFigureBook {
    tables: Arc<Mutex<HashMap<String, TableFigures>>>,
}

impl TableFigureBook {
    /// Keeps `metadata`'s figures unless newer ones are in already (a slow load can
    /// finish after a later commit).
    pub fn record(&self, table: &str, metadata: &TableMetadata) {
        let figures = table_figures(metadata);
        let mut book = self.lock();
        let newer = book
            .get(table)
            .is_none_or(|known| known.updated_ms <= figures.updated_ms);
        if newer {
            book.insert(table.to_string(), figures);
        }
    }

    /// Forgets a table dropped or renamed.
    pub fn forget(&self, table: &str) {
        self.lock().remove(table);
    }

    /// Every table's figures, by name.
    pub fn snapshot(&self) -> Vec<(String, TableFigures)> {
        let mut all: Vec<_> = self.lock().iter().map(|(k, v)| (k.clone(), *v)).collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, TableFigures>> {
        self.tables.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Whether the catalog can serve: its store and its warehouse answer and, with ZooKeeper
/// locks, the lock session is connected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Readiness {
    /// `None` when the store answered; otherwise why not.
    pub store_error: Option<String>,
    /// `None` when the warehouse's storage answered; otherwise why not.
    pub warehouse_error: Option<String>,
    /// The ZooKeeper lock session; `None` with in-process locks.
    pub zookeeper_connected: Option<bool>,
}

impl Readiness {
    /// Whether everything answered.
    pub fn is_ready(&self) -> bool {
        self.store_error.is_none()
            && self.warehouse_error.is_none()
            && self.zookeeper_connected != Some(false)
    }
}

/// How a table commit ended, as operators count it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Committed.
    Ok,
    /// Certainly not committed: a requirement failed, or the lock wait timed out (409).
    Conflict,
    /// The outcome is unknown (503); nothing was deleted.
    Unknown,
    /// Refused or failed otherwise.
    Failed,
}

impl CommitOutcome {
    /// The outcome's label: `ok`, `conflict`, `unknown`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            CommitOutcome::Ok => "ok",
            CommitOutcome::Conflict => "conflict",
            CommitOutcome::Unknown => "unknown",
            CommitOutcome::Failed => "failed",
        }
    }
}

/// What the catalog reports as it serves. The `floe` binary turns these into metrics;
/// [`NoTelemetry`] (the default) hears nothing.
pub trait Telemetry: Send + Sync + 'static {
    /// An HTTP request on `route` (the router's template, `unmatched` for none) was
    /// answered with `status` after `took`.
    fn request(&self, _method: &str, _route: &str, _status: u16, _took: Duration) {}
    /// One commit (of one or several tables) ended.
    fn commit(&self, _outcome: CommitOutcome, _took: Duration) {}
    /// A commit waited `took` for a table lock.
    fn lock_wait(&self, _took: Duration) {}
    /// The text `/metrics` answers, with the health and per-table figures as of now.
    fn scrape(
        &self,
        _readiness: &Readiness,
        _tables: &[(String, TableFigures)],
        _now_ms: i64,
    ) -> String {
        String::new()
    }
}

/// Telemetry that hears nothing.
pub struct NoTelemetry;

impl Telemetry for NoTelemetry {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_is_never_negative() {
        let cases = [
            (1_000, 3_500, 2.5),
            (5_000, 5_000, 0.0),
            (9_000, 1_000, 0.0),
        ];
        for (watermark, now, lag) in cases {
            assert_eq!(
                watermark_lag_seconds(watermark, now),
                lag,
                "{watermark} {now}"
            );
        }
    }

    #[test]
    fn ready_needs_the_store_the_warehouse_and_a_connected_session() {
        let down = || Some("down".to_string());
        let cases = [
            (None, None, None, true),
            (None, None, Some(true), true),
            (None, None, Some(false), false),
            (down(), None, None, false),
            (down(), None, Some(true), false),
            (None, down(), None, false),
            (None, down(), Some(true), false),
        ];
        for (store_error, warehouse_error, zookeeper_connected, ready) in cases {
            let r = Readiness {
                store_error,
                warehouse_error,
                zookeeper_connected,
            };
            assert_eq!(r.is_ready(), ready, "{r:?}");
        }
    }
}
