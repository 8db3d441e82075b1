//! Self-verifying compaction, through the real `floe serve`: a rewrite broken on purpose
//! (a dropped row, a changed value) is refused by the check of its files against the rows
//! it read: no group commits, the error names what differs, the refused files are deleted
//! and the table is unchanged; the same compaction unbroken commits and keeps every row.
//! A conversion of equality deletes whose position-delete files are broken (a position
//! left out, a position moved) is refused the same way. A delete file that is not Parquet
//! (a format v3 deletion vector's Puffin file) is refused by name and format.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use floe_client::RestClient;
use floe_compaction::{
    compact, convert_deletes, CompactionError, CompactionRequest, ConversionRequest, Fault,
    GroupOutcome, PartitionOutcome, Silent,
};
use floe_table::TableCatalog;
use floe_test_support::upsert_model::*;
use floe_test_support::warehouse::list_files;
use floe_test_support::TestEnv;
use iceberg::TableIdent;

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

/// A table with equality deletes behind a live `floe serve`, as it was before any check.
struct Setup {
    _env: TestEnv,
    client: RestClient,
    ident: TableIdent,
    catalog: Arc<dyn TableCatalog>,
    model: BTreeMap<i64, Row>,
    before: String,
    location: PathBuf,
}

impl Setup {
    async fn start(name: &str, seed: u64) -> Self {
        let env = TestEnv::start();
        let client = RestClient::connect(env.server.url()).await.unwrap();
        let ident = create_table(&client, name, 2).await;
        let (_writer, model, _) = write_checkpoints(&client, &ident, seed, 5, (200, 300)).await;
        let table = client.load_table(&ident).await.unwrap();
        let location = table.metadata.location().trim_start_matches("file://");
        Self {
            catalog: Arc::new(client.clone()),
            location: PathBuf::from(location),
            before: table.metadata_location,
            _env: env,
            client,
            ident,
            model,
        }
    }

    /// Checks a broken run's outcomes (each a verification failure naming one of `named`)
    /// and that it left the table as it was, with no file of its `prefix` behind.
    async fn refused<T: std::fmt::Debug>(
        &self,
        fault: Fault,
        outcomes: &[Result<T, Arc<CompactionError>>],
        named: &[&str],
        prefix: &str,
    ) {
        assert!(!outcomes.is_empty(), "{fault:?}: nothing planned");
        for outcome in outcomes {
            let e = match outcome {
                Err(e) => e,
                Ok(outcome) => panic!("{fault:?}: a broken run ended {outcome:?}"),
            };
            assert!(e.is_verification_failure(), "{fault:?}: {e}");
            let text = e.to_string();
            assert!(text.contains("differs from its input"), "{text}");
            assert!(
                named.iter().any(|n| text.contains(n)),
                "{fault:?} not named: {text}"
            );
        }
        let now = self.client.load_table(&self.ident).await.unwrap();
        assert_eq!(
            now.metadata_location, self.before,
            "{fault:?}: the table moved"
        );
        let left = files_named(&self.location, prefix);
        assert!(left.is_empty(), "{fault:?}: refused files left: {left:?}");
    }

    /// The table's rows are still the model's.
    async fn rows_kept(&self) {
        let after = self.client.load_table(&self.ident).await.unwrap();
        assert_eq!(scan(&after).await, self.model);
    }
}

const FAULTS: [(Fault, &[&str]); 2] = [
    (Fault::DropRow, &["rows: "]),
    (Fault::ChangeValue, &["sum ", "hash "]),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_rewrite_is_refused_and_an_unbroken_one_commits() {
    let t = Setup::start("verified", 41).await;
    for (fault, named) in FAULTS {
        let request = request(Some(fault));
        let report = compact(t.catalog.clone(), &t.ident, &request, Arc::new(Silent))
            .await
            .unwrap();
        let outcomes: Vec<_> = report.groups.into_iter().map(|g| g.outcome).collect();
        t.refused(fault, &outcomes, named, "compact-").await;
    }

    let report = compact(
        t.catalog.clone(),
        &t.ident,
        &request(None),
        Arc::new(Silent),
    )
    .await
    .unwrap();
    assert!(
        (report.groups.iter()).all(|g| matches!(g.outcome, Ok(GroupOutcome::Committed { .. }))),
        "{report:?}"
    );
    t.rows_kept().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_conversion_is_refused_and_an_unbroken_one_commits() {
    let t = Setup::start("converted", 43).await;
    for (fault, _) in FAULTS {
        let request = ConversionRequest {
            fault: Some(fault),
            ..Default::default()
        };
        let report = convert_deletes(t.catalog.clone(), &t.ident, &request)
            .await
            .unwrap();
        let outcomes: Vec<_> = report.partitions.into_iter().map(|p| p.outcome).collect();
        // A position left out or moved: the positions' count, sum or hash differ.
        t.refused(fault, &outcomes, &["rows: ", "sum ", "hash "], "deletes-")
            .await;
    }

    let request = ConversionRequest::default();
    let report = convert_deletes(t.catalog.clone(), &t.ident, &request)
        .await
        .unwrap();
    assert!(
        (report.partitions.iter())
            .all(|p| matches!(p.outcome, Ok(PartitionOutcome::Committed { .. }))),
        "{report:?}"
    );
    t.rows_kept().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_file_that_is_not_parquet_is_refused_by_name_and_format() {
    use futures::TryStreamExt;
    let t = Setup::start("puffin", 43).await;
    let table = t
        .client
        .load_table(&t.ident)
        .await
        .unwrap()
        .to_table()
        .unwrap();
    let planned = table.scan().build().unwrap().plan_files().await.unwrap();
    let tasks: Vec<_> = planned.try_collect().await.unwrap();
    let delete = tasks
        .iter()
        .flat_map(|t| &t.deletes)
        .next()
        .expect("a delete file");
    let path = delete.file_path.trim_start_matches("file://").to_string();
    // What a deletion vector's file holds at both ends: the Puffin magic.
    std::fs::write(&path, [b"PFA1".as_slice(), &[0; 32], b"PFA1"].concat()).unwrap();

    let report = compact(
        t.catalog.clone(),
        &t.ident,
        &request(None),
        Arc::new(Silent),
    )
    .await;
    let failures: Vec<String> = (report.unwrap().groups.into_iter())
        .filter_map(|g| g.outcome.err().map(|e| e.to_string()))
        .collect();
    assert!(!failures.is_empty(), "no group read the delete file");
    for text in failures {
        assert!(
            text.contains(&path) && text.contains("a Puffin file"),
            "{text}"
        );
        assert!(!text.contains("Corrupt footer"), "{text}");
    }
}
