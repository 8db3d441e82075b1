//! The `floe` subcommands besides `serve`: `upsert` for engines and people feeding a
//! table, `table show` for reading what the commits did, `compact` for one compaction run, `expire-snapshots` for snapshot expiry.

pub mod compact;
pub mod expire;
pub mod table_show;
pub mod upsert;
