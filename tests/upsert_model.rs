//! The upsert writer against an in-memory model: thousands of random inserts, updates and
//! deletes over tens of checkpoints (keys repeated inside a checkpoint and across them,
//! deletes of missing keys, re-inserts after deletes), committed through the real `floe
//! serve` over REST. After every checkpoint iceberg-rust's own scan (which applies both
//! kinds of deletes) must equal the model, and the new manifests must hold what the design
//! says: equality deletes with the key column only, position deletes exactly for the
//! keys repeated within the checkpoint, and every entry's sequence numbers equal to its
//! snapshot's.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use floe_client::RestClient;
use floe_table::{main_ancestry, main_manifests, LoadedTable};
use floe_test_support::changes::Rng;
use floe_test_support::upsert_model::*;
use floe_test_support::{table_path, TestEnv};
use floe_upsert::{CheckpointOutcome, CommitReport, UpsertOptions, UpsertWriter};
use iceberg::spec::{DataContentType, ManifestStatus};

/// Checks the files the newest snapshot added against `expected`, and the sequence
/// numbers of every live entry against the snapshot that added it.
async fn check_manifests(table: &LoadedTable, report: &CommitReport, expected: &Expected) {
    let file_io = &table.file_io;
    let metadata = &table.metadata;
    let seq_of: HashMap<i64, i64> = main_ancestry(metadata)
        .map(|s| (s.snapshot_id(), s.sequence_number()))
        .collect();
    let mut added = Expected::default();
    for manifest in main_manifests(file_io, metadata).await.unwrap() {
        let manifest = manifest.load_manifest(file_io).await.unwrap();
        for entry in manifest.entries() {
            assert_eq!(entry.status(), ManifestStatus::Added, "writer only adds");
            let snapshot = entry.snapshot_id().expect("entry snapshot id");
            let seq = seq_of[&snapshot];
            assert_eq!(entry.sequence_number(), Some(seq), "{}", entry.file_path());
            assert_eq!(
                entry.file_sequence_number,
                Some(seq),
                "{}",
                entry.file_path()
            );
            if snapshot != report.snapshot_id {
                continue;
            }
            let file = entry.data_file();
            match file.content_type() {
                DataContentType::Data => added.rows += file.record_count(),
                DataContentType::EqualityDeletes => {
                    assert_eq!(file.equality_ids(), Some(vec![1]), "key field id only");
                    let columns = parquet_columns(file.file_path());
                    assert_eq!(columns, vec!["id".to_string()], "key column only");
                    added.equality_deletes += file.record_count();
                }
                DataContentType::PositionDeletes => {
                    let columns = parquet_columns(file.file_path());
                    assert_eq!(columns, vec!["file_path".to_string(), "pos".to_string()]);
                    added.position_deletes += file.record_count();
                }
            }
        }
    }
    // Every first-seen key gets an equality delete unless no older row could hold it
    // (the writer leaves it out): together they are the design's count.
    assert_eq!(report.equality_deletes, added.equality_deletes);
    added.equality_deletes += report.skipped_deletes;
    assert_eq!(&added, expected, "files of snapshot {}", report.snapshot_id);
    assert_eq!(report.rows, expected.rows);
    assert_eq!(report.position_deletes, expected.position_deletes);
}

fn parquet_columns(path: &str) -> Vec<String> {
    let file = std::fs::File::open(path).unwrap();
    let reader = parquet::file::reader::SerializedFileReader::new(file).unwrap();
    use parquet::file::reader::FileReader;
    reader
        .metadata()
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_changes_equal_the_model_after_every_checkpoint() {
    let env = TestEnv::start();
    let client = RestClient::connect(env.server.url()).await.unwrap();
    for seed in [7u64, 2024] {
        let ident = create_table(&client, &format!("model_{seed}"), 4).await;
        let writer_id = format!("model-{seed}");
        let mut writer = open_writer(&client, &ident, &writer_id).await;
        let mut rng = Rng(seed);
        let mut model = BTreeMap::new();
        let mut total_ops = 0;
        for checkpoint in 1..=25i64 {
            let cp = random_checkpoint(&mut rng, &mut model, 160, 300, checkpoint as usize);
            total_ops += cp.ids.len();
            // Two batches, so repeats also cross batch boundaries.
            let mid = cp.ids.len() / 2;
            writer.write(&batch(&cp, 0..mid)).await.unwrap();
            writer.write(&batch(&cp, mid..cp.ids.len())).await.unwrap();
            let report = committed(writer.commit(Some(checkpoint), None).await.unwrap());
            let table = client.load_table(&ident).await.unwrap();
            assert_eq!(
                scan(&table).await,
                model,
                "seed {seed}, checkpoint {checkpoint}"
            );
            check_manifests(&table, &report, &cp.expected).await;
        }
        assert!(total_ops > 4000, "{total_ops} changes");

        // A restarted writer finds its last checkpoint; replaying it adds nothing.
        let before = client.load_table(&ident).await.unwrap();
        let mut again = open_writer(&client, &ident, &writer_id).await;
        assert_eq!(again.last_committed().unwrap().checkpoint_id, 25);
        let replay = random_checkpoint(&mut rng, &mut BTreeMap::new(), 50, 300, 99);
        again
            .write(&batch(&replay, 0..replay.ids.len()))
            .await
            .unwrap();
        let outcome = again.commit(Some(25), None).await.unwrap();
        assert!(
            matches!(outcome, CheckpointOutcome::AlreadyCommitted(c) if c.checkpoint_id == 25),
            "{outcome:?}"
        );
        let after = client.load_table(&ident).await.unwrap();
        assert_eq!(after.metadata_location, before.metadata_location);
        assert_eq!(scan(&after).await, model);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflicting_commit_is_retried_on_the_new_table() {
    let env = TestEnv::start();
    let client = RestClient::connect(env.server.url()).await.unwrap();
    let ident = create_table(&client, "conflict", 2).await;
    let mut a = open_writer(&client, &ident, "a").await;
    let mut b = open_writer(&client, &ident, "b").await;
    let mut rng = Rng(99);
    let mut model = BTreeMap::new();
    // Both writers work from the same loaded table; b commits first, so a's first
    // attempt conflicts and is retried on b's snapshot.
    let cp_a = random_checkpoint(&mut rng, &mut BTreeMap::new(), 100, 100, 1);
    let cp_b = random_checkpoint(&mut rng, &mut BTreeMap::new(), 100, 100, 2);
    a.write(&batch(&cp_a, 0..cp_a.ids.len())).await.unwrap();
    b.write(&batch(&cp_b, 0..cp_b.ids.len())).await.unwrap();
    let rb = committed(b.commit(Some(1), None).await.unwrap());
    let ra = committed(a.commit(Some(1), None).await.unwrap());
    assert_eq!(rb.attempts, 1);
    assert_eq!(ra.attempts, 2, "a must have hit one conflict");
    // Into the empty table neither wrote equality deletes; b's rows then held keys a had
    // left them out for, so a's retry wrote them after all.
    assert_eq!((rb.equality_deletes, rb.equality_delete_files), (0, 0));
    assert!(
        ra.equality_deletes > 0 && ra.equality_delete_files > 0,
        "{ra:?}"
    );
    assert_eq!(ra.sequence_number, rb.sequence_number + 1);
    // The model: b's changes, then a's.
    for cp in [&cp_b, &cp_a] {
        apply(&mut model, cp);
    }
    let table = client.load_table(&ident).await.unwrap();
    assert_eq!(scan(&table).await, model);
    let checkpoints: BTreeSet<(String, String)> = main_ancestry(&table.metadata)
        .map(|s| {
            let p = &s.summary().additional_properties;
            (p["floe.writer-id"].clone(), p["floe.checkpoint-id"].clone())
        })
        .collect();
    assert_eq!(
        checkpoints,
        BTreeSet::from([("a".into(), "1".into()), ("b".into(), "1".into())])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_checkpoint_is_recorded_once() {
    let env = TestEnv::start();
    let client = RestClient::connect(env.server.url()).await.unwrap();
    let ident = create_table(&client, "empty", 2).await;
    let mut writer = open_writer(&client, &ident, "w").await;
    // Only `-U` rows: nothing to write, but the checkpoint is recorded.
    let only_before = Checkpoint {
        ids: vec![1, 2],
        names: vec!["a".into(), "b".into()],
        qty: vec![None, Some(1)],
        ops: vec!["-U", "-U"],
        expected: Expected::default(),
    };
    writer.write(&batch(&only_before, 0..2)).await.unwrap();
    let report = committed(writer.commit(Some(5), None).await.unwrap());
    assert_eq!((report.data_files, report.rows), (0, 0));
    let table = client.load_table(&ident).await.unwrap();
    let snapshot = table.metadata.current_snapshot().unwrap();
    assert_eq!(
        snapshot.summary().additional_properties["floe.checkpoint-id"],
        "5"
    );
    assert!(scan(&table).await.is_empty());
    // A restarted writer sees it; replaying it adds nothing.
    let mut again = open_writer(&client, &ident, "w").await;
    assert_eq!(again.last_committed().unwrap().checkpoint_id, 5);
    let outcome = again.commit(Some(5), None).await.unwrap();
    assert!(
        matches!(outcome, CheckpointOutcome::AlreadyCommitted(_)),
        "{outcome:?}"
    );
    // Without a writer id an empty checkpoint commits nothing.
    let mut anonymous =
        UpsertWriter::open(Arc::new(client.clone()), &ident, UpsertOptions::default())
            .await
            .unwrap();
    assert_eq!(
        anonymous.commit(None, None).await.unwrap(),
        CheckpointOutcome::Empty
    );
    let after = client.load_table(&ident).await.unwrap();
    assert_eq!(after.metadata_location, table.metadata_location);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_is_never_retried_empty() {
    let env = TestEnv::start();
    let client = RestClient::connect(env.server.url()).await.unwrap();
    let ident = create_table(&client, "dropped", 2).await;
    let mut writer = open_writer(&client, &ident, "w").await;
    let mut rng = Rng(5);
    let cp = random_checkpoint(&mut rng, &mut BTreeMap::new(), 50, 50, 1);
    writer.write(&batch(&cp, 0..cp.ids.len())).await.unwrap();
    // The table goes away between the write and the commit.
    env.http.delete(&table_path(&["ns"], "dropped")).await.ok();

    let err = writer.commit(Some(1), None).await.unwrap_err();
    assert!(err.to_string().contains("not found"), "{err}");
    // The checkpoint's files are gone with the failed commit: committing it again (which
    // would record an empty checkpoint 1) is refused until it is aborted.
    let err = writer.commit(Some(1), None).await.unwrap_err();
    assert!(err.to_string().contains("abort it"), "{err}");
    let err = writer.write(&batch(&cp, 0..1)).await.unwrap_err();
    assert!(err.to_string().contains("abort it"), "{err}");
    writer.abort();
    writer.write(&batch(&cp, 0..1)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_commits_land_in_checkpoint_order() {
    let env = TestEnv::start();
    let client = RestClient::connect(env.server.url()).await.unwrap();
    let ident = create_table(&client, "pipelined", 4).await;
    let mut writer = open_writer(&client, &ident, "p").await;
    let mut rng = Rng(11);
    let mut model = BTreeMap::new();
    let (mut models, mut reports) = (Vec::new(), Vec::new());
    for checkpoint in 1..=12i64 {
        // Each checkpoint is written while the one before commits.
        let cp = random_checkpoint(&mut rng, &mut model, 160, 300, checkpoint as usize);
        writer.write(&batch(&cp, 0..cp.ids.len())).await.unwrap();
        models.push(model.clone());
        let previous = writer.start_commit(Some(checkpoint), None).await.unwrap();
        assert_eq!(previous.is_some(), checkpoint > 1);
        reports.extend(previous.map(committed));
    }
    reports.push(committed(writer.finish_commit().await.unwrap().unwrap()));
    assert_eq!(writer.finish_commit().await.unwrap(), None);
    assert_eq!(writer.last_committed().unwrap().checkpoint_id, 12);
    let table = client.load_table(&ident).await.unwrap();
    assert_eq!(reports.len(), models.len());
    for (i, (report, model)) in reports.iter().zip(&models).enumerate() {
        assert_eq!(report.checkpoint_id, Some(i as i64 + 1));
        if i > 0 {
            assert_eq!(report.sequence_number, reports[i - 1].sequence_number + 1);
        }
        let at = scan_at(&table, Some(report.snapshot_id)).await;
        assert_eq!(&at, model, "checkpoint {}", i + 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_background_commit_fails_the_next_checkpoint() {
    let env = TestEnv::start();
    let client = RestClient::connect(env.server.url()).await.unwrap();
    let ident = create_table(&client, "dropped_later", 2).await;
    let mut writer = open_writer(&client, &ident, "w").await;
    let mut rng = Rng(6);
    let cp = random_checkpoint(&mut rng, &mut BTreeMap::new(), 50, 50, 1);
    writer.write(&batch(&cp, 0..cp.ids.len())).await.unwrap();
    env.http
        .delete(&table_path(&["ns"], "dropped_later"))
        .await
        .ok();
    assert_eq!(writer.start_commit(Some(1), None).await.unwrap(), None);
    // Checkpoint 2 is written while 1 fails to commit; starting its commit answers
    // checkpoint 1's failure, and checkpoint 2 is refused until it is aborted.
    writer.write(&batch(&cp, 0..10)).await.unwrap();
    let err = writer.start_commit(Some(2), None).await.unwrap_err();
    assert!(err.to_string().contains("not found"), "{err}");
    let err = writer.write(&batch(&cp, 0..1)).await.unwrap_err();
    assert!(err.to_string().contains("abort it"), "{err}");
    let err = writer.commit(Some(2), None).await.unwrap_err();
    assert!(err.to_string().contains("abort it"), "{err}");
    writer.abort();
    assert_eq!(writer.finish_commit().await.unwrap(), None);
    writer.write(&batch(&cp, 0..1)).await.unwrap();
}

/// Which checkpoints need equality deletes: none into a new table, none for keys above
/// every live key of their bucket, and one per updated or deleted key that an older row
/// holds. iceberg-rust's scan equals the model after each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn equality_deletes_only_where_an_older_row_may_hold_the_key() {
    let env = TestEnv::start();
    let client = RestClient::connect(env.server.url()).await.unwrap();
    let ident = create_table(&client, "left_out", 4).await;
    let mut writer = open_writer(&client, &ident, "w").await;
    let mut model = BTreeMap::new();
    let upserts = |keys: std::ops::Range<i64>, op: &'static str, tag: &str| Checkpoint {
        ids: keys.clone().collect(),
        names: keys.clone().map(|k| format!("{tag}{k}")).collect(),
        qty: keys.clone().map(|k| Some(k as i32)).collect(),
        ops: keys.map(|_| op).collect(),
        expected: Expected::default(),
    };
    let mut changes = upserts(100..300, "+U", "w");
    let deletes = upserts(0..10, "-D", "");
    for (i, id) in deletes.ids.iter().enumerate() {
        changes.ids.push(*id);
        changes.names.push(deletes.names[i].clone());
        changes.qty.push(None);
        changes.ops.push("-D");
    }
    // (checkpoint, equality deletes written, left out)
    let cases = [
        (upserts(0..200, "+I", "v"), 0, 200),
        (upserts(200..400, "+I", "v"), 0, 200),
        (changes, 210, 0),
    ];
    for (checkpoint, (cp, written, left_out)) in cases.into_iter().enumerate() {
        apply(&mut model, &cp);
        writer.write(&batch(&cp, 0..cp.ids.len())).await.unwrap();
        let report = committed(
            writer
                .commit(Some(checkpoint as i64 + 1), None)
                .await
                .unwrap(),
        );
        let what = format!("checkpoint {}: {report:?}", checkpoint + 1);
        assert_eq!(report.equality_deletes, written, "{what}");
        assert_eq!(report.skipped_deletes, left_out, "{what}");
        assert_eq!(report.equality_delete_files > 0, written > 0, "{what}");
        let table = client.load_table(&ident).await.unwrap();
        assert_eq!(scan(&table).await, model, "{what}");
    }
}

/// A checkpoint of only a delete, left out because the writer's table held no such key,
/// still deletes the row another writer committed meanwhile: the commit checks it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_left_out_delete_of_a_key_committed_meanwhile_is_written_after_all() {
    let env = TestEnv::start();
    let client = RestClient::connect(env.server.url()).await.unwrap();
    let ident = create_table(&client, "meanwhile", 1).await;
    let anonymous = UpsertOptions::default();
    let mut a = UpsertWriter::open(Arc::new(client.clone()), &ident, anonymous)
        .await
        .unwrap();
    let rows = |ids: Vec<i64>, op: &'static str| Checkpoint {
        names: ids.iter().map(|k| format!("v{k}")).collect(),
        qty: ids.iter().map(|_| None).collect(),
        ops: ids.iter().map(|_| op).collect(),
        ids,
        expected: Expected::default(),
    };
    let first = rows((1..=100).collect(), "+I");
    a.write(&batch(&first, 0..100)).await.unwrap();
    committed(a.commit(None, None).await.unwrap());
    let mut b = open_writer(&client, &ident, "b").await;
    b.write(&batch(&rows(vec![500], "+I"), 0..1)).await.unwrap();
    committed(b.commit(Some(1), None).await.unwrap());
    // Key 500 lies above every key a knew of: its delete is left out, then written.
    a.write(&batch(&rows(vec![500], "-D"), 0..1)).await.unwrap();
    let report = committed(a.commit(None, None).await.unwrap());
    assert_eq!(
        (report.equality_deletes, report.skipped_deletes),
        (1, 0),
        "{report:?}"
    );
    let table = client.load_table(&ident).await.unwrap();
    let mut model = BTreeMap::new();
    apply(&mut model, &first);
    assert_eq!(scan(&table).await, model);
}
