//! Snapshot expiry after compaction, through `floe expire-snapshots` against the real
//! `floe serve`: the snapshots past the retention leave the metadata, the files only they
//! reached (compacted-away data and delete files, their manifests and manifest lists) are
//! deleted, and every file a remaining snapshot reaches, and every metadata file, stays;
//! and a writer's exactly-once outlives the snapshots it committed.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use floe_client::RestClient;
use floe_compaction::{compact, reachable_files, CompactionRequest, Entries, Silent};
use floe_table::properties::WRITER_ID;
use floe_test_support::changes::Rng;
use floe_test_support::cli::floe;
use floe_test_support::compaction::assert_reachable_present;
use floe_test_support::upsert_model::*;
use floe_test_support::{list_files, TestEnv};
use floe_upsert::{CheckpointOutcome, CommittedCheckpoint};
use iceberg::TableIdent;

/// Every file under `dir`, as full paths.
fn files_under(dir: &Path) -> BTreeSet<String> {
    list_files(dir)
        .into_iter()
        .map(|p| dir.join(p).to_string_lossy().into_owned())
        .collect()
}

/// `floe expire-snapshots` on `table` with `extra` arguments: success, and what it printed.
fn expire_snapshots(url: &str, table: &str, extra: &[&str]) -> (bool, String) {
    let mut args = vec!["expire-snapshots", "--catalog", url, "--table", table];
    args.extend(extra);
    let run = floe(&args);
    (
        run.status.success(),
        format!("{}{}", run.stdout, run.stderr),
    )
}

/// Compacts every bucket of `ident`, whatever its files.
async fn compact_all(client: &RestClient, ident: &TableIdent) -> usize {
    let request = CompactionRequest {
        overrides: vec![("min-input-files".into(), "1".into())],
        ..Default::default()
    };
    let report = compact(Arc::new(client.clone()), ident, &request, Arc::new(Silent))
        .await
        .unwrap();
    report.committed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_deletes_only_what_no_remaining_snapshot_reaches() {
    let env = TestEnv::start();
    let client = RestClient::connect(env.server.url()).await.unwrap();
    let ident = create_table(&client, "expiring", 2).await;
    let (_, model, _) = write_checkpoints(&client, &ident, 77, 8, (80, 120)).await;
    assert_eq!(compact_all(&client, &ident).await, 2);

    let before = client.load_table(&ident).await.unwrap();
    let location = before.metadata.location().to_string();
    let on_disk_before = files_under(Path::new(&location));
    let snapshots_before = before.metadata.snapshots().count();
    assert_eq!(snapshots_before, 10);

    // A bad retention is refused and changes nothing.
    let expire = |extra: &[&str]| expire_snapshots(env.server.url(), "ns.expiring", extra);
    let (ok, text) = expire(&["--older-than", "soon"]);
    assert!(!ok && text.contains("--older-than"), "{text}");
    assert_eq!(files_under(Path::new(&location)), on_disk_before);

    let (ok, text) = expire(&["--older-than", "0s", "--retain-last", "2"]);
    assert!(ok, "{text}");
    assert!(text.contains("expired 8 snapshots"), "{text}");

    let after = client.load_table(&ident).await.unwrap();
    let remaining: Vec<i64> = after
        .metadata
        .snapshots()
        .map(|s| s.snapshot_id())
        .collect();
    assert_eq!(remaining.len(), 2);
    assert!(remaining.contains(&after.metadata.current_snapshot_id().unwrap()));
    assert_eq!(scan(&after).await, model);

    let kept = reachable_files(&after.file_io, &after.metadata, &remaining, Entries::Live)
        .await
        .unwrap();
    let on_disk = files_under(Path::new(&location));
    assert_reachable_present(&kept, &on_disk);
    let deleted: BTreeSet<&String> = on_disk_before.difference(&on_disk).collect();
    assert!(!deleted.is_empty());
    for path in &deleted {
        assert!(
            !path.ends_with(".metadata.json"),
            "a metadata file was deleted: {path}"
        );
        assert!(
            !kept.content_files.contains(*path) && !kept.manifests.contains(*path),
            "{path}"
        );
    }
    // The compacted-away data files are among the deleted ones.
    let data_deleted = deleted.iter().filter(|p| p.ends_with(".parquet")).count();
    assert!(
        data_deleted >= 8,
        "{data_deleted} data or delete files deleted"
    );
    let added: Vec<&String> = on_disk.difference(&on_disk_before).collect();
    assert!(
        added.len() == 1 && added[0].ends_with(".metadata.json"),
        "expiry writes only its metadata file: {added:?}"
    );
}

/// Exactly-once outlives expiry: writer `w` commits checkpoints 1 to 3 and writer `b` one;
/// compaction and expiry down to one snapshot leave no snapshot of `w`. A restarted `w`
/// still knows checkpoint 3 (from its table property), and replaying checkpoints 3 and 2
/// adds no snapshot: the table still equals the model.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_after_compaction_and_expiry_adds_nothing() {
    let env = TestEnv::start();
    let client = RestClient::connect(env.server.url()).await.unwrap();
    let ident = create_table(&client, "replayed", 2).await;
    let (seed, ops) = (41, (60, 90));
    let (_, mut model, mut rng) = write_checkpoints(&client, &ident, seed, 3, ops).await;
    let mut other = open_writer(&client, &ident, "b").await;
    let cp = random_checkpoint(&mut rng, &mut model, ops.0, ops.1, 4);
    other.write(&batch(&cp, 0..cp.ids.len())).await.unwrap();
    committed(other.commit(Some(1), None).await.unwrap());
    assert_eq!(compact_all(&client, &ident).await, 2);
    let (ok, text) = expire_snapshots(
        env.server.url(),
        "ns.replayed",
        &["--older-than", "0s", "--retain-last", "1"],
    );
    assert!(ok, "{text}");
    let before = client.load_table(&ident).await.unwrap();
    let snapshots: Vec<_> = before.metadata.snapshots().collect();
    assert_eq!(snapshots.len(), 1);
    let summary = &snapshots[0].summary().additional_properties;
    assert_eq!(
        summary.get(WRITER_ID),
        None,
        "a compaction snapshot is left"
    );
    assert_eq!(scan(&before).await, model);

    // The same checkpoints again: generated from the same seed, on a model of their own.
    let (mut replayed_model, mut replay_rng) = (Default::default(), Rng(seed));
    let originals: Vec<_> = (1..=3)
        .map(|c| random_checkpoint(&mut replay_rng, &mut replayed_model, ops.0, ops.1, c))
        .collect();
    for checkpoint in [3, 2] {
        let mut restarted = open_writer(&client, &ident, "w").await;
        let recorded = CommittedCheckpoint {
            checkpoint_id: 3,
            snapshot_id: None,
            sequence_number: None,
        };
        assert_eq!(restarted.last_committed(), Some(recorded));
        let cp = &originals[checkpoint as usize - 1];
        restarted.write(&batch(cp, 0..cp.ids.len())).await.unwrap();
        let outcome = restarted.commit(Some(checkpoint), None).await.unwrap();
        assert_eq!(outcome, CheckpointOutcome::AlreadyCommitted(recorded));
    }
    let after = client.load_table(&ident).await.unwrap();
    assert_eq!(after.metadata_location, before.metadata_location);
    assert_eq!(after.metadata.snapshots().count(), 1);
    assert_eq!(scan(&after).await, model);
}
