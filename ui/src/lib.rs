//! Floe's table health pages, served by `floe serve` next to the REST API: `GET /ui`
//! lists every table with the figures of its live files and its history, and
//! `GET /ui/{namespace}/{table}` draws one table's snapshot history as inline SVG charts
//! beside its schema, partition spec, properties and recent snapshots. Pages are
//! rendered on the server from compile-time templates (askama); nothing is loaded from
//! elsewhere and no script runs. With authentication on, a login form trades client
//! credentials for a token kept in an HttpOnly cookie, and pages show only the
//! namespaces the grants let the viewer read.
//!
//! History charts come from the metadata's snapshot list and summaries alone; only the
//! file-size histogram and the live figures read manifests, the current snapshot's, once
//! per snapshot.
#![deny(missing_docs)]

mod app;
mod chart;
mod error;
mod format;
mod history;
mod pages;
mod reading;
mod session;
mod table_page;
mod tables_page;

pub use app::{router, Ui};
pub use error::UiError;

#[cfg(test)]
#[path = "router_tests.rs"]
mod router_tests;
