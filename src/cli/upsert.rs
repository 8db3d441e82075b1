//! `floe upsert`: writes input files into an upsert table, one checkpoint per file, and
//! prints what each commit added. Every input is read and checked against the table
//! before the table is created or anything committed, so bad input changes nothing.

use super::CatalogArgs;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Args;
use floe_client::{
    create_upsert_table, find_upsert_table, new_upsert_table, parse_table_ident, NewUpsertTable,
    RestClient,
};
use floe_upsert::{
    conform, covering, CheckpointOutcome, CommitReport, UpsertError, UpsertLayout, UpsertOptions,
    UpsertWriter, WatermarkChange,
};
use iceberg::arrow::schema_to_arrow_schema;
use iceberg::spec::Schema;
use iceberg::TableIdent;

use super::input::InputFile;

/// `floe upsert`'s arguments.
#[derive(Args, Debug)]
pub struct UpsertArgs {
    /// The catalog.
    #[command(flatten)]
    pub catalog: CatalogArgs,
    /// The table: namespace.table.
    #[arg(long)]
    pub table: String,
    /// An input file (.parquet or .csv with a header); each is one checkpoint, in order.
    /// A `_op` column holds the change kinds +I, -U, +U, -D; without it every row is an
    /// upsert.
    #[arg(long = "input", required = true)]
    pub inputs: Vec<PathBuf>,
    /// The key columns (with --create), comma separated.
    #[arg(long, value_delimiter = ',')]
    pub key: Vec<String>,
    /// Number of buckets of a created table.
    #[arg(long, default_value_t = 16)]
    pub buckets: u32,
    /// Create the table (format version 2, identifier fields from --key, bucket(N, key))
    /// when it does not exist.
    #[arg(long)]
    pub create: bool,
    /// Names this writer: its checkpoints are committed exactly once.
    #[arg(long)]
    pub writer_id: Option<String>,
    /// Checkpoint id of the first input (the next ones count up). Default: one after the
    /// writer's last committed checkpoint.
    #[arg(long, requires = "writer_id")]
    pub checkpoint: Option<i64>,
    /// Event-time watermark (epoch milliseconds) reached after the last input; it is
    /// attached to the last checkpoint.
    #[arg(long)]
    pub watermark: Option<i64>,
    /// Limit of the per-checkpoint key index, in MiB.
    #[arg(long, default_value_t = 1024)]
    pub key_index_mb: usize,
}

/// Finds the table's schema and key; for a table still to be created (`--create`), also
/// its layout.
async fn find_target(
    client: &RestClient,
    ident: &TableIdent,
    args: &UpsertArgs,
    first: &InputFile,
) -> anyhow::Result<(Schema, UpsertLayout, Option<NewUpsertTable>)> {
    if let Some((schema, layout)) = find_upsert_table(client, ident, &args.key).await? {
        return Ok((schema, layout, None));
    }
    if !args.create {
        bail!("table {ident} does not exist; pass --create --key COLUMN to create it");
    }
    if args.key.is_empty() {
        bail!("--create needs --key: the columns that identify a row");
    }
    let new = new_upsert_table(&*first.schema(None)?, &args.key, args.buckets)?;
    Ok((new.schema.clone(), new.layout.clone(), Some(new)))
}

/// Reads every input and checks it against the table's schema and key.
fn check_inputs(
    inputs: &[InputFile],
    schema: &Schema,
    layout: &UpsertLayout,
) -> anyhow::Result<()> {
    let table_arrow = schema_to_arrow_schema(schema)?;
    for input in inputs {
        for batch in input.batches(Some(&table_arrow))? {
            conform(&batch?, &table_arrow, &layout.key_columns)
                .with_context(|| format!("input {}", input.path.display()))?;
        }
    }
    Ok(())
}

/// What `floe upsert` prints about a checkpoint.
fn outcome_text(outcome: &CheckpointOutcome) -> String {
    match outcome {
        CheckpointOutcome::Committed(report) => describe(report),
        CheckpointOutcome::AlreadyCommitted(last) => match last.snapshot_id {
            Some(snapshot) => format!(
                "already committed (the table holds checkpoint {} in snapshot {snapshot})",
                last.checkpoint_id
            ),
            None => format!(
                "already committed (the table records checkpoint {}; its snapshot has expired)",
                last.checkpoint_id
            ),
        },
        CheckpointOutcome::Empty => "no rows, nothing committed".to_string(),
    }
}

fn describe(report: &CommitReport) -> String {
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    let mut text = format!(
        "committed snapshot {} (sequence number {}): {} with {} rows, {} with {} keys, {} with {} rows",
        report.snapshot_id,
        report.sequence_number,
        plural(report.data_files, "data file"),
        report.rows,
        plural(report.equality_delete_files, "equality-delete file"),
        report.equality_deletes,
        plural(report.position_delete_files, "position-delete file"),
        report.position_deletes,
    );
    if report.skipped_deletes > 0 {
        text.push_str(&format!(
            "; {} equality deletes left out (no older row could hold their keys)",
            report.skipped_deletes
        ));
    }
    match report.watermark {
        Some(WatermarkChange::Advance(w)) => text.push_str(&format!("; watermark now {w}")),
        Some(WatermarkChange::Stale { current }) => text.push_str(&format!(
            "; watermark not newer than the table's {current}, which stays"
        )),
        None => {}
    }
    text
}

/// Runs `floe upsert`.
pub async fn run(args: UpsertArgs) -> anyhow::Result<()> {
    let ident = parse_table_ident(&args.table).map_err(|e| anyhow::anyhow!(e))?;
    let inputs = args
        .inputs
        .iter()
        .map(|p| InputFile::new(p))
        .collect::<Result<Vec<_>, _>>()?;
    let client = args.catalog.connect().await?;
    let (schema, layout, to_create) = find_target(&client, &ident, &args, &inputs[0]).await?;
    // Every input is checked before anything is created or committed.
    check_inputs(&inputs, &schema, &layout)?;
    if let Some(new) = &to_create {
        if !create_upsert_table(&client, &ident, new).await? {
            bail!(
                "table {ident} was created by someone else meanwhile; run again to write into it"
            );
        }
        println!(
            "created table {ident} with key {:?} in {} buckets",
            args.key, args.buckets
        );
    }
    let options = UpsertOptions {
        writer_id: args.writer_id.clone(),
        key_index_limit_bytes: args.key_index_mb << 20,
    };
    let mut writer = UpsertWriter::open(Arc::new(client), &ident, options).await?;
    let table_arrow = schema_to_arrow_schema(writer.table().metadata.current_schema())?;
    let first_checkpoint = match (&args.writer_id, args.checkpoint) {
        (_, Some(c)) => Some(c),
        (Some(_), None) => Some(writer.last_committed().map_or(1, |l| l.checkpoint_id + 1)),
        (None, None) => None,
    };
    // Each checkpoint commits while the next one is read and written; commits still land
    // one at a time, in order, and each outcome is printed when it is known.
    let mut started: Option<String> = None;
    for (i, input) in inputs.iter().enumerate() {
        let checkpoint = first_checkpoint.map(|c| c + i as i64);
        let label = match checkpoint {
            Some(c) => format!("checkpoint {c} ({})", input.path.display()),
            None => format!("input {}", input.path.display()),
        };
        if started.is_none() {
            if let Some(last) = covering(writer.last_committed(), checkpoint) {
                println!(
                    "{label}: {}",
                    outcome_text(&CheckpointOutcome::AlreadyCommitted(last))
                );
                continue;
            }
        }
        if let Err(e) = write_input(&mut writer, input, &table_arrow, &label).await {
            // The commit in flight still lands or fails, and says which, before exiting.
            let last = writer.finish_commit().await;
            report(started, last)?;
            return Err(e);
        }
        let watermark = args.watermark.filter(|_| i + 1 == inputs.len());
        let previous = writer.start_commit(checkpoint, watermark).await;
        report(started.replace(label), previous)?;
    }
    let last = writer.finish_commit().await;
    report(started, last)
}

/// Writes every batch of one input into the open checkpoint.
async fn write_input(
    writer: &mut UpsertWriter,
    input: &InputFile,
    table_arrow: &arrow::datatypes::Schema,
    label: &str,
) -> anyhow::Result<()> {
    for batch in input.batches(Some(table_arrow))? {
        writer
            .write(&batch?)
            .await
            .with_context(|| label.to_string())?;
    }
    Ok(())
}

/// Prints the outcome of the commit of `label`, if one was started.
fn report(
    label: Option<String>,
    outcome: Result<Option<CheckpointOutcome>, UpsertError>,
) -> anyhow::Result<()> {
    let Some(label) = label else {
        return Ok(());
    };
    if let Some(outcome) = outcome.with_context(|| label.clone())? {
        println!("{label}: {}", outcome_text(&outcome));
    }
    Ok(())
}
