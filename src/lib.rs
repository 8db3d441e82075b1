//! Floe: an Apache Iceberg v2 table-format service. This crate holds the `floe` binary's
//! pieces: the service configuration and the server that wires the REST catalog
//! (`floe-rest-catalog`) to its store, warehouse and locks (`floe-locks`).

pub mod config;
pub mod server;
