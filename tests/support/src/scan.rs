//! Reading tables as other engines do, through iceberg-rust: its REST catalog client
//! (`RestCatalog`) on a server, and full scans of a table (at its current snapshot or
//! any other), which apply both kinds of delete files.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch};
use futures::TryStreamExt;
use iceberg::io::LocalFsStorageFactory;
use iceberg::table::Table;
use iceberg::CatalogBuilder;
use iceberg_catalog_rest::{RestCatalog, RestCatalogBuilder};

/// iceberg's REST client of the server at `url`, with the local-filesystem FileIO: the
/// server returns plain absolute paths as locations, which `LocalFsStorage` reads and
/// writes.
pub async fn rest_catalog(url: &str) -> RestCatalog {
    RestCatalogBuilder::default()
        .with_storage_factory(Arc::new(LocalFsStorageFactory))
        .load(
            "floe",
            HashMap::from([("uri".to_string(), url.to_string())]),
        )
        .await
        .expect("build the REST catalog")
}

/// Every batch a full scan of the table's current snapshot returns.
pub async fn scan_batches(table: &Table) -> Vec<RecordBatch> {
    scan_snapshot(table, None).await
}

/// Every batch a full scan of `snapshot` (or the current snapshot) returns.
pub async fn scan_snapshot(table: &Table, snapshot: Option<i64>) -> Vec<RecordBatch> {
    // One data file at a time: iceberg 0.10.1's reader can hang when concurrent tasks
    // share an equality-delete file (apache/iceberg-rust#2630).
    let mut scan = table.scan().with_data_file_concurrency_limit(1);
    if let Some(id) = snapshot {
        scan = scan.snapshot_id(id);
    }
    scan.build()
        .unwrap()
        .to_arrow()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}

/// Every `id` a full scan of the current snapshot returns, sorted (duplicates kept).
pub async fn scan_ids(table: &Table) -> Vec<i64> {
    let batches = scan_batches(table).await;
    let mut ids: Vec<i64> = batches
        .iter()
        .flat_map(|b| {
            let col = b.column_by_name("id").expect("id column");
            let col = col.as_any().downcast_ref::<Int64Array>().expect("long ids");
            col.values().to_vec()
        })
        .collect();
    ids.sort();
    ids
}
