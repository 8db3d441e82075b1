//! Every table property and snapshot-summary key Floe reads or writes, with its default,
//! declared once: Floe's own `floe.*` keys, and the standard Iceberg properties whose
//! values shape what Floe writes (Parquet settings, retention, commit retries, locations).
//! The values that need checking are read by the typed readers here and in `parquet`,
//! each failing with a [`PropertyError`] that names the property.

mod parquet;

pub use parquet::{parquet_properties, target_file_size};

use std::collections::HashMap;
use std::str::FromStr;

use iceberg::spec::TableProperties;

// Floe's table properties.

/// The event-time watermark (epoch milliseconds) the upsert writers reached; it only
/// moves forward. Also a snapshot summary key: each checkpoint that carries a watermark
/// records it, and a compaction carries the table's forward.
pub const WATERMARK: &str = "floe.watermark";
/// `false` turns scheduled compaction off for a table.
pub const COMPACTION_ENABLED: &str = "floe.compaction.enabled";
/// Prefix of the property that holds an upsert writer's newest committed checkpoint id,
/// `floe.writer.<writer-id>.checkpoint-id`; see [`writer_checkpoint_property`].
pub const WRITER_CHECKPOINT_PREFIX: &str = "floe.writer.";
/// Suffix of that property.
pub const WRITER_CHECKPOINT_SUFFIX: &str = ".checkpoint-id";
/// The scheduled conversion of equality deletes into position deletes
/// (`floe serve --maintenance-interval`) converts a table once a partition holds at least
/// this many live equality-delete files.
pub const CONVERT_DELETES_MIN_FILES: &str = "floe.convert-deletes.min-files";
/// The default of [`CONVERT_DELETES_MIN_FILES`].
pub const DEFAULT_CONVERT_DELETES_MIN_FILES: usize = 16;
/// Prefix of the compaction options (`floe.compaction.<option>`, named as Iceberg's
/// `rewrite_data_files` names them).
pub const COMPACTION_OPTION_PREFIX: &str = "floe.compaction.";

// Floe's snapshot summary keys.

/// The upsert writer that committed a snapshot.
pub const WRITER_ID: &str = "floe.writer-id";
/// The writer's checkpoint a snapshot holds.
pub const CHECKPOINT_ID: &str = "floe.checkpoint-id";
/// Marks the snapshots Floe's own maintenance makes; see [`OPERATION_COMPACTION`].
pub const OPERATION: &str = "floe.operation";
/// The [`OPERATION`] of a compaction's `replace` snapshots.
pub const OPERATION_COMPACTION: &str = "compaction";
/// The [`OPERATION`] of the `replace` snapshots that convert equality deletes into
/// position deletes.
pub const OPERATION_CONVERT_DELETES: &str = "convert-deletes";

// Iceberg's table properties.

/// The format version of a new table (read at create, not stored).
pub const FORMAT_VERSION: &str = "format-version";
/// The format version Floe creates tables with.
pub const DEFAULT_FORMAT_VERSION: u8 = 2;
/// Target size of written data files.
pub const TARGET_FILE_SIZE: &str = TableProperties::PROPERTY_WRITE_TARGET_FILE_SIZE_BYTES;
/// 512 MiB, as in Iceberg Java.
pub const DEFAULT_TARGET_FILE_SIZE: usize =
    TableProperties::PROPERTY_WRITE_TARGET_FILE_SIZE_BYTES_DEFAULT;
/// Parquet codec: zstd, snappy, gzip, lz4, brotli or uncompressed.
pub const COMPRESSION_CODEC: &str = "write.parquet.compression-codec";
/// The default codec.
pub const DEFAULT_COMPRESSION_CODEC: &str = "zstd";
/// The codec's level.
pub const COMPRESSION_LEVEL: &str = "write.parquet.compression-level";
/// zstd level 1, Floe's streaming default (Java leaves it to parquet-mr's 3).
pub const DEFAULT_ZSTD_LEVEL: i32 = 1;
/// Parquet row-group size.
pub const ROW_GROUP_SIZE: &str = "write.parquet.row-group-size-bytes";
/// 128 MiB, as in Iceberg Java.
pub const DEFAULT_ROW_GROUP_SIZE: usize = 128 << 20;
/// Parquet page size.
pub const PAGE_SIZE: &str = "write.parquet.page-size-bytes";
/// 1 MiB, as in Iceberg Java.
pub const DEFAULT_PAGE_SIZE: usize = 1 << 20;
/// Rows per Parquet page at most.
pub const PAGE_ROW_LIMIT: &str = "write.parquet.page-row-limit";
/// 20,000, as in Iceberg Java.
pub const DEFAULT_PAGE_ROW_LIMIT: usize = 20_000;
/// Parquet dictionary page size.
pub const DICT_SIZE: &str = "write.parquet.dict-size-bytes";
/// 2 MiB, as in Iceberg Java.
pub const DEFAULT_DICT_SIZE: usize = 2 << 20;

/// Where metadata files go; `<location>/metadata` when unset.
pub const METADATA_PATH: &str = "write.metadata.path";
/// Table properties that name storage locations: each must stay inside the warehouse.
pub const LOCATION_PROPERTIES: &[&str] = &[
    METADATA_PATH,
    "write.data.path",
    "write.object-storage.path",
    "write.folder-storage.path",
];

/// Snapshots older than this many milliseconds are expired.
pub const MAX_SNAPSHOT_AGE_MS: &str = "history.expire.max-snapshot-age-ms";
/// Five days, as in Iceberg Java.
pub const DEFAULT_MAX_SNAPSHOT_AGE_MS: i64 = 5 * 24 * 3600 * 1000;
/// Every branch keeps at least this many snapshots.
pub const MIN_SNAPSHOTS_TO_KEEP: &str = "history.expire.min-snapshots-to-keep";
/// One, as in Iceberg Java.
pub const DEFAULT_MIN_SNAPSHOTS_TO_KEEP: usize = 1;

/// How many times a commit is retried after a conflict.
pub const COMMIT_NUM_RETRIES: &str = TableProperties::PROPERTY_COMMIT_NUM_RETRIES;
/// 4, as in Iceberg.
pub const DEFAULT_COMMIT_NUM_RETRIES: usize = TableProperties::PROPERTY_COMMIT_NUM_RETRIES_DEFAULT;
/// The first wait before a retry, doubled at each retry.
pub const COMMIT_MIN_WAIT_MS: &str = TableProperties::PROPERTY_COMMIT_MIN_RETRY_WAIT_MS;
/// 100 ms, as in Iceberg.
pub const DEFAULT_COMMIT_MIN_WAIT_MS: u64 =
    TableProperties::PROPERTY_COMMIT_MIN_RETRY_WAIT_MS_DEFAULT;
/// The longest wait before a retry.
pub const COMMIT_MAX_WAIT_MS: &str = TableProperties::PROPERTY_COMMIT_MAX_RETRY_WAIT_MS;
/// One minute, as in Iceberg.
pub const DEFAULT_COMMIT_MAX_WAIT_MS: u64 =
    TableProperties::PROPERTY_COMMIT_MAX_RETRY_WAIT_MS_DEFAULT;
/// No retry starts after this many milliseconds since the first attempt.
pub const COMMIT_TOTAL_TIMEOUT_MS: &str = TableProperties::PROPERTY_COMMIT_TOTAL_RETRY_TIME_MS;
/// 30 minutes, as in Iceberg.
pub const DEFAULT_COMMIT_TOTAL_TIMEOUT_MS: u64 =
    TableProperties::PROPERTY_COMMIT_TOTAL_RETRY_TIME_MS_DEFAULT;

/// A table property whose value Floe cannot use: which, what it holds, what is wrong.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("table property {key} = {value:?}: {message}")]
pub struct PropertyError {
    /// The property.
    pub key: String,
    /// Its value.
    pub value: String,
    /// What is wrong with it.
    pub message: String,
}

impl PropertyError {
    /// `key`'s `value` is wrong because of `message`.
    pub fn new(key: &str, value: &str, message: impl Into<String>) -> Self {
        Self {
            key: key.to_string(),
            value: value.to_string(),
            message: message.into(),
        }
    }
}

impl From<PropertyError> for crate::Error {
    fn from(e: PropertyError) -> Self {
        crate::Error::invalid(e.to_string()).with_source(e)
    }
}

/// `key`'s value parsed as `T` and accepted by `valid`, or `default` when unset;
/// `expected` says what a valid value is.
pub fn read<T: FromStr>(
    properties: &HashMap<String, String>,
    key: &str,
    default: T,
    valid: impl Fn(&T) -> bool,
    expected: &str,
) -> Result<T, PropertyError> {
    match properties.get(key) {
        None => Ok(default),
        Some(text) => text
            .trim()
            .parse::<T>()
            .ok()
            .filter(|v| valid(v))
            .ok_or_else(|| PropertyError::new(key, text, format!("must be {expected}"))),
    }
}

/// A positive whole number, or `default` when unset.
pub fn positive(
    properties: &HashMap<String, String>,
    key: &str,
    default: usize,
) -> Result<usize, PropertyError> {
    read(
        properties,
        key,
        default,
        |n| *n > 0,
        "a positive whole number",
    )
}

/// The table's watermark, when it holds a number.
pub fn watermark(properties: &HashMap<String, String>) -> Option<i64> {
    properties.get(WATERMARK)?.trim().parse().ok()
}

/// The table property that holds the newest checkpoint id upsert writer `writer_id`
/// committed. The writer sets it in the same commit as the checkpoint's data, so it
/// outlives the snapshots that compaction replaces and snapshot expiry removes: a writer
/// that restarts and replays a checkpoint finds it committed whatever the history holds.
pub fn writer_checkpoint_property(writer_id: &str) -> String {
    format!("{WRITER_CHECKPOINT_PREFIX}{writer_id}{WRITER_CHECKPOINT_SUFFIX}")
}

/// Every writer's newest committed checkpoint recorded in the table's properties, as
/// (writer id, checkpoint id), by writer id.
pub fn writer_checkpoints(properties: &HashMap<String, String>) -> Vec<(&str, i64)> {
    let mut found: Vec<(&str, i64)> = properties
        .iter()
        .filter_map(|(key, value)| {
            let writer = key
                .strip_prefix(WRITER_CHECKPOINT_PREFIX)?
                .strip_suffix(WRITER_CHECKPOINT_SUFFIX)?;
            Some((writer, value.trim().parse().ok()?))
        })
        .collect();
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_checkpoints_are_read_back_by_writer() {
        let properties = HashMap::from([
            (writer_checkpoint_property("job-7"), "12".to_string()),
            (writer_checkpoint_property("a.b"), " 3 ".to_string()),
            (writer_checkpoint_property("broken"), "x".to_string()),
            ("floe.writer.".to_string(), "1".to_string()),
            (WATERMARK.to_string(), "5".to_string()),
        ]);
        assert_eq!(
            writer_checkpoint_property("job-7"),
            "floe.writer.job-7.checkpoint-id"
        );
        assert_eq!(writer_checkpoints(&properties), [("a.b", 3), ("job-7", 12)]);
    }
    use crate::testing::string_map;

    #[test]
    fn values_are_read_checked_or_defaulted() {
        // (properties, the value or the message)
        type Case = (
            &'static [(&'static str, &'static str)],
            Result<usize, &'static str>,
        );
        let cases: [Case; 5] = [
            (&[], Ok(7)),
            (&[("k", "12")], Ok(12)),
            (&[("k", " 3 ")], Ok(3)),
            (&[("k", "0")], Err("must be a positive whole number")),
            (&[("k", "lots")], Err("must be a positive whole number")),
        ];
        for (props, expected) in cases {
            let got = positive(&string_map(props), "k", 7).map_err(|e| e.message);
            assert_eq!(got, expected.map_err(String::from), "{props:?}");
        }
        let err = positive(&string_map(&[("k", "-1")]), "k", 7).unwrap_err();
        assert_eq!(
            err.to_string(),
            "table property k = \"-1\": must be a positive whole number"
        );
    }

    #[test]
    fn the_watermark_is_a_number_or_nothing() {
        let cases = [
            (None, None),
            (Some("17"), Some(17)),
            (Some(" 9 "), Some(9)),
            (Some("x"), None),
        ];
        for (value, expected) in cases {
            let props = value.map_or_else(HashMap::new, |v| string_map(&[(WATERMARK, v)]));
            assert_eq!(watermark(&props), expected, "{value:?}");
        }
    }
}
