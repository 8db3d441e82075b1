//! The `floe` subcommands besides `serve`: `upsert` for engines and people feeding a
//! table (reading its `input` files), `table show` for reading what the commits did,
//! `compact` for one compaction run, `convert-deletes` for turning equality deletes into
//! position deletes, `expire-snapshots` for snapshot expiry; and how a subcommand reaches
//! its catalog and reports an error.

pub mod compact;
pub mod convert;
pub mod expire;
pub mod input;
pub mod table_show;
pub mod upsert;

use std::sync::Arc;

use clap::Args;
use iceberg::TableIdent;

use crate::rest_client::{parse_table_ident, RestClient, RestError};

/// Which catalog a subcommand talks to, and its bearer token when it needs one. A
/// token and a credential together (from flags or the environment) are refused.
#[derive(Args, Clone, Debug)]
pub struct CatalogArgs {
    /// The Iceberg REST catalog, for example http://127.0.0.1:8181.
    #[arg(long)]
    pub catalog: String,
    /// Bearer token for a catalog with authentication on.
    #[arg(
        long,
        env = "FLOE_TOKEN",
        hide_env_values = true,
        conflicts_with = "credential"
    )]
    pub token: Option<String>,
    /// OAuth2 client credentials `ID:SECRET`, exchanged for a token at the catalog's
    /// token endpoint.
    #[arg(long, env = "FLOE_CREDENTIAL", hide_env_values = true)]
    pub credential: Option<String>,
}

impl CatalogArgs {
    /// A client of the catalog, with a token from the flags, the environment, or the
    /// catalog's token endpoint for the credential.
    pub async fn connect(&self) -> Result<RestClient, RestError> {
        let token = match (&self.token, &self.credential) {
            (Some(token), _) => Some(token.clone()),
            (None, Some(credential)) => {
                let (id, secret) =
                    credential
                        .split_once(':')
                        .ok_or_else(|| RestError::Rejected {
                            status: 400,
                            message: "--credential must be ID:SECRET".into(),
                        })?;
                Some(RestClient::fetch_token(&self.catalog, id, secret).await?)
            }
            (None, None) => None,
        };
        RestClient::connect_with_token(&self.catalog, token).await
    }

    /// The client as the table layer's catalog, and the table named `name`.
    pub async fn table(&self, name: &str) -> anyhow::Result<(Arc<RestClient>, TableIdent)> {
        let ident = parse_table_ident(name).map_err(|e| anyhow::anyhow!(e))?;
        Ok((Arc::new(self.connect().await?), ident))
    }
}

/// An error and its causes, `: `-separated, as people read them: a cause whose text its
/// error already shows (`"writing files: <cause>"`) is not repeated.
pub fn error_chain(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let message = cause.to_string();
        if !text.contains(&message) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&message);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("writing files: {0}")]
    struct Files(#[source] std::io::Error);

    #[test]
    fn causes_already_shown_are_not_repeated() {
        let io = || std::io::Error::other("disk full");
        let cases = [
            (anyhow::Error::new(Files(io())), "writing files: disk full"),
            (
                anyhow::Error::new(Files(io())).context("checkpoint 3"),
                "checkpoint 3: writing files: disk full",
            ),
            (
                anyhow::Error::new(io()).context("reading x"),
                "reading x: disk full",
            ),
        ];
        for (e, expected) in cases {
            assert_eq!(error_chain(&e), expected);
        }
    }
}
