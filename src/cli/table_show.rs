//! `floe table show`: a table's snapshots (operation, sequence number, writer and
//! checkpoint ids, watermark) and the live data and delete files of its current snapshot,
//! for a person to read (the data is `floe_client::TableInfo`).

use super::CatalogArgs;
use std::fmt::{Display, Write as _};

use clap::Args;
use floe_client::{FileContent, TableInfo};

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

fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// A value, or `-` without one.
fn or_dash<T: Display>(value: Option<T>) -> String {
    value.map_or_else(|| "-".into(), |v| v.to_string())
}

fn or_none(items: &[String], none: &str) -> String {
    if items.is_empty() {
        none.to_string()
    } else {
        items.join(", ")
    }
}

/// The report `floe table show` prints.
pub fn render(info: &TableInfo) -> Result<String, std::fmt::Error> {
    let mut out = String::new();
    writeln!(
        out,
        "table {} (format version {}, uuid {})",
        info.name, info.format_version, info.uuid
    )?;
    writeln!(out, "location   {}", info.location)?;
    writeln!(out, "key        {}", or_none(&info.key, "(none)"))?;
    writeln!(
        out,
        "partition  {}",
        or_none(&info.partition, "(unpartitioned)")
    )?;
    if let Some(w) = info.watermark {
        writeln!(out, "watermark  {w} ({})", time(w))?;
    }
    if !info.writers.is_empty() {
        let each: Vec<String> = (info.writers.iter())
            .map(|(writer, checkpoint)| format!("{writer} at checkpoint {checkpoint}"))
            .collect();
        writeln!(out, "writers    {}", each.join(", "))?;
    }
    writeln!(
        out,
        "\nsnapshots of main, oldest first ({}):",
        info.snapshots.len()
    )?;
    writeln!(
        out,
        "  {:>4}  {:>20}  {:<24}  {:<9}  {:>7}  {:>8}  {:>8}  {:>10}  writer/checkpoint  watermark",
        "seq", "snapshot", "committed", "operation", "+data", "+eq-del", "+pos-del", "records"
    )?;
    for s in &info.snapshots {
        let writer = match (&s.writer_id, s.checkpoint_id) {
            (Some(w), Some(c)) => format!("{w}/{c}"),
            (Some(w), None) => w.clone(),
            _ => "-".into(),
        };
        writeln!(
            out,
            "  {:>4}  {:>20}  {:<24}  {:<9}  {:>7}  {:>8}  {:>8}  {:>10}  {:<17}  {}",
            s.sequence_number,
            s.snapshot_id,
            time(s.timestamp_ms),
            s.operation,
            or_dash(s.added_data_files),
            or_dash(s.added_equality_delete_files),
            or_dash(s.added_position_delete_files),
            or_dash(s.total_records),
            writer,
            or_dash(s.watermark)
        )?;
    }
    let location = format!("{}/", info.location.trim_end_matches('/'));
    writeln!(out, "\nlive files ({}):", info.files.len())?;
    writeln!(
        out,
        "  {:<16}  {:>10}  {:>10}  {:>4}  {:>8}  {:<20}  path",
        "content", "records", "bytes", "seq", "file-seq", "partition"
    )?;
    let (mut rows, mut equality, mut position) = (0u64, 0u64, 0u64);
    for f in &info.files {
        *match f.content {
            FileContent::Data => &mut rows,
            FileContent::EqualityDeletes => &mut equality,
            FileContent::PositionDeletes => &mut position,
        } += f.record_count;
        writeln!(
            out,
            "  {:<16}  {:>10}  {:>10}  {:>4}  {:>8}  {:<20}  {}",
            f.content.as_str(),
            f.record_count,
            f.file_size_in_bytes,
            or_dash(f.sequence_number),
            or_dash(f.file_sequence_number),
            f.partition,
            f.path.strip_prefix(&location).unwrap_or(&f.path)
        )?;
    }
    writeln!(
        out,
        "  rows in data files {rows}, equality deletes {equality}, position deletes {position}"
    )?;
    Ok(out)
}

/// Runs `floe table show`.
pub async fn run(args: ShowArgs) -> anyhow::Result<()> {
    let (client, ident) = args.catalog.table(&args.table).await?;
    let table = client.load_table(&ident).await?;
    let mut info = TableInfo::read(&table).await?;
    info.name = args.table.clone();
    print!("{}", render(&info)?);
    Ok(())
}
