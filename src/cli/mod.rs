//! The `floe` subcommands besides `serve`: `upsert` for engines and people feeding a
//! table, `table show` for reading what the commits did, `compact` for one compaction run.

pub mod compact;
pub mod table_show;
pub mod upsert;
