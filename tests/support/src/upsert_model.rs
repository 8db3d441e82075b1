//! The random change model of the upsert writer tests: checkpoints of inserts, updates
//! and deletes applied to an in-memory model as they are generated, their Arrow batches,
//! upsert tables and writers over the REST client, and reading a table back (at any
//! snapshot) with iceberg-rust's scan.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::array::{Array, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema as ArrowSchema};
use floe_client::RestClient;
use floe_table::properties::FORMAT_VERSION;
use floe_table::{LoadedTable, TableCommit};
use floe_upsert::{new_table_layout, CheckpointOutcome, CommitReport, UpsertOptions, UpsertWriter};
use iceberg::{NamespaceIdent, TableIdent, TableUpdate};

use crate::changes::Rng;
use crate::scan::scan_snapshot;

/// A row of the model: `name` and `qty`.
pub type Row = (String, Option<i32>);

/// What the design says one checkpoint must produce.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Expected {
    pub rows: u64,
    pub equality_deletes: u64,
    pub position_deletes: u64,
}

/// One checkpoint of random changes, applied to the model as they are generated.
pub struct Checkpoint {
    pub ids: Vec<i64>,
    pub names: Vec<String>,
    pub qty: Vec<Option<i32>>,
    pub ops: Vec<&'static str>,
    pub expected: Expected,
}

pub fn random_checkpoint(
    rng: &mut Rng,
    model: &mut BTreeMap<i64, Row>,
    n_ops: usize,
    keys: u64,
    tag: usize,
) -> Checkpoint {
    let mut cp = Checkpoint {
        ids: vec![],
        names: vec![],
        qty: vec![],
        ops: vec![],
        expected: Expected::default(),
    };
    // Keys seen in this checkpoint, and whether their row of this checkpoint is live.
    let mut seen: HashMap<i64, bool> = HashMap::new();
    let push = |cp: &mut Checkpoint, id: i64, row: &Row, op: &'static str| {
        cp.ids.push(id);
        cp.names.push(row.0.clone());
        cp.qty.push(row.1);
        cp.ops.push(op);
    };
    for i in 0..n_ops {
        let id = if !seen.is_empty() && rng.below(10) < 3 {
            // Repeat a key of this checkpoint.
            let touched: Vec<i64> = seen.keys().copied().collect();
            touched[rng.below(touched.len() as u64) as usize]
        } else {
            rng.below(keys) as i64
        };
        let row: Row = (
            format!("cp{tag}-op{i}"),
            (rng.below(4) != 0).then(|| rng.below(1000) as i32),
        );
        let hides = |seen: &mut HashMap<i64, bool>, expected: &mut Expected, live: bool| match seen
            .insert(id, live)
        {
            None => expected.equality_deletes += 1,
            Some(true) => expected.position_deletes += 1,
            Some(false) => {}
        };
        match rng.below(10) {
            0..=5 => {
                let op = if model.contains_key(&id) { "+U" } else { "+I" };
                if op == "+U" && rng.below(2) == 0 {
                    let old = model[&id].clone();
                    push(&mut cp, id, &old, "-U");
                }
                push(&mut cp, id, &row, op);
                hides(&mut seen, &mut cp.expected, true);
                cp.expected.rows += 1;
                model.insert(id, row);
            }
            _ => {
                // A delete carries the old row when there is one, or only the key.
                let old = model.remove(&id).unwrap_or((String::new(), None));
                push(&mut cp, id, &old, "-D");
                hides(&mut seen, &mut cp.expected, false);
            }
        }
    }
    cp
}

pub fn batch(cp: &Checkpoint, range: std::ops::Range<usize>) -> RecordBatch {
    let schema = Arc::new(ArrowSchema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
        Field::new("qty", DataType::Int32, true),
        Field::new("_op", DataType::Utf8, false),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(cp.ids[range.clone()].to_vec())),
            Arc::new(StringArray::from(cp.names[range.clone()].to_vec())),
            Arc::new(Int32Array::from(cp.qty[range.clone()].to_vec())),
            Arc::new(StringArray::from(cp.ops[range].to_vec())),
        ],
    )
    .unwrap()
}

pub async fn create_table(client: &RestClient, name: &str, buckets: u32) -> TableIdent {
    let ns = NamespaceIdent::new("ns".to_string());
    client.ensure_namespace(&ns).await.unwrap();
    let ident = TableIdent::new(ns, name.to_string());
    let input = batch(
        &Checkpoint {
            ids: vec![],
            names: vec![],
            qty: vec![],
            ops: vec![],
            expected: Expected::default(),
        },
        0..0,
    );
    let (schema, spec) = new_table_layout(&input.schema(), &["id".to_string()], buckets).unwrap();
    let props = HashMap::from([(FORMAT_VERSION.to_string(), "2".to_string())]);
    client
        .create_table(&ident, &schema, &spec, &props)
        .await
        .unwrap();
    ident
}

/// Commits the table properties `props` to `ident`.
pub async fn set_properties(client: &RestClient, ident: &TableIdent, props: &[(&str, &str)]) {
    let updates = vec![TableUpdate::SetProperties {
        updates: props
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }];
    let commit = TableCommit {
        requirements: vec![],
        updates,
    };
    client.commit(ident, commit).await.unwrap();
}

/// A writer of `ident` named `writer_id`.
pub async fn open_writer(client: &RestClient, ident: &TableIdent, writer_id: &str) -> UpsertWriter {
    let options = UpsertOptions {
        writer_id: Some(writer_id.to_string()),
        ..Default::default()
    };
    UpsertWriter::open(Arc::new(client.clone()), ident, options)
        .await
        .unwrap()
}

pub async fn scan(table: &LoadedTable) -> BTreeMap<i64, Row> {
    scan_at(table, None).await
}

/// The rows of the table at `snapshot` (or its current snapshot), by key; a key read twice
/// fails the test.
pub async fn scan_at(table: &LoadedTable, snapshot: Option<i64>) -> BTreeMap<i64, Row> {
    let table = table.to_table().unwrap();
    let batches = scan_snapshot(&table, snapshot).await;
    let mut rows = BTreeMap::new();
    for b in batches {
        let ids = b.column_by_name("id").unwrap();
        let ids = ids.as_any().downcast_ref::<Int64Array>().unwrap();
        let names = b.column_by_name("name").unwrap();
        let names = names.as_any().downcast_ref::<StringArray>().unwrap();
        let qty = b.column_by_name("qty").unwrap();
        let qty = qty.as_any().downcast_ref::<Int32Array>().unwrap();
        for i in 0..b.num_rows() {
            let row = (
                names.value(i).to_string(),
                qty.is_valid(i).then(|| qty.value(i)),
            );
            let previous = rows.insert(ids.value(i), row);
            assert!(previous.is_none(), "key {} read twice", ids.value(i));
        }
    }
    rows
}

pub fn committed(outcome: CheckpointOutcome) -> CommitReport {
    match outcome {
        CheckpointOutcome::Committed(r) => r,
        other => panic!("expected a commit, got {other:?}"),
    }
}

/// Applies a checkpoint's changes to `model`, in order.
pub fn apply(model: &mut BTreeMap<i64, Row>, cp: &Checkpoint) {
    for i in 0..cp.ids.len() {
        match cp.ops[i] {
            "+I" | "+U" => {
                model.insert(cp.ids[i], (cp.names[i].clone(), cp.qty[i]));
            }
            "-D" => {
                model.remove(&cp.ids[i]);
            }
            _ => {}
        }
    }
}

/// Writes `checkpoints` random checkpoints (`ops` changes over `keys` keys each, seeded by
/// `seed`) with writer `w` into `ident`; answers the writer, the model and the generator.
pub async fn write_checkpoints(
    client: &RestClient,
    ident: &TableIdent,
    seed: u64,
    checkpoints: i64,
    (ops, keys): (usize, u64),
) -> (UpsertWriter, BTreeMap<i64, Row>, Rng) {
    let mut writer = open_writer(client, ident, "w").await;
    let mut rng = Rng(seed);
    let mut model = BTreeMap::new();
    for checkpoint in 1..=checkpoints {
        let cp = random_checkpoint(&mut rng, &mut model, ops, keys, checkpoint as usize);
        writer.write(&batch(&cp, 0..cp.ids.len())).await.unwrap();
        committed(writer.commit(Some(checkpoint), None).await.unwrap());
    }
    (writer, model, rng)
}

/// Commits checkpoint `cp` (as `checkpoint_id`) to `ident` with writer "w" when awaited:
/// the commit that lands between a maintenance run's read and its commit.
pub fn checkpoint_later(
    client: &RestClient,
    ident: &TableIdent,
    cp: Checkpoint,
    checkpoint_id: i64,
) -> futures::future::BoxFuture<'static, ()> {
    let (client, ident) = (client.clone(), ident.clone());
    Box::pin(async move {
        let mut writer = open_writer(&client, &ident, "w").await;
        writer.write(&batch(&cp, 0..cp.ids.len())).await.unwrap();
        committed(writer.commit(Some(checkpoint_id), None).await.unwrap());
    })
}
