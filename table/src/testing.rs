//! What tests of the table layer and of its users share (the `testing` feature): a
//! catalog of one table in memory that checks requirements and applies updates as an
//! Iceberg catalog does, and can be told to misbehave on the next commits (a writer that
//! commits first, an answer lost before or after the commit applied, a table dropped and
//! re-created); table metadata with a given snapshot history; string maps from pairs.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use iceberg::io::FileIO;
use iceberg::spec::{
    NestedField, PrimitiveType, Schema, SortOrder, TableMetadata, TableMetadataBuilder, Type,
    UnboundPartitionSpec,
};
use iceberg::{NamespaceIdent, TableIdent};
use serde_json::{json, Map, Value};

use crate::catalog::{LoadedTable, TableCatalog, TableCommit};
use crate::error::{Error, ErrorKind, Result};
use crate::operation::{Plan, RowDelta, TableOperation};

/// What the catalog does with one commit.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Another writer's empty row delta lands first; this commit is then checked
    /// against it.
    Interloper,
    /// The commit applies, but its answer is lost.
    LostAfterApply,
    /// The answer is lost before the commit applied (it never does).
    LostBeforeApply,
    /// The table is dropped and created again before this commit.
    Recreate,
}

struct State {
    metadata: Arc<TableMetadata>,
    version: u32,
    faults: VecDeque<Fault>,
    commits: u32,
    loads: u32,
    fail_loads: bool,
}

/// One table in memory.
#[derive(Clone)]
pub struct MemoryCatalog {
    ident: TableIdent,
    state: Arc<Mutex<State>>,
    file_io: FileIO,
}

/// The schema of one required `id: long` column (field id 1).
pub fn id_schema() -> Schema {
    Schema::builder()
        .with_fields(vec![NestedField::required(
            1,
            "id",
            Type::Primitive(PrimitiveType::Long),
        )
        .into()])
        .build()
        .expect("schema")
}

/// A new table with one `id: long` column, unpartitioned, with `properties`.
pub fn new_metadata(properties: HashMap<String, String>) -> TableMetadata {
    TableMetadataBuilder::new(
        id_schema(),
        UnboundPartitionSpec::builder().build(),
        SortOrder::unsorted_order(),
        "memory://warehouse/t".to_string(),
        iceberg::spec::FormatVersion::V2,
        properties,
    )
    .expect("metadata")
    .build()
    .expect("metadata")
    .metadata
}

impl MemoryCatalog {
    /// A catalog holding one new table with `properties`.
    pub fn new(properties: HashMap<String, String>) -> Self {
        Self {
            ident: TableIdent::new(NamespaceIdent::new("ns".into()), "t".into()),
            state: Arc::new(Mutex::new(State {
                metadata: Arc::new(new_metadata(properties)),
                version: 0,
                faults: VecDeque::new(),
                commits: 0,
                loads: 0,
                fail_loads: false,
            })),
            file_io: FileIO::new_with_memory(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// The next commits meet these faults, in order.
    pub fn then(&self, faults: impl IntoIterator<Item = Fault>) -> &Self {
        self.lock().faults.extend(faults);
        self
    }

    /// Every load fails from now on.
    pub fn fail_loads(&self) {
        self.lock().fail_loads = true;
    }

    /// The table's metadata now.
    pub fn metadata(&self) -> Arc<TableMetadata> {
        self.lock().metadata.clone()
    }

    /// Commits received and loads answered so far.
    pub fn counts(&self) -> (u32, u32) {
        let state = self.lock();
        (state.commits, state.loads)
    }

    /// The table as a writer would load it.
    pub fn table(&self) -> LoadedTable {
        let state = self.lock();
        self.loaded(&state)
    }

    fn loaded(&self, state: &State) -> LoadedTable {
        LoadedTable {
            ident: self.ident.clone(),
            metadata_location: format!("memory://warehouse/t/metadata/{:05}.json", state.version),
            metadata: state.metadata.clone(),
            file_io: self.file_io.clone(),
        }
    }
}

/// Applies `commit` to `metadata` as a catalog does: every requirement must hold.
fn apply(metadata: &TableMetadata, commit: TableCommit) -> Result<TableMetadata> {
    for requirement in &commit.requirements {
        requirement
            .check(Some(metadata))
            .map_err(|e| Error::new(ErrorKind::Conflict, e.to_string()))?;
    }
    let mut builder = metadata.clone().into_builder(None);
    for update in commit.updates {
        builder = update
            .apply(builder)
            .map_err(|e| Error::invalid(e.to_string()))?;
    }
    Ok(builder
        .build()
        .map_err(|e| Error::invalid(e.to_string()))?
        .metadata)
}

#[async_trait]
impl TableCatalog for MemoryCatalog {
    async fn load_table(&self, ident: &TableIdent) -> Result<LoadedTable> {
        assert_eq!(ident, &self.ident);
        let mut state = self.lock();
        if state.fail_loads {
            return Err(Error::new(ErrorKind::Io, "catalog unreachable"));
        }
        state.loads += 1;
        Ok(self.loaded(&state))
    }

    async fn commit_table(&self, ident: &TableIdent, commit: TableCommit) -> Result<LoadedTable> {
        assert_eq!(ident, &self.ident);
        let fault = {
            let mut state = self.lock();
            state.commits += 1;
            state.faults.pop_front()
        };
        if matches!(fault, Some(Fault::Interloper)) {
            let mut theirs = RowDelta::new();
            let Plan::Commit(theirs) = theirs.plan(&self.table(), 1).await? else {
                unreachable!("a row delta always commits")
            };
            let mut state = self.lock();
            state.metadata = Arc::new(apply(&state.metadata, theirs)?);
            state.version += 1;
        }
        let mut state = self.lock();
        match fault {
            Some(Fault::Recreate) => {
                state.metadata = Arc::new(new_metadata(state.metadata.properties().clone()));
                state.version += 1;
            }
            Some(Fault::LostBeforeApply) => {
                return Err(Error::new(ErrorKind::Unknown, "answer lost"));
            }
            _ => {}
        }
        state.metadata = Arc::new(apply(&state.metadata, commit)?);
        state.version += 1;
        if matches!(fault, Some(Fault::LostAfterApply)) {
            return Err(Error::new(ErrorKind::Unknown, "answer lost"));
        }
        Ok(self.loaded(&state))
    }
}

/// A string map from pairs (table properties, snapshot summaries).
pub fn string_map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// One snapshot: `(id, parent id, sequence number, summary properties)`.
pub type Snap = (
    i64,
    Option<i64>,
    i64,
    &'static [(&'static str, &'static str)],
);

/// A v2 table's metadata with `snapshots`, main pointing at `main` (and `other` refs).
pub fn metadata(snapshots: &[Snap], main: Option<i64>, other: &[(&str, i64)]) -> TableMetadata {
    let snapshot_docs: Vec<Value> = snapshots
        .iter()
        .map(|(id, parent, seq, props)| {
            let mut summary = Map::new();
            summary.insert("operation".into(), json!("append"));
            for (k, v) in props.iter() {
                summary.insert(k.to_string(), json!(v));
            }
            let mut doc = json!({
                "snapshot-id": id,
                "sequence-number": seq,
                "timestamp-ms": 1_700_000_000_000i64 + seq,
                "manifest-list": format!("/tmp/wh/t/metadata/snap-{id}.avro"),
                "summary": summary,
                "schema-id": 0,
            });
            if let Some(parent) = parent {
                doc["parent-snapshot-id"] = json!(parent);
            }
            doc
        })
        .collect();
    let mut refs = Map::new();
    if let Some(main) = main {
        refs.insert(
            "main".into(),
            json!({"snapshot-id": main, "type": "branch"}),
        );
    }
    for (name, id) in other {
        refs.insert(
            name.to_string(),
            json!({"snapshot-id": id, "type": "branch"}),
        );
    }
    let last_sequence_number = snapshots.iter().map(|s| s.2).max().unwrap_or(0);
    let mut doc = json!({
        "format-version": 2,
        "table-uuid": "9c12d441-03fe-4693-9a96-a0705ddf69c1",
        "location": "/tmp/wh/t",
        "last-sequence-number": last_sequence_number,
        "last-updated-ms": 1_700_000_100_000i64,
        "last-column-id": 2,
        "schemas": [{
            "type": "struct",
            "schema-id": 0,
            "identifier-field-ids": [1],
            "fields": [
                {"id": 1, "name": "id", "required": true, "type": "long"},
                {"id": 2, "name": "name", "required": false, "type": "string"}
            ]
        }],
        "current-schema-id": 0,
        "partition-specs": [{
            "spec-id": 0,
            "fields": [
                {"source-id": 1, "field-id": 1000, "name": "id_bucket", "transform": "bucket[16]"}
            ]
        }],
        "default-spec-id": 0,
        "last-partition-id": 1000,
        "sort-orders": [{"order-id": 0, "fields": []}],
        "default-sort-order-id": 0,
        "properties": {},
        "snapshots": snapshot_docs,
        "refs": refs,
    });
    if let Some(main) = main {
        doc["current-snapshot-id"] = json!(main);
    }
    serde_json::from_value(doc).expect("valid table metadata")
}
