//! `floe table show`: a table's snapshots (operation, sequence number, writer and
//! checkpoint ids, watermark) and the live data and delete files of its current snapshot,
//! for a person to read.

use super::CatalogArgs;
use std::fmt::Write as _;

use clap::Args;
use floe_table::properties::{writer_checkpoints, CHECKPOINT_ID, WATERMARK, WRITER_ID};
use floe_table::{live_entries, main_ancestry, LoadedTable};
use iceberg::spec::{DataContentType, TableMetadata};

/// `floe table show`'s arguments.
#[derive(Args, Debug)]
pub struct ShowArgs {
    /// The catalog.
    #[command(flatten)]
    pub catalog: CatalogArgs,
    /// The table: namespace.table.
    #[arg(long)]
    pub table: String,
}

fn content_name(content: DataContentType) -> &'static str {
    match content {
        DataContentType::Data => "data",
        DataContentType::EqualityDeletes => "equality-deletes",
        DataContentType::PositionDeletes => "position-deletes",
    }
}

fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// The report `floe table show` prints.
pub async fn render(table: &LoadedTable, name: &str) -> anyhow::Result<String> {
    let metadata: &TableMetadata = &table.metadata;
    let mut out = String::new();
    let schema = metadata.current_schema();
    let key: Vec<&str> = schema
        .identifier_field_ids()
        .filter_map(|id| schema.field_by_id(id))
        .map(|f| f.name.as_str())
        .collect();
    let spec: Vec<String> = metadata
        .default_partition_spec()
        .fields()
        .iter()
        .map(|f| format!("{}({})", f.transform, f.name))
        .collect();
    writeln!(
        out,
        "table {name} (format version {}, uuid {})",
        metadata.format_version() as u8,
        metadata.uuid()
    )?;
    writeln!(out, "location   {}", metadata.location())?;
    writeln!(
        out,
        "key        {}",
        if key.is_empty() {
            "(none)".into()
        } else {
            key.join(", ")
        }
    )?;
    writeln!(
        out,
        "partition  {}",
        if spec.is_empty() {
            "(unpartitioned)".into()
        } else {
            spec.join(", ")
        }
    )?;
    if let Some(w) = metadata.properties().get(WATERMARK) {
        let at = w.parse().map(time).unwrap_or_default();
        writeln!(out, "watermark  {w} ({at})")?;
    }
    let writers = writer_checkpoints(metadata.properties());
    if !writers.is_empty() {
        let each: Vec<String> = (writers.iter())
            .map(|(writer, checkpoint)| format!("{writer} at checkpoint {checkpoint}"))
            .collect();
        writeln!(out, "writers    {}", each.join(", "))?;
    }
    let mut snapshots: Vec<_> = main_ancestry(metadata).collect();
    snapshots.reverse();
    writeln!(
        out,
        "\nsnapshots of main, oldest first ({}):",
        snapshots.len()
    )?;
    writeln!(
        out,
        "  {:>4}  {:>20}  {:<24}  {:<9}  {:>7}  {:>8}  {:>8}  {:>10}  writer/checkpoint  watermark",
        "seq", "snapshot", "committed", "operation", "+data", "+eq-del", "+pos-del", "records"
    )?;
    for s in snapshots {
        let p = &s.summary().additional_properties;
        let get = |k: &str| p.get(k).cloned().unwrap_or_else(|| "-".into());
        let writer = match (p.get(WRITER_ID), p.get(CHECKPOINT_ID)) {
            (Some(w), Some(c)) => format!("{w}/{c}"),
            (Some(w), None) => w.clone(),
            _ => "-".into(),
        };
        writeln!(
            out,
            "  {:>4}  {:>20}  {:<24}  {:<9}  {:>7}  {:>8}  {:>8}  {:>10}  {:<17}  {}",
            s.sequence_number(),
            s.snapshot_id(),
            time(s.timestamp_ms()),
            s.summary().operation.as_str(),
            get("added-data-files"),
            get("added-equality-delete-files"),
            get("added-position-delete-files"),
            get("total-records"),
            writer,
            get(WATERMARK)
        )?;
    }
    let mut entries: Vec<_> = live_entries(&table.file_io, metadata, None)
        .await?
        .into_iter()
        .map(|(_, e)| e)
        .collect();
    entries.sort_by_key(|e| {
        (
            e.content_type() != DataContentType::Data,
            e.sequence_number(),
        )
    });
    let location = format!("{}/", metadata.location().trim_end_matches('/'));
    writeln!(out, "\nlive files ({}):", entries.len())?;
    writeln!(
        out,
        "  {:<16}  {:>10}  {:>10}  {:>4}  {:>8}  {:<20}  path",
        "content", "records", "bytes", "seq", "file-seq", "partition"
    )?;
    let mut totals = [0u64; 3];
    for e in &entries {
        let f = e.data_file();
        totals[f.content_type() as usize] += f.record_count();
        // Files carry no public spec id in iceberg 0.10; Floe writes with the default spec.
        let partition = metadata
            .default_partition_spec()
            .partition_to_path(f.partition(), schema.clone());
        writeln!(
            out,
            "  {:<16}  {:>10}  {:>10}  {:>4}  {:>8}  {:<20}  {}",
            content_name(f.content_type()),
            f.record_count(),
            f.file_size_in_bytes(),
            e.sequence_number().map_or("-".into(), |n| n.to_string()),
            e.file_sequence_number.map_or("-".into(), |n| n.to_string()),
            partition,
            f.file_path()
                .strip_prefix(&location)
                .unwrap_or(f.file_path())
        )?;
    }
    writeln!(
        out,
        "  rows in data files {}, equality deletes {}, position deletes {}",
        totals[0], totals[2], totals[1]
    )?;
    Ok(out)
}

/// Runs `floe table show`.
pub async fn run(args: ShowArgs) -> anyhow::Result<()> {
    let (client, ident) = args.catalog.table(&args.table).await?;
    let table = client.load_table(&ident).await?;
    print!("{}", render(&table, &args.table).await?);
    Ok(())
}
