//! The `floe` command's table maintenance as Python functions: `compact` (one compaction
//! run, its report as a dict), `convert_deletes` (equality deletes into position
//! deletes), `expire_snapshots` and `table_info` (what `floe table show` prints, as
//! data).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use floe_client::{parse_table_ident, Connection, RestClient, TableInfo};
use floe_compaction::{
    compact as compact_table, convert_deletes as convert, expire_snapshots as expire,
    group_outcome_label, CompactionReport, CompactionRequest, ConversionReport, ConversionRequest,
    GroupOutcome, GroupReport, PartitionOutcome, PlannedGroup, Silent,
};
use iceberg::TableIdent;
use pyo3::prelude::*;
use serde_json::{json, Value};

use crate::errors::{Class, Error, Result};
use crate::runtime::block_on;

/// The client of `catalog` and the table `table` names.
async fn reach(
    catalog: String,
    table: &str,
    token: Option<String>,
    credential: Option<String>,
) -> Result<(Arc<RestClient>, TableIdent)> {
    let ident = parse_table_ident(table).map_err(Error::input)?;
    let connection = Connection {
        uri: catalog,
        token,
        credential,
    };
    Ok((Arc::new(connection.connect().await?), ident))
}

fn to_python(py: Python<'_>, value: &impl serde::Serialize) -> PyResult<Py<PyAny>> {
    Ok(pythonize::pythonize(py, value)?.unbind())
}

fn planned_json(group: &PlannedGroup) -> Value {
    json!({
        "name": group.name,
        "partition": group.partition,
        "data_files": group.data_files,
        "delete_files": group.delete_files,
        "input_bytes": group.input_bytes,
        "input_records": group.input_records,
        "expected_output_files": group.expected_output_files,
        "reason": group.reason,
    })
}

fn group_json(group: &GroupReport) -> Value {
    let value = json!({
        "planned": planned_json(&group.planned),
        "output_files": group.output_files,
        "output_bytes": group.output_bytes,
        "output_records": group.output_records,
        "seconds": group.elapsed.as_secs_f64(),
    });
    let label = group_outcome_label(&group.outcome);
    let outcome = match &group.outcome {
        Ok(GroupOutcome::Committed {
            snapshot_id,
            sequence_number,
            removed_deletes,
        }) => committed(*snapshot_id, *sequence_number, *removed_deletes),
        Ok(GroupOutcome::Skipped(why)) => ended(label, why),
        Ok(GroupOutcome::Unknown(why)) => ended(label, why),
        Err(e) => ended(label, e),
    };
    with_outcome(value, outcome)
}

/// The outcome of a group or partition whose snapshot landed.
fn committed(snapshot_id: i64, sequence_number: i64, removed_deletes: usize) -> Value {
    json!({
        "outcome": "committed",
        "snapshot_id": snapshot_id,
        "sequence_number": sequence_number,
        "removed_deletes": removed_deletes,
    })
}

/// An outcome without a snapshot, and why.
fn ended(outcome: &str, why: impl std::fmt::Display) -> Value {
    json!({"outcome": outcome, "message": why.to_string()})
}

/// `value` with the fields of `outcome` (both JSON objects) added.
fn with_outcome(mut value: Value, outcome: Value) -> Value {
    if let (Some(value), Value::Object(outcome)) = (value.as_object_mut(), outcome) {
        value.extend(outcome);
    }
    value
}

/// The report of a compaction run, as `floe compact` prints it.
fn report_json(report: &CompactionReport) -> Value {
    json!({
        "table": report.table,
        "start_snapshot": report.start_snapshot,
        "planned": report.planned.iter().map(planned_json).collect::<Vec<_>>(),
        "groups": report.groups.iter().map(group_json).collect::<Vec<_>>(),
        "committed": report.committed(),
        "failed": report.failed(),
        "seconds": report.elapsed.as_secs_f64(),
    })
}

/// One compaction run of `table`.
#[pyfunction]
#[pyo3(signature = (catalog, table, *, target_file_size=None, min_input_files=None, options=None, dry_run=false, token=None, credential=None))]
#[allow(clippy::too_many_arguments)]
pub fn compact(
    py: Python<'_>,
    catalog: String,
    table: String,
    target_file_size: Option<String>,
    min_input_files: Option<usize>,
    options: Option<HashMap<String, String>>,
    dry_run: bool,
    token: Option<String>,
    credential: Option<String>,
) -> PyResult<Py<PyAny>> {
    let mut overrides: Vec<(String, String)> = options.unwrap_or_default().into_iter().collect();
    overrides.sort();
    let request = CompactionRequest {
        overrides,
        dry_run,
        ..Default::default()
    }
    .with_shorthands(target_file_size, min_input_files);
    let report = py.detach(|| {
        block_on(async {
            let (client, ident) = reach(catalog, &table, token, credential).await?;
            Ok::<_, Error>(compact_table(client, &ident, &request, Arc::new(Silent)).await?)
        })
    })?;
    to_python(py, &report_json(&report))
}

/// The report of a conversion run, as `floe convert-deletes` prints it.
fn conversion_json(report: &ConversionReport) -> Value {
    let partition = |p: &floe_compaction::PartitionReport| {
        let outcome = match &p.outcome {
            Ok(PartitionOutcome::Planned) => json!({"outcome": "planned"}),
            Ok(PartitionOutcome::Committed {
                snapshot_id,
                sequence_number,
                removed_deletes,
            }) => committed(*snapshot_id, *sequence_number, *removed_deletes),
            Ok(PartitionOutcome::Skipped(why)) => ended("skipped", why),
            Ok(PartitionOutcome::NotOnTheKey) => json!({"outcome": "not_on_the_key"}),
            Ok(PartitionOutcome::Unknown(why)) => ended("unknown", why),
            Err(e) => ended("failed", e),
        };
        let value = json!({
            "partition": p.partition,
            "equality_delete_files": p.equality_delete_files,
            "data_files_read": p.data_files_read,
            "position_deletes": p.position_deletes,
            "position_delete_files": p.position_delete_files,
        });
        with_outcome(value, outcome)
    };
    json!({
        "table": report.table,
        "start_snapshot": report.start_snapshot,
        "partitions": report.partitions.iter().map(partition).collect::<Vec<_>>(),
        "committed": report.committed(),
        "failed": report.failed(),
        "seconds": report.elapsed.as_secs_f64(),
    })
}

/// Turns `table`'s equality deletes into position deletes, partition by partition.
#[pyfunction]
#[pyo3(signature = (catalog, table, *, dry_run=false, token=None, credential=None))]
pub fn convert_deletes(
    py: Python<'_>,
    catalog: String,
    table: String,
    dry_run: bool,
    token: Option<String>,
    credential: Option<String>,
) -> PyResult<Py<PyAny>> {
    let report = py.detach(|| {
        block_on(async {
            let (client, ident) = reach(catalog, &table, token, credential).await?;
            let request = ConversionRequest {
                dry_run,
                ..Default::default()
            };
            Ok::<_, Error>(convert(client, &ident, &request).await?)
        })
    })?;
    to_python(py, &conversion_json(&report))
}

/// Removes `table`'s snapshots older than its retention, then the files only they
/// reached.
#[pyfunction]
#[pyo3(signature = (catalog, table, *, older_than=None, retain_last=None, token=None, credential=None))]
pub fn expire_snapshots(
    py: Python<'_>,
    catalog: String,
    table: String,
    older_than: Option<&Bound<'_, PyAny>>,
    retain_last: Option<usize>,
    token: Option<String>,
    credential: Option<String>,
) -> PyResult<Py<PyAny>> {
    let max_age = older_than.map(age).transpose()?;
    let report = py.detach(|| {
        block_on(async {
            let (client, ident) = reach(catalog, &table, token, credential).await?;
            let max_age_ms = max_age.map(|d| d.as_millis() as i64);
            Ok::<_, Error>(expire(client.as_ref(), &ident, max_age_ms, retain_last).await?)
        })
    })?;
    if report.outcome_unknown {
        return Err(Error::new(
            Class::Unknown,
            format!(
                "the removal of {} snapshots has an unknown outcome; no file was deleted",
                report.expired_snapshots
            ),
        )
        .into());
    }
    let value = json!({
        "expired_snapshots": report.expired_snapshots,
        "deleted_files": report.deleted_files,
        "failed_deletes": report.failed_deletes,
    });
    to_python(py, &value)
}

/// An age: a `datetime.timedelta`, or a duration like `"5d"` or `"12h"`.
fn age(value: &Bound<'_, PyAny>) -> Result<Duration> {
    if let Ok(text) = value.extract::<String>() {
        return humantime::parse_duration(&text).map_err(|e| {
            Error::input(format!(
                "older_than {text:?} is not a duration like \"5d\": {e}"
            ))
        });
    }
    value.extract::<Duration>().map_err(|_| {
        Error::input("older_than must be a datetime.timedelta or a string like \"5d\"")
    })
}

/// What `floe table show` prints, as a dict.
#[pyfunction]
#[pyo3(signature = (catalog, table, *, token=None, credential=None))]
pub fn table_info(
    py: Python<'_>,
    catalog: String,
    table: String,
    token: Option<String>,
    credential: Option<String>,
) -> PyResult<Py<PyAny>> {
    let info = py.detach(|| {
        block_on(async {
            let (client, ident) = reach(catalog, &table, token, credential).await?;
            let loaded = client.load_table(&ident).await?;
            Ok::<_, Error>(TableInfo::read(&loaded).await?)
        })
    })?;
    to_python(py, &info)
}
