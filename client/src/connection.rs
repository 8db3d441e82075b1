//! A catalog's address and the caller's credentials: a bearer token, or OAuth2 client
//! credentials `ID:SECRET` exchanged for one at the catalog's token endpoint.

use crate::rest::{RestClient, RestError};

/// Which catalog to reach, and how to authenticate; `token` and `credential` together
/// are refused.
#[derive(Clone, Debug, Default)]
pub struct Connection {
    /// The Iceberg REST catalog, for example `http://127.0.0.1:8181`.
    pub uri: String,
    /// A bearer token, sent with every request.
    pub token: Option<String>,
    /// OAuth2 client credentials `ID:SECRET`.
    pub credential: Option<String>,
}

impl Connection {
    /// A client of the catalog, with the token, or one fetched for the credential.
    pub async fn connect(&self) -> Result<RestClient, RestError> {
        let token = match (&self.token, &self.credential) {
            (Some(_), Some(_)) => {
                return Err(RestError::Invalid(
                    "give a token or a credential, not both".into(),
                ))
            }
            (Some(token), None) => Some(token.clone()),
            (None, Some(credential)) => {
                let (id, secret) = credential
                    .split_once(':')
                    .ok_or_else(|| RestError::Invalid("a credential must be ID:SECRET".into()))?;
                Some(RestClient::fetch_token(&self.uri, id, secret).await?)
            }
            (None, None) => None,
        };
        RestClient::connect_with_token(&self.uri, token).await
    }
}
