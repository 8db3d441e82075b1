//! The `floe` subcommands besides `serve`: `upsert` for engines and people feeding a
//! table, `table show` for reading what the commits did, `compact` for one compaction run, `expire-snapshots` for snapshot expiry.

pub mod compact;
pub mod expire;
pub mod table_show;
pub mod upsert;

use clap::Args;

use crate::rest_client::{RestClient, RestError};

/// Which catalog a subcommand talks to, and its bearer token when it needs one.
#[derive(Args, Clone, Debug)]
pub struct CatalogArgs {
    /// The Iceberg REST catalog, for example http://127.0.0.1:8181.
    #[arg(long)]
    pub catalog: String,
    /// Bearer token for a catalog with authentication on (default: the FLOE_TOKEN
    /// environment variable).
    #[arg(long)]
    pub token: Option<String>,
}

impl CatalogArgs {
    pub async fn connect(&self) -> Result<RestClient, RestError> {
        let token = self
            .token
            .clone()
            .or_else(|| std::env::var("FLOE_TOKEN").ok().filter(|t| !t.is_empty()));
        RestClient::connect_with_token(&self.catalog, token).await
    }
}
