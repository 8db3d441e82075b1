//! Checks of the compaction tests: the live files per bucket, the sequence-number rule
//! checked in a compaction snapshot's own manifests, a hand-made position delete
//! committed as a row delta (what a concurrent engine might commit), and that expiry kept
//! every file a remaining snapshot reaches; and a catalog that commits something else
//! in between a run's read and its commit ([`CommitInBetween`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema as ArrowSchema};
use async_trait::async_trait;
use floe_client::RestClient;
use floe_compaction::{CompactionReport, GroupOutcome, ReachableFiles};
use floe_table::{live_entries, LoadedTable, RowDelta, TableCatalog, TableCommit};
use futures::future::BoxFuture;
use iceberg::spec::{
    DataContentType, DataFileBuilder, DataFileFormat, ManifestContentType, ManifestList,
    ManifestStatus,
};
use iceberg::TableIdent;
use parquet::arrow::ArrowWriter;
use tokio::sync::Mutex;

use crate::upsert_model::scan;

/// The live files of one bucket.
#[derive(Debug, Default)]
pub struct BucketFiles {
    pub data_sizes: Vec<u64>,
    pub delete_files: usize,
}

/// The live files of the table's current snapshot by bucket (the partition's text).
pub async fn live_files_by_bucket(table: &LoadedTable) -> BTreeMap<String, BucketFiles> {
    let entries = live_entries(&table.file_io, &table.metadata, None)
        .await
        .unwrap();
    let mut out: BTreeMap<String, BucketFiles> = BTreeMap::new();
    for (_, e) in entries {
        let files = out
            .entry(format!("{:?}", e.data_file().partition()))
            .or_default();
        match e.content_type() {
            DataContentType::Data => files.data_sizes.push(e.file_size_in_bytes()),
            _ => files.delete_files += 1,
        }
    }
    out
}

/// Notes, for every group `report` committed, its snapshot and the sequence number of the
/// snapshot the run started from.
pub async fn record_starts(
    client: &RestClient,
    ident: &TableIdent,
    report: &CompactionReport,
    starts: &mut HashMap<i64, i64>,
) {
    let Some(start) = report.start_snapshot else {
        return;
    };
    let table = client.load_table(ident).await.unwrap();
    let start_sequence = table
        .metadata
        .snapshot_by_id(start)
        .unwrap()
        .sequence_number();
    for group in &report.groups {
        if let Ok(GroupOutcome::Committed { snapshot_id, .. }) = &group.outcome {
            starts.insert(*snapshot_id, start_sequence);
        }
    }
}

/// In each compaction snapshot's own manifests: the added files carry the start's data
/// sequence number and the snapshot's file sequence number; the removed ones keep theirs.
pub async fn check_sequence_rule(table: &LoadedTable, starts: &HashMap<i64, i64>) {
    let file_io = &table.file_io;
    for (&snapshot_id, &start_sequence) in starts {
        let snapshot = table.metadata.snapshot_by_id(snapshot_id).unwrap();
        let bytes = file_io
            .new_input(snapshot.manifest_list())
            .unwrap()
            .read()
            .await
            .unwrap();
        let list =
            ManifestList::parse_with_version(&bytes, table.metadata.format_version()).unwrap();
        let (mut added, mut removed) = (0, 0);
        for manifest in list.entries() {
            if manifest.added_snapshot_id != snapshot_id {
                continue;
            }
            let loaded = manifest.load_manifest(file_io).await.unwrap();
            for entry in loaded.entries() {
                match entry.status() {
                    ManifestStatus::Added => {
                        assert_eq!(manifest.content, ManifestContentType::Data);
                        assert_eq!(
                            entry.sequence_number(),
                            Some(start_sequence),
                            "{}",
                            entry.file_path()
                        );
                        assert_eq!(entry.file_sequence_number, Some(snapshot.sequence_number()));
                        added += 1;
                    }
                    ManifestStatus::Deleted => {
                        assert!(entry.sequence_number().unwrap() <= start_sequence);
                        assert_eq!(entry.snapshot_id(), Some(snapshot_id));
                        removed += 1;
                    }
                    ManifestStatus::Existing => {}
                }
            }
        }
        assert!(
            added > 0 && removed > 0,
            "snapshot {snapshot_id}: {added} added, {removed} removed"
        );
    }
}

/// A live row of the table's newest data file: its file, position and key.
pub async fn first_live_row(table: &LoadedTable) -> (String, i64, i64) {
    let model = scan(table).await;
    let entries = live_entries(
        &table.file_io,
        &table.metadata,
        Some(ManifestContentType::Data),
    )
    .await
    .unwrap();
    let (_, newest) = entries
        .iter()
        .max_by_key(|(_, e)| e.sequence_number())
        .unwrap();
    let path = newest.file_path().to_string();
    let file = std::fs::File::open(&path).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let mut position = 0i64;
    for batch in reader {
        let batch = batch.unwrap();
        let ids = batch.column_by_name("id").unwrap();
        let ids = ids.as_any().downcast_ref::<Int64Array>().unwrap();
        let names = batch.column_by_name("name").unwrap();
        let names = names.as_any().downcast_ref::<StringArray>().unwrap();
        for i in 0..batch.num_rows() {
            let key = ids.value(i);
            if model.get(&key).is_some_and(|row| row.0 == names.value(i)) {
                return (path, position, key);
            }
            position += 1;
        }
    }
    panic!("no live row in {path}");
}

/// Commits a position-delete file holding (`target`, `position`), as a row delta.
pub async fn commit_position_delete(
    client: &RestClient,
    ident: &TableIdent,
    target: &str,
    position: i64,
) {
    let table = client.load_table(ident).await.unwrap();
    let entries = live_entries(
        &table.file_io,
        &table.metadata,
        Some(ManifestContentType::Data),
    )
    .await
    .unwrap();
    let (spec_id, entry) = entries
        .iter()
        .find(|(_, e)| e.file_path() == target)
        .unwrap();
    let data = entry.data_file().clone();
    let field = |name: &str, t: DataType, id: &str| {
        Field::new(name, t, false).with_metadata(HashMap::from([(
            "PARQUET:field_id".to_string(),
            id.to_string(),
        )]))
    };
    let schema = Arc::new(ArrowSchema::new(vec![
        field("file_path", DataType::Utf8, "2147483546"),
        field("pos", DataType::Int64, "2147483545"),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec![target])),
            Arc::new(Int64Array::from(vec![position])),
        ],
    )
    .unwrap();
    let path = format!(
        "{}/data/pos-{}.parquet",
        table.metadata.location(),
        uuid::Uuid::new_v4()
    );
    let mut writer =
        ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let delete = DataFileBuilder::default()
        .content(DataContentType::PositionDeletes)
        .file_path(path.clone())
        .file_format(DataFileFormat::Parquet)
        .partition(data.partition().clone())
        .partition_spec_id(*spec_id)
        .record_count(1)
        .file_size_in_bytes(std::fs::metadata(&path).unwrap().len())
        .referenced_data_file(Some(target.to_string()))
        .build()
        .unwrap();
    let mut delta = RowDelta::new();
    delta.add_files([delete]);
    floe_table::commit(client, table, &mut delta).await.unwrap();
}

/// Asserts that every file of `kept` (what the remaining snapshots reach) is among
/// `present` (what the storage holds after an expiry).
#[track_caller]
pub fn assert_reachable_present(kept: &ReachableFiles, present: &BTreeSet<String>) {
    for path in kept
        .manifest_lists
        .iter()
        .chain(&kept.manifests)
        .chain(&kept.content_files)
    {
        assert!(
            present.contains(path),
            "a file a remaining snapshot reaches was deleted: {path}"
        );
    }
}

/// Runs `action` once, just before the first commit it forwards: a commit that lands
/// between a maintenance run's read (a compaction's plan, a conversion's) and its commit.
pub struct CommitInBetween {
    inner: Arc<RestClient>,
    action: Mutex<Option<BoxFuture<'static, ()>>>,
}

impl CommitInBetween {
    pub fn new(client: &RestClient, action: BoxFuture<'static, ()>) -> Arc<Self> {
        Arc::new(Self {
            inner: Arc::new(client.clone()),
            action: Mutex::new(Some(action)),
        })
    }
}

#[async_trait]
impl TableCatalog for CommitInBetween {
    async fn load_table(&self, ident: &TableIdent) -> floe_table::Result<LoadedTable> {
        self.inner.load_table(ident).await.map_err(Into::into)
    }

    async fn commit_table(
        &self,
        ident: &TableIdent,
        commit: TableCommit,
    ) -> floe_table::Result<LoadedTable> {
        if let Some(action) = self.action.lock().await.take() {
            action.await;
        }
        self.inner.commit(ident, commit).await.map_err(Into::into)
    }
}
