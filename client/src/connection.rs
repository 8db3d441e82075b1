//! A catalog's address and the caller's credentials: a bearer token, or OAuth2 client
//! credentials `ID:SECRET` exchanged for a token at the catalog's token endpoint and
//! refreshed as it expires; either given as is or as `@PATH`, read from a file.

use crate::rest::{RestClient, RestError};
use crate::secret::read_secret;

/// Which catalog to reach, and how to authenticate; `token` and `credential` together
/// are refused. Either may be `@PATH`: the secret is read from that file (its trailing
/// newline trimmed).
#[derive(Clone, Debug, Default)]
pub struct Connection {
    /// The Iceberg REST catalog, for example `http://127.0.0.1:8181`.
    pub uri: String,
    /// A bearer token, sent with every request; the client cannot renew it.
    pub token: Option<String>,
    /// OAuth2 client credentials `ID:SECRET`, kept to refresh the token.
    pub credential: Option<String>,
}

impl Connection {
    /// A client of the catalog, with the token, or with a token fetched for the
    /// credential and refreshed before it expires and when the catalog refuses it.
    pub async fn connect(&self) -> Result<RestClient, RestError> {
        match (&self.token, &self.credential) {
            (Some(_), Some(_)) => Err(RestError::Invalid(
                "give a token or a credential, not both".into(),
            )),
            (token, None) => {
                let token = token.as_deref().map(|t| read_secret(t, "token"));
                RestClient::connect_with_token(&self.uri, token.transpose()?).await
            }
            (None, Some(credential)) => {
                let credential = read_secret(credential, "credential")?;
                let (id, secret) = credential
                    .split_once(':')
                    .ok_or_else(|| RestError::Invalid("a credential must be ID:SECRET".into()))?;
                RestClient::connect_with_credential(&self.uri, id, secret).await
            }
        }
    }
}
