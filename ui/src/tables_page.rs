//! `GET /ui`: every table the viewer may read, one row each: live data files and bytes,
//! average data file size, live equality- and position-delete files, snapshots,
//! watermark and its lag, last commit and last compaction. A table that cannot be read
//! gets a row saying why; the others still show.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use futures::stream::{self, StreamExt};
use iceberg::TableIdent;

use crate::app::{table_href, Ui};
use crate::error::UiError;
use crate::format;
use crate::history::History;
use crate::pages::{html, now_ms, or_dash, watermark_and_lag, Nav};
use crate::reading::{LiveFigures, Reader};
use crate::session::Viewer;

/// How many tables are read at once.
const PARALLEL_READS: usize = 8;

/// One table's row; the `n_*` figures are the row's `data-*` attributes, for machines.
pub(crate) struct Row {
    name: String,
    href: String,
    /// Why the table could not be read, instead of its figures.
    error: Option<String>,
    n_data_files: u64,
    n_data_bytes: u64,
    n_equality_deletes: u64,
    n_position_deletes: u64,
    n_snapshots: usize,
    data_files: String,
    data_bytes: String,
    average: String,
    watermark: String,
    lag: String,
    last_commit: String,
    last_compaction: String,
}

impl Row {
    /// The row of a table read, or of one that could not be.
    fn new(ident: &TableIdent, read: Result<Read, UiError>) -> Row {
        let (read, error) = match read {
            Ok(read) => (read, None),
            Err(e) => (Read::default(), Some(e.to_string())),
        };
        let Read {
            history,
            snapshots,
            watermark,
            live,
        } = read;
        let (watermark, lag) = watermark_and_lag(watermark, now_ms());
        let when = |s: Option<&crate::history::SnapshotFact>| {
            or_dash(s.map(|s| s.timestamp_ms), format::instant)
        };
        Row {
            name: ident.to_string(),
            href: table_href(ident),
            error,
            n_data_files: live.data_files(),
            n_data_bytes: live.data_bytes(),
            n_equality_deletes: live.equality_delete_files,
            n_position_deletes: live.position_delete_files,
            n_snapshots: snapshots,
            data_files: format::count(live.data_files()),
            data_bytes: format::bytes(live.data_bytes()),
            average: or_dash(live.average_bytes(), format::bytes),
            watermark,
            lag,
            last_commit: when(history.last_commit()),
            last_compaction: when(history.last_compaction()),
        }
    }
}

/// What a row is made of.
#[derive(Default)]
struct Read {
    history: History,
    /// Snapshots in the metadata (every branch's).
    snapshots: usize,
    /// The table's `floe.watermark`.
    watermark: Option<i64>,
    live: Arc<LiveFigures>,
}

impl Read {
    /// Reads `ident`'s metadata and live figures.
    async fn of(reader: &Reader, ident: &TableIdent) -> Result<Read, UiError> {
        let file = reader.metadata(ident).await?;
        let metadata = &file.metadata;
        let live = reader.live(ident, metadata).await?;
        let read = Read {
            history: History::of(metadata),
            snapshots: metadata.snapshots().len(),
            watermark: floe_table::properties::watermark(metadata.properties()),
            live,
        };
        Ok(read)
    }
}

/// The page.
#[derive(Template)]
#[template(path = "tables.html")]
struct TablesPage {
    nav: Nav,
    rows: Vec<Row>,
    now: String,
}

/// `GET /ui`.
pub(crate) async fn show(State(ui): State<Ui>, viewer: Viewer) -> Result<Response, UiError> {
    let reader = ui.reader();
    let tables = reader.visible_tables(&viewer).await?;
    let rows = stream::iter(tables)
        .map(|ident| async move { Row::new(&ident, Read::of(reader, &ident).await) })
        .buffered(PARALLEL_READS)
        .collect()
        .await;
    html(&TablesPage {
        nav: viewer.nav(),
        rows,
        now: format::instant(now_ms()),
    })
}
