//! What `floe table show` prints, as data: a table's key, partitioning, watermark and
//! writers, the snapshots of its main branch (operation, sequence number, writer and
//! checkpoint, watermark) and the live files of its current snapshot.

use std::collections::BTreeMap;

use floe_table::properties::{writer_checkpoints, CHECKPOINT_ID, WATERMARK, WRITER_ID};
use floe_table::{live_entries, main_ancestry, LoadedTable};
use iceberg::spec::DataContentType;
use serde::Serialize;

/// A table, as `floe table show` prints it.
#[derive(Clone, Debug, Serialize)]
pub struct TableInfo {
    /// `namespace.table`.
    pub name: String,
    /// The format version (1, 2 or 3).
    pub format_version: u8,
    /// The table's uuid.
    pub uuid: String,
    /// Where its files are.
    pub location: String,
    /// Its current metadata file.
    pub metadata_location: String,
    /// The identifier fields (an upsert table's key), in field order.
    pub key: Vec<String>,
    /// The default partition spec's fields, as `transform(name)`.
    pub partition: Vec<String>,
    /// The event-time watermark, epoch milliseconds (`floe.watermark`).
    pub watermark: Option<i64>,
    /// Each writer id's newest committed checkpoint.
    pub writers: BTreeMap<String, i64>,
    /// The main branch's snapshots, oldest first.
    pub snapshots: Vec<SnapshotInfo>,
    /// The current snapshot's live files: data files first, then by sequence number.
    pub files: Vec<FileInfo>,
}

/// One snapshot of the main branch.
#[derive(Clone, Debug, Serialize)]
pub struct SnapshotInfo {
    /// Its id.
    pub snapshot_id: i64,
    /// Its sequence number.
    pub sequence_number: i64,
    /// When it was committed, epoch milliseconds.
    pub timestamp_ms: i64,
    /// `append`, `overwrite`, `replace` or `delete`.
    pub operation: String,
    /// Data files it added (from its summary).
    pub added_data_files: Option<u64>,
    /// Equality-delete files it added.
    pub added_equality_delete_files: Option<u64>,
    /// Position-delete files it added.
    pub added_position_delete_files: Option<u64>,
    /// Rows in the table's data files after it.
    pub total_records: Option<u64>,
    /// The writer that committed it.
    pub writer_id: Option<String>,
    /// That writer's checkpoint it holds.
    pub checkpoint_id: Option<i64>,
    /// The watermark it carried.
    pub watermark: Option<i64>,
}

/// One live file of the current snapshot.
#[derive(Clone, Debug, Serialize)]
pub struct FileInfo {
    /// What the file holds.
    pub content: FileContent,
    /// Its full path.
    pub path: String,
    /// Its partition, as a path (`id_bucket=3`).
    pub partition: String,
    /// Rows in it.
    pub record_count: u64,
    /// Its size.
    pub file_size_in_bytes: u64,
    /// Its data sequence number.
    pub sequence_number: Option<i64>,
    /// Its file sequence number.
    pub file_sequence_number: Option<i64>,
}

/// What a file holds: rows, or deletes of rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileContent {
    /// Rows.
    Data,
    /// Keys whose older rows are deleted.
    EqualityDeletes,
    /// Positions of deleted rows in data files.
    PositionDeletes,
}

impl FileContent {
    /// `data`, `equality-deletes` or `position-deletes`.
    pub fn as_str(self) -> &'static str {
        match self {
            FileContent::Data => "data",
            FileContent::EqualityDeletes => "equality-deletes",
            FileContent::PositionDeletes => "position-deletes",
        }
    }
}

impl From<DataContentType> for FileContent {
    fn from(content: DataContentType) -> Self {
        match content {
            DataContentType::Data => FileContent::Data,
            DataContentType::EqualityDeletes => FileContent::EqualityDeletes,
            DataContentType::PositionDeletes => FileContent::PositionDeletes,
        }
    }
}

impl TableInfo {
    /// Reads `table` (its metadata and the manifests of its current snapshot).
    pub async fn read(table: &LoadedTable) -> floe_table::Result<TableInfo> {
        let metadata = &table.metadata;
        let schema = metadata.current_schema();
        let key = schema
            .identifier_field_ids()
            .filter_map(|id| schema.field_by_id(id))
            .map(|f| f.name.clone())
            .collect();
        let partition = (metadata.default_partition_spec().fields().iter())
            .map(|f| format!("{}({})", f.transform, f.name))
            .collect();
        let properties = metadata.properties();
        let writers = (writer_checkpoints(properties).into_iter())
            .map(|(writer, checkpoint)| (writer.to_string(), checkpoint))
            .collect();
        let mut snapshots: Vec<SnapshotInfo> = main_ancestry(metadata)
            .map(|s| {
                let p = &s.summary().additional_properties;
                let number = |k: &str| p.get(k).and_then(|v| v.parse().ok());
                SnapshotInfo {
                    snapshot_id: s.snapshot_id(),
                    sequence_number: s.sequence_number(),
                    timestamp_ms: s.timestamp_ms(),
                    operation: s.summary().operation.as_str().to_string(),
                    added_data_files: number("added-data-files"),
                    added_equality_delete_files: number("added-equality-delete-files"),
                    added_position_delete_files: number("added-position-delete-files"),
                    total_records: number("total-records"),
                    writer_id: p.get(WRITER_ID).cloned(),
                    checkpoint_id: p.get(CHECKPOINT_ID).and_then(|v| v.parse().ok()),
                    watermark: p.get(WATERMARK).and_then(|v| v.parse().ok()),
                }
            })
            .collect();
        snapshots.reverse();
        let mut entries: Vec<_> = live_entries(&table.file_io, metadata, None)
            .await?
            .into_iter()
            .map(|(_, e)| e)
            .collect();
        entries.sort_by_key(|e| {
            (
                e.content_type() != DataContentType::Data,
                e.sequence_number(),
            )
        });
        let files = entries
            .iter()
            .map(|e| {
                let f = e.data_file();
                FileInfo {
                    content: f.content_type().into(),
                    path: f.file_path().to_string(),
                    // Files carry no public spec id in iceberg 0.10; Floe writes with the
                    // default spec.
                    partition: metadata
                        .default_partition_spec()
                        .partition_to_path(f.partition(), schema.clone()),
                    record_count: f.record_count(),
                    file_size_in_bytes: f.file_size_in_bytes(),
                    sequence_number: e.sequence_number(),
                    file_sequence_number: e.file_sequence_number,
                }
            })
            .collect();
        Ok(TableInfo {
            name: table.ident.to_string(),
            format_version: metadata.format_version() as u8,
            uuid: metadata.uuid().to_string(),
            location: metadata.location().to_string(),
            metadata_location: table.metadata_location.clone(),
            key,
            partition,
            watermark: properties.get(WATERMARK).and_then(|w| w.parse().ok()),
            writers,
            snapshots,
            files,
        })
    }
}
