//! The `floe` subcommands besides `serve`: `upsert` for engines and people feeding a
//! table, `table show` for reading what the commits did.

pub mod table_show;
pub mod upsert;
