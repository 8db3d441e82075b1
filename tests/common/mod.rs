//! Shared helpers of the integration tests: a real `floe serve` process on a free port
//! (`FloeServer`), a small JSON-over-HTTP client (`Http`) with the Iceberg error-body
//! checks, URL encoding of names, and a listing of the warehouse's files.
#![allow(dead_code, unused_imports)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod fixture;
pub use fixture::*;
pub mod cluster;
pub mod compaction_support;
pub mod s3;
pub mod table_checks;
pub mod upsert_cli_support;
pub mod upsert_inputs;
pub mod upsert_model_support;
pub mod zk;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// How long the server may take to print its listening line.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `floe serve` child process. Dropping it kills the process (SIGKILL).
pub struct FloeServer {
    child: Option<Child>,
    url: String,
    pub warehouse: PathBuf,
    pub data_dir: PathBuf,
    log: tempfile::NamedTempFile,
}

impl FloeServer {
    /// Starts the real binary on 127.0.0.1, port 0, and waits for its listening line.
    pub fn start(warehouse: &Path, data_dir: &Path) -> Self {
        Self::start_with_args(warehouse, data_dir, &[])
    }

    /// Like `start`, with extra `floe serve` arguments (e.g. `--zookeeper`).
    pub fn start_with_args(warehouse: &Path, data_dir: &Path, extra: &[String]) -> Self {
        Self::start_with_env(warehouse.as_os_str(), data_dir, extra, &[])
    }

    /// Like `start_with_args` for any `--warehouse` value (`s3://...`), with extra
    /// environment variables (an empty value removes the variable).
    pub fn start_with_env(
        warehouse: &std::ffi::OsStr,
        data_dir: &Path,
        extra: &[String],
        envs: &[(String, String)],
    ) -> Self {
        let log = tempfile::NamedTempFile::new().expect("log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_floe"));
        for (key, value) in envs {
            if value.is_empty() {
                command.env_remove(key);
            } else {
                command.env(key, value);
            }
        }
        let mut child = command
            .arg("serve")
            .args(["--bind", "127.0.0.1:0"])
            .arg("--warehouse")
            .arg(warehouse)
            .arg("--data-dir")
            .arg(data_dir)
            .args(extra)
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
        let mut server = Self {
            child: Some(child),
            url: String::new(),
            warehouse: PathBuf::from(warehouse),
            data_dir: data_dir.to_path_buf(),
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
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "listening line {line:?}"
        );
        assert!(
            !url.ends_with(":0"),
            "the real port is printed, not 0: {line:?}"
        );
        server.url = url.to_string();
        server
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn url(&self) -> &str {
        &self.url
    }

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
    pub dirs: tempfile::TempDir,
    pub server: FloeServer,
    pub http: Http,
}

impl TestEnv {
    pub fn start() -> Self {
        let dirs = tempfile::tempdir().expect("temp dir");
        let server = FloeServer::start(&dirs.path().join("warehouse"), &dirs.path().join("data"));
        let http = Http::new(server.url());
        Self { dirs, server, http }
    }

    pub fn warehouse(&self) -> PathBuf {
        self.dirs.path().join("warehouse")
    }

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

/// An HTTP response: status and body (JSON, or `Value::Null` when empty / not JSON).
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: StatusCode,
    pub body: Value,
    pub text: String,
}

impl Resp {
    /// Asserts a 2xx status and returns the body.
    #[track_caller]
    pub fn ok(self) -> Value {
        assert!(
            self.status.is_success(),
            "expected success, got {} {}",
            self.status,
            self.text
        );
        self.body
    }

    /// Asserts an Iceberg error response: this status, `{"error": {message, type, code}}`
    /// with this type, the code equal to the status and a non-empty message.
    #[track_caller]
    pub fn error(&self, status: u16, kind: &str) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "wrong status; body: {}",
            self.text
        );
        let e = self
            .body
            .get("error")
            .unwrap_or_else(|| panic!("no error object: {}", self.text));
        assert_eq!(e["type"], kind, "wrong error type: {}", self.text);
        assert_eq!(
            e["code"], status,
            "error.code must equal the status: {}",
            self.text
        );
        let msg = e["message"].as_str().unwrap_or_default();
        assert!(!msg.trim().is_empty(), "empty error message: {}", self.text);
        self
    }

    /// The error message (after `error`).
    pub fn message(&self) -> String {
        self.body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// A JSON client of one server.
#[derive(Clone)]
pub struct Http {
    pub base: String,
    pub client: reqwest::Client,
}

impl Http {
    pub fn new(base: &str) -> Self {
        Self::with_builder(base, reqwest::Client::builder())
    }

    /// A client that opens a new connection for every request.
    pub fn unpooled(base: &str) -> Self {
        Self::with_builder(base, reqwest::Client::builder().pool_max_idle_per_host(0))
    }

    fn with_builder(base: &str, builder: reqwest::ClientBuilder) -> Self {
        let client = builder
            .timeout(Duration::from_secs(60))
            .build()
            .expect("http client");
        Self {
            base: base.to_string(),
            client,
        }
    }

    /// Sends `method` to `path` (starting with `/v1`, already encoded) with an optional raw body.
    pub async fn send(&self, method: Method, path: &str, body: Option<Vec<u8>>) -> Resp {
        self.try_send(method, path, body)
            .await
            .unwrap_or_else(|e| panic!("request {path}: {e:?}"))
    }

    pub async fn try_send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Resp, reqwest::Error> {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let text = resp.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Resp { status, body, text })
    }

    /// POSTs `body` over a raw connection while reading the answer at the same time, and
    /// returns the answer even when the server closed the connection before taking the
    /// whole body (as it does with a 413): an HTTP client would report the broken pipe of
    /// its write instead.
    pub async fn post_reading_early_answer(&self, path: &str, body: Vec<u8>) -> Resp {
        let authority = self.base.trim_start_matches("http://").to_string();
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: {authority}\r\ncontent-type: application/json\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        tokio::task::spawn_blocking(move || {
            use std::io::Write;
            let mut stream = std::net::TcpStream::connect(&authority).expect("connect");
            let mut writer = stream.try_clone().expect("clone the socket");
            let sender = std::thread::spawn(move || {
                // Write errors are expected once the server has answered and closed.
                let _ = writer.write_all(head.as_bytes());
                let _ = writer.write_all(&body);
            });
            stream
                .set_read_timeout(Some(Duration::from_secs(60)))
                .unwrap();
            let mut raw = Vec::new();
            let mut buf = [0u8; 64 * 1024];
            // Read until the server closes (or resets) the connection.
            while let Ok(n) = stream.read(&mut buf) {
                if n == 0 {
                    break;
                }
                raw.extend_from_slice(&buf[..n]);
            }
            let _ = stream.shutdown(std::net::Shutdown::Both);
            let _ = sender.join();
            parse_answer(&raw)
        })
        .await
        .unwrap()
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path, None).await
    }

    pub async fn head(&self, path: &str) -> StatusCode {
        self.send(Method::HEAD, path, None).await.status
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.send(Method::DELETE, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        self.send(Method::POST, path, Some(serde_json::to_vec(body).unwrap()))
            .await
    }

    pub async fn post_raw(&self, path: &str, body: &[u8]) -> Resp {
        self.send(Method::POST, path, Some(body.to_vec())).await
    }

    pub async fn create_namespace(&self, levels: &[&str], props: Value) {
        self.post(
            "/v1/namespaces",
            &json!({"namespace": levels, "properties": props}),
        )
        .await
        .ok();
    }

    /// Creates a table with `table_schema()` and returns the LoadTableResult.
    pub async fn create_table(&self, ns: &[&str], name: &str) -> Value {
        self.post(
            &tables_path(ns),
            &json!({"name": name, "schema": table_schema()}),
        )
        .await
        .ok()
    }

    pub async fn load_table(&self, ns: &[&str], name: &str) -> Value {
        self.get(&table_path(ns, name)).await.ok()
    }

    pub async fn metadata_location(&self, ns: &[&str], name: &str) -> String {
        let loaded = self.load_table(ns, name).await;
        loaded["metadata-location"]
            .as_str()
            .expect("metadata-location")
            .to_string()
    }

    /// Commits `set-properties` to a table; returns the response.
    pub async fn set_properties(&self, ns: &[&str], name: &str, props: Value) -> Resp {
        let body = json!({"requirements": [], "updates": [{"action": "set-properties", "updates": props}]});
        self.post(&table_path(ns, name), &body).await
    }

    /// Every page of a list endpoint (`key` is `namespaces` or `identifiers`), following
    /// `next-page-token`; returns the items and the number of pages.
    pub async fn list_all(&self, path: &str, key: &str, page_size: usize) -> (Vec<Value>, usize) {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        let mut token: Option<String> = None;
        for pages in 1..=1000 {
            let mut url = format!("{path}{sep}pageSize={page_size}");
            if let Some(t) = &token {
                url.push_str(&format!("&pageToken={}", encode(t)));
            }
            let page = self.get(&url).await.ok();
            let got = page[key]
                .as_array()
                .unwrap_or_else(|| panic!("no {key}: {page}"));
            assert!(got.len() <= page_size, "page larger than pageSize: {page}");
            items.extend(got.iter().cloned());
            match page.get("next-page-token").and_then(Value::as_str) {
                Some(t) => token = Some(t.to_string()),
                None => return (items, pages),
            }
        }
        panic!("pagination of {path} never ends");
    }
}

/// Percent-encodes one URL path segment or query value (everything but unreserved chars).
pub fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A namespace in URL form: levels encoded and joined by `%1F`.
pub fn ns_url(levels: &[&str]) -> String {
    levels
        .iter()
        .map(|l| encode(l))
        .collect::<Vec<_>>()
        .join("%1F")
}

pub fn ns_path(levels: &[&str]) -> String {
    format!("/v1/namespaces/{}", ns_url(levels))
}

pub fn tables_path(levels: &[&str]) -> String {
    format!("{}/tables", ns_path(levels))
}

pub fn table_path(levels: &[&str], table: &str) -> String {
    format!("{}/tables/{}", ns_path(levels), encode(table))
}

/// The schema of the test tables: `id long required`, `name string`.
pub fn table_schema() -> Value {
    json!({
        "type": "struct",
        "schema-id": 0,
        "fields": [
            {"id": 1, "name": "id", "type": "long", "required": true},
            {"id": 2, "name": "name", "type": "string", "required": false}
        ]
    })
}

/// Every file under `dir` (relative paths), recursively; empty when `dir` is missing.
pub fn list_files(dir: &Path) -> BTreeSet<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.insert(path.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

/// Reads and parses a metadata file (a plain path or `file:` URL); panics if it is not
/// valid table metadata.
pub fn read_metadata_file(location: &str) -> Value {
    let path = location.strip_prefix("file://").unwrap_or(location);
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("metadata file {location}: {e}"));
    let value: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{location}: {e}"));
    let _: iceberg::spec::TableMetadata = serde_json::from_value(value.clone())
        .unwrap_or_else(|e| panic!("{location} is not table metadata: {e}"));
    value
}

/// Sends one request over a raw TCP connection, path bytes exactly as given (no URL
/// normalization, so `..` segments reach the server), and parses the response.
pub async fn raw_request(base: &str, method: &str, path: &str) -> Resp {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.strip_prefix("http://").expect("http url");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("write request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read response");
    let raw = String::from_utf8_lossy(&raw).to_string();
    let (head, text) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let code: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {raw:?}"));
    Resp {
        status: StatusCode::from_u16(code).unwrap(),
        body: serde_json::from_str(text).unwrap_or(Value::Null),
        text: text.to_string(),
    }
}

/// The value of the Prometheus sample `name{labels}` (labels in the exporter's order) in
/// a `/metrics` text, if present.
pub fn metric_sample(text: &str, series: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

/// An HTTP/1.1 answer with a `content-length` body, as read off a raw connection.
fn parse_answer(raw: &[u8]) -> Resp {
    let text = String::from_utf8_lossy(raw).into_owned();
    let (head, rest) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete HTTP answer: {text:?}"));
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {head:?}"));
    let length = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(rest.len());
    let body_text = rest[..length.min(rest.len())].to_string();
    Resp {
        status: StatusCode::from_u16(status).unwrap(),
        body: serde_json::from_str(&body_text).unwrap_or(Value::Null),
        text: body_text,
    }
}
