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
    /// Compare a table snapshot with another snapshot, another table or Parquet files by
    /// digests per column (rows, nulls, sum, hash, min, max), whole and per partition.
    /// Exit status 0 when every figure agrees, 1 when any differs, 2 on error.
    Verify(floe::cli::verify::VerifyArgs),
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

fn run_async<T, F: std::future::Future<Output = anyhow::Result<T>>>(f: F) -> anyhow::Result<T> {
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
    // `floe verify` answers 1 for "different", so its errors are 2.
    let error_code = match cli.command {
        Command::Verify(_) => 2,
        _ => 1,
    };
    let done = |r: anyhow::Result<()>| r.map(|()| ExitCode::SUCCESS);
    let result = match cli.command {
        Command::Serve(args) => done(
            args.load()
                .map_err(anyhow::Error::from)
                .and_then(|config| run_async(floe::serve::serve(config))),
        ),
        Command::Upsert(args) => done(run_async(floe::cli::upsert::run(args))),
        Command::Compact(args) => done(run_async(floe::cli::compact::run(args))),
        Command::ConvertDeletes(args) => done(run_async(floe::cli::convert::run(args))),
        Command::ExpireSnapshots(args) => done(run_async(floe::cli::expire::run(args))),
        Command::Table {
            command: TableCommand::Show(args),
        } => done(run_async(floe::cli::table_show::run(args))),
        Command::Verify(args) => run_async(floe::cli::verify::run(args)).map(|equal| match equal {
            true => ExitCode::SUCCESS,
            false => ExitCode::from(1),
        }),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("floe: {}", floe_client::error_chain(e.as_ref()));
            ExitCode::from(error_code)
        }
    }
}
