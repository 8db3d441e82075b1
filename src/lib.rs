//! The `floe` binary's pieces: the command line (`cli`), the service configuration
//! (`config`) and serving (`serve`: the node's store, warehouse and locks, scheduled
//! compaction over an in-process catalog), every metric it exports (`metrics`), and the
//! REST client that the CLI, the upsert writer and the compactor reach a catalog with
//! (`rest_client`). The table layer, the writer, the compactor, the catalog server and
//! the locks are crates of their own (`floe-table`, `floe-upsert`, `floe-compaction`,
//! `floe-rest-catalog`, `floe-locks`).
#![deny(missing_docs)]

pub mod cli;
pub mod config;
pub mod metrics;
pub mod rest_client;
pub mod serve;
