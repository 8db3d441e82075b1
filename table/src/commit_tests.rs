use std::collections::HashMap;

use iceberg::spec::{DataContentType, DataFile, DataFileBuilder, DataFileFormat, Struct};

use super::*;
use crate::catalog::main_ancestry;
use crate::operation::RowDelta;
use crate::testing::string_map;
use crate::testing::{Fault, MemoryCatalog};

fn data_file(name: &str) -> DataFile {
    DataFileBuilder::default()
        .content(DataContentType::Data)
        .file_path(format!("memory://warehouse/t/data/{name}.parquet"))
        .file_format(DataFileFormat::Parquet)
        .partition(Struct::empty())
        .partition_spec_id(0)
        .record_count(3)
        .file_size_in_bytes(100)
        .build()
        .expect("data file")
}

/// Quick retries, so the cases run fast.
fn quick(retries: &str) -> HashMap<String, String> {
    string_map(&[
        (COMMIT_NUM_RETRIES, retries),
        (COMMIT_MIN_WAIT_MS, "1"),
        (COMMIT_MAX_WAIT_MS, "2"),
    ])
}

/// What a case expects: the attempts it took, or the kind of its error.
type Expected = std::result::Result<u32, ErrorKind>;

#[tokio::test]
async fn the_loop_retries_settles_and_gives_up_as_the_rules_say() {
    use Fault::*;
    let cases: Vec<(&str, Vec<Fault>, bool, Expected)> = vec![
        ("nothing in the way", vec![], false, Ok(1)),
        ("a writer commits first", vec![Interloper], false, Ok(2)),
        (
            "two writers commit first",
            vec![Interloper, Interloper],
            false,
            Ok(3),
        ),
        (
            "answer lost after the commit applied",
            vec![LostAfterApply],
            false,
            Ok(1),
        ),
        (
            "answer lost before it applied",
            vec![LostBeforeApply],
            false,
            Ok(2),
        ),
        (
            "lost, then a writer commits first",
            vec![LostBeforeApply, Interloper],
            false,
            Ok(3),
        ),
        (
            "every retry conflicts",
            vec![Interloper, Interloper, Interloper],
            false,
            Err(ErrorKind::Conflict),
        ),
        (
            "unknown, then every retry conflicts",
            vec![LostBeforeApply, Interloper, Interloper],
            false,
            Err(ErrorKind::Unknown),
        ),
        (
            "unknown, then the catalog cannot be reached",
            vec![LostBeforeApply],
            true,
            Err(ErrorKind::Unknown),
        ),
        (
            "the table is dropped and re-created",
            vec![Recreate],
            false,
            Err(ErrorKind::TableReplaced),
        ),
    ];
    for (name, faults, loads_fail, expected) in cases {
        let catalog = MemoryCatalog::new(quick("2"));
        catalog.then(faults);
        if loads_fail {
            catalog.fail_loads();
        }
        let mut delta = RowDelta::new();
        delta.add_files([data_file("a")]);
        let result = commit(&catalog, catalog.table(), &mut delta).await;
        let got = result.as_ref().map(|f| f.attempts).map_err(|e| e.kind());
        assert_eq!(got, expected, "{name}: {result:?}");
        let ours = delta.snapshot_id();
        let main: Vec<i64> = main_ancestry(&catalog.metadata())
            .map(|s| s.snapshot_id())
            .collect();
        let landed = main.iter().filter(|id| **id == ours).count();
        match &result {
            Ok(finished) => {
                assert_eq!(landed, 1, "{name}: lands exactly once");
                assert_eq!(main[0], ours, "{name}: on top of main");
                assert_eq!(finished.output.snapshot_id, ours, "{name}");
                assert_eq!(
                    finished.output.sequence_number,
                    main.len() as i64,
                    "{name}: the sequence number of its place"
                );
            }
            Err(_) => assert_eq!(landed, 0, "{name}: never lands when it fails"),
        }
    }
}

#[tokio::test]
async fn a_stale_table_costs_one_conflict_and_the_answer_is_the_committed_table() {
    let catalog = MemoryCatalog::new(quick("4"));
    let stale = catalog.table();
    let mut first = RowDelta::new();
    first.add_files([data_file("a")]);
    commit(&catalog, stale.clone(), &mut first).await.unwrap();
    let mut second = RowDelta::new();
    second.add_files([data_file("b")]);
    let finished = commit(&catalog, stale, &mut second).await.unwrap();
    assert_eq!(finished.attempts, 2);
    assert_eq!(finished.table.metadata, catalog.metadata());
    let (commits, loads) = catalog.counts();
    assert_eq!((commits, loads), (3, 1), "one reload for the stale table");
    let summary = &finished
        .table
        .metadata
        .current_snapshot()
        .unwrap()
        .summary();
    let total = summary.additional_properties.get("total-data-files");
    assert_eq!(total.map(String::as_str), Some("2"), "totals carry forward");
}

#[test]
fn the_retry_policy_comes_from_the_table_properties() {
    let ms = Duration::from_millis;
    // (table properties, the policy or the property refused)
    type Case = (
        &'static [(&'static str, &'static str)],
        std::result::Result<RetryPolicy, &'static str>,
    );
    let cases: Vec<Case> = vec![
        (&[], Ok(RetryPolicy::default())),
        (
            &[
                (COMMIT_NUM_RETRIES, "7"),
                (COMMIT_MIN_WAIT_MS, "5"),
                (COMMIT_MAX_WAIT_MS, "50"),
                (COMMIT_TOTAL_TIMEOUT_MS, "1000"),
            ],
            Ok(RetryPolicy {
                num_retries: 7,
                min_wait: ms(5),
                max_wait: ms(50),
                total_timeout: ms(1000),
            }),
        ),
        (&[(COMMIT_NUM_RETRIES, "-1")], Err(COMMIT_NUM_RETRIES)),
        (&[(COMMIT_MIN_WAIT_MS, "soon")], Err(COMMIT_MIN_WAIT_MS)),
    ];
    for (props, expected) in cases {
        let got = RetryPolicy::from_properties(&string_map(props));
        match expected {
            Ok(policy) => assert_eq!(got, Ok(policy), "{props:?}"),
            Err(key) => assert_eq!(got.unwrap_err().key, key, "{props:?}"),
        }
    }
    let defaults = RetryPolicy::default();
    assert_eq!(defaults.num_retries, 4, "Iceberg's default");
    assert_eq!(defaults.min_wait, ms(100));
    assert_eq!(defaults.max_wait, ms(60_000));
    assert_eq!(defaults.total_timeout, ms(30 * 60_000));
}

#[test]
fn waits_double_up_to_the_maximum_and_stop_after_the_retries() {
    let policy = RetryPolicy {
        num_retries: 6,
        min_wait: Duration::from_millis(100),
        max_wait: Duration::from_millis(500),
        total_timeout: Duration::from_secs(60),
    };
    let backoffs: Vec<u64> = (1..=6)
        .map(|r| policy.backoff(r).as_millis() as u64)
        .collect();
    assert_eq!(backoffs, [100, 200, 400, 500, 500, 500]);
    let waits: Vec<Duration> = policy.waits().collect();
    assert_eq!(waits.len(), 6);
    for (retry, wait) in waits.iter().enumerate() {
        let base = policy.backoff(retry as u32 + 1);
        assert!(
            *wait >= base && *wait <= base * 3 / 2,
            "{wait:?} around {base:?}"
        );
    }
    let expired = RetryPolicy {
        total_timeout: Duration::ZERO,
        ..policy
    };
    assert_eq!(
        expired.waits().count(),
        0,
        "no retry after the total timeout"
    );
}
