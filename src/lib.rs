//! The `floe` binary's pieces: the command line (`cli`), the service configuration
//! (`config`) and serving (`serve`: the node's store, warehouse and locks, scheduled
//! compaction over an in-process catalog), the per-table maintenance lock that the schedules
//! and the maintenance commands share (`maintenance_lock`), the ZooKeeper group claims of
//! compaction together (`group_claims`) and every metric it exports
//! (`metrics`). The
//! table layer, the writer, the compactor, the catalog server, the REST client and the
//! locks are crates of their own (`floe-table`, `floe-upsert`, `floe-compaction`,
//! `floe-rest-catalog`, `floe-client`, `floe-locks`).
#![deny(missing_docs)]

pub mod cli;
pub mod config;
pub mod group_claims;
pub mod maintenance_lock;
pub mod metrics;
pub mod serve;
