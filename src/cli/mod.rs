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
    #[arg(long, conflicts_with = "credential")]
    pub token: Option<String>,
    /// OAuth2 client credentials `ID:SECRET`, exchanged for a token at the catalog's
    /// token endpoint (default: the FLOE_CREDENTIAL environment variable).
    #[arg(long)]
    pub credential: Option<String>,
}

fn from_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl CatalogArgs {
    pub async fn connect(&self) -> Result<RestClient, RestError> {
        let mut token = self.token.clone();
        let credential = self
            .credential
            .clone()
            .or_else(|| from_env("FLOE_CREDENTIAL"));
        if let (None, Some(credential)) = (&token, credential) {
            let (id, secret) = credential
                .split_once(':')
                .ok_or_else(|| RestError::Rejected {
                    status: 400,
                    message: "--credential must be ID:SECRET".into(),
                })?;
            token = Some(RestClient::fetch_token(&self.catalog, id, secret).await?);
        }
        RestClient::connect_with_token(&self.catalog, token.or_else(|| from_env("FLOE_TOKEN")))
            .await
    }
}
