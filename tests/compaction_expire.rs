//! Snapshot expiry after compaction, through `floe expire-snapshots` against the real
//! `floe serve`: the snapshots past the retention leave the metadata, the files only they
//! reached (compacted-away data and delete files, their manifests and manifest lists) are
//! deleted, and every file a remaining snapshot reaches, and every metadata file, stays.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use floe::rest_client::RestClient;
use floe_compaction::{compact, reachable_files, CompactionRequest, Entries, Silent};
use floe_test_support::cli::floe;
use floe_test_support::compaction::assert_reachable_present;
use floe_test_support::upsert_model::*;
use floe_test_support::{list_files, TestEnv};

/// Every file under `dir`, as full paths.
fn files_under(dir: &Path) -> BTreeSet<String> {
    list_files(dir)
        .into_iter()
        .map(|p| dir.join(p).to_string_lossy().into_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_deletes_only_what_no_remaining_snapshot_reaches() {
    let env = TestEnv::start();
    let client = RestClient::connect(env.server.url()).await.unwrap();
    let ident = create_table(&client, "expiring", 2).await;
    let (_, model, _) = write_checkpoints(&client, &ident, 77, 8, (80, 120)).await;
    let request = CompactionRequest {
        overrides: vec![("min-input-files".into(), "1".into())],
        ..Default::default()
    };
    let report = compact(Arc::new(client.clone()), &ident, &request, Arc::new(Silent))
        .await
        .unwrap();
    assert_eq!(report.committed(), 2, "{report:?}");

    let before = client.load_table(&ident).await.unwrap();
    let location = before.metadata.location().to_string();
    let on_disk_before = files_under(Path::new(&location));
    let snapshots_before = before.metadata.snapshots().count();
    assert_eq!(snapshots_before, 10);

    // A bad retention is refused and changes nothing.
    let url = env.server.url();
    let expire = |extra: &[&str]| {
        let mut args = vec![
            "expire-snapshots",
            "--catalog",
            url,
            "--table",
            "ns.expiring",
        ];
        args.extend(extra);
        let run = floe(&args);
        (
            run.status.success(),
            format!("{}{}", run.stdout, run.stderr),
        )
    };
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
