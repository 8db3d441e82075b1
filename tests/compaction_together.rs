//! Compaction together (`floe compact --zookeeper`): two runs, in two processes, compact
//! one 16-bucket upsert table at once, each rewriting the groups whose claims it gets: each
//! rewrites some, together they rewrite every group exactly once, and the table equals the
//! model. A run killed while it holds claims leaves its groups to the other run, which
//! takes them once the dead run's session expires. No claim is left in ZooKeeper.
//!
//! Needs `FLOE_TEST_ZK` (scripts/test.sh sets it); skipped without it.

use std::collections::BTreeSet;
use std::process::Child;
use std::sync::Arc;
use std::time::{Duration, Instant};

use floe::maintenance_lock::claim_root;
use floe_client::RestClient;
use floe_compaction::{compact, CompactionRequest, Silent};
use floe_locks::zookeeper_client::Error as ZkError;
use floe_locks::ZooKeeperSession;
use floe_table::{main_ancestry, LoadedTable, TableCatalog};
use floe_test_support::cli::{floe_command, Run};
use floe_test_support::upsert_model::*;
use floe_test_support::zk::zk_env;
use floe_test_support::TestEnv;
use iceberg::TableIdent;
use uuid::Uuid;

const BUCKETS: u32 = 16;
/// Groups need two files; each run rewrites two groups at once.
const OPTIONS: [&str; 4] = [
    "--option",
    "min-input-files=2",
    "--option",
    "max-concurrent-file-group-rewrites=2",
];

/// A table of `BUCKETS` buckets with six upsert checkpoints (so a file or more per bucket
/// and checkpoint, and deletes); its model and the names of the groups a run plans.
async fn table(client: &RestClient, name: &str) -> (TableIdent, Model, BTreeSet<String>) {
    let ident = create_table(client, name, BUCKETS).await;
    let (_, model, _) = write_checkpoints(client, &ident, 19, 6, (600, 3000)).await;
    let request = CompactionRequest {
        overrides: vec![("min-input-files".into(), "2".into())],
        dry_run: true,
        ..Default::default()
    };
    let catalog: Arc<dyn TableCatalog> = Arc::new(client.clone());
    let plan = compact(catalog, &ident, &request, Arc::new(Silent))
        .await
        .unwrap();
    let names: BTreeSet<String> = plan.planned.iter().map(|g| g.name.clone()).collect();
    assert_eq!(
        names.len(),
        BUCKETS as usize,
        "a group per bucket: {names:?}"
    );
    (ident, model, names)
}

type Model = std::collections::BTreeMap<i64, Row>;

/// `floe compact --zookeeper` of `ident`, started, with `extra` arguments.
fn start_compact(url: &str, zk: &str, root: &str, ident: &TableIdent, extra: &[&str]) -> Child {
    let table = format!("ns.{}", ident.name());
    let mut args = vec!["compact", "--catalog", url, "--table", &table];
    args.extend(OPTIONS);
    args.extend(["--zookeeper", zk, "--zk-root", root]);
    args.extend(extra);
    floe_command(&args).spawn().expect("start floe compact")
}

async fn finish(child: Child) -> Run {
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .expect("wait for floe compact");
    Run::from(out)
}

/// The groups a run's report says it rewrote (and committed), and those it left to others.
fn groups_of(run: &Run) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut rewritten, mut left) = (BTreeSet::new(), BTreeSet::new());
    let lines: Vec<&str> = run.stdout.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let Some(group) = line.strip_prefix("  ").filter(|l| !l.starts_with(' ')) else {
            continue;
        };
        let (name, rest) = group.split_once(": ").expect("a group line: NAME: ...");
        if rest.starts_with("left to another node") {
            left.insert(name.to_string());
        } else {
            let result = lines.get(i + 1).copied().unwrap_or_default();
            assert!(
                result.contains("committed snapshot"),
                "group {name} did not commit:\n{}",
                run.stdout
            );
            rewritten.insert(name.to_string());
        }
    }
    (rewritten, left)
}

/// The claim nodes held under the table's claim root (every group's lock nodes).
async fn claims_held(zk: &str, root: &str, table_uuid: Uuid) -> Vec<String> {
    let session = ZooKeeperSession::connect(zk, Duration::from_secs(10))
        .await
        .unwrap();
    let client = session.client().await.unwrap();
    let locks = format!("{}/locks", claim_root(root, table_uuid));
    let groups = match client.list_children(&locks).await {
        Ok(groups) => groups,
        Err(ZkError::NoNode) => vec![],
        Err(e) => panic!("listing {locks}: {e}"),
    };
    let mut held = Vec::new();
    for group in groups {
        let dir = format!("{locks}/{group}");
        match client.list_children(&dir).await {
            Ok(nodes) => held.extend(nodes.into_iter().map(|n| format!("{dir}/{n}"))),
            // A container the server removed meanwhile.
            Err(ZkError::NoNode) => {}
            Err(e) => panic!("listing {dir}: {e}"),
        }
    }
    session.close();
    held
}

/// How many compaction snapshots the table's main branch has.
fn compactions(table: &LoadedTable) -> usize {
    main_ancestry(&table.metadata)
        .filter(|s| {
            s.summary().additional_properties.get("floe.operation") == Some(&"compaction".into())
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_compact_one_table_together() {
    let Some(zk) = zk_env("FLOE_TEST_ZK") else {
        return;
    };
    let env = TestEnv::start();
    let url = env.server.url().to_string();
    let client = RestClient::connect(&url).await.unwrap();
    let (ident, model, names) = table(&client, "together").await;
    let root = format!("/together-{}", std::process::id());

    // Both at once; each claimed group waits a little, so neither can do them all alone.
    let pause = ["--test-pause-after-claim-ms", "500"];
    let a = start_compact(&url, &zk, &root, &ident, &pause);
    let b = start_compact(&url, &zk, &root, &ident, &pause);
    let a = finish(a).await.succeeded("run a");
    let b = finish(b).await.succeeded("run b");
    let ((a_did, a_left), (b_did, b_left)) = (groups_of(&a), groups_of(&b));
    let both = format!("run a:\n{}\nrun b:\n{}", a.stdout, b.stdout);
    assert!(
        !a_did.is_empty() && !b_did.is_empty(),
        "each run rewrote some groups:\n{both}"
    );
    assert!(
        a_did.is_disjoint(&b_did),
        "a group rewritten twice:\n{both}"
    );
    let all: BTreeSet<String> = a_did.union(&b_did).cloned().collect();
    assert_eq!(all, names, "every group rewritten:\n{both}");
    // What one left, the other did.
    assert!(
        a_left.is_subset(&b_did) && b_left.is_subset(&a_did),
        "{both}"
    );

    let loaded = client.load_table(&ident).await.unwrap();
    assert_eq!(compactions(&loaded), names.len(), "one snapshot per group");
    assert_eq!(scan(&loaded).await, model);
    let held = claims_held(&zk, &root, loaded.metadata.uuid()).await;
    assert!(held.is_empty(), "claims left: {held:?}");
    println!(
        "run a rewrote {} groups, run b {}",
        a_did.len(),
        b_did.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_holding_claims_leaves_its_groups_to_the_other() {
    let Some(zk) = zk_env("FLOE_TEST_ZK") else {
        return;
    };
    let env = TestEnv::start();
    let url = env.server.url().to_string();
    let client = RestClient::connect(&url).await.unwrap();
    let (ident, model, names) = table(&client, "killed").await;
    let uuid = client.load_table(&ident).await.unwrap().metadata.uuid();
    let root = format!("/together-killed-{}", std::process::id());

    // Run a claims two groups and holds them (its rewrite waits), on a short session.
    let hold = [
        "--test-pause-after-claim-ms",
        "600000",
        "--zk-session-timeout-ms",
        "2000",
    ];
    let mut a = start_compact(&url, &zk, &root, &ident, &hold);
    let deadline = Instant::now() + Duration::from_secs(60);
    let held = loop {
        let held = claims_held(&zk, &root, uuid).await;
        if held.len() == 2 {
            break held;
        }
        assert!(
            Instant::now() < deadline,
            "run a never held two claims: {held:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    // Run b starts; run a dies with its claims.
    let b = start_compact(&url, &zk, &root, &ident, &[]);
    a.kill().unwrap();
    a.wait().unwrap();
    let started = Instant::now();
    let b = finish(b).await.succeeded("run b");
    let (b_did, b_left) = groups_of(&b);
    assert_eq!(b_did, names, "run b rewrote every group:\n{}", b.stdout);
    assert!(b_left.is_empty(), "{}", b.stdout);

    let loaded = client.load_table(&ident).await.unwrap();
    assert_eq!(compactions(&loaded), names.len(), "one snapshot per group");
    assert_eq!(scan(&loaded).await, model);
    let left = claims_held(&zk, &root, uuid).await;
    assert!(left.is_empty(), "claims left: {left:?}");
    println!(
        "run a held {held:?} when killed; run b did every group in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
