//! `floe verify`: compares a table snapshot with another snapshot, another table or the
//! Parquet files it was loaded from, by order-independent digests per column (rows, nulls,
//! sum, hash, min, max), whole and with `--by-partition` per partition; prints both sides
//! with the differences marked, as text or JSON. Exit status: 0 when every figure agrees,
//! 1 when any differs, 2 when it could not compare.

use std::fmt::Write as _;

use clap::{ArgGroup, Args, ValueEnum};
use floe_client::parse_table_ident;
use floe_verify::{verify, Against, Comparison, Figures, Part, VerifyOptions};

use super::CatalogArgs;

/// How `floe verify` prints its comparison.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    /// Both sides side by side, differences marked.
    Text,
    /// One JSON document (the comparison, with `equal`).
    Json,
}

/// `floe verify`'s arguments.
#[derive(Args, Debug)]
#[command(group(
    ArgGroup::new("second_side")
        .required(true)
        .multiple(true)
        .args(["against", "against_snapshot", "against_files"])
))]
pub struct VerifyArgs {
    /// The catalog.
    #[command(flatten)]
    pub catalog: CatalogArgs,
    /// The table: namespace.table.
    #[arg(long)]
    pub table: String,
    /// The table's snapshot to read (its current snapshot without it).
    #[arg(long)]
    pub snapshot: Option<i64>,
    /// Compare with this table (namespace.table) of the same catalog.
    #[arg(long)]
    pub against: Option<String>,
    /// Compare with this snapshot (of `--against`, or of the table itself).
    #[arg(long)]
    pub against_snapshot: Option<i64>,
    /// Compare with the Parquet files this glob matches: local paths, or S3 keys after
    /// `s3://bucket/` (endpoint and credentials from the AWS environment variables).
    #[arg(long, conflicts_with_all = ["against", "against_snapshot"])]
    pub against_files: Option<String>,
    /// Compare partition by partition too (by the table's partition spec).
    #[arg(long)]
    pub by_partition: bool,
    /// Only these columns (comma-separated); all of the table's without it.
    #[arg(long, value_delimiter = ',')]
    pub columns: Option<Vec<String>>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Partitions or files read at once (the number of cores without it).
    #[arg(long)]
    pub parallel: Option<usize>,
}

/// Runs `floe verify`: whether every figure agrees.
pub async fn run(args: VerifyArgs) -> anyhow::Result<bool> {
    let (catalog, ident) = args.catalog.table(&args.table).await?;
    let table = catalog.load_table(&ident).await?;
    let against = match (&args.against_files, &args.against) {
        (Some(pattern), _) => Against::Files(pattern.clone()),
        (None, Some(other)) => {
            // The same catalog and client: one connection, one token.
            let other = parse_table_ident(other).map_err(|e| anyhow::anyhow!(e))?;
            Against::Snapshot(catalog.load_table(&other).await?, args.against_snapshot)
        }
        (None, None) => Against::Snapshot(table.clone(), args.against_snapshot),
    };
    let parallel = (args.parallel)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if parallel == 0 {
        anyhow::bail!("--parallel must be at least 1");
    }
    let options = VerifyOptions {
        columns: args.columns.clone(),
        by_partition: args.by_partition,
        parallel,
    };
    let comparison = verify(&table, args.snapshot, &against, &options).await?;
    match args.format {
        Format::Text => print!("{}", render(&comparison)),
        Format::Json => println!("{}", serde_json::to_string_pretty(&comparison)?),
    }
    Ok(comparison.equal)
}

/// One side's figures as (label, value) lines: rows, then per column nulls, sum, hash,
/// min and max.
fn measures(f: &Figures) -> Vec<(String, String)> {
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let mut out = vec![("rows".to_string(), f.rows.to_string())];
    for c in &f.columns {
        out.push((format!("{} nulls", c.name), c.nulls.to_string()));
        out.push((format!("{} sum", c.name), opt(&c.sum)));
        out.push((format!("{} hash", c.name), c.hash.clone()));
        out.push((format!("{} min", c.name), opt(&c.min)));
        out.push((format!("{} max", c.name), opt(&c.max)));
    }
    out
}

/// The lines of one side-by-side table: (label, left value, right value); `-` for a side
/// without the part.
fn lines(left: Option<&Figures>, right: Option<&Figures>) -> Vec<(String, String, String)> {
    let (l, r) = (left.map(measures), right.map(measures));
    let labels = l.as_ref().or(r.as_ref()).cloned().unwrap_or_default();
    let value = |side: &Option<Vec<(String, String)>>, i: usize| {
        side.as_ref().map_or("-".to_string(), |s| s[i].1.clone())
    };
    (labels.into_iter().enumerate())
        .map(|(i, (label, _))| (label, value(&l, i), value(&r, i)))
        .collect()
}

/// One part (the whole table or a partition) side by side; differing lines marked `<>`.
fn render_part(out: &mut String, part: &Part) {
    let lines = lines(part.left.as_ref(), part.right.as_ref());
    let width = |pick: &dyn Fn(&(String, String, String)) -> usize| {
        lines.iter().map(pick).max().unwrap_or(0)
    };
    let (w0, w1) = (width(&|l| l.0.len()), width(&|l| l.1.len()).max(4));
    let _ = writeln!(out, "     {:<w0$}  {:<w1$}  right", "", "left");
    for (label, left, right) in &lines {
        let mark = if left != right { "<>" } else { "  " };
        let _ = writeln!(out, "  {mark} {label:<w0$}  {left:<w1$}  {right}");
    }
}

/// The comparison as `floe verify` prints it.
pub fn render(c: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "left:  {}\nright: {}", c.left, c.right);
    let _ = writeln!(out, "\nwhole table:");
    render_part(&mut out, &c.whole);
    if !c.partitions.is_empty() {
        let differing: Vec<&Part> = c
            .partitions
            .iter()
            .filter(|p| !p.differences.is_empty())
            .collect();
        let _ = writeln!(
            out,
            "\nby partition: {} partitions, {} differ",
            c.partitions.len(),
            differing.len()
        );
        for part in differing {
            let name = part.partition.as_deref().unwrap_or_default();
            let _ = writeln!(out, "\npartition {name}: {}", part.differences.join("; "));
            render_part(&mut out, part);
        }
    }
    let differences = c.whole.differences.len()
        + c.partitions
            .iter()
            .map(|p| p.differences.len())
            .sum::<usize>();
    match c.equal {
        true => out.push_str("\nequal: every figure agrees\n"),
        false => {
            let _ = writeln!(out, "\ndifferent: {differences} figures differ");
            for d in &c.whole.differences {
                let _ = writeln!(out, "  {d}");
            }
        }
    }
    out
}
