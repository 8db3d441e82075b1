//! Drives a real `floe serve` with iceberg-rust's own REST client (`RestCatalog`) through
//! the `iceberg::Catalog` trait: namespaces, a partitioned v2 table, Parquet appends
//! written with iceberg's writers, scans, snapshot history, rename, register, drop, purge.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, Int64Array, RecordBatch, StringArray};
use floe_test_support::scan::{rest_catalog, scan_batches};
use floe_test_support::{list_files, TestEnv};
use futures::TryStreamExt;
use iceberg::arrow::{schema_to_arrow_schema, RecordBatchPartitionSplitter};
use iceberg::spec::{
    DataFileFormat, FormatVersion, NestedField, PrimitiveType, Schema, Transform, Type,
    UnboundPartitionSpec,
};
use iceberg::table::Table;
use iceberg::transaction::{ApplyTransactionAction, Transaction};
use iceberg::writer::base_writer::data_file_writer::DataFileWriterBuilder;
use iceberg::writer::file_writer::location_generator::{
    DefaultFileNameGenerator, DefaultLocationGenerator,
};
use iceberg::writer::file_writer::rolling_writer::RollingFileWriterBuilder;
use iceberg::writer::file_writer::ParquetWriterBuilder;
use iceberg::writer::partitioning::fanout_writer::FanoutWriter;
use iceberg::writer::partitioning::PartitioningWriter;
use iceberg::{Catalog, ErrorKind, NamespaceIdent, TableCreation, TableIdent};
use iceberg_catalog_rest::RestCatalog;
use parquet::file::properties::WriterProperties;

fn ns(levels: &[&str]) -> NamespaceIdent {
    NamespaceIdent::from_strs(levels).unwrap()
}

fn props(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn sorted(mut v: Vec<NamespaceIdent>) -> Vec<NamespaceIdent> {
    v.sort_by(|a, b| a.as_ref().cmp(b.as_ref()));
    v
}

#[tokio::test]
async fn namespaces_through_the_rest_client() {
    let env = TestEnv::start();
    let catalog = rest_catalog(env.server.url()).await;

    let sales = ns(&["sales"]);
    let created = catalog
        .create_namespace(&sales, props(&[("owner", "ana"), ("team", "core")]))
        .await
        .unwrap();
    assert_eq!(created.name(), &sales);
    catalog
        .create_namespace(&ns(&["sales", "eu"]), HashMap::new())
        .await
        .unwrap();
    catalog
        .create_namespace(&ns(&["sales", "eu", "de"]), HashMap::new())
        .await
        .unwrap();
    catalog
        .create_namespace(&ns(&["sales", "us"]), HashMap::new())
        .await
        .unwrap();
    catalog
        .create_namespace(&ns(&["hr"]), HashMap::new())
        .await
        .unwrap();

    // Listing returns the direct children only.
    let top = sorted(catalog.list_namespaces(None).await.unwrap());
    assert_eq!(top, vec![ns(&["hr"]), ns(&["sales"])]);
    let children = sorted(catalog.list_namespaces(Some(&sales)).await.unwrap());
    assert_eq!(children, vec![ns(&["sales", "eu"]), ns(&["sales", "us"])]);
    let grandchildren = catalog
        .list_namespaces(Some(&ns(&["sales", "eu"])))
        .await
        .unwrap();
    assert_eq!(grandchildren, vec![ns(&["sales", "eu", "de"])]);
    assert!(catalog
        .list_namespaces(Some(&ns(&["hr"])))
        .await
        .unwrap()
        .is_empty());

    let loaded = catalog.get_namespace(&sales).await.unwrap();
    assert_eq!(
        loaded.properties(),
        &props(&[("owner", "ana"), ("team", "core")])
    );
    assert!(catalog
        .get_namespace(&ns(&["sales", "eu"]))
        .await
        .unwrap()
        .properties()
        .is_empty());

    assert!(catalog
        .namespace_exists(&ns(&["sales", "eu", "de"]))
        .await
        .unwrap());
    assert!(!catalog
        .namespace_exists(&ns(&["sales", "asia"]))
        .await
        .unwrap());
    let missing = catalog.get_namespace(&ns(&["nope"])).await.unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NamespaceNotFound, "{missing}");
    let dup = catalog
        .create_namespace(&sales, HashMap::new())
        .await
        .unwrap_err();
    assert_eq!(dup.kind(), ErrorKind::NamespaceAlreadyExists, "{dup}");

    // A namespace with children cannot be dropped; leaves can.
    assert!(catalog.drop_namespace(&ns(&["sales", "eu"])).await.is_err());
    catalog
        .drop_namespace(&ns(&["sales", "eu", "de"]))
        .await
        .unwrap();
    catalog.drop_namespace(&ns(&["sales", "eu"])).await.unwrap();
    assert!(!catalog
        .namespace_exists(&ns(&["sales", "eu"]))
        .await
        .unwrap());
    let children = catalog.list_namespaces(Some(&sales)).await.unwrap();
    assert_eq!(children, vec![ns(&["sales", "us"])]);
}

fn table_schema() -> Schema {
    Schema::builder()
        .with_schema_id(0)
        .with_fields(vec![
            NestedField::required(1, "id", Type::Primitive(PrimitiveType::Long)).into(),
            NestedField::optional(2, "name", Type::Primitive(PrimitiveType::String)).into(),
        ])
        .build()
        .unwrap()
}

fn table_creation(name: &str) -> TableCreation {
    let spec = UnboundPartitionSpec::builder()
        .add_partition_field(1, "id_bucket", Transform::Bucket(16))
        .unwrap()
        .build();
    TableCreation::builder()
        .name(name.to_string())
        .schema(table_schema())
        .partition_spec(spec)
        .format_version(FormatVersion::V2)
        .build()
}

/// Writes `rows` as Parquet data files (one per bucket) with iceberg's writers, appends
/// them in one fast-append transaction committed through the catalog, and returns the
/// table as committed.
async fn append(catalog: &RestCatalog, table: &Table, rows: &[(i64, &str)], tag: &str) -> Table {
    let metadata = table.metadata();
    let schema = metadata.current_schema().clone();
    let arrow_schema = Arc::new(schema_to_arrow_schema(&schema).unwrap());
    let batch = RecordBatch::try_new(
        arrow_schema,
        vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))),
        ],
    )
    .unwrap();
    let rolling = RollingFileWriterBuilder::new_with_default_file_size(
        ParquetWriterBuilder::new(WriterProperties::default(), schema.clone()),
        table.file_io().clone(),
        DefaultLocationGenerator::new(metadata).unwrap(),
        DefaultFileNameGenerator::new(tag.to_string(), None, DataFileFormat::Parquet),
    );
    let mut writer = FanoutWriter::new(DataFileWriterBuilder::new(rolling));
    let splitter = RecordBatchPartitionSplitter::try_new_with_computed_values(
        schema,
        metadata.default_partition_spec().clone(),
    )
    .unwrap();
    for (key, part) in splitter.split(&batch).unwrap() {
        writer.write(key, part).await.unwrap();
    }
    let files = writer.close().await.unwrap();
    assert!(!files.is_empty());
    let tx = Transaction::new(table);
    let tx = tx.fast_append().add_data_files(files).apply(tx).unwrap();
    tx.commit(catalog)
        .await
        .expect("commit the append through the catalog")
}

/// All rows of the table's current snapshot, sorted by id.
async fn scan_rows(table: &Table) -> Vec<(i64, Option<String>)> {
    let batches = scan_batches(table).await;
    let mut rows = Vec::new();
    for b in &batches {
        let ids = b
            .column_by_name("id")
            .unwrap()
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        let names = b
            .column_by_name("name")
            .unwrap()
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        for i in 0..b.num_rows() {
            let name = (!names.is_null(i)).then(|| names.value(i).to_string());
            rows.push((ids.value(i), name));
        }
    }
    rows.sort();
    rows
}

fn expected(rows: &[(i64, &str)]) -> Vec<(i64, Option<String>)> {
    let mut v: Vec<_> = rows
        .iter()
        .map(|(i, n)| (*i, Some(n.to_string())))
        .collect();
    v.sort();
    v
}

fn assert_inside(warehouse: &Path, location: &str) {
    let root = warehouse.canonicalize().unwrap();
    assert!(
        Path::new(location).starts_with(&root),
        "{location} is not a plain path inside the warehouse {}",
        root.display()
    );
}

const FIRST: &[(i64, &str)] = &[(1, "a"), (2, "b"), (3, "c"), (17, "q")];
const SECOND: &[(i64, &str)] = &[(4, "d"), (5, "e"), (100, "z")];

#[tokio::test]
async fn table_lifecycle_through_the_rest_client() {
    let env = TestEnv::start();
    let catalog = rest_catalog(env.server.url()).await;
    let db = ns(&["db"]);
    catalog.create_namespace(&db, HashMap::new()).await.unwrap();
    let ident = TableIdent::new(db.clone(), "events".to_string());

    let table = catalog
        .create_table(&db, table_creation("events"))
        .await
        .unwrap();
    let md = table.metadata();
    assert_eq!(md.format_version(), FormatVersion::V2);
    assert_eq!(md.current_schema().as_struct(), table_schema().as_struct());
    let field = &md.default_partition_spec().fields()[0];
    assert_eq!(
        (field.source_id, field.transform),
        (1, Transform::Bucket(16))
    );
    assert!(md.current_snapshot().is_none());
    assert_inside(&env.warehouse(), md.location());
    assert_inside(&env.warehouse(), table.metadata_location().unwrap());
    assert!(Path::new(table.metadata_location().unwrap()).is_file());
    assert_eq!(catalog.list_tables(&db).await.unwrap(), vec![ident.clone()]);
    assert!(scan_rows(&table).await.is_empty());

    // Two appends, each committed through the REST catalog.
    let after_first = append(&catalog, &table, FIRST, "first").await;
    assert_eq!(scan_rows(&after_first).await, expected(FIRST));
    let after_second = append(&catalog, &after_first, SECOND, "second").await;
    let all: Vec<_> = FIRST.iter().chain(SECOND).copied().collect();
    assert_eq!(scan_rows(&after_second).await, expected(&all));

    // A fresh load sees the same: rows, history, metadata file.
    let loaded = catalog.load_table(&ident).await.unwrap();
    assert_eq!(scan_rows(&loaded).await, expected(&all));
    assert_eq!(loaded.metadata_location(), after_second.metadata_location());
    let md = loaded.metadata();
    let mut snaps: Vec<_> = md.snapshots().cloned().collect();
    snaps.sort_by_key(|s| s.sequence_number());
    assert_eq!(snaps.len(), 2, "one snapshot per append");
    assert_eq!(snaps[0].sequence_number(), 1);
    assert_eq!(snaps[1].sequence_number(), 2);
    assert_eq!(snaps[0].parent_snapshot_id(), None);
    assert_eq!(snaps[1].parent_snapshot_id(), Some(snaps[0].snapshot_id()));
    assert_eq!(
        md.current_snapshot().unwrap().snapshot_id(),
        snaps[1].snapshot_id()
    );
    assert_eq!(md.last_sequence_number(), 2);
    let main = md.snapshot_for_ref("main").expect("main branch");
    assert_eq!(main.snapshot_id(), snaps[1].snapshot_id());
    assert_eq!(
        md.metadata_log().len(),
        2,
        "the two earlier metadata files are logged"
    );
    for entry in md.metadata_log() {
        assert!(
            Path::new(&entry.metadata_file).is_file(),
            "{}",
            entry.metadata_file
        );
    }
    // Time travel to the first snapshot sees only the first append.
    let first_scan: Vec<RecordBatch> = loaded
        .scan()
        .snapshot_id(snaps[0].snapshot_id())
        .build()
        .unwrap()
        .to_arrow()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        first_scan.iter().map(|b| b.num_rows()).sum::<usize>(),
        FIRST.len()
    );
    // The data files are partitioned by bucket and live in the table's directory.
    let data_files: Vec<_> = list_files(&env.warehouse())
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    assert!(data_files.len() >= 2, "{data_files:?}");
    assert!(
        data_files
            .iter()
            .all(|p| p.to_string_lossy().contains("/data/id_bucket=")),
        "{data_files:?}"
    );

    // Rename, then load under the new name only.
    let renamed = TableIdent::new(db.clone(), "events_v2".to_string());
    catalog.rename_table(&ident, &renamed).await.unwrap();
    assert!(!catalog.table_exists(&ident).await.unwrap());
    let err = catalog.load_table(&ident).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TableNotFound, "{err}");
    let moved = catalog.load_table(&renamed).await.unwrap();
    assert_eq!(moved.metadata().uuid(), md.uuid());
    assert_eq!(moved.metadata_location(), loaded.metadata_location());
    assert_eq!(scan_rows(&moved).await, expected(&all));
    assert_eq!(
        catalog.list_tables(&db).await.unwrap(),
        vec![renamed.clone()]
    );

    // Drop (no purge) keeps the files: the metadata file can be registered again.
    let metadata_location = moved.metadata_location().unwrap().to_string();
    catalog.drop_table(&renamed).await.unwrap();
    assert!(!catalog.table_exists(&renamed).await.unwrap());
    assert!(catalog.list_tables(&db).await.unwrap().is_empty());
    assert!(
        Path::new(&metadata_location).is_file(),
        "drop without purge deletes nothing"
    );
    let err = catalog.drop_table(&renamed).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TableNotFound, "{err}");

    let back = TableIdent::new(db.clone(), "events_back".to_string());
    let registered = catalog
        .register_table(&back, metadata_location.clone())
        .await
        .unwrap();
    assert_eq!(
        registered.metadata_location(),
        Some(metadata_location.as_str())
    );
    assert_eq!(registered.metadata().uuid(), md.uuid());
    assert_eq!(
        scan_rows(&catalog.load_table(&back).await.unwrap()).await,
        expected(&all)
    );

    // Purge deletes the table's files.
    let table_dir = Path::new(registered.metadata().location()).to_path_buf();
    catalog.purge_table(&back).await.unwrap();
    assert!(!catalog.table_exists(&back).await.unwrap());
    assert!(
        list_files(&table_dir).is_empty(),
        "purge left files: {:?}",
        list_files(&table_dir)
    );
    catalog.drop_namespace(&db).await.unwrap();
}

/// Concurrent appends from four clients: the server's compare-and-swap refuses every stale
/// commit with 409, the client retries on the new state, and no append is lost.
#[tokio::test]
async fn concurrent_appends_are_serialized() {
    let env = TestEnv::start();
    let catalog = Arc::new(rest_catalog(env.server.url()).await);
    let db = ns(&["db"]);
    catalog.create_namespace(&db, HashMap::new()).await.unwrap();
    let table = catalog
        .create_table(&db, table_creation("t"))
        .await
        .unwrap();

    let batches: Vec<Vec<(i64, String)>> = (0..4)
        .map(|w| (0..5).map(|i| (w * 100 + i, format!("w{w}-{i}"))).collect())
        .collect();
    let mut tasks = Vec::new();
    for (w, rows) in batches.iter().cloned().enumerate() {
        let (catalog, table) = (catalog.clone(), table.clone());
        tasks.push(tokio::spawn(async move {
            let rows: Vec<(i64, &str)> = rows.iter().map(|(i, n)| (*i, n.as_str())).collect();
            append(&catalog, &table, &rows, &format!("writer{w}")).await;
        }));
    }
    for t in tasks {
        t.await.expect("every append commits (after retries)");
    }

    let loaded = catalog.load_table(table.identifier()).await.unwrap();
    let mut all: Vec<(i64, Option<String>)> = batches
        .iter()
        .flatten()
        .map(|(i, n)| (*i, Some(n.clone())))
        .collect();
    all.sort();
    assert_eq!(scan_rows(&loaded).await, all);
    let md = loaded.metadata();
    let mut snaps: Vec<_> = md.snapshots().cloned().collect();
    snaps.sort_by_key(|s| s.sequence_number());
    let seqs: Vec<i64> = snaps.iter().map(|s| s.sequence_number()).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4]);
    for pair in snaps.windows(2) {
        assert_eq!(
            pair[1].parent_snapshot_id(),
            Some(pair[0].snapshot_id()),
            "linear history"
        );
    }
    assert_eq!(
        md.current_snapshot().unwrap().snapshot_id(),
        snaps[3].snapshot_id()
    );
}
