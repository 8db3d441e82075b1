//! Self-verifying compaction, through the real `floe serve`: a rewrite broken on purpose
//! (a dropped row, a changed value) is refused by the check of its files against the rows
//! it read: no group commits, the error names what differs, the refused files are deleted
//! and the table is unchanged; the same compaction unbroken commits and keeps every row.
//! A conversion of equality deletes whose position-delete files are broken (a position
//! left out, a position moved) is refused the same way.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use floe_client::RestClient;
use floe_compaction::{
    compact, convert_deletes, CompactionRequest, ConversionRequest, Fault, GroupOutcome,
    PartitionOutcome, Silent,
};
use floe_table::TableCatalog;
use floe_test_support::upsert_model::*;
use floe_test_support::warehouse::list_files;
use floe_test_support::TestEnv;

fn request(fault: Option<Fault>) -> CompactionRequest {
    CompactionRequest {
        overrides: vec![("min-input-files".into(), "1".into())],
        fault,
        ..Default::default()
    }
}

/// The files under `dir` whose name starts with `prefix`.
fn files_named(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    (list_files(dir).into_iter())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_rewrite_is_refused_and_an_unbroken_one_commits() {
    let env = TestEnv::start();
    let client = RestClient::connect(env.server.url()).await.unwrap();
    let ident = create_table(&client, "verified", 2).await;
    let catalog: Arc<dyn TableCatalog> = Arc::new(client.clone());
    let (_writer, model, _) = write_checkpoints(&client, &ident, 41, 5, (200, 300)).await;
    let before = client.load_table(&ident).await.unwrap();
    let location = before
        .metadata
        .location()
        .trim_start_matches("file://")
        .to_string();

    let cases = [
        (Fault::DropRow, &["rows: "][..]),
        (Fault::ChangeValue, &["sum ", "hash "][..]),
    ];
    for (fault, named) in cases {
        let report = compact(
            catalog.clone(),
            &ident,
            &request(Some(fault)),
            Arc::new(Silent),
        )
        .await
        .unwrap();
        assert!(!report.groups.is_empty(), "{fault:?}: nothing planned");
        for group in &report.groups {
            let e = match &group.outcome {
                Err(e) => e,
                Ok(outcome) => panic!("{fault:?}: a broken group ended {outcome:?}"),
            };
            assert!(e.is_verification_failure(), "{fault:?}: {e}");
            let text = e.to_string();
            assert!(text.contains("differs from its input"), "{text}");
            assert!(
                named.iter().any(|n| text.contains(n)),
                "{fault:?} not named: {text}"
            );
        }
        let now = client.load_table(&ident).await.unwrap();
        assert_eq!(
            now.metadata_location, before.metadata_location,
            "{fault:?}: the table moved"
        );
        let left = files_named(Path::new(&location), "compact-");
        assert!(left.is_empty(), "{fault:?}: refused files left: {left:?}");
    }

    let report = compact(catalog, &ident, &request(None), Arc::new(Silent))
        .await
        .unwrap();
    assert!(
        report
            .groups
            .iter()
            .all(|g| matches!(g.outcome, Ok(GroupOutcome::Committed { .. }))),
        "{report:?}"
    );
    let after = client.load_table(&ident).await.unwrap();
    assert_eq!(scan(&after).await, model);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_conversion_is_refused_and_an_unbroken_one_commits() {
    let env = TestEnv::start();
    let client = RestClient::connect(env.server.url()).await.unwrap();
    let ident = create_table(&client, "converted", 2).await;
    let catalog: Arc<dyn TableCatalog> = Arc::new(client.clone());
    let (_writer, model, _) = write_checkpoints(&client, &ident, 43, 5, (200, 300)).await;
    let before = client.load_table(&ident).await.unwrap();
    let location = before
        .metadata
        .location()
        .trim_start_matches("file://")
        .to_string();

    for fault in [Fault::DropRow, Fault::ChangeValue] {
        let request = ConversionRequest {
            fault: Some(fault),
            ..Default::default()
        };
        let report = convert_deletes(catalog.clone(), &ident, &request)
            .await
            .unwrap();
        assert!(!report.partitions.is_empty(), "{fault:?}: nothing planned");
        for partition in &report.partitions {
            let e = match &partition.outcome {
                Err(e) => e,
                Ok(outcome) => panic!("{fault:?}: a broken partition ended {outcome:?}"),
            };
            assert!(e.is_verification_failure(), "{fault:?}: {e}");
            assert!(e.to_string().contains("differs from its input"), "{e}");
        }
        let now = client.load_table(&ident).await.unwrap();
        assert_eq!(
            now.metadata_location, before.metadata_location,
            "{fault:?}: the table moved"
        );
        let left = files_named(Path::new(&location), "deletes-");
        assert!(left.is_empty(), "{fault:?}: refused files left: {left:?}");
    }

    let report = convert_deletes(catalog, &ident, &ConversionRequest::default())
        .await
        .unwrap();
    assert!(
        (report.partitions.iter())
            .all(|p| matches!(p.outcome, Ok(PartitionOutcome::Committed { .. }))),
        "{report:?}"
    );
    let after = client.load_table(&ident).await.unwrap();
    assert_eq!(scan(&after).await, model);
}
