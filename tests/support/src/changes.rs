//! Change streams of the `floe upsert` tests: change rows (`_op`, `id`, `name`, `value`)
//! written as Parquet or read back from Parquet and CSV (the committed fixtures), a seeded
//! generator of checkpoint files with updates, deletes and keys repeated within one file,
//! and the model of what an upsert table holds after them.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;

/// One change: a Flink row kind and the row (a `-D` may carry only its key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub op: &'static str,
    pub id: i64,
    pub name: Option<String>,
    pub value: Option<i64>,
}

impl Change {
    pub fn new(op: &'static str, id: i64, name: Option<&str>, value: Option<i64>) -> Self {
        Self {
            op,
            id,
            name: name.map(str::to_string),
            value,
        }
    }

    /// `+I` of `id` with a name and value.
    pub fn insert(id: i64, name: &str, value: i64) -> Self {
        Self::new("+I", id, Some(name), Some(value))
    }

    /// `-D` of `id`, key only.
    pub fn delete(id: i64) -> Self {
        Self::new("-D", id, None, None)
    }
}

/// A table's rows by key: `id` → (`name`, `value`).
pub type Rows = BTreeMap<i64, (Option<String>, Option<i64>)>;

/// What an upsert table holds after `changes`: `+I`/`+U` replace the row of their key,
/// `-D` removes it, `-U` does nothing (its `+U` follows).
pub fn apply(model: &mut Rows, changes: &[Change]) {
    for c in changes {
        match c.op {
            "+I" | "+U" => {
                model.insert(c.id, (c.name.clone(), c.value));
            }
            "-D" => {
                model.remove(&c.id);
            }
            "-U" => {}
            other => panic!("the model knows no op {other:?}"),
        }
    }
}

/// The changes as a batch `_op`, `id` (not null), `name`, `value`.
fn changes_batch(changes: &[Change]) -> RecordBatch {
    let fields = vec![
        Field::new("_op", DataType::Utf8, false),
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
        Field::new("value", DataType::Int64, true),
    ];
    let columns: Vec<arrow::array::ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(changes.iter().map(|c| c.op))),
        Arc::new(Int64Array::from_iter_values(changes.iter().map(|c| c.id))),
        Arc::new(StringArray::from_iter(
            changes.iter().map(|c| c.name.as_deref()),
        )),
        Arc::new(Int64Array::from_iter(changes.iter().map(|c| c.value))),
    ];
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).expect("valid batch")
}

/// Writes the changes, with their `_op` column, as one Parquet file.
pub fn write_changes(path: &Path, changes: &[Change]) {
    let batch = changes_batch(changes);
    let file = std::fs::File::create(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut writer = ArrowWriter::try_new(file, batch.schema(), None).expect("parquet writer");
    writer.write(&batch).expect("write parquet");
    writer.close().expect("close parquet");
}

/// The change kinds `floe upsert` takes, as the model names them.
fn op(text: &str) -> &'static str {
    ["+I", "-U", "+U", "-D"]
        .into_iter()
        .find(|o| *o == text)
        .unwrap_or_else(|| panic!("the model knows no op {text:?}"))
}

/// The changes of a change file: Parquet or CSV (by extension) with the columns `id`,
/// `name`, `value` and optionally `_op`; without `_op` every row is an upsert (`+I`), as
/// `floe upsert` reads it. An empty CSV field is a null.
pub fn read_changes(path: &Path) -> Vec<Change> {
    let what = path.display();
    if path.extension().is_some_and(|e| e == "csv") {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{what}: {e}"));
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().expect("a header line").split(',').collect();
        let column = |name: &str| header.iter().position(|h| *h == name);
        let (op_at, id_at) = (column("_op"), column("id").expect("an id column"));
        let (name_at, value_at) = (column("name"), column("value"));
        return lines
            .map(|line| {
                let fields: Vec<&str> = line.split(',').collect();
                let field = |at: Option<usize>| at.map(|i| fields[i]).filter(|f| !f.is_empty());
                Change {
                    op: field(op_at).map_or("+I", op),
                    id: fields[id_at]
                        .parse()
                        .unwrap_or_else(|e| panic!("{what}: {e}")),
                    name: field(name_at).map(str::to_string),
                    value: field(value_at).map(|v| v.parse().expect("a long value")),
                }
            })
            .collect();
    }
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{what}: {e}"));
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.unwrap_or_else(|e| panic!("{what}: {e}"));
        let strings = |name: &str| {
            let c = batch.column_by_name(name)?;
            Some(
                c.as_any()
                    .downcast_ref::<StringArray>()
                    .expect("text")
                    .clone(),
            )
        };
        let longs = |name: &str| {
            let c = batch.column_by_name(name)?;
            Some(
                c.as_any()
                    .downcast_ref::<Int64Array>()
                    .expect("longs")
                    .clone(),
            )
        };
        let (ops, names) = (strings("_op"), strings("name"));
        let (ids, values) = (longs("id").expect("an id column"), longs("value"));
        for i in 0..batch.num_rows() {
            let valid = |a: &dyn Array| a.is_valid(i);
            out.push(Change {
                op: ops.as_ref().map_or("+I", |o| op(o.value(i))),
                id: ids.value(i),
                name: names
                    .as_ref()
                    .filter(|n| valid(*n))
                    .map(|n| n.value(i).to_string()),
                value: values.as_ref().filter(|v| valid(*v)).map(|v| v.value(i)),
            });
        }
    }
    out
}

/// A small deterministic generator (SplitMix64), so a failing run can be replayed from
/// its seed.
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

/// About `rows` changes of checkpoint `checkpoint` over the keys `-keys/4 .. 3*keys/4`:
/// 65 % `+I`, 20 % `-U` then `+U`, 15 % `-D` (half of them carrying the old row, half only
/// the key). With more rows than keys, many keys repeat within the file.
pub fn generate_checkpoint(rng: &mut Rng, checkpoint: u32, rows: usize, keys: u64) -> Vec<Change> {
    let mut out = Vec::with_capacity(rows + rows / 4);
    let mut i = 0;
    while out.len() < rows {
        i += 1;
        let id = rng.below(keys) as i64 - (keys / 4) as i64;
        let name = format!("c{checkpoint}-r{i}");
        let value = (rng.next_u64() >> 1) as i64;
        match rng.below(100) {
            0..=14 => {
                if rng.below(2) == 0 {
                    out.push(Change::delete(id));
                } else {
                    out.push(Change::new("-D", id, Some("old"), Some(value)));
                }
            }
            15..=34 => {
                out.push(Change::new("-U", id, Some("before"), Some(-1)));
                out.push(Change::new("+U", id, Some(&name), Some(value)));
            }
            _ => out.push(Change::new("+I", id, Some(&name), Some(value))),
        }
    }
    out
}
