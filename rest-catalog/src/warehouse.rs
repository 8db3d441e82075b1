//! The warehouse: where table files live (a local directory or an S3 bucket and prefix),
//! and the one storage layer the catalog uses to read and write them (through
//! `object_store`). It also decides what "inside the warehouse" means: every table
//! location, metadata file and register request is checked here, so nothing is read from
//! or written to a place outside it.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use iceberg::NamespaceIdent;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use uuid::Uuid;

use crate::error::{CatalogError, Failure, Result};
use floe_table::storage::{key_under, plain_key, split_s3, S3Settings};

/// A warehouse root and the object store that holds it.
#[derive(Clone, Debug)]
pub struct Warehouse {
    /// Locations under this root are inside the warehouse. No trailing slash.
    root: String,
    store: Arc<dyn ObjectStore>,
    /// The local directory of a filesystem warehouse.
    local_dir: Option<std::path::PathBuf>,
    /// The FileIO properties clients need to reach the files (an S3 endpoint, region and
    /// addressing style; no secrets), returned in every table's load `config`.
    client_config: HashMap<String, String>,
}

impl Warehouse {
    /// A warehouse in a local directory (created when missing). Locations are absolute
    /// paths, which every client (pyiceberg, DuckDB, iceberg-rust) reads without a scheme.
    pub fn local(dir: &std::path::Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| {
            CatalogError::Storage(Failure::because(
                format!("cannot create warehouse {}", dir.display()),
                e,
            ))
        })?;
        let abs = dir.canonicalize().map_err(|e| {
            CatalogError::Storage(Failure::because(
                format!("cannot resolve warehouse {}", dir.display()),
                e,
            ))
        })?;
        let store = LocalFileSystem::new_with_prefix(&abs)
            .map_err(|e| CatalogError::Storage(Failure::of(e)))?
            .with_automatic_cleanup(true);
        let root = abs.to_string_lossy().trim_end_matches('/').to_string();
        Ok(Self {
            root,
            store: Arc::new(store),
            local_dir: Some(abs),
            client_config: HashMap::new(),
        })
    }

    /// A warehouse under `s3://bucket/prefix` of an S3-compatible store.
    pub fn s3(location: &str, settings: &S3Settings) -> Result<Self> {
        let context = || format!("invalid warehouse {location:?}");
        let invalid = |why: &str| CatalogError::bad_request(format!("{}: {why}", context()));
        let (bucket, prefix) =
            split_s3(location).ok_or_else(|| invalid("expected s3://bucket/prefix"))?;
        let bucket_store = settings
            .open_bucket(bucket)
            .map_err(|e| CatalogError::BadRequest(Failure::because(context(), e)))?;
        let (root, store): (String, Arc<dyn ObjectStore>) = if prefix.trim_matches('/').is_empty() {
            (format!("s3://{bucket}"), bucket_store)
        } else {
            let prefix = plain_key(prefix).ok_or_else(|| {
                invalid("the prefix is not a plain path (an empty, . or .. segment)")
            })?;
            let path = ObjectPath::parse(prefix)
                .map_err(|e| CatalogError::BadRequest(Failure::because(context(), e)))?;
            (
                format!("s3://{bucket}/{prefix}"),
                Arc::new(PrefixStore::new(bucket_store, path)),
            )
        };
        Ok(Self {
            root,
            store,
            local_dir: None,
            client_config: settings.client_props(),
        })
    }

    /// Opens a warehouse from a `--warehouse` value: a path, a `file://` URL or an
    /// `s3://bucket/prefix` reached with `s3`.
    pub fn open(spec: &str, s3: &S3Settings) -> Result<Self> {
        if let Some(rest) = spec.strip_prefix("file://") {
            return Self::local(std::path::Path::new(rest));
        }
        if split_s3(spec).is_some() {
            return Self::s3(spec, s3);
        }
        if spec.contains("://") {
            return Err(CatalogError::bad_request(format!(
                "unsupported warehouse {spec:?}: use a local path, a file:// URL or s3://bucket/prefix"
            )));
        }
        Self::local(std::path::Path::new(spec))
    }

    /// The FileIO properties a client needs to reach this warehouse's files.
    pub fn client_config(&self) -> &HashMap<String, String> {
        &self.client_config
    }

    /// The warehouse root: a directory path or `s3://bucket/prefix`, without a trailing
    /// slash.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// The default location of a new table: `<root>/<ns levels>/<table>-<uuid>`. The UUID
    /// keeps a re-created or renamed-away table from sharing a directory with another.
    pub fn default_table_location(&self, ns: &NamespaceIdent, table: &str, uuid: Uuid) -> String {
        let mut location = self.root.clone();
        for level in ns.iter() {
            location.push('/');
            location.push_str(level);
        }
        location.push_str(&format!("/{table}-{}", uuid.simple()));
        location
    }

    /// Writes the canonical form of a location: `file://` prefixes removed, no trailing
    /// slash. Fails if the location is not strictly inside the warehouse.
    pub fn normalize(&self, location: &str) -> Result<String> {
        let canonical = canonical_location(location);
        self.relative(&canonical)?;
        Ok(canonical)
    }

    /// The object path of a location inside the warehouse.
    fn relative(&self, location: &str) -> Result<ObjectPath> {
        let outside = || {
            CatalogError::bad_request(format!(
                "location {location:?} is outside the warehouse {:?}",
                self.root
            ))
        };
        let rest = key_under(&self.root, location).ok_or_else(outside)?;
        ObjectPath::parse(rest).map_err(|e| {
            CatalogError::BadRequest(Failure::because(
                format!("location {location:?} is not a valid path"),
                e,
            ))
        })
    }

    /// Makes sure a table's `metadata` directory exists on a local warehouse (object stores
    /// have no directories). Clients that write a staged table's first manifests straight
    /// to the filesystem (DuckDB) expect it to be there.
    pub fn prepare_metadata_dir(&self, table_location: &str) -> Result<()> {
        let (Some(dir), Ok(rel)) = (&self.local_dir, self.relative(table_location)) else {
            return Ok(());
        };
        let path = rel
            .parts()
            .fold(dir.clone(), |p, part| p.join(part.as_ref()))
            .join("metadata");
        std::fs::create_dir_all(&path).map_err(|e| {
            CatalogError::Storage(Failure::because(
                format!("cannot create {}", path.display()),
                e,
            ))
        })
    }

    /// One small request to the warehouse's storage (the metadata of an object that need
    /// not exist): fails when the storage cannot be reached or refuses this node.
    pub async fn ping(&self) -> Result<()> {
        match self.store.head(&ObjectPath::from("floe-ready-probe")).await {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(CatalogError::Storage(Failure::because(
                format!("warehouse {} does not answer", self.root),
                e,
            ))),
        }
    }

    /// Writes a file that must not exist yet (metadata files are never overwritten).
    pub async fn put_new(&self, location: &str, bytes: Bytes) -> Result<()> {
        let path = self.relative(location)?;
        let opts = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        let payload = PutPayload::from(bytes);
        let written = match self.store.put_opts(&path, payload.clone(), opts).await {
            // A store without conditional writes: the name is fresh (it holds a UUID), so
            // a plain write is as safe.
            Err(object_store::Error::NotImplemented { .. }) => self.store.put(&path, payload).await,
            other => other,
        };
        written.map_err(|e| {
            CatalogError::Storage(Failure::because(format!("cannot write {location}"), e))
        })?;
        Ok(())
    }

    /// A file's bytes; a missing file is a bad request (a client named it).
    pub async fn read(&self, location: &str) -> Result<Bytes> {
        let path = self.relative(location)?;
        let got = self.store.get(&path).await.map_err(|e| match e {
            object_store::Error::NotFound { .. } => {
                CatalogError::bad_request(format!("file does not exist: {location}"))
            }
            e => CatalogError::Storage(Failure::because(format!("cannot read {location}"), e)),
        })?;
        got.bytes().await.map_err(|e| {
            CatalogError::Storage(Failure::because(format!("cannot read {location}"), e))
        })
    }

    /// Deletes a file; one that does not exist is deleted already.
    pub async fn delete(&self, location: &str) -> Result<()> {
        let path = self.relative(location)?;
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(CatalogError::Storage(Failure::because(
                format!("cannot delete {location}"),
                e,
            ))),
        }
    }

    /// Deletes every file under a location; returns how many were deleted.
    pub async fn delete_prefix(&self, location: &str) -> Result<usize> {
        let prefix = self.relative(location)?;
        let paths = self
            .store
            .list(Some(&prefix))
            .map_ok(|meta| meta.location)
            .boxed();
        let deleted: Vec<ObjectPath> = self
            .store
            .delete_stream(paths)
            .try_collect()
            .await
            .map_err(|e| {
                CatalogError::Storage(Failure::because(format!("cannot purge {location}"), e))
            })?;
        Ok(deleted.len())
    }
}

/// A location without a `file:` scheme or trailing slash, so equal places compare equal.
pub fn canonical_location(location: &str) -> String {
    location
        .strip_prefix("file://")
        .or_else(|| location.strip_prefix("file:"))
        .unwrap_or(location)
        .trim_end_matches('/')
        .to_string()
}

/// Whether two table locations overlap (one is the other or lies inside it).
pub fn locations_overlap(a: &str, b: &str) -> bool {
    let inside = |x: &str, y: &str| x == y || x.starts_with(&format!("{y}/"));
    inside(a, b) || inside(b, a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_locations_strictly_inside_the_warehouse_are_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let wh = Warehouse::local(dir.path()).unwrap();
        let root = wh.root().to_string();
        let cases: Vec<(String, bool)> = vec![
            (format!("{root}/ns/t"), true),
            (format!("file://{root}/ns/t/"), true),
            (root.clone(), false),
            (format!("{root}/"), false),
            (format!("{root}x/t"), false),
            (format!("{root}/ns/../../etc"), false),
            (format!("{root}/ns//t"), false),
            ("/etc/passwd".to_string(), false),
            ("s3://other/bucket".to_string(), false),
        ];
        for (location, ok) in cases {
            assert_eq!(wh.normalize(&location).is_ok(), ok, "{location}");
        }
        assert_eq!(
            wh.normalize(&format!("file://{root}/a/b/")).unwrap(),
            format!("{root}/a/b")
        );
    }

    #[test]
    fn an_s3_warehouse_is_a_bucket_and_prefix() {
        let settings = S3Settings {
            endpoint: Some("http://127.0.0.1:9".into()),
            region: Some("us-east-1".into()),
            ..Default::default()
        };
        let wh = Warehouse::open("s3://b/wh/", &settings).unwrap();
        assert_eq!(wh.root(), "s3://b/wh");
        let cases = [
            ("s3://b/wh/ns/t", true),
            ("s3://b/wh/ns/t/", true),
            ("s3://b/wh", false),
            ("s3://b/whx/t", false),
            ("s3://c/wh/t", false),
            ("s3://b/wh/../t", false),
            ("s3://b/wh//t", false),
            ("/b/wh/t", false),
        ];
        for (location, ok) in cases {
            assert_eq!(wh.normalize(location).is_ok(), ok, "{location}");
        }
        let uuid = Uuid::nil();
        let ns = NamespaceIdent::from_strs(["a", "b"]).unwrap();
        assert_eq!(
            wh.default_table_location(&ns, "t", uuid),
            format!("s3://b/wh/a/b/t-{}", uuid.simple())
        );
        assert_eq!(wh.client_config()["s3.endpoint"], "http://127.0.0.1:9");
        assert_eq!(
            Warehouse::open("s3://b", &settings).unwrap().root(),
            "s3://b"
        );
        let err = Warehouse::open("gs://b/wh", &settings)
            .unwrap_err()
            .to_string();
        assert!(err.contains("s3://bucket/prefix"), "{err}");
    }

    #[test]
    fn overlap_is_by_path_segment() {
        assert!(locations_overlap("/w/a", "/w/a"));
        assert!(locations_overlap("/w/a", "/w/a/b"));
        assert!(locations_overlap("/w/a/b", "/w/a"));
        assert!(!locations_overlap("/w/a", "/w/ab"));
    }

    #[tokio::test]
    async fn put_new_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let wh = Warehouse::local(dir.path()).unwrap();
        let loc = format!("{}/t/metadata/00000-x.metadata.json", wh.root());
        wh.put_new(&loc, Bytes::from_static(b"one")).await.unwrap();
        assert!(wh.put_new(&loc, Bytes::from_static(b"two")).await.is_err());
        assert_eq!(wh.read(&loc).await.unwrap(), Bytes::from_static(b"one"));
        assert_eq!(
            wh.delete_prefix(&format!("{}/t", wh.root())).await.unwrap(),
            1
        );
        assert!(wh.read(&loc).await.is_err());
    }
}
