//! `convert_deletes` against the upsert model, through the real `floe serve`: after many
//! random checkpoints (updates, `-D` rows, keys re-inserted after a delete, keys repeated
//! within a checkpoint) it leaves no equality-delete file and iceberg-rust's scan still
//! equals the model; upserts committed between its read and its commit keep their deletes,
//! and a compaction committed there makes the partition a conflict that is skipped, its
//! rows unchanged. The `floe convert-deletes` command, DuckDB's reads and composite keys
//! are in `tests/interop/test_upsert_duckdb.py`.

use std::sync::Arc;

use floe_client::RestClient;
use floe_compaction::{
    compact, convert_deletes, CompactionRequest, ConversionRequest, PartitionOutcome, Silent,
};
use floe_table::{ConversionConflict, LoadedTable, TableCatalog};
use floe_test_support::compaction::*;
use floe_test_support::upsert_model::*;
use floe_test_support::TestEnv;
use iceberg::spec::DataContentType;
use iceberg::TableIdent;

/// The live equality-delete and position-delete files of the table.
async fn delete_files(table: &LoadedTable) -> (usize, usize) {
    let entries = floe_table::live_entries(&table.file_io, &table.metadata, None)
        .await
        .unwrap();
    let count = |content| {
        entries
            .iter()
            .filter(|(_, e)| e.content_type() == content)
            .count()
    };
    (
        count(DataContentType::EqualityDeletes),
        count(DataContentType::PositionDeletes),
    )
}

async fn convert(
    catalog: Arc<dyn TableCatalog>,
    ident: &TableIdent,
) -> floe_compaction::ConversionReport {
    convert_deletes(catalog, ident, &ConversionRequest::default())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversion_leaves_no_equality_delete_and_the_same_rows() {
    let env = TestEnv::start();
    let client = RestClient::connect(env.server.url()).await.unwrap();
    let ident = create_table(&client, "converted", 4).await;
    let (mut writer, mut model, mut rng) =
        write_checkpoints(&client, &ident, 41, 12, (200, 150)).await;
    let before = client.load_table(&ident).await.unwrap();
    let (equality, _) = delete_files(&before).await;
    assert!(
        equality >= 12,
        "{equality} equality-delete files to convert"
    );
    assert_eq!(scan(&before).await, model);

    let dry = convert_deletes(
        Arc::new(client.clone()),
        &ident,
        &ConversionRequest {
            dry_run: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(dry.partitions.len(), 4, "{dry:?}");
    let unchanged = client.load_table(&ident).await.unwrap();
    assert_eq!(
        unchanged.metadata_location, before.metadata_location,
        "a dry run commits nothing"
    );

    let report = convert(Arc::new(client.clone()), &ident).await;
    assert_eq!(report.committed(), 4, "{report:?}");
    let converted: usize = report
        .partitions
        .iter()
        .map(|p| p.equality_delete_files)
        .sum();
    assert_eq!(converted, equality);
    let after = client.load_table(&ident).await.unwrap();
    let (equality_after, positions_after) = delete_files(&after).await;
    assert_eq!(equality_after, 0, "no equality-delete file is left");
    let (_, positions_before) = delete_files(&before).await;
    assert!(
        positions_before > 4,
        "{positions_before} position-delete files to fold"
    );
    assert_eq!(
        positions_after, 4,
        "one position-delete file per bucket, the old ones folded in"
    );
    assert_eq!(scan(&after).await, model, "the same rows");
    for snapshot in floe_table::main_ancestry(&after.metadata).take(4) {
        assert_eq!(
            snapshot.summary().operation,
            iceberg::spec::Operation::Replace,
            "conversions are replace snapshots"
        );
    }

    // Upserts go on over the converted table; a second conversion converts only theirs.
    for checkpoint in 13..=15 {
        let cp = random_checkpoint(&mut rng, &mut model, 200, 150, checkpoint as usize);
        writer.write(&batch(&cp, 0..cp.ids.len())).await.unwrap();
        committed(writer.commit(Some(checkpoint), None).await.unwrap());
    }
    let again = convert(Arc::new(client.clone()), &ident).await;
    assert!(again.committed() > 0, "{again:?}");
    let last = client.load_table(&ident).await.unwrap();
    assert_eq!(delete_files(&last).await.0, 0);
    assert_eq!(scan(&last).await, model);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upsert_committed_during_conversion_keeps_its_deletes() {
    let env = TestEnv::start();
    let client = RestClient::connect(env.server.url()).await.unwrap();
    let ident = create_table(&client, "during", 1).await;
    let (_, mut model, mut rng) = write_checkpoints(&client, &ident, 5, 6, (80, 60)).await;
    let cp = random_checkpoint(&mut rng, &mut model, 80, 60, 7);
    let action = checkpoint_later(&client, &ident, cp, 7);
    let report = convert(CommitInBetween::new(&client, action), &ident).await;
    assert_eq!(
        report.committed(),
        1,
        "an upsert is no conflict: {report:?}"
    );
    let table = client.load_table(&ident).await.unwrap();
    assert_eq!(scan(&table).await, model);
    // Checkpoint 7's equality deletes were not converted: they stay.
    let (equality, _) = delete_files(&table).await;
    assert!(equality > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compaction_committed_during_conversion_skips_the_partition() {
    let env = TestEnv::start();
    let client = RestClient::connect(env.server.url()).await.unwrap();
    let ident = create_table(&client, "compacted", 1).await;
    let (_, model, _) = write_checkpoints(&client, &ident, 6, 6, (80, 60)).await;
    let action = {
        let (client, ident) = (client.clone(), ident.clone());
        Box::pin(async move {
            let request = CompactionRequest {
                overrides: vec![("min-input-files".into(), "2".into())],
                ..Default::default()
            };
            let compacted = compact(Arc::new(client), &ident, &request, Arc::new(Silent)).await;
            assert!(compacted.unwrap().committed() > 0);
        })
    };
    let report = convert(CommitInBetween::new(&client, action), &ident).await;
    assert_eq!(report.partitions.len(), 1, "{report:?}");
    let Ok(PartitionOutcome::Skipped(conflict)) = &report.partitions[0].outcome else {
        panic!("the partition must be skipped: {report:?}");
    };
    assert!(
        matches!(
            conflict,
            ConversionConflict::DataFilesGone(_) | ConversionConflict::DeletesGone(_)
        ),
        "{conflict}"
    );
    let table = client.load_table(&ident).await.unwrap();
    assert_eq!(scan(&table).await, model);
    assert_eq!(
        delete_files(&table).await,
        (0, 0),
        "the compaction folded every delete"
    );
}

/// `floe serve --maintenance-interval`: the table with a partition of at least
/// `floe.convert-deletes.min-files` equality-delete files is converted, the one below the
/// default threshold is not; `/metrics` counts both tables' delete files and the run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduled_run_converts_only_the_tables_over_the_threshold() {
    let dirs = tempfile::tempdir().unwrap();
    let args = ["--maintenance-interval".to_string(), "1s".to_string()];
    let server = floe_test_support::FloeServer::start_with_args(
        &dirs.path().join("warehouse"),
        &dirs.path().join("data"),
        &args,
    );
    let client = RestClient::connect(server.url()).await.unwrap();
    let over = create_table(&client, "over", 2).await;
    let under = create_table(&client, "under", 2).await;
    set_properties(&client, &over, &[("floe.convert-deletes.min-files", "3")]).await;
    let (_, over_model, _) = write_checkpoints(&client, &over, 3, 6, (120, 50)).await;
    let (_, under_model, _) = write_checkpoints(&client, &under, 4, 6, (120, 50)).await;
    let converted = |table: &LoadedTable| {
        table.metadata.current_snapshot().and_then(|s| {
            s.summary()
                .additional_properties
                .get("floe.operation")
                .cloned()
        }) == Some("convert-deletes".to_string())
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let over_table = loop {
        let table = client.load_table(&over).await.unwrap();
        if converted(&table) && delete_files(&table).await.0 == 0 {
            break table;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not converted in time:\n{}",
            server.log_text()
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    };
    assert_eq!(scan(&over_table).await, over_model);
    let under_table = client.load_table(&under).await.unwrap();
    assert!(
        !converted(&under_table),
        "below the default threshold of 16"
    );
    assert!(delete_files(&under_table).await.0 > 0);
    assert_eq!(scan(&under_table).await, under_model);
    let metrics = reqwest::get(format!("{}/metrics", server.url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let sample = |series: &str| floe_test_support::metric_sample(&metrics, series);
    let under_files = sample("floe_table_equality_delete_files{table=\"ns.under\"}");
    assert!(under_files.is_some_and(|n| n > 0.0), "{metrics}");
    let runs = sample("floe_delete_conversion_runs_total{outcome=\"ok\"}");
    assert!(runs.is_some_and(|n| n >= 1.0), "{metrics}");
}
