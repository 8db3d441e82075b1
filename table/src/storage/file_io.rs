//! iceberg's `FileIO` over `object_store`: `ObjectStoreStorage` implements iceberg's
//! `Storage` for `s3://` locations with the same stores (and the same `S3Settings`) the
//! catalog's warehouse uses, so the upsert writer and the compactor read and write table
//! files through one storage layer and one configuration. `file_io_for` picks the FileIO
//! for a table location: iceberg's own local filesystem for paths, this bridge for S3.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use iceberg::io::{
    FileIO, FileIOBuilder, FileMetadata, FileRead, FileWrite, InputFile, OutputFile, Storage,
    StorageConfig, StorageFactory,
};
use iceberg::{Error, ErrorKind};
use object_store::buffered::BufWriter;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};

use super::{key_under, plain_key, split_s3, S3Settings};

/// The FileIO for a table at `location`: the local filesystem for absolute paths and
/// `file:` URLs, `object_store` for `s3://`, configured by the table's load `config`
/// (`props`) over `factory`'s own settings. Any other scheme is refused, naming it.
pub fn file_io_for(
    location: &str,
    props: &HashMap<String, String>,
    factory: &ObjectStoreStorageFactory,
) -> crate::Result<FileIO> {
    if location.starts_with('/') || location.starts_with("file:") {
        return Ok(FileIO::new_with_fs());
    }
    if split_s3(location).is_some() {
        return Ok(FileIOBuilder::new(Arc::new(factory.clone()))
            .with_props(props.clone())
            .build());
    }
    Err(crate::Error::invalid(format!(
        "table location {location} is on storage Floe does not support (use a local path or s3://)"
    )))
}

/// Builds an [`ObjectStoreStorage`] from FileIO properties (`s3.endpoint`, ...), with
/// this process's own settings (its credentials) where the properties leave a field unset,
/// so secrets never travel in a property map.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ObjectStoreStorageFactory {
    /// This process's own settings, for what a table's properties leave unset.
    pub defaults: S3Settings,
    /// When set, every location outside this root (`s3://bucket/prefix`) is refused: a
    /// node keeps its own credentials inside its warehouse, whatever a manifest names.
    pub within: Option<String>,
}

#[typetag::serde]
impl StorageFactory for ObjectStoreStorageFactory {
    fn build(&self, config: &StorageConfig) -> iceberg::Result<Arc<dyn Storage>> {
        let settings = S3Settings::from_props(config.props()).or(&self.defaults);
        Ok(Arc::new(ObjectStoreStorage::new(
            settings,
            self.within.clone(),
        )))
    }
}

/// S3 locations through `object_store`, one store per bucket, opened on first use. It
/// serializes as its settings without secrets (iceberg requires storages to serialize); a
/// deserialized copy takes its credentials from the environment.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ObjectStoreStorage {
    settings: S3Settings,
    within: Option<String>,
    #[serde(skip)]
    buckets: Arc<Mutex<HashMap<String, Arc<dyn ObjectStore>>>>,
}

impl ObjectStoreStorage {
    /// Locations reached with `settings`; with `within`, only those under that root.
    pub fn new(settings: S3Settings, within: Option<String>) -> Self {
        Self {
            settings,
            within,
            buckets: Arc::default(),
        }
    }

    /// A storage whose `bucket` is the given store (tests use an in-memory one).
    pub fn with_bucket(bucket: &str, store: Arc<dyn ObjectStore>) -> Self {
        let storage = Self::default();
        storage.lock().insert(bucket.to_string(), store);
        storage
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<dyn ObjectStore>>> {
        self.buckets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The store and object path of a location: an object (or a prefix) of a bucket,
    /// without empty path segments, and inside `within` when that is set.
    fn resolve(&self, location: &str) -> iceberg::Result<(Arc<dyn ObjectStore>, ObjectPath)> {
        let invalid = |why: &str| Error::new(ErrorKind::DataInvalid, format!("{location} {why}"));
        let (bucket, key) = split_s3(location).ok_or_else(|| {
            Error::new(
                ErrorKind::FeatureUnsupported,
                format!("{location} is not an s3:// location"),
            )
        })?;
        let key = plain_key(key)
            .ok_or_else(|| invalid("names no object (an empty, . or .. path segment)"))?;
        if let Some(root) = &self.within {
            if key_under(root, location).is_none() {
                return Err(invalid(&format!("is outside the warehouse {root}")));
            }
        }
        let path = ObjectPath::parse(key).map_err(|e| {
            Error::new(
                ErrorKind::DataInvalid,
                format!("{location} is not a valid object path: {e}"),
            )
        })?;
        let mut buckets = self.lock();
        if let Some(store) = buckets.get(bucket) {
            return Ok((store.clone(), path));
        }
        let store = self
            .settings
            .open_bucket(bucket)
            .map_err(|e| storage_error(location, "open the bucket of", e))?;
        buckets.insert(bucket.to_string(), store.clone());
        Ok((store, path))
    }
}

fn storage_error(location: &str, doing: &str, e: object_store::Error) -> Error {
    let kind = match e {
        object_store::Error::NotFound { .. } => ErrorKind::DataInvalid,
        _ => ErrorKind::Unexpected,
    };
    Error::new(kind, format!("cannot {doing} {location}")).with_source(e)
}

#[async_trait]
#[typetag::serde]
impl Storage for ObjectStoreStorage {
    async fn exists(&self, path: &str) -> iceberg::Result<bool> {
        let (store, key) = self.resolve(path)?;
        match store.head(&key).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(storage_error(path, "look up", e)),
        }
    }

    async fn metadata(&self, path: &str) -> iceberg::Result<FileMetadata> {
        let (store, key) = self.resolve(path)?;
        let meta = store
            .head(&key)
            .await
            .map_err(|e| storage_error(path, "look up", e))?;
        Ok(FileMetadata { size: meta.size })
    }

    async fn read(&self, path: &str) -> iceberg::Result<Bytes> {
        let (store, key) = self.resolve(path)?;
        let got = store
            .get(&key)
            .await
            .map_err(|e| storage_error(path, "read", e))?;
        got.bytes()
            .await
            .map_err(|e| storage_error(path, "read", e))
    }

    async fn reader(&self, path: &str) -> iceberg::Result<Box<dyn FileRead>> {
        let (store, key) = self.resolve(path)?;
        Ok(Box::new(ObjectRead {
            store,
            key,
            location: path.to_string(),
        }))
    }

    async fn write(&self, path: &str, bs: Bytes) -> iceberg::Result<()> {
        let (store, key) = self.resolve(path)?;
        store
            .put(&key, PutPayload::from(bs))
            .await
            .map_err(|e| storage_error(path, "write", e))?;
        Ok(())
    }

    async fn writer(&self, path: &str) -> iceberg::Result<Box<dyn FileWrite>> {
        let (store, key) = self.resolve(path)?;
        let writer = BufWriter::with_capacity(store, key, PART_SIZE).with_max_concurrency(2);
        Ok(Box::new(ObjectWrite {
            writer: Some(writer),
            location: path.to_string(),
        }))
    }

    async fn delete(&self, path: &str) -> iceberg::Result<()> {
        let (store, key) = self.resolve(path)?;
        match store.delete(&key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(storage_error(path, "delete", e)),
        }
    }

    async fn delete_prefix(&self, path: &str) -> iceberg::Result<()> {
        let (store, prefix) = self.resolve(path)?;
        let listed = store
            .list(Some(&prefix))
            .map_ok(|meta| meta.location)
            .boxed();
        store
            .delete_stream(listed)
            .try_for_each(|_| futures::future::ready(Ok(())))
            .await
            .map_err(|e| storage_error(path, "delete everything under", e))
    }

    async fn delete_stream(&self, mut paths: BoxStream<'static, String>) -> iceberg::Result<()> {
        while let Some(path) = paths.next().await {
            self.delete(&path).await?;
        }
        Ok(())
    }

    fn new_input(&self, path: &str) -> iceberg::Result<InputFile> {
        Ok(InputFile::new(Arc::new(self.clone()), path.to_string()))
    }

    fn new_output(&self, path: &str) -> iceberg::Result<OutputFile> {
        Ok(OutputFile::new(Arc::new(self.clone()), path.to_string()))
    }
}

/// Ranged reads of one object.
struct ObjectRead {
    store: Arc<dyn ObjectStore>,
    key: ObjectPath,
    location: String,
}

#[async_trait]
impl FileRead for ObjectRead {
    async fn read(&self, range: Range<u64>) -> iceberg::Result<Bytes> {
        self.store
            .get_range(&self.key, range)
            .await
            .map_err(|e| storage_error(&self.location, "read", e))
    }
}

/// The part size of multipart uploads (S3's smallest) and so the buffer of each open file.
const PART_SIZE: usize = 5 << 20;

/// A streaming upload: one PUT for small files, a multipart upload for large ones. The
/// object appears only when it is closed. After a failed write, or when dropped unclosed,
/// the upload is aborted, so no parts are left behind.
struct ObjectWrite {
    writer: Option<BufWriter>,
    location: String,
}

impl ObjectWrite {
    fn open(&mut self) -> iceberg::Result<&mut BufWriter> {
        self.writer.as_mut().ok_or_else(|| {
            Error::new(
                ErrorKind::Unexpected,
                format!("{} is closed or failed", self.location),
            )
        })
    }
}

impl Drop for ObjectWrite {
    fn drop(&mut self) {
        if let (Some(mut writer), Ok(runtime)) =
            (self.writer.take(), tokio::runtime::Handle::try_current())
        {
            runtime.spawn(async move {
                let _ = writer.abort().await;
            });
        }
    }
}

#[async_trait]
impl FileWrite for ObjectWrite {
    async fn write(&mut self, bs: Bytes) -> iceberg::Result<()> {
        let location = self.location.clone();
        if let Err(e) = self.open()?.put(bs).await {
            // The upload cannot go on: abort it, and refuse further writes and the close.
            if let Some(mut writer) = self.writer.take() {
                let _ = writer.abort().await;
            }
            return Err(storage_error(&location, "write", e));
        }
        Ok(())
    }

    async fn close(&mut self) -> iceberg::Result<()> {
        self.open()?;
        let mut writer = self.writer.take().expect("open checked it");
        if let Err(e) = tokio::io::AsyncWriteExt::shutdown(&mut writer).await {
            let _ = writer.abort().await;
            return Err(Error::new(
                ErrorKind::Unexpected,
                format!("cannot write {}", self.location),
            )
            .with_source(e));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::memory::InMemory;

    async fn writer(storage: &ObjectStoreStorage, location: &str) -> Box<dyn FileWrite> {
        storage
            .new_output(location)
            .unwrap()
            .writer()
            .await
            .unwrap()
    }

    fn storage() -> (ObjectStoreStorage, Arc<dyn ObjectStore>) {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        (ObjectStoreStorage::with_bucket("b", store.clone()), store)
    }

    #[tokio::test]
    async fn files_written_in_parts_read_back_by_range() {
        let (storage, store) = storage();
        let mut writer = writer(&storage, "s3://b/t/data/f.parquet").await;
        writer.write(Bytes::from_static(b"hello ")).await.unwrap();
        writer.write(Bytes::from_static(b"world")).await.unwrap();
        assert!(!storage.exists("s3://b/t/data/f.parquet").await.unwrap());
        writer.close().await.unwrap();
        assert!(writer.close().await.is_err(), "closed twice");
        let stored = store.get(&"t/data/f.parquet".into()).await.unwrap();
        assert_eq!(
            stored.bytes().await.unwrap(),
            Bytes::from_static(b"hello world")
        );

        let input = storage.new_input("s3://b/t/data/f.parquet").unwrap();
        assert_eq!(input.metadata().await.unwrap().size, 11);
        assert_eq!(
            input.read().await.unwrap(),
            Bytes::from_static(b"hello world")
        );
        let reader = input.reader().await.unwrap();
        assert_eq!(
            reader.read(6..11).await.unwrap(),
            Bytes::from_static(b"world")
        );
    }

    #[tokio::test]
    async fn a_file_larger_than_the_buffer_goes_up_in_parts() {
        let (storage, store) = storage();
        let mut writer = writer(&storage, "s3://b/big").await;
        let chunk = Bytes::from(vec![7u8; 1 << 20]);
        for _ in 0..12 {
            writer.write(chunk.clone()).await.unwrap();
        }
        writer.close().await.unwrap();
        let meta = store.head(&"big".into()).await.unwrap();
        assert_eq!(meta.size, 12 << 20);
    }

    #[tokio::test]
    async fn deletes_are_idempotent_and_prefixes_go_by_path_segment() {
        let (storage, _) = storage();
        for f in ["s3://b/t/a", "s3://b/t/sub/b", "s3://b/t2/c"] {
            storage.write(f, Bytes::from_static(b"x")).await.unwrap();
        }
        storage.delete("s3://b/t/a").await.unwrap();
        storage.delete("s3://b/t/a").await.unwrap();
        assert!(!storage.exists("s3://b/t/a").await.unwrap());
        storage.delete_prefix("s3://b/t").await.unwrap();
        assert!(!storage.exists("s3://b/t/sub/b").await.unwrap());
        assert!(
            storage.exists("s3://b/t2/c").await.unwrap(),
            "t2 is not under t"
        );
        let paths = futures::stream::iter(vec!["s3://b/t2/c".to_string()]).boxed();
        storage.delete_stream(paths).await.unwrap();
        assert!(!storage.exists("s3://b/t2/c").await.unwrap());
    }

    #[tokio::test]
    async fn missing_files_and_foreign_locations_are_errors() {
        let (storage, _) = storage();
        assert!(storage.read("s3://b/missing").await.is_err());
        assert!(storage.metadata("s3://b/missing").await.is_err());
        let err = storage.read("/local/path").await.unwrap_err().to_string();
        assert!(err.contains("not an s3:// location"), "{err}");
    }

    #[tokio::test]
    async fn locations_outside_the_root_or_with_empty_segments_are_refused() {
        let (mut storage, _) = storage();
        storage.within = Some("s3://b/wh".into());
        storage
            .write("s3://b/wh/t/f", Bytes::from_static(b"x"))
            .await
            .unwrap();
        for location in [
            "s3://b/whx/f",
            "s3://b/other/f",
            "s3://c/wh/f",
            "s3://b/wh",
            "s3://b",
            "s3://b/wh//f",
        ] {
            let err = storage.delete(location).await.unwrap_err().to_string();
            assert!(err.contains(location), "{location}: {err}");
        }
        let err = storage
            .delete_prefix("s3://b/")
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("names no object"), "{err}");
        assert!(storage.exists("s3://b/wh/t/f").await.unwrap());
    }

    #[tokio::test]
    async fn an_unclosed_file_never_appears() {
        let (storage, store) = storage();
        let mut writer = writer(&storage, "s3://b/f").await;
        writer.write(Bytes::from_static(b"x")).await.unwrap();
        drop(writer);
        tokio::task::yield_now().await;
        assert!(
            store.head(&"f".into()).await.is_err(),
            "an unclosed file never appears"
        );
    }

    #[test]
    fn file_io_is_picked_by_location() {
        let (props, factory) = (HashMap::new(), ObjectStoreStorageFactory::default());
        assert!(file_io_for("/w/t", &props, &factory).is_ok());
        assert!(file_io_for("file:///w/t", &props, &factory).is_ok());
        assert!(file_io_for("s3://b/w/t", &props, &factory).is_ok());
        let err = file_io_for("gs://b/w/t", &props, &factory).unwrap_err();
        assert!(err.to_string().contains("gs://b/w/t"), "{err}");
    }
}
