//! A real `floe serve` child process on a free port: [`FloeServer`] (started with
//! [`Serve`] for anything beyond the defaults: another bind address, extra flags,
//! environment), [`TestEnv`] (a warehouse and a data dir in temp dirs with a server on
//! them), and where the binary under test and the repository are ([`floe_bin`],
//! [`repo_root`]).

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::http::Http;

/// How long the server may take to print its listening line.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The `floe` binary under test: `$FLOE_BIN` when set, else the `floe` that Cargo built
/// next to the running test (`target/<profile>/deps/<test>-<hash>` →
/// `target/<profile>/floe`; Cargo builds it before a package's integration tests and
/// benchmarks).
pub fn floe_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("FLOE_BIN").filter(|b| !b.is_empty()) {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("the path of the running test");
    let dir = exe.parent().expect("the test binary's directory");
    let profile_dir = if dir.ends_with("deps") {
        dir.parent().expect("target/<profile>")
    } else {
        dir
    };
    let bin = profile_dir.join("floe");
    assert!(
        bin.is_file(),
        "no floe binary at {} (run `cargo build --bins`, or set FLOE_BIN)",
        bin.display()
    );
    bin
}

/// The repository's root (where `scripts/` and `fixtures/` are).
pub fn repo_root() -> PathBuf {
    let support = Path::new(env!("CARGO_MANIFEST_DIR"));
    support
        .ancestors()
        .nth(2)
        .expect("tests/support sits two levels below the repository root")
        .to_path_buf()
}

/// How to start a `floe serve`: its warehouse and data dir, and optionally the address
/// to bind (`127.0.0.1:0` unless set), extra flags and environment variables.
pub struct Serve {
    warehouse: OsString,
    data_dir: PathBuf,
    bind: String,
    args: Vec<String>,
    envs: Vec<(String, String)>,
}

impl Serve {
    /// `floe serve --warehouse WAREHOUSE --data-dir DATA_DIR --bind 127.0.0.1:0`.
    pub fn new(warehouse: impl AsRef<OsStr>, data_dir: &Path) -> Self {
        Self {
            warehouse: warehouse.as_ref().to_os_string(),
            data_dir: data_dir.to_path_buf(),
            bind: "127.0.0.1:0".to_string(),
            args: Vec::new(),
            envs: Vec::new(),
        }
    }

    /// Listens on `addr` (`HOST:PORT`, port 0 for a free one) instead.
    pub fn bind(mut self, addr: &str) -> Self {
        self.bind = addr.to_string();
        self
    }

    /// Adds `floe serve` arguments (e.g. `--zookeeper`).
    pub fn args<S: AsRef<str>>(mut self, args: &[S]) -> Self {
        self.args
            .extend(args.iter().map(|a| a.as_ref().to_string()));
        self
    }

    /// Sets environment variables of the process; an empty value removes the variable.
    pub fn envs(mut self, envs: &[(String, String)]) -> Self {
        self.envs.extend(envs.iter().cloned());
        self
    }

    /// Starts the real binary and waits for its listening line.
    pub fn start(self) -> FloeServer {
        let log = tempfile::NamedTempFile::new().expect("log file");
        let mut command = Command::new(floe_bin());
        for (key, value) in &self.envs {
            if value.is_empty() {
                command.env_remove(key);
            } else {
                command.env(key, value);
            }
        }
        let mut child = command
            .arg("serve")
            .args(["--bind", &self.bind])
            .arg("--warehouse")
            .arg(&self.warehouse)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(&self.args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log.reopen().expect("log file"))
            .spawn()
            .expect("cannot start the floe binary");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = tx.send(reader.read_line(&mut line).map(|_| line));
            // Keep draining so the server never blocks on a full pipe.
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let mut server = FloeServer {
            child: Some(child),
            url: String::new(),
            warehouse: PathBuf::from(&self.warehouse),
            data_dir: self.data_dir,
            log,
        };
        let line = match rx.recv_timeout(START_TIMEOUT) {
            Ok(Ok(line)) => line,
            other => panic!(
                "floe did not start ({other:?}); log:\n{}",
                server.log_text()
            ),
        };
        let url = line
            .trim()
            .strip_prefix("floe listening on ")
            .unwrap_or_else(|| {
                panic!(
                    "unexpected first stdout line {line:?}; log:\n{}",
                    server.log_text()
                )
            });
        let host = self.bind.rsplit_once(':').map_or("", |(host, _)| host);
        assert!(
            url.starts_with(&format!("http://{host}:")),
            "listening line {line:?} for --bind {}",
            self.bind
        );
        assert!(
            !url.ends_with(":0"),
            "the real port is printed, not 0: {line:?}"
        );
        server.url = url.to_string();
        server
    }
}

/// A running `floe serve` child process. Dropping it kills the process (SIGKILL).
pub struct FloeServer {
    child: Option<Child>,
    url: String,
    /// Its `--warehouse`.
    pub warehouse: PathBuf,
    /// Its `--data-dir`.
    pub data_dir: PathBuf,
    log: tempfile::NamedTempFile,
}

impl FloeServer {
    /// Starts the real binary on 127.0.0.1, port 0, and waits for its listening line.
    pub fn start(warehouse: &Path, data_dir: &Path) -> Self {
        Serve::new(warehouse, data_dir).start()
    }

    /// Like `start`, with extra `floe serve` arguments (e.g. `--zookeeper`).
    pub fn start_with_args(warehouse: &Path, data_dir: &Path, extra: &[String]) -> Self {
        Serve::new(warehouse, data_dir).args(extra).start()
    }

    /// Like `start_with_args` for any `--warehouse` value (`s3://...`), with extra
    /// environment variables (an empty value removes the variable).
    pub fn start_with_env(
        warehouse: &OsStr,
        data_dir: &Path,
        extra: &[String],
        envs: &[(String, String)],
    ) -> Self {
        Serve::new(warehouse, data_dir)
            .args(extra)
            .envs(envs)
            .start()
    }

    /// `http://HOST:PORT`, no trailing slash.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The process id of the running server.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server running").id()
    }

    /// The server's stderr so far (its logs).
    pub fn log_text(&self) -> String {
        let mut s = String::new();
        let _ = std::fs::File::open(self.log.path()).and_then(|mut f| f.read_to_string(&mut s));
        s
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits (up to 30 s) for a graceful exit and returns its status.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("server running");
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("floe ignored SIGTERM for 30 s; log:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for FloeServer {
    fn drop(&mut self) {
        if std::thread::panicking() && self.child.is_some() {
            eprintln!("---- floe log ({}) ----\n{}", self.url, self.log_text());
        }
        self.kill9();
    }
}

/// A warehouse and a data dir in temp dirs, and a server on them.
pub struct TestEnv {
    /// Holds `warehouse/`, `data/` and whatever else a test puts there.
    pub dirs: tempfile::TempDir,
    /// The server.
    pub server: FloeServer,
    /// A client of the server.
    pub http: Http,
}

impl TestEnv {
    /// Starts a server on fresh directories.
    pub fn start() -> Self {
        let dirs = tempfile::tempdir().expect("temp dir");
        let server = FloeServer::start(&dirs.path().join("warehouse"), &dirs.path().join("data"));
        let http = Http::new(server.url());
        Self { dirs, server, http }
    }

    /// The server's warehouse directory.
    pub fn warehouse(&self) -> PathBuf {
        self.dirs.path().join("warehouse")
    }

    /// The server's data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dirs.path().join("data")
    }

    /// Stops the server the given way and starts a new one on the same dirs.
    pub fn restart(&mut self, kill9: bool) {
        if kill9 {
            self.server.kill9();
        } else {
            let status = self.server.terminate();
            assert!(status.success(), "floe exited with {status} after SIGTERM");
        }
        self.server = FloeServer::start(&self.warehouse(), &self.data_dir());
        self.http = Http::new(self.server.url());
    }
}
