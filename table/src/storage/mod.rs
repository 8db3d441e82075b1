//! Object storage: the one S3 configuration Floe has (a `[s3]` table, filled from the
//! standard AWS environment variables where unset), the `object_store` it opens, and the
//! Iceberg FileIO properties (`s3.endpoint`, `s3.region`, ...) it is read from and handed
//! to clients as; the rules of what a location inside a root is. `file_io` bridges the
//! same stores into iceberg's `FileIO`, so the catalog, the upsert writer and the
//! compactor reach a warehouse through one layer.

mod file_io;

pub use file_io::{file_io_for, ObjectStoreStorage, ObjectStoreStorageFactory};

use std::collections::HashMap;
use std::sync::Arc;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey, AwsCredential};
use object_store::{ObjectStore, StaticCredentialProvider};
use serde::{Deserialize, Serialize};

// Iceberg's FileIO property names, as Iceberg Java, pyiceberg and iceberg-rust spell them.

/// The S3 endpoint URL.
pub const S3_ENDPOINT: &str = "s3.endpoint";
/// The S3 region.
pub const S3_REGION: &str = "s3.region";
/// `true` for path-style requests.
pub const S3_PATH_STYLE_ACCESS: &str = "s3.path-style-access";
/// The access key id.
pub const S3_ACCESS_KEY_ID: &str = "s3.access-key-id";
/// The secret access key.
pub const S3_SECRET_ACCESS_KEY: &str = "s3.secret-access-key";
/// The session token of temporary credentials.
pub const S3_SESSION_TOKEN: &str = "s3.session-token";
/// pyiceberg and Iceberg Java also read the region from here.
const CLIENT_REGION: &str = "client.region";

/// How to reach an S3-compatible store. Every field is optional: what is unset comes from
/// the standard AWS environment variables (`AWS_ENDPOINT_URL`, `AWS_REGION`,
/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, ...), as the AWS SDKs
/// read them. Secrets are never serialized and `Debug` redacts them.
#[derive(Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct S3Settings {
    /// `http://host:port` for S3-compatible servers; AWS itself when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The region (`us-east-1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Path-style requests (`endpoint/bucket/key`), which S3-compatible servers expect.
    /// By default on with an endpoint and off on AWS itself (virtual-hosted requests,
    /// `bucket.endpoint/key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_style_access: Option<bool>,
    /// The access key id.
    #[serde(default, skip_serializing)]
    pub access_key_id: Option<String>,
    /// The secret access key.
    #[serde(default, skip_serializing)]
    pub secret_access_key: Option<String>,
    /// The session token of temporary credentials.
    #[serde(default, skip_serializing)]
    pub session_token: Option<String>,
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |v: &Option<String>| v.as_ref().map(|_| "<redacted>");
        f.debug_struct("S3Settings")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("path_style_access", &self.path_style_access)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &redacted(&self.secret_access_key))
            .field("session_token", &redacted(&self.session_token))
            .finish()
    }
}

impl S3Settings {
    /// Reads the settings from Iceberg FileIO properties (a table's load `config`, a
    /// client's catalog properties). Unknown keys are ignored: they belong to others.
    pub fn from_props(props: &HashMap<String, String>) -> Self {
        let get = |key: &str| props.get(key).filter(|v| !v.is_empty()).cloned();
        Self {
            endpoint: get(S3_ENDPOINT),
            region: get(S3_REGION).or_else(|| get(CLIENT_REGION)),
            path_style_access: get(S3_PATH_STYLE_ACCESS).map(|v| v.eq_ignore_ascii_case("true")),
            access_key_id: get(S3_ACCESS_KEY_ID),
            secret_access_key: get(S3_SECRET_ACCESS_KEY),
            session_token: get(S3_SESSION_TOKEN),
        }
    }

    /// The settings with the endpoint and region filled from the AWS environment variables
    /// where unset: what this process will in fact use.
    pub fn resolved(&self) -> Self {
        let env = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
        };
        Self {
            endpoint: self
                .endpoint
                .clone()
                .or_else(|| env(&["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT"])),
            region: self
                .region
                .clone()
                .or_else(|| env(&["AWS_REGION", "AWS_DEFAULT_REGION"])),
            ..self.clone()
        }
    }

    /// What a client needs to reach the store besides its credentials: the resolved
    /// endpoint, region and addressing style, as FileIO properties. Never a secret: the
    /// catalog returns these in every table's load `config`.
    pub fn client_props(&self) -> HashMap<String, String> {
        let resolved = self.resolved();
        let mut props = HashMap::from([(
            S3_PATH_STYLE_ACCESS.to_string(),
            resolved.path_style().to_string(),
        )]);
        if let Some(endpoint) = resolved.endpoint {
            props.insert(S3_ENDPOINT.to_string(), endpoint);
        }
        if let Some(region) = resolved.region {
            props.insert(S3_REGION.to_string(), region.clone());
            props.insert(CLIENT_REGION.to_string(), region);
        }
        props
    }

    /// These settings, with each unset field taken from `fallback`.
    pub fn or(&self, fallback: &S3Settings) -> S3Settings {
        let pick = |a: &Option<String>, b: &Option<String>| a.clone().or_else(|| b.clone());
        S3Settings {
            endpoint: pick(&self.endpoint, &fallback.endpoint),
            region: pick(&self.region, &fallback.region),
            path_style_access: self.path_style_access.or(fallback.path_style_access),
            access_key_id: pick(&self.access_key_id, &fallback.access_key_id),
            secret_access_key: pick(&self.secret_access_key, &fallback.secret_access_key),
            session_token: pick(&self.session_token, &fallback.session_token),
        }
    }

    /// Path-style unless set otherwise when there is an endpoint (S3-compatible servers
    /// expect it); virtual-hosted on AWS itself, as AWS recommends. Asked of the
    /// `resolved` settings, so an endpoint from the environment counts.
    fn path_style(&self) -> bool {
        self.path_style_access.unwrap_or(self.endpoint.is_some())
    }

    /// Opens the store of one bucket: the AWS environment first (it also covers web
    /// identity and container credentials), then every field set here over it. Keys set
    /// here are used as they are, without a session token from the environment.
    pub fn open_bucket(&self, bucket: &str) -> object_store::Result<Arc<dyn ObjectStore>> {
        let resolved = self.resolved();
        let path_style = resolved.path_style();
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        if let Some(endpoint) = &resolved.endpoint {
            let endpoint = if path_style {
                endpoint.clone()
            } else {
                virtual_hosted(endpoint, bucket)
            };
            builder = builder
                .with_config(AmazonS3ConfigKey::S3Endpoint, &endpoint)
                .with_config(AmazonS3ConfigKey::Endpoint, &endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        builder = builder.with_virtual_hosted_style_request(!path_style);
        if let Some(region) = &resolved.region {
            builder = builder.with_region(region);
        }
        if let (Some(key_id), Some(secret_key)) = (&self.access_key_id, &self.secret_access_key) {
            builder =
                builder.with_credentials(Arc::new(StaticCredentialProvider::new(AwsCredential {
                    key_id: key_id.clone(),
                    secret_key: secret_key.clone(),
                    token: self.session_token.clone(),
                })));
        }
        Ok(Arc::new(builder.build()?))
    }
}

/// `scheme://bucket.host[:port]` from `scheme://host[:port]`: the endpoint of a bucket in
/// virtual-hosted style.
fn virtual_hosted(endpoint: &str, bucket: &str) -> String {
    match endpoint.split_once("://") {
        Some((scheme, host)) => format!("{scheme}://{bucket}.{host}"),
        None => format!("{bucket}.{endpoint}"),
    }
}

/// The key of `location` below `root` (`<root>/<key>`, a trailing slash dropped): `None`
/// when the location is not strictly inside the root or the key is not a plain object path
/// (an empty, `.` or `..` segment, a control character).
pub fn key_under<'a>(root: &str, location: &'a str) -> Option<&'a str> {
    let rest = location.strip_prefix(root)?.strip_prefix('/')?;
    plain_key(rest)
}

/// `key` without a trailing slash, when it names an object by plain path segments.
pub fn plain_key(key: &str) -> Option<&str> {
    let key = key.trim_end_matches('/');
    let plain = !key.is_empty()
        && !key
            .split('/')
            .any(|seg| seg.is_empty() || seg == "." || seg == "..")
        && !key.chars().any(char::is_control);
    plain.then_some(key)
}

/// Splits an `s3://bucket/key` (or `s3a://`, `s3n://`) location into bucket and key (the
/// key without a leading slash, possibly empty). `None` for anything else.
pub fn split_s3(location: &str) -> Option<(&str, &str)> {
    let rest = ["s3://", "s3a://", "s3n://"]
        .iter()
        .find_map(|scheme| location.strip_prefix(scheme))?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    (!bucket.is_empty()).then_some((bucket, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_split_into_bucket_and_key() {
        let cases = [
            (
                "s3://b/wh/t/data/f.parquet",
                Some(("b", "wh/t/data/f.parquet")),
            ),
            ("s3a://b/k", Some(("b", "k"))),
            ("s3://b", Some(("b", ""))),
            ("s3://b/", Some(("b", ""))),
            ("s3:///k", None),
            ("/tmp/wh/t", None),
            ("file:///tmp/wh", None),
            ("gs://b/k", None),
        ];
        for (location, want) in cases {
            assert_eq!(split_s3(location), want, "{location}");
        }
    }

    #[test]
    fn keys_under_a_root_are_plain_paths_strictly_inside_it() {
        let cases = [
            ("s3://b/wh/ns/t", Some("ns/t")),
            ("s3://b/wh/ns/t/", Some("ns/t")),
            ("s3://b/wh", None),
            ("s3://b/wh/", None),
            ("s3://b/whx/t", None),
            ("s3://b/wh//t", None),
            ("s3://b/wh/./t", None),
            ("s3://b/wh/../t", None),
            ("s3://b/wh/t\n", None),
            ("s3://c/wh/t", None),
        ];
        for (location, want) in cases {
            assert_eq!(key_under("s3://b/wh", location), want, "{location}");
        }
    }

    #[test]
    fn file_io_properties_round_trip_without_secrets_for_clients() {
        let props: HashMap<String, String> = [
            (S3_ENDPOINT, "http://127.0.0.1:9000"),
            (S3_REGION, "eu-west-1"),
            (S3_PATH_STYLE_ACCESS, "true"),
            (S3_ACCESS_KEY_ID, "AKIA"),
            (S3_SECRET_ACCESS_KEY, "very-secret"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let settings = S3Settings::from_props(&props);
        assert_eq!(settings.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(settings.secret_access_key.as_deref(), Some("very-secret"));
        let client = settings.client_props();
        assert_eq!(client[S3_ENDPOINT], "http://127.0.0.1:9000");
        assert_eq!(client[S3_REGION], "eu-west-1");
        assert_eq!(client[S3_PATH_STYLE_ACCESS], "true");
        assert!(!client.contains_key(S3_ACCESS_KEY_ID));
        assert!(!client.contains_key(S3_SECRET_ACCESS_KEY));
        let shown = format!("{settings:?}");
        assert!(!shown.contains("very-secret"), "{shown}");
        let serialized = serde_json::to_string(&settings).unwrap();
        assert!(!serialized.contains("very-secret"), "{serialized}");
        assert!(!serialized.contains("AKIA"), "{serialized}");
    }

    #[test]
    fn client_region_is_read_and_path_style_follows_the_endpoint() {
        let props = HashMap::from([(CLIENT_REGION.to_string(), "us-west-2".to_string())]);
        let settings = S3Settings::from_props(&props);
        assert_eq!(settings.region.as_deref(), Some("us-west-2"));
        let endpoint = S3Settings {
            endpoint: Some("http://127.0.0.1:9000".into()),
            ..Default::default()
        };
        assert!(endpoint.path_style());
        let off = S3Settings {
            path_style_access: Some(false),
            ..endpoint.clone()
        };
        assert_eq!(off.client_props()[S3_PATH_STYLE_ACCESS], "false");
        assert_eq!(
            virtual_hosted("http://127.0.0.1:9000", "b"),
            "http://b.127.0.0.1:9000"
        );
    }

    #[test]
    fn unset_fields_come_from_the_fallback() {
        let table = S3Settings {
            endpoint: Some("http://table".into()),
            ..Default::default()
        };
        let node = S3Settings {
            endpoint: Some("http://node".into()),
            access_key_id: Some("k".into()),
            secret_access_key: Some("s".into()),
            path_style_access: Some(true),
            ..Default::default()
        };
        let merged = table.or(&node);
        assert_eq!(merged.endpoint.as_deref(), Some("http://table"));
        assert_eq!(merged.secret_access_key.as_deref(), Some("s"));
        assert_eq!(merged.path_style_access, Some(true));
        assert_eq!(S3Settings::default().or(&node), node);
    }
}
