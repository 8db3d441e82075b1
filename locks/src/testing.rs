//! Helpers for tests against a real ZooKeeper server, for this crate's tests and for other
//! crates' (the `testing` feature): the server the test script started, the server's view
//! of its connections (the four-letter word `cons`), and a TCP proxy that cuts (a
//! partition) or resets connections and counts those it opens.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The connect string in `var`, or `None` after printing `SKIP`.
pub fn server(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(s) if !s.is_empty() => Some(s),
        _ => {
            println!("SKIP: {var} not set");
            None
        }
    }
}

/// The server's client connections (the four-letter word `cons`, which
/// `scripts/zookeeper.sh` allows): for each, the client's port and its session id (hex, as
/// in lock node names; connections without a session yet, like this one, are left out).
pub async fn connections(server: &str) -> Vec<(u16, String)> {
    let mut answer = String::new();
    let mut stream = TcpStream::connect(server)
        .await
        .expect("connect for `cons`");
    stream.write_all(b"cons").await.unwrap();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(
        !answer.contains("not in the whitelist"),
        "{server} refuses `cons`: start it with scripts/zookeeper.sh ({answer})"
    );
    // ` /127.0.0.1:42846[1](queued=0,recved=5,sent=5,sid=0x100008a1d2e0000,lop=PING,...)`
    let parse = |line: &str| {
        let (address, details) = line.trim().split_once('[')?;
        let port = address.rsplit_once(':')?.1.parse().ok()?;
        let sid = details.split_once("sid=0x")?.1.split([',', ')']).next()?;
        Some((port, sid.to_string()))
    };
    answer.lines().filter_map(parse).collect()
}

/// A TCP proxy to one ZooKeeper server that can cut every connection (a partition), or
/// reset connections right after passing on given requests. It notes the local port of
/// every connection it opens to the server.
pub struct Proxy {
    /// Where clients connect.
    pub addr: String,
    cut: watch::Sender<bool>,
    /// Requests to reset connections after, see [`Resets`].
    pub resets: Resets,
    upstream_ports: Arc<Mutex<Vec<u16>>>,
}

/// Op codes of requests after which to reset the connection, one set per reset, in order.
pub type Resets = Arc<Mutex<VecDeque<&'static [i32]>>>;

impl Proxy {
    /// Listens on a free port of 127.0.0.1 and forwards to `upstream`.
    pub async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (cut, cut_rx) = watch::channel(false);
        let resets = Resets::default();
        let upstream_ports = Arc::new(Mutex::new(Vec::new()));
        let (reset, ports) = (resets.clone(), upstream_ports.clone());
        tokio::spawn(async move {
            while let Ok((down, _)) = listener.accept().await {
                if *cut_rx.borrow() {
                    continue; // dropped at once: the server is unreachable
                }
                let (mut cut_rx, upstream) = (cut_rx.clone(), upstream.clone());
                let (reset, ports) = (reset.clone(), ports.clone());
                tokio::spawn(async move {
                    let Ok(up) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    if let Ok(local) = up.local_addr() {
                        ports.lock().unwrap().push(local.port());
                    }
                    tokio::select! {
                        _ = pump(down, up, reset) => {}
                        _ = cut_rx.wait_for(|cut| *cut) => {}
                    }
                });
            }
        });
        Proxy {
            addr,
            cut,
            resets,
            upstream_ports,
        }
    }

    /// Cuts every connection and refuses new ones (`true`), or lets them through again.
    pub fn set_cut(&self, cut: bool) {
        self.cut.send_replace(cut);
    }

    /// The local ports of the connections opened to the server so far, in order.
    pub fn upstream_ports(&self) -> Vec<u16> {
        self.upstream_ports.lock().unwrap().clone()
    }
}

/// Forwards both ways. A client write that starts with the next reset's op code is passed
/// on and given time to apply (its reply held back), then the client's socket is reset
/// (RST): the client reads "connection reset by peer".
async fn pump(down: TcpStream, up: TcpStream, resets: Resets) {
    let (mut down_read, mut down_write) = down.into_split();
    let (mut up_read, mut up_write) = up.into_split();
    let (mut requests, mut replies) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    loop {
        tokio::select! {
            n = down_read.read(&mut requests) => {
                let Ok(n @ 1..) = n else { return };
                if up_write.write_all(&requests[..n]).await.is_err() {
                    return;
                }
                let ops = op_codes(&requests[..n]);
                let due = |due: &&[i32]| ops.iter().any(|op| due.contains(op));
                let reset = {
                    let mut resets = resets.lock().unwrap();
                    resets.pop_front_if(|ops| due(ops)).is_some()
                };
                if reset {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    #[allow(deprecated)] // a zero linger does not block
                    down_read.as_ref().set_linger(Some(Duration::ZERO)).unwrap();
                    down_write.forget(); // no FIN first: closing the socket sends a RST
                    return;
                }
            }
            n = up_read.read(&mut replies) => {
                let Ok(n @ 1..) = n else { return };
                if down_write.write_all(&replies[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// The op codes of the requests in `bytes`, each framed as length, xid, op code, ... (all
/// big-endian). The session's connect request is framed too and reads as op code 0.
fn op_codes(mut bytes: &[u8]) -> Vec<i32> {
    let int = |b: &[u8], at: usize| i32::from_be_bytes(b[at..at + 4].try_into().unwrap());
    let mut ops = Vec::new();
    while bytes.len() >= 12 {
        ops.push(int(bytes, 8));
        let len = usize::try_from(int(bytes, 0)).unwrap_or(0);
        bytes = &bytes[(4 + len).min(bytes.len())..];
    }
    ops
}
