//! The compactor against the upsert model, through the real `floe serve`: one task keeps
//! committing random upsert checkpoints while another compacts again and again. Every
//! snapshot of the main branch, read by iceberg-rust's scan, must equal the model as of
//! the last checkpoint before it; a final compaction leaves at most one small file per
//! bucket and no delete files; the manifests show the sequence-number rule (a compaction's
//! new files carry the data sequence number of the snapshot it started from). Then the
//! two concurrent cases, made deterministic by committing in between a compaction's plan
//! and its commit: an upsert (no conflict, its equality deletes still apply) and a
//! position delete against a rewritten file (a conflict: the group is skipped).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use floe_client::RestClient;
use floe_compaction::{compact, CompactionRequest, GroupOutcome, Silent};
use floe_table::{main_ancestry, ReplaceConflict, TableCatalog};
use floe_test_support::changes::Rng;
use floe_test_support::compaction::*;
use floe_test_support::upsert_model::*;
use floe_test_support::TestEnv;

fn request(options: &[(&str, &str)]) -> CompactionRequest {
    CompactionRequest {
        overrides: options
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_while_upserts_run_keeps_every_snapshot_equal_to_the_model() {
    let env = TestEnv::start();
    let client = RestClient::connect(env.server.url()).await.unwrap();
    let ident = create_table(&client, "busy", 4).await;
    let catalog: Arc<dyn TableCatalog> = Arc::new(client.clone());

    // The writer: 30 checkpoints, remembering the model after each one's snapshot.
    let writer = {
        let (client, ident) = (client.clone(), ident.clone());
        tokio::spawn(async move {
            let mut writer = open_writer(&client, &ident, "busy").await;
            let mut rng = Rng(31);
            let mut model = BTreeMap::new();
            let mut models: HashMap<i64, BTreeMap<i64, Row>> = HashMap::new();
            for checkpoint in 1..=30i64 {
                let cp = random_checkpoint(&mut rng, &mut model, 150, 400, checkpoint as usize);
                writer.write(&batch(&cp, 0..cp.ids.len())).await.unwrap();
                let report = committed(writer.commit(Some(checkpoint), None).await.unwrap());
                models.insert(report.snapshot_id, model.clone());
            }
            (model, models)
        })
    };
    // The compactor: runs until the writer is done (or failed: its error ends the test).
    let small = [
        ("target-file-size-bytes", "64KiB"),
        ("min-input-files", "2"),
    ];
    let mut starts: HashMap<i64, i64> = HashMap::new();
    let mut runs = 0;
    while !writer.is_finished() {
        let report = compact(catalog.clone(), &ident, &request(&small), Arc::new(Silent))
            .await
            .unwrap();
        runs += 1;
        record_starts(&client, &ident, &report, &mut starts).await;
    }
    let (model, models) = writer.await.unwrap();
    let concurrent = starts.len();
    assert!(
        concurrent > 0,
        "{runs} runs committed no group while upserts ran"
    );

    // A final compaction folds every delete away.
    let final_run = [
        ("target-file-size-bytes", "64KiB"),
        ("min-input-files", "1"),
    ];
    let report = compact(catalog, &ident, &request(&final_run), Arc::new(Silent))
        .await
        .unwrap();
    assert!(report.committed() > 0, "{report:?}");
    record_starts(&client, &ident, &report, &mut starts).await;
    let loaded = client.load_table(&ident).await.unwrap();
    assert_eq!(scan(&loaded).await, model);
    let files = live_files_by_bucket(&loaded).await;
    assert!(
        files.values().all(|f| f.delete_files == 0),
        "delete files left: {files:?}"
    );
    let min_file_size = 64 * 1024 * 3 / 4;
    for (bucket, f) in &files {
        let small = f.data_sizes.iter().filter(|s| **s < min_file_size).count();
        assert!(small <= 1, "bucket {bucket}: {small} small files {f:?}");
    }

    // Every snapshot equals the model of the last checkpoint at or before it.
    let mut ancestry: Vec<_> = main_ancestry(&loaded.metadata).cloned().collect();
    ancestry.reverse();
    let mut current = BTreeMap::new();
    let mut compactions = 0;
    for snapshot in &ancestry {
        let id = snapshot.snapshot_id();
        if let Some(m) = models.get(&id) {
            current = m.clone();
        } else {
            assert_eq!(
                snapshot.summary().additional_properties["floe.operation"],
                "compaction"
            );
            compactions += 1;
        }
        assert_eq!(scan_at(&loaded, Some(id)).await, current, "snapshot {id}");
    }
    assert_eq!(compactions, starts.len());
    check_sequence_rule(&loaded, &starts).await;
    println!(
        "{runs} concurrent runs, {concurrent} groups committed while upserts ran, {} snapshots",
        ancestry.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upsert_committed_during_compaction_keeps_its_deletes() {
    let env = TestEnv::start();
    let client = RestClient::connect(env.server.url()).await.unwrap();
    let ident = create_table(&client, "interleaved", 1).await;
    let (_, mut model, mut rng) = write_checkpoints(&client, &ident, 8, 6, (80, 60)).await;
    // Checkpoint 7 replaces and deletes keys of the files being compacted; it lands after
    // the compaction read them.
    let cp = random_checkpoint(&mut rng, &mut model, 80, 60, 7);
    let action = checkpoint_later(&client, &ident, cp, 7);
    let table = CommitInBetween::new(&client, action);
    let report = compact(
        table,
        &ident,
        &request(&[("min-input-files", "2")]),
        Arc::new(Silent),
    )
    .await
    .unwrap();
    assert_eq!(report.groups.len(), 1, "{report:?}");
    let Ok(GroupOutcome::Committed { snapshot_id, .. }) = &report.groups[0].outcome else {
        panic!("the group must commit: {report:?}");
    };
    let loaded = client.load_table(&ident).await.unwrap();
    assert_eq!(loaded.metadata.current_snapshot_id(), Some(*snapshot_id));
    // Without the start's sequence number on the new files, checkpoint 7's equality
    // deletes would not hide the old rows and they would be read again.
    assert_eq!(scan(&loaded).await, model);
    let start = report.start_snapshot.unwrap();
    let starts = HashMap::from([(
        *snapshot_id,
        loaded
            .metadata
            .snapshot_by_id(start)
            .unwrap()
            .sequence_number(),
    )]);
    check_sequence_rule(&loaded, &starts).await;
    let compaction = loaded.metadata.snapshot_by_id(*snapshot_id).unwrap();
    assert!(compaction.sequence_number() > starts[snapshot_id] + 1);
    // Checkpoint 7's delete files stay: they apply to the compacted rows.
    assert!(live_files_by_bucket(&loaded)
        .await
        .values()
        .any(|f| f.delete_files > 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_position_delete_on_a_rewritten_file_skips_the_group() {
    let env = TestEnv::start();
    let client = RestClient::connect(env.server.url()).await.unwrap();
    let ident = create_table(&client, "targeted", 1).await;
    let (_, mut model, _) = write_checkpoints(&client, &ident, 12, 5, (60, 50)).await;
    let before = client.load_table(&ident).await.unwrap();
    let (target, position, deleted_key) = first_live_row(&before).await;
    let action = {
        let (client, ident, target) = (client.clone(), ident.clone(), target.clone());
        Box::pin(async move { commit_position_delete(&client, &ident, &target, position).await })
    };
    let table = CommitInBetween::new(&client, action);
    let report = compact(
        table.clone(),
        &ident,
        &request(&[("min-input-files", "2")]),
        Arc::new(Silent),
    )
    .await
    .unwrap();
    assert_eq!(report.groups.len(), 1, "{report:?}");
    match &report.groups[0].outcome {
        Ok(GroupOutcome::Skipped(ReplaceConflict::NewPositionDeletes(files))) => {
            assert_eq!(files.len(), 1)
        }
        other => panic!("the group must be skipped, got {other:?}"),
    }
    model.remove(&deleted_key);
    let after = client.load_table(&ident).await.unwrap();
    assert_eq!(
        after
            .metadata
            .current_snapshot()
            .unwrap()
            .summary()
            .operation,
        iceberg::spec::Operation::Overwrite,
        "only the position delete landed"
    );
    assert_eq!(scan(&after).await, model);
    // The next run compacts with the position delete applied, and folds it away.
    let report = compact(
        table,
        &ident,
        &request(&[("min-input-files", "2")]),
        Arc::new(Silent),
    )
    .await
    .unwrap();
    assert_eq!(report.committed(), 1, "{report:?}");
    let last = client.load_table(&ident).await.unwrap();
    assert_eq!(scan(&last).await, model);
    assert!(live_files_by_bucket(&last)
        .await
        .values()
        .all(|f| f.delete_files == 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_whose_rows_are_all_deleted_leaves_no_file() {
    let env = TestEnv::start();
    let client = RestClient::connect(env.server.url()).await.unwrap();
    let ident = create_table(&client, "emptied", 1).await;
    let mut writer = open_writer(&client, &ident, "w").await;
    for (checkpoint, op) in [(1, "+I"), (2, "+U"), (3, "-D")] {
        let cp = Checkpoint {
            ids: (0..20).collect(),
            names: (0..20).map(|i| format!("{op}{i}")).collect(),
            qty: vec![Some(1); 20],
            ops: vec![op; 20],
            expected: Expected::default(),
        };
        writer.write(&batch(&cp, 0..20)).await.unwrap();
        committed(writer.commit(Some(checkpoint), None).await.unwrap());
    }
    let report = compact(
        Arc::new(client.clone()),
        &ident,
        &request(&[("min-input-files", "1")]),
        Arc::new(Silent),
    )
    .await
    .unwrap();
    assert_eq!(report.committed(), 1, "{report:?}");
    assert_eq!(report.groups[0].output_files, 0);
    let loaded = client.load_table(&ident).await.unwrap();
    assert!(scan(&loaded).await.is_empty());
    assert!(
        live_files_by_bucket(&loaded).await.is_empty(),
        "no data or delete file is left"
    );
    let summary = &loaded
        .metadata
        .current_snapshot()
        .unwrap()
        .summary()
        .additional_properties;
    assert_eq!(summary["total-data-files"], "0");
    assert_eq!(summary["total-delete-files"], "0");
    assert_eq!(summary["total-records"], "0");
}
