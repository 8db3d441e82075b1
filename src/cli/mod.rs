//! The `floe` subcommands besides `serve`: `upsert` for engines and people feeding a
//! table (reading its `input` files), `table show` for reading what the commits did,
//! `compact` for one compaction run, `convert-deletes` for turning equality deletes into
//! position deletes, `expire-snapshots` for snapshot expiry, `verify` for comparing a table
//! with another snapshot, table or files; and how a subcommand reaches its catalog and
//! reports an error.

pub mod compact;
pub mod convert;
pub mod expire;
pub mod input;
pub mod table_show;
pub mod upsert;
pub mod verify;

use std::sync::Arc;

use clap::Args;
use iceberg::TableIdent;

use floe_client::{parse_table_ident, Connection, RestClient, RestError};

/// Which catalog a subcommand talks to, and its bearer token when it needs one. A
/// token and a credential together (from flags or the environment) are refused; either
/// may be `@PATH`, read from that file (better than a literal, which `ps` shows).
#[derive(Args, Clone, Debug)]
pub struct CatalogArgs {
    /// The Iceberg REST catalog, for example http://127.0.0.1:8181.
    #[arg(long)]
    pub catalog: String,
    /// Bearer token for a catalog with authentication on, or @FILE to read it from FILE.
    /// It cannot be refreshed: a job that outlives it fails; prefer --credential.
    #[arg(
        long,
        env = "FLOE_TOKEN",
        hide_env_values = true,
        conflicts_with = "credential"
    )]
    pub token: Option<String>,
    /// OAuth2 client credentials `ID:SECRET`, or @FILE to read them from FILE; exchanged
    /// for a token at the catalog's token endpoint, refreshed before it expires.
    #[arg(long, env = "FLOE_CREDENTIAL", hide_env_values = true)]
    pub credential: Option<String>,
}

impl CatalogArgs {
    /// The catalog and the credentials the flags give.
    pub fn connection(&self) -> Connection {
        Connection {
            uri: self.catalog.clone(),
            token: self.token.clone(),
            credential: self.credential.clone(),
        }
    }

    /// A client of the catalog, with a token from the flags, the environment, or the
    /// catalog's token endpoint for the credential.
    pub async fn connect(&self) -> Result<RestClient, RestError> {
        self.connection().connect().await
    }

    /// The client as the table layer's catalog, and the table named `name`.
    pub async fn table(&self, name: &str) -> anyhow::Result<(Arc<RestClient>, TableIdent)> {
        let ident = parse_table_ident(name).map_err(|e| anyhow::anyhow!(e))?;
        Ok((Arc::new(self.connect().await?), ident))
    }
}
