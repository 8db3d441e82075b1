//! The Parquet files a glob matches, on the local filesystem (`data/*.parquet`,
//! `file://…`) or in S3 (`s3://bucket/exports/2026-12-07/*.parquet`, the endpoint and
//! credentials from the standard AWS environment, as every Floe command reads them), and
//! each one's digest, computed on a blocking thread: a local file is read as it is
//! digested, an object is fetched first.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use floe_table::storage::{split_s3, S3Settings};
use futures::TryStreamExt;
use glob::{MatchOptions, Pattern};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;
use parquet::file::reader::ChunkReader;

use crate::error::VerifyError;
use crate::read::{DigestPlan, BATCH_ROWS};
use crate::summary::Summary;

/// One Parquet file to digest.
pub(crate) enum ParquetSource {
    /// On the local filesystem.
    Local(PathBuf),
    /// An object of an S3 bucket.
    Object {
        /// The bucket's store.
        store: Arc<dyn ObjectStore>,
        /// The object's key.
        key: ObjectPath,
        /// `s3://bucket/key`.
        location: String,
    },
}

/// The part of an S3 key glob before its first wildcard, cut back to a whole folder: the
/// prefix to list.
pub(crate) fn list_prefix(key_glob: &str) -> &str {
    let literal = key_glob
        .find(['*', '?', '['])
        .map_or(key_glob, |at| &key_glob[..at]);
    literal.rfind('/').map_or("", |slash| &literal[..slash])
}

/// The files `pattern` matches, in name order; none is an error.
pub(crate) async fn matching(pattern: &str) -> Result<Vec<ParquetSource>, VerifyError> {
    let mut sources = match split_s3(pattern) {
        Some((bucket, key_glob)) => objects(bucket, key_glob).await?,
        None => local(pattern.strip_prefix("file://").unwrap_or(pattern))?,
    };
    if sources.is_empty() {
        return Err(VerifyError::NoFiles(pattern.to_string()));
    }
    sources.sort_by_key(ParquetSource::shown);
    Ok(sources)
}

fn local(pattern: &str) -> Result<Vec<ParquetSource>, VerifyError> {
    let mut out = Vec::new();
    for entry in glob::glob(pattern)? {
        let path = entry.map_err(|e| VerifyError::Io {
            path: e.path().display().to_string(),
            source: e.into(),
        })?;
        if path.is_file() {
            out.push(ParquetSource::Local(path));
        }
    }
    Ok(out)
}

async fn objects(bucket: &str, key_glob: &str) -> Result<Vec<ParquetSource>, VerifyError> {
    let pattern = Pattern::new(key_glob)?;
    // A `*` stays within one folder, as in a shell.
    let options = MatchOptions {
        require_literal_separator: true,
        ..MatchOptions::new()
    };
    let store = S3Settings::default().open_bucket(bucket)?;
    let prefix = ObjectPath::from(list_prefix(key_glob));
    let listed: Vec<_> = store.list(Some(&prefix)).try_collect().await?;
    Ok((listed.into_iter())
        .filter(|meta| pattern.matches_with(meta.location.as_ref(), options))
        .map(|meta| ParquetSource::Object {
            store: store.clone(),
            location: format!("s3://{bucket}/{}", meta.location),
            key: meta.location,
        })
        .collect())
}

impl ParquetSource {
    /// Where the file is, as the user names it.
    pub(crate) fn shown(&self) -> String {
        match self {
            ParquetSource::Local(path) => path.display().to_string(),
            ParquetSource::Object { location, .. } => location.clone(),
        }
    }

    /// The summaries of the file's rows, by partition, reading only the plan's columns.
    pub(crate) async fn digest(
        self,
        plan: Arc<DigestPlan>,
    ) -> Result<HashMap<String, Summary>, VerifyError> {
        let shown = self.shown();
        let blocking = |work: Box<dyn FnOnce() -> Result<_, VerifyError> + Send>| async {
            tokio::task::spawn_blocking(work)
                .await
                .map_err(|e| VerifyError::Unsupported(format!("a reading task failed: {e}")))?
        };
        match self {
            ParquetSource::Local(path) => {
                let file = std::fs::File::open(&path).map_err(|source| VerifyError::Io {
                    path: shown.clone(),
                    source,
                })?;
                blocking(Box::new(move || digest_parquet(file, &shown, &plan))).await
            }
            ParquetSource::Object { store, key, .. } => {
                let bytes = store.get(&key).await?.bytes().await?;
                blocking(Box::new(move || digest_parquet(bytes, &shown, &plan))).await
            }
        }
    }
}

/// The summaries of the rows of the Parquet file `reader` (named `shown` in errors).
fn digest_parquet<R: ChunkReader + 'static>(
    reader: R,
    shown: &str,
    plan: &DigestPlan,
) -> Result<HashMap<String, Summary>, VerifyError> {
    let parquet = |source| VerifyError::Parquet {
        path: shown.to_string(),
        source,
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(reader).map_err(parquet)?;
    let roots: Vec<usize> = (builder.schema().fields().iter().enumerate())
        .filter(|(_, f)| plan.reads(f.name()))
        .map(|(i, _)| i)
        .collect();
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    let batches = builder
        .with_projection(mask)
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(parquet)?;
    let mut parts = HashMap::new();
    for batch in batches {
        plan.add(&mut parts, &batch?, None, shown)?;
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_starts_at_the_last_folder_before_a_wildcard() {
        let cases = [
            ("exports/2026/*.parquet", "exports/2026"),
            ("exports/part-*.parquet", "exports"),
            ("exports/2026/day=0[1-7]/x.parquet", "exports/2026"),
            ("*.parquet", ""),
            ("exports/one.parquet", "exports"),
            ("one.parquet", ""),
        ];
        for (glob, prefix) in cases {
            assert_eq!(list_prefix(glob), prefix, "{glob}");
        }
    }
}
