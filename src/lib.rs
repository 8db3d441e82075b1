//! Floe: an Apache Iceberg v2 table-format service. This crate holds the `floe` binary's
//! pieces: the service configuration and the server that wires the REST catalog
//! (`floe-rest-catalog`) to its store, warehouse and locks (`floe-locks`), the bucketed
//! upsert writer (`upsert`) with its REST client, and the `upsert` and `table show` commands.

pub mod cli;
pub mod compaction_schedule;
pub mod config;
pub mod input;
pub mod rest_client;
pub mod rest_table;
pub mod server;
pub mod upsert;
