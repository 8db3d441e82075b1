//! The `floe` command line.

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(name = "floe", version, about = "Apache Iceberg table-format service")]
struct Cli {
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the Iceberg REST catalog (embedded default: local warehouse ./warehouse,
    /// embedded store in ./data, in-process locks, 127.0.0.1:8181).
    Serve(floe::config::ServeArgs),
    /// Write input files into an upsert table (one checkpoint per file) through a REST
    /// catalog: data files, equality deletes for replaced keys, position deletes for keys
    /// repeated within a checkpoint.
    Upsert(floe::cli::upsert::UpsertArgs),
    /// Compact a table once: merge small files and fold deletes away, committing each
    /// file group as its own replace snapshot.
    Compact(floe::cli::compact::CompactArgs),
    /// Turn a table's equality deletes into position deletes, partition by partition,
    /// so readers join no data against equality deletes; rows stay the same.
    ConvertDeletes(floe::cli::convert::ConvertArgs),
    /// Remove snapshots older than the table's retention and delete the files only they
    /// reached.
    ExpireSnapshots(floe::cli::expire::ExpireArgs),
    /// Inspect a table.
    Table {
        #[command(subcommand)]
        command: TableCommand,
    },
}

#[derive(Subcommand)]
enum TableCommand {
    /// Snapshots (operations, sequence numbers, writer/checkpoint ids, watermarks) and the
    /// live data and delete files.
    Show(floe::cli::table_show::ShowArgs),
}

fn run_async<F: std::future::Future<Output = anyhow::Result<()>>>(f: F) -> anyhow::Result<()> {
    tokio::runtime::Runtime::new()?.block_on(f)
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let result = match cli.command {
        Command::Serve(args) => args
            .load()
            .map_err(anyhow::Error::from)
            .and_then(|config| run_async(floe::serve::serve(config))),
        Command::Upsert(args) => run_async(floe::cli::upsert::run(args)),
        Command::Compact(args) => run_async(floe::cli::compact::run(args)),
        Command::ConvertDeletes(args) => run_async(floe::cli::convert::run(args)),
        Command::ExpireSnapshots(args) => run_async(floe::cli::expire::run(args)),
        Command::Table {
            command: TableCommand::Show(args),
        } => run_async(floe::cli::table_show::run(args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("floe: {}", floe_client::error_chain(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}
