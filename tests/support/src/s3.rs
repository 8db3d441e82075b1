//! The local S3-compatible server of the tests (moto, started by `scripts/s3.sh`, its
//! endpoint in `FLOE_TEST_S3_ENDPOINT`): fresh buckets, the credentials the processes get
//! through the standard AWS variables, and listings of what a bucket really holds.

use std::collections::BTreeSet;

use floe_client::RestClient;
use floe_table::storage::{ObjectStoreStorageFactory, S3Settings};
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;

/// A client of the catalog at `url` that reaches table files with `storage` where the
/// catalog's answers leave a setting (the credentials) unset.
pub async fn rest_client(url: &str, storage: &S3Settings) -> RestClient {
    let storage = ObjectStoreStorageFactory {
        defaults: storage.clone(),
        within: None,
    };
    RestClient::connect(url)
        .await
        .expect("connect to the catalog")
        .with_storage(storage)
}

/// moto takes any key; these only have to be the same everywhere.
const ACCESS_KEY_ID: &str = "floe-test-key";
const SECRET_ACCESS_KEY: &str = "floe-test-secret";
const REGION: &str = "us-east-1";

/// The server: where it listens.
pub struct S3Env {
    /// `http://HOST:PORT`, no trailing slash.
    pub endpoint: String,
}

impl S3Env {
    /// The server `scripts/test.sh` started. Without one the test is skipped (printing
    /// SKIP), unless `FLOE_TEST_REQUIRE_S3` is set, as `scripts/test.sh` sets it: then a
    /// missing server fails the test.
    pub fn from_env() -> Option<Self> {
        match std::env::var("FLOE_TEST_S3_ENDPOINT") {
            Ok(endpoint) if !endpoint.trim().is_empty() => Some(Self {
                endpoint: endpoint.trim().trim_end_matches('/').to_string(),
            }),
            _ if std::env::var_os("FLOE_TEST_REQUIRE_S3").is_some() => {
                panic!("FLOE_TEST_S3_ENDPOINT is not set but FLOE_TEST_REQUIRE_S3 is")
            }
            _ => {
                println!("SKIP: FLOE_TEST_S3_ENDPOINT is not set (scripts/test.sh starts moto)");
                None
            }
        }
    }

    /// Creates a bucket named `<what>-<random>` and answers its name.
    pub async fn new_bucket(&self, what: &str) -> String {
        let bucket = format!("{what}-{}", uuid::Uuid::new_v4().simple());
        let answer = reqwest::Client::new()
            .put(format!("{}/{bucket}", self.endpoint))
            .send()
            .await
            .expect("reach the S3 server");
        assert!(answer.status().is_success(), "create bucket: {answer:?}");
        bucket
    }

    /// The standard AWS variables a `floe` process reaches the server with.
    pub fn envs(&self) -> Vec<(String, String)> {
        [
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY),
            ("AWS_REGION", REGION),
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// The same, as settings for this test process's own reads.
    pub fn settings(&self) -> S3Settings {
        S3Settings {
            endpoint: Some(self.endpoint.clone()),
            region: Some(REGION.into()),
            access_key_id: Some(ACCESS_KEY_ID.into()),
            secret_access_key: Some(SECRET_ACCESS_KEY.into()),
            ..Default::default()
        }
    }

    /// Every object under `prefix` of `bucket`, as `s3://bucket/key` locations.
    pub async fn list(&self, bucket: &str, prefix: &str) -> BTreeSet<String> {
        let store = self.settings().open_bucket(bucket).unwrap();
        let prefix = ObjectPath::from(prefix);
        store
            .list(Some(&prefix))
            .map_ok(|meta| format!("s3://{bucket}/{}", meta.location))
            .try_collect()
            .await
            .expect("list the bucket")
    }
}
