//! The `floe serve --auth FILE` configurations of the authentication tests: a signing
//! key, the token lifetime, OAuth2 clients and static tokens with their grants, written
//! as the TOML the server reads (secrets as their SHA-256 hashes).

use std::fmt::Write;
use std::path::Path;

use floe_rest_catalog::hash_secret;

/// An OAuth2 client or a static token: its name (the client id), its secret (the token
/// itself) and its grants as `(namespace prefix, access)` pairs.
pub struct Principal<'a> {
    /// The client id, or the static token's name.
    pub name: &'a str,
    /// The client secret, or the static token.
    pub secret: &'a str,
    /// `(namespace prefix, "read" or "read-write")`.
    pub grants: &'a [(&'a str, &'a str)],
}

/// Writes to `path` the auth configuration with `signing_key`, tokens valid `ttl_secs`,
/// the OAuth2 `clients` and the static `tokens`.
pub fn write_auth_file(
    path: &Path,
    signing_key: &str,
    ttl_secs: u64,
    clients: &[Principal],
    tokens: &[Principal],
) {
    let mut text = format!("signing-key = \"{signing_key}\"\ntoken-ttl-secs = {ttl_secs}\n");
    for (table, name_key, secret_key, principals) in [
        ("clients", "id", "secret-sha256", clients),
        ("tokens", "name", "token-sha256", tokens),
    ] {
        for p in principals {
            let grants: Vec<String> = p
                .grants
                .iter()
                .map(|(ns, access)| format!("{{ namespace = \"{ns}\", access = \"{access}\" }}"))
                .collect();
            write!(
                text,
                "\n[[{table}]]\n{name_key} = \"{}\"\n{secret_key} = \"{}\"\ngrants = [{}]\n",
                p.name,
                hash_secret(p.secret),
                grants.join(", ")
            )
            .unwrap();
        }
    }
    std::fs::write(path, text).unwrap();
}
