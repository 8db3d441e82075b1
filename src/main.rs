//! The `floe` command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use floe::config::ServeConfig;

#[derive(Parser)]
#[command(
    name = "floe",
    version,
    about = "Apache Iceberg v2 table-format service"
)]
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
    Serve {
        /// TOML config file; flags override its values.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Address to listen on (port 0 picks a free port).
        #[arg(long)]
        bind: Option<SocketAddr>,
        /// Warehouse: a local path or file:// URL.
        #[arg(long)]
        warehouse: Option<String>,
        /// Directory of the embedded catalog store.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// ZooKeeper connect string (host:port[,host:port...]): store and locks in
        /// ZooKeeper, so several nodes can serve one warehouse.
        #[arg(long)]
        zookeeper: Option<String>,
        /// Root znode of this catalog (default /floe).
        #[arg(long)]
        zk_root: Option<String>,
        /// ZooKeeper session timeout in milliseconds (how long a dead node's locks last).
        #[arg(long)]
        zk_session_timeout_ms: Option<u64>,
        /// Compact every table (and expire its old snapshots) this often: 1h, 15m, 30s.
        /// Off by default; a table opts out with floe.compaction.enabled=false.
        #[arg(long)]
        compaction_interval: Option<String>,
        /// Authentication settings (TOML: signing-key, clients, tokens); see the README.
        #[arg(long)]
        auth: Option<PathBuf>,
    },
    /// Write input files into an upsert table (one checkpoint per file) through a REST
    /// catalog: data files, equality deletes for replaced keys, position deletes for keys
    /// repeated within a checkpoint.
    Upsert(floe::cli::upsert::UpsertArgs),
    /// Compact a table once: merge small files and fold deletes away, committing each
    /// file group as its own replace snapshot.
    Compact(floe::cli::compact::CompactArgs),
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
        Command::Serve {
            config,
            bind,
            warehouse,
            data_dir,
            zookeeper,
            zk_root,
            zk_session_timeout_ms,
            compaction_interval,
            auth,
        } => (|| {
            let mut cfg = match config {
                Some(path) => ServeConfig::from_file(&path)?,
                None => ServeConfig::default(),
            };
            if let Some(b) = bind {
                cfg.bind = b;
            }
            if let Some(w) = warehouse {
                cfg.warehouse = w;
            }
            if let Some(d) = data_dir {
                cfg.data_dir = d;
            }
            if zookeeper.is_some() {
                cfg.zookeeper = zookeeper;
            }
            if let Some(r) = zk_root {
                cfg.zk_root = r;
            }
            if let Some(t) = zk_session_timeout_ms {
                cfg.zk_session_timeout_ms = t;
            }
            if compaction_interval.is_some() {
                cfg.compaction_interval = compaction_interval;
            }
            if let Some(path) = auth {
                cfg.auth = Some(floe::config::auth_from_file(&path)?);
            }
            run_async(floe::server::serve(cfg))
        })(),
        Command::Upsert(args) => run_async(floe::cli::upsert::run(args)),
        Command::Compact(args) => run_async(floe::cli::compact::run(args)),
        Command::ExpireSnapshots(args) => run_async(floe::cli::expire::run(args)),
        Command::Table {
            command: TableCommand::Show(args),
        } => run_async(floe::cli::table_show::run(args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("floe: {e:#}");
            ExitCode::FAILURE
        }
    }
}
