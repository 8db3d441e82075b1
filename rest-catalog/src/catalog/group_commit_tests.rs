//! Group commit: the queue's grouping rules, and groups formed for certain by holding the
//! table's lock while commits queue behind it: each member answered as if alone, every
//! file in the metadata log, one pointer move, and a shared outcome when the move fails.

use std::sync::atomic::Ordering;
use std::time::Duration;

use floe_locks::LockManager;
use iceberg::spec::{
    Operation, Snapshot, SnapshotReference, SnapshotRetention, Summary, MAIN_BRANCH,
};
use iceberg::{NamespaceIdent, TableIdent, TableRequirement, TableUpdate};
use tokio::task::JoinHandle;

use super::super::faulty_store::{Fault, Fixture};
use super::*;

fn queued(table: &str, n: usize) -> (Queued, oneshot::Receiver<Result<MetadataFile>>) {
    let (answer, answered) = oneshot::channel();
    let change = TableChange {
        ident: TableIdent::new(NamespaceIdent::new("n".into()), table.into()),
        requirements: vec![],
        updates: vec![TableUpdate::RemoveProperties {
            removals: vec![format!("k{n}")],
        }],
    };
    (Queued { change, answer }, answered)
}

/// The `RemoveProperties` key a queued test commit carries, and its table.
fn label(q: &Queued) -> String {
    match &q.change.updates[0] {
        TableUpdate::RemoveProperties { removals } => {
            format!("{}:{}", q.change.ident.name, removals[0])
        }
        _ => unreachable!(),
    }
}

#[test]
fn queues_form_groups_in_order_of_one_table_at_a_time() {
    let queues = CommitQueues::default();
    let mut receivers = Vec::new();
    // (table, push answers "start a task")
    let pushes = [
        ("t", true),
        ("t", false),
        ("t", false),
        ("old", false),
        ("t", false),
    ];
    for (n, (table, starts)) in pushes.into_iter().enumerate() {
        let (q, r) = queued(table, n);
        receivers.push(r);
        assert_eq!(queues.push("key", q), starts, "push {n}");
    }
    // (max, expected group)
    let takes: [(usize, &[&str]); 3] = [(2, &["t:k0", "t:k1"]), (5, &["t:k2"]), (5, &["old:k3"])];
    for (max, expected) in takes {
        let group: Vec<String> = queues.take("key", max).iter().map(label).collect();
        assert_eq!(group, expected, "take {max}");
    }
    let group = queues.take("key", 5);
    assert_eq!(group.iter().map(label).collect::<Vec<_>>(), ["t:k4"]);
    queues.put_back("key", group);
    assert!(
        !queues.finish_if_empty("key"),
        "a put-back commit keeps the task"
    );
    assert_eq!(queues.take("key", 5).len(), 1);
    assert!(queues.finish_if_empty("key"));
    assert!(queues.take("key", 5).is_empty());
    let (q, _r) = queued("t", 9);
    assert!(
        queues.push("key", q),
        "after the task ends, a push starts one"
    );
}

/// An append-like change: snapshot `id` on `main`, asserting `main` is at `parent`.
fn append(f: &Fixture, id: i64, parent: Option<i64>, sequence_number: i64) -> TableChange {
    let snapshot = Snapshot::builder()
        .with_snapshot_id(id)
        .with_parent_snapshot_id(parent)
        .with_sequence_number(sequence_number)
        .with_timestamp_ms(chrono::Utc::now().timestamp_millis())
        .with_manifest_list(format!("/tmp/snap-{id}.avro"))
        .with_summary(Summary {
            operation: Operation::Append,
            additional_properties: Default::default(),
        })
        .with_schema_id(0)
        .build();
    let reference = SnapshotReference::new(id, SnapshotRetention::branch(None, None, None));
    TableChange {
        ident: f.ident.clone(),
        requirements: vec![TableRequirement::RefSnapshotIdMatch {
            r#ref: MAIN_BRANCH.to_string(),
            snapshot_id: parent,
        }],
        updates: vec![
            TableUpdate::AddSnapshot { snapshot },
            TableUpdate::SetSnapshotRef {
                ref_name: MAIN_BRANCH.to_string(),
                reference,
            },
        ],
    }
}

/// Commits `changes` while the test holds the table's lock, so they all queue into one
/// group; answers once every one is queued and the lock is released.
async fn as_one_group(
    f: &Fixture,
    changes: Vec<TableChange>,
) -> Vec<JoinHandle<Result<MetadataFile>>> {
    let key = f.lock_key().await;
    let held = f.locks.acquire(&key, Duration::from_secs(5)).await.unwrap();
    let expected = changes.len();
    let mut tasks = Vec::new();
    for change in changes {
        let catalog = f.catalog.clone();
        tasks.push(tokio::spawn(
            async move { catalog.commit_table(change).await },
        ));
        // Queued in this order: each is in the queue before the next is sent.
        let queued = tasks.len();
        wait_for(|| f.catalog.queues.queues().get(&key).map_or(0, |q| q.len()) == queued).await;
    }
    assert_eq!(f.catalog.queues.queues()[&key].len(), expected);
    drop(held);
    tasks
}

async fn wait_for(mut done: impl FnMut() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting");
}

#[tokio::test]
async fn a_group_answers_each_commit_as_if_it_ran_alone() {
    let f = Fixture::new().await;
    let swaps_before = f.store.swaps.load(Ordering::SeqCst);
    // Each passes the check before the lock (against the committed table), so all queue.
    let changes = vec![
        append(&f, 1, None, 1), // first on the empty table: commits
        append(&f, 2, None, 1), // also expected an empty main, now at 1: 409
        f.set_property("a"),    // no requirement: commits
        append(&f, 3, None, 1), // 409, as alone after the first
        f.set_property("b"),    // commits
    ];
    let mut answers = Vec::new();
    for task in as_one_group(&f, changes).await {
        answers.push(task.await.unwrap());
    }
    let outcomes: Vec<&str> = answers
        .iter()
        .map(|a| match a {
            Ok(_) => "ok",
            Err(CatalogError::CommitFailed(_)) => "409",
            Err(e) => panic!("unexpected {e}"),
        })
        .collect();
    assert_eq!(outcomes, ["ok", "409", "ok", "409", "ok"]);
    assert_eq!(
        f.store.swaps.load(Ordering::SeqCst) - swaps_before,
        1,
        "one pointer move"
    );

    let files: Vec<&MetadataFile> = answers.iter().flatten().collect();
    let main = |file: &MetadataFile| file.metadata.current_snapshot_id();
    assert_eq!(
        files.iter().map(|m| main(m)).collect::<Vec<_>>(),
        [Some(1); 3]
    );
    let has = |file: &MetadataFile, key: &str| file.metadata.properties().contains_key(key);
    let properties: Vec<_> = files.iter().map(|m| (has(m, "a"), has(m, "b"))).collect();
    assert_eq!(properties, [(false, false), (true, false), (true, true)]);
    // The pointer names the last, whose metadata log lists the two before it.
    let last = files[2];
    assert_eq!(f.pointer().await, last.location);
    let log: Vec<&str> = (last.metadata.metadata_log().iter())
        .map(|l| l.metadata_file.as_str())
        .collect();
    assert!(
        log.ends_with(&[&files[0].location, &files[1].location]),
        "{log:?}"
    );
    for file in files {
        assert!(std::path::Path::new(&file.location).exists());
    }
    assert!(
        f.catalog.queues.queues().is_empty(),
        "the draining task ended"
    );
}

#[tokio::test]
async fn a_failed_group_move_answers_every_member_alike() {
    // (fault, expected answer of each member, files kept, pointer moves)
    let cases = [
        (Fault::Moved, "409", 0, false),
        (Fault::UnknownNotApplied, "unknown", 2, false),
        (Fault::UnknownApplied, "ok", 2, true),
    ];
    for (fault, expected, kept, moves) in cases {
        let f = Fixture::new().await;
        let (before, files_before) = (f.pointer().await, f.metadata_files().len());
        *f.store.fault.lock().unwrap() = fault;
        let changes = vec![f.set_property("a"), f.set_property("b")];
        for task in as_one_group(&f, changes).await {
            let answer = match task.await.unwrap() {
                Ok(_) => "ok",
                Err(CatalogError::CommitFailed(_)) => "409",
                Err(CatalogError::CommitStateUnknown(_)) => "unknown",
                Err(e) => panic!("{fault:?}: unexpected {e}"),
            };
            assert_eq!(answer, expected, "{fault:?}");
        }
        assert_eq!(f.metadata_files().len(), files_before + kept, "{fault:?}");
        assert_eq!(f.pointer().await != before, moves, "{fault:?}");
        assert!(std::path::Path::new(&f.pointer().await).exists());
    }
}

#[tokio::test]
async fn a_commit_to_a_table_replaced_under_its_name_is_refused_then_retried() {
    let f = Fixture::new().await;
    f.catalog.commit_table(f.set_property("a")).await.unwrap();
    f.replace_table().await;
    // The key this node learned names the old table: found stale under the lock.
    let stale = f.catalog.commit_table(f.set_property("b")).await;
    assert!(
        matches!(stale, Err(CatalogError::CommitFailed(_))),
        "{stale:?}"
    );
    let retried = f.catalog.commit_table(f.set_property("b")).await.unwrap();
    assert!(retried.metadata.properties().contains_key("b"));
    assert_eq!(retried.metadata.uuid().to_string(), f.lock_key().await);
    // A table dropped meanwhile is not found.
    f.catalog.drop_table(&f.ident, false).await.unwrap();
    let gone = f.catalog.commit_table(f.set_property("c")).await;
    assert!(
        matches!(gone, Err(CatalogError::NoSuchTable(_))),
        "{gone:?}"
    );
}

#[tokio::test]
async fn a_draining_task_that_panics_answers_the_queued_commits_and_frees_the_queue() {
    let queues = Arc::new(CommitQueues::default());
    let (q, answered) = queued("t", 0);
    assert!(queues.push("key", q));
    let task = tokio::spawn({
        let queues = queues.clone();
        async move {
            let _unwinding = AbandonOnPanic {
                queues,
                key: "key".into(),
            };
            panic!("a bug in a group");
        }
    });
    assert!(task.await.is_err());
    let answer = answered.await.expect("answered, not dropped");
    assert!(
        matches!(answer, Err(CatalogError::CommitFailed(_))),
        "{answer:?}"
    );
    let (q, _answered) = queued("t", 1);
    assert!(queues.push("key", q), "the next commit starts a task");
}
