//! A small JSON-over-HTTP client of one server ([`Http`]) with the checks of Iceberg
//! error bodies ([`Resp::error`]); URL paths of namespaces and tables; requests sent over
//! a raw connection (paths exactly as given, answers read before the body is sent); and
//! the samples of a Prometheus `/metrics` text.

use std::io::Read;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// An HTTP response: status and body (JSON, or `Value::Null` when empty / not JSON).
#[derive(Debug, Clone)]
pub struct Resp {
    /// The status.
    pub status: StatusCode,
    /// The body as JSON (`Value::Null` when empty or not JSON).
    pub body: Value,
    /// The body as text.
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
    /// `http://HOST:PORT` of the server.
    pub base: String,
    /// The client, for requests the helpers do not cover.
    pub client: reqwest::Client,
}

impl Http {
    /// A client of the server at `base`.
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

    /// Like `send`, answering the transport error instead of panicking.
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

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path, None).await
    }

    /// `HEAD path`: the status.
    pub async fn head(&self, path: &str) -> StatusCode {
        self.send(Method::HEAD, path, None).await.status
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> Resp {
        self.send(Method::DELETE, path, None).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        self.send(Method::POST, path, Some(serde_json::to_vec(body).unwrap()))
            .await
    }

    /// `POST path` with these bytes as the body.
    pub async fn post_raw(&self, path: &str, body: &[u8]) -> Resp {
        self.send(Method::POST, path, Some(body.to_vec())).await
    }

    /// Creates a namespace; panics unless it succeeds.
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

    /// The LoadTableResult of `ns.name`; panics unless it succeeds.
    pub async fn load_table(&self, ns: &[&str], name: &str) -> Value {
        self.get(&table_path(ns, name)).await.ok()
    }

    /// The current metadata location of `ns.name`.
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

/// `/v1/namespaces/<namespace>`.
pub fn ns_path(levels: &[&str]) -> String {
    format!("/v1/namespaces/{}", ns_url(levels))
}

/// `/v1/namespaces/<namespace>/tables`.
pub fn tables_path(levels: &[&str]) -> String {
    format!("{}/tables", ns_path(levels))
}

/// `/v1/namespaces/<namespace>/tables/<table>`.
pub fn table_path(levels: &[&str], table: &str) -> String {
    format!("{}/tables/{}", ns_path(levels), encode(table))
}

/// `/v1/namespaces/<namespace>/views`.
pub fn views_path(levels: &[&str]) -> String {
    format!("{}/views", ns_path(levels))
}

/// `/v1/namespaces/<namespace>/views/<view>`.
pub fn view_path(levels: &[&str], view: &str) -> String {
    format!("{}/views/{}", ns_path(levels), encode(view))
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
