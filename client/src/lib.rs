//! How a Floe program (the `floe` CLI, the Python package) reaches an Iceberg REST
//! catalog: [`Connection`] connects with the caller's auth and answers a [`RestClient`],
//! which is also the table layer's `TableCatalog` and refreshes a credential's token as
//! it expires (the `auth` module says when); [`read_secret`] reads a token or credential
//! given as `@PATH`; [`find_upsert_table`], [`new_upsert_table`] and
//! [`create_upsert_table`] find or make the table an upsert writer writes; [`TableInfo`]
//! is a table's snapshots and live files as data; [`error_chain`] is an error and its
//! causes on one line.
#![deny(missing_docs)]

mod auth;
mod connection;
mod error_chain;
mod rest;
mod secret;
mod table_info;
mod upsert_target;

pub use connection::Connection;
pub use error_chain::error_chain;
pub use rest::{parse_table_ident, RestClient, RestError};
pub use secret::read_secret;
pub use table_info::{FileContent, FileInfo, SnapshotInfo, TableInfo};
pub use upsert_target::{
    create_upsert_table, find_upsert_table, new_upsert_table, NewUpsertTable, TargetError,
};
