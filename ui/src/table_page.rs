//! `GET /ui/{namespace}/{table}`: one table's health. Charts drawn from the main branch's
//! snapshot history (live data and delete files per snapshot over time, commits per
//! hour, watermark lag at each commit) and from the current snapshot's live data files
//! (a file-size histogram); the table's figures, schema, partition spec, properties and
//! most recent snapshots.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::Response;
use floe_rest_catalog::{CatalogError, NAMESPACE_SEPARATOR};
use iceberg::spec::TableMetadata;
use iceberg::{NamespaceIdent, TableIdent};

use crate::app::Ui;
use crate::chart::{self, BarValue, Chart, Head, Series, ValueAxis};
use crate::error::UiError;
use crate::format::{self, TimeUnit};
use crate::history::{History, SnapshotFact};
use crate::pages::{html, now_ms, or_dash, watermark_and_lag, Nav};
use crate::reading::LiveFigures;
use crate::session::Viewer;

/// How many of the newest snapshots the page lists.
const RECENT_SNAPSHOTS: usize = 20;
/// How many hours the commits-per-hour chart covers at most.
const COMMIT_HOURS: usize = 168;

/// A column of the current schema.
struct Column {
    id: i32,
    name: String,
    kind: String,
    required: bool,
    key: bool,
}

/// A row of the recent snapshots.
struct SnapshotRow {
    id: i64,
    sequence_number: i64,
    time: String,
    operation: String,
    by: String,
    data_files: String,
    delete_files: String,
    added: String,
    watermark: String,
    lag: String,
}

impl SnapshotRow {
    fn of(s: &SnapshotFact) -> SnapshotRow {
        let count = |n: Option<u64>| or_dash(n, format::count);
        let by = match (&s.maintenance, &s.writer) {
            (Some(job), _) => format!("floe {job}"),
            (None, Some((writer, Some(checkpoint)))) => format!("{writer} @ {checkpoint}"),
            (None, Some((writer, None))) => writer.clone(),
            (None, None) => "–".into(),
        };
        SnapshotRow {
            id: s.id,
            sequence_number: s.sequence_number,
            time: format::instant(s.timestamp_ms),
            operation: s.operation.clone(),
            by,
            data_files: count(s.data_files),
            delete_files: count(s.delete_files),
            added: format!(
                "{} / {}",
                count(s.added_data_files),
                count(s.added_delete_files)
            ),
            watermark: or_dash(s.watermark_ms, format::instant),
            lag: or_dash(s.lag_seconds(), format::duration),
        }
    }
}

/// The page.
#[derive(Template)]
#[template(path = "table.html")]
struct TablePage {
    nav: Nav,
    name: String,
    location: String,
    metadata_location: String,
    format_version: u8,
    /// The live figures, or why they could not be read.
    live: Result<Figures, String>,
    snapshots: usize,
    watermark: String,
    lag: String,
    last_commit: String,
    last_compaction: String,
    charts: Vec<Chart>,
    columns: Vec<Column>,
    partition: Vec<String>,
    properties: BTreeMap<String, String>,
    recent: Vec<SnapshotRow>,
}

/// The live figures as the page writes them, and as its `data-*` attributes give them.
struct Figures {
    data_files: u64,
    data_bytes: u64,
    equality_delete_files: u64,
    position_delete_files: u64,
    data_bytes_text: String,
    average: String,
}

/// `GET /ui/{namespace}/{table}`: 400 for a name that cannot be a table's, 403 for a
/// namespace outside the viewer's grants (checked before the table is looked up, so it
/// tells nothing of what is there, as the REST API does), 404 for no such table.
pub(crate) async fn show(
    State(ui): State<Ui>,
    viewer: Viewer,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, UiError> {
    let Path((namespace, table)) = path.map_err(|e| CatalogError::bad_request(e.body_text()))?;
    let levels = namespace.split(NAMESPACE_SEPARATOR).map(str::to_string);
    let ns = NamespaceIdent::from_vec(levels.collect())
        .map_err(|e| CatalogError::bad_request(e.to_string()))?;
    if !viewer.may_read(&ns) {
        return Err(UiError::Forbidden {
            viewer: viewer.label(),
            namespace: ns.join("."),
        });
    }
    let ident = TableIdent::new(ns, table);
    let reader = ui.reader();
    let file = reader.metadata(&ident).await?;
    let metadata = &file.metadata;
    let live = reader.live(&ident, metadata).await.map_err(|e| {
        tracing::warn!(table = %ident, error = %e, "ui: live files not read");
        e.to_string()
    });
    let history = History::of(metadata);
    let (watermark, lag) = watermark_and_lag(
        floe_table::properties::watermark(metadata.properties()),
        now_ms(),
    );
    let when = |s: Option<&SnapshotFact>| or_dash(s.map(|s| s.timestamp_ms), format::instant);
    let page = TablePage {
        nav: viewer.nav(),
        name: ident.to_string(),
        location: metadata.location().to_string(),
        metadata_location: file.location.clone(),
        format_version: metadata.format_version() as u8,
        snapshots: metadata.snapshots().len(),
        watermark,
        lag,
        last_commit: when(history.last_commit()),
        last_compaction: when(history.last_compaction()),
        charts: charts(&history, live.as_deref().ok()),
        live: live.map(|l| Figures {
            data_files: l.data_files(),
            data_bytes: l.data_bytes(),
            equality_delete_files: l.equality_delete_files,
            position_delete_files: l.position_delete_files,
            data_bytes_text: format::bytes(l.data_bytes()),
            average: or_dash(l.average_bytes(), format::bytes),
        }),
        columns: columns(metadata),
        partition: partition(metadata),
        properties: metadata.properties().clone().into_iter().collect(),
        recent: history
            .recent(RECENT_SNAPSHOTS)
            .map(SnapshotRow::of)
            .collect(),
    };
    html(&page)
}

/// `n thing` or `n things`.
fn plural(n: usize, thing: &str) -> String {
    format!("{n} {thing}{}", if n == 1 { "" } else { "s" })
}

/// The current schema's columns, the identifier fields marked as the key.
fn columns(metadata: &TableMetadata) -> Vec<Column> {
    let schema = metadata.current_schema();
    let key: Vec<i32> = schema.identifier_field_ids().collect();
    (schema.as_struct().fields().iter())
        .map(|f| Column {
            id: f.id,
            name: f.name.clone(),
            kind: f.field_type.to_string(),
            required: f.required,
            key: key.contains(&f.id),
        })
        .collect()
}

/// The default partition spec's fields: `bucket[16](id) as id_bucket`.
fn partition(metadata: &TableMetadata) -> Vec<String> {
    let schema = metadata.current_schema();
    (metadata.default_partition_spec().fields().iter())
        .map(|f| {
            let source = (schema.field_by_id(f.source_id))
                .map_or_else(|| format!("field {}", f.source_id), |s| s.name.clone());
            format!("{}({source}) as {}", f.transform, f.name)
        })
        .collect()
}

/// The four charts: files per snapshot, data file sizes, commits per hour, lag.
fn charts(history: &History, live: Option<&LiveFigures>) -> Vec<Chart> {
    let snapshots = history.snapshots.len();
    let files = chart::time_lines(
        Head {
            id: "files",
            title: "Live files per snapshot",
            note: format!("total-data-files and total-delete-files of each of the {snapshots} snapshots of the main branch"),
            empty: "no snapshot yet",
        },
        ValueAxis {
            label: "live files".into(),
            unit: 1.0,
            integer: true,
        },
        vec![
            Series {
                name: "data files".into(),
                class: "s-data",
                points: history.series(|s| s.data_files.map(|n| n as f64)),
            },
            Series {
                name: "delete files".into(),
                class: "s-deletes",
                points: history.series(|s| s.delete_files.map(|n| n as f64)),
            },
        ],
    );
    let sizes = live.map(|l| l.data_sizes.as_slice()).unwrap_or_default();
    let bins = chart::size_bins(sizes);
    let histogram = chart::bars(
        Head {
            id: "sizes",
            title: "Data file sizes",
            note: format!(
                "the {} live data files of the current snapshot, in power-of-two bins",
                sizes.len()
            ),
            empty: "no live data file",
        },
        "file size (bin's lower bound, bytes)".into(),
        "data files".into(),
        (bins.iter())
            .map(|b| BarValue {
                label: format::bytes(b.low),
                count: b.count,
                title: format!(
                    "{} to {}: {} files",
                    format::bytes(b.low),
                    format::bytes(b.high),
                    b.count
                ),
            })
            .collect(),
    );
    let (start, counts) = chart::per_hour(&history.commit_times(), COMMIT_HOURS);
    let commits = chart::bars(
        Head {
            id: "commits",
            title: "Commits per hour",
            note: format!(
                "snapshots of the main branch per UTC hour: the last {} of the history (at most {COMMIT_HOURS})",
                plural(counts.len(), "hour")
            ),
            empty: "no commit yet",
        },
        "hour (UTC)".into(),
        "commits".into(),
        (counts.iter().enumerate())
            .map(|(i, n)| {
                let hour = format::utc(start + i as i64 * 3_600_000, "%m-%d %H:00");
                BarValue {
                    title: format!("{hour}: {n} commits"),
                    label: hour,
                    count: *n,
                }
            })
            .collect(),
    );
    let lags = history.series(SnapshotFact::lag_seconds);
    let unit = TimeUnit::of(lags.iter().map(|p| p.1).fold(0.0, f64::max));
    let lag = chart::time_lines(
        Head {
            id: "lag",
            title: "Watermark lag at each commit",
            note: "commit time minus the floe.watermark the snapshot carried".into(),
            empty: "no snapshot carries a watermark",
        },
        ValueAxis {
            label: format!("lag ({})", unit.name),
            unit: unit.seconds,
            integer: false,
        },
        vec![Series {
            name: "lag".into(),
            class: "s-lag",
            points: lags,
        }],
    );
    vec![files, histogram, commits, lag]
}
