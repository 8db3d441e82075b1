//! What the integration tests of Floe (`tests/*.rs` of the `floe` package, one binary
//! per file) share, compiled once for all of them:
//!
//! - [`auth`]: authentication files for `floe serve --auth`;
//! - [`server`]: a real `floe serve` child process on a free port ([`FloeServer`],
//!   [`Serve`], [`TestEnv`]), and where the `floe` binary and the repository are;
//! - [`cli`]: running the `floe` binary as a user runs it ([`cli::Run`]);
//! - [`http`]: a JSON-over-HTTP client ([`Http`], [`Resp`]) with the Iceberg error-body
//!   checks, URL paths of names, raw requests and Prometheus samples;
//! - [`catalog_fixture`]: a server with namespace `ns` and table `ns.t` ([`Fx`]);
//! - [`fixtures`]: the committed test data under `fixtures/`;
//! - [`warehouse`]: the files of a local warehouse, and its metadata files;
//! - [`scan`]: iceberg-rust's REST catalog client and scans;
//! - [`cluster`], [`table_checks`], [`zk`], [`sockets`]: several nodes on one ZooKeeper
//!   root with concurrent appending writers, the checks of the history they leave,
//!   ZooKeeper member control, and the TCP connections of a process;
//! - [`s3`]: the local S3-compatible server;
//! - [`changes`], [`upsert_cli`]: change streams and their model, and `floe upsert`
//!   runs and their checks;
//! - [`upsert_model`], [`compaction`]: the upsert writer's random checkpoint model, and
//!   the compaction tests' checks.
//!
//! The most used items of `server`, `http`, `catalog_fixture`, `fixtures` and
//! `warehouse` are re-exported here.

pub mod auth;
pub mod catalog_fixture;
pub mod changes;
pub mod cli;
pub mod cluster;
pub mod compaction;
pub mod fixtures;
pub mod http;
pub mod s3;
pub mod scan;
pub mod server;
pub mod sockets;
pub mod table_checks;
pub mod upsert_cli;
pub mod upsert_model;
pub mod warehouse;
pub mod zk;

pub use catalog_fixture::{fixture, set_props, Fx, NS};
pub use fixtures::{fixture_bytes, fixture_json, fixture_path};
pub use http::{
    encode, metric_sample, ns_path, ns_url, raw_request, table_path, table_schema, tables_path,
    view_path, views_path, Http, Resp,
};
pub use server::{floe_bin, repo_root, FloeServer, Serve, TestEnv, START_TIMEOUT};
pub use warehouse::{list_files, read_metadata_file};
