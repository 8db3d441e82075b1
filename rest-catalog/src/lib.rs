//! Floe's Iceberg REST catalog: the catalog core ([`Catalog`]: namespaces, tables, views and the
//! commit protocol over a [`CatalogStore`], a [`Warehouse`] and a lock manager), the pure
//! commit rules it applies, authentication ([`Authenticator`]), and the axum HTTP layer
//! over it all ([`router_with_auth`]), whose routes are declared once. It reports what it
//! does through the [`Telemetry`] seam and names no metric itself.
#![deny(missing_docs)]

mod auth;
mod catalog;
mod commit;
mod digest;
mod entry;
mod error;
mod http;
mod names;
mod observe;
mod store;
mod view_commit;
mod warehouse;

pub use auth::{hash_secret, AuthConfig, Authenticator, ClientConfig, Grant, StaticTokenConfig};
pub use catalog::{
    Catalog, MetadataFile, NewTable, TableChange, ViewMetadataFile,
    DEFAULT_IDEMPOTENCY_KEY_LIFETIME, DEFAULT_LOCK_TIMEOUT,
};
pub use error::{CatalogError, Failure, Result};
pub use http::{
    router, router_with_auth, with_request_ids, MAX_BODY_BYTES, MAX_UPDATES_PER_COMMIT,
};
pub use names::NAMESPACE_SEPARATOR;
pub use observe::{
    watermark_lag_seconds, CommitOutcome, NoTelemetry, Readiness, TableFigures, Telemetry,
};
pub use store::{
    CatalogStore, EmbeddedStore, EntryKind, EntryRecord, IdempotencyStore, KeptAnswer, KeyRecord,
    KeyState, PageRequest, PointerSwap, PropertyChanges, StoreError, ZooKeeperStore,
};
pub use view_commit::{CommitViewRequest, CreateViewRequest, RegisterViewRequest, ViewRequirement};
pub use warehouse::Warehouse;
