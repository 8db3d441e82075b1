//! What the catalog tells its operators: whether it is ready (store and ZooKeeper
//! reachable) and the per-table figures behind `/metrics`. Counters and histograms are
//! recorded where things happen (requests, commits, lock waits) through the `metrics`
//! facade; per-table figures are kept here from the metadata of each commit and load, and
//! become gauges when `/metrics` is scraped (so the watermark lag is current).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use iceberg::spec::TableMetadata;

/// Table property (and snapshot summary key) holding the event-time watermark, epoch ms.
pub const WATERMARK: &str = "floe.watermark";

/// What a table's current metadata says about it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableFigures {
    pub data_files: u64,
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
        watermark_ms: metadata
            .properties()
            .get(WATERMARK)
            .and_then(|v| v.trim().parse().ok()),
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

    pub fn forget(&self, table: &str) {
        self.lock().remove(table);
    }

    pub fn snapshot(&self) -> Vec<(String, TableFigures)> {
        let mut all: Vec<_> = self.lock().iter().map(|(k, v)| (k.clone(), *v)).collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// Sets the per-table gauges from the book, as of `now_ms`.
    pub fn publish(&self, now_ms: i64) {
        for (table, f) in self.snapshot() {
            metrics::gauge!("floe_table_data_files", "table" => table.clone())
                .set(f.data_files as f64);
            metrics::gauge!("floe_table_delete_files", "table" => table.clone())
                .set(f.delete_files as f64);
            if let Some(w) = f.watermark_ms {
                metrics::gauge!("floe_table_watermark_lag_seconds", "table" => table)
                    .set(watermark_lag_seconds(w, now_ms));
            }
        }
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
    pub fn is_ready(&self) -> bool {
        self.store_error.is_none()
            && self.warehouse_error.is_none()
            && self.zookeeper_connected != Some(false)
    }
}

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
