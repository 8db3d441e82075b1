//! Floe's Iceberg REST catalog: the catalog core (namespaces, tables, the commit protocol
//! over a pluggable store, warehouse and lock manager) and the axum HTTP layer over it.

pub mod auth;
pub mod catalog;
pub mod commit;
pub mod error;
pub mod http;
pub mod names;
pub mod observe;
pub mod store;
pub mod warehouse;

pub use catalog::{Catalog, MetadataFile, TableChange};
pub use error::CatalogError;
pub use observe::{
    watermark_lag_seconds, CommitOutcome, NoTelemetry, Readiness, TableFigures, Telemetry,
};
