//! ZooKeeper control for the cluster tests: the connect strings the test script exports,
//! four-letter-word probes, the TCP connections a process holds to ZooKeeper, and
//! stopping (SIGKILL) and restarting ensemble members.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::server::repo_root;
use crate::sockets::established_tcp_peers;

/// The ZooKeeper connect string in `var`, or `None` after printing `SKIP`.
pub fn zk_env(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Some(v.trim().to_string()),
        _ => {
            println!("SKIP: {var} is not set (scripts/test.sh starts ZooKeeper and sets it)");
            None
        }
    }
}

/// The commit-lock contender nodes of `table_uuid` in the catalog rooted at `root` (the
/// layout of `floe serve`'s lock manager: `<root>/locks/<key>`), read on a session of its
/// own.
pub async fn commit_lock_nodes(connect: &str, root: &str, table_uuid: &str) -> Vec<String> {
    use floe_locks::zookeeper_client::{Client, Error};
    let client = Client::connect(connect)
        .await
        .expect("connect to ZooKeeper");
    match client
        .list_children(&format!("{root}/locks/{table_uuid}"))
        .await
    {
        Ok(children) => children,
        Err(Error::NoNode) => Vec::new(),
        Err(e) => panic!("listing lock nodes: {e}"),
    }
}

/// Waits (up to 5 s) until no commit lock node of `table_uuid` is left: leases end and
/// a dead node's nodes go with its session.
pub async fn assert_no_commit_lock_left(connect: &str, root: &str, table_uuid: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let nodes = commit_lock_nodes(connect, root, table_uuid).await;
        if nodes.is_empty() {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "commit lock nodes left behind: {nodes:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends a ZooKeeper four-letter word to `addr` and returns the answer ("" on failure).
pub fn four_letter(addr: &str, word: &str) -> String {
    let mut out = String::new();
    if let Ok(mut s) = TcpStream::connect(addr) {
        let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
        if s.write_all(word.as_bytes()).is_ok() {
            let _ = s.read_to_string(&mut out);
        }
    }
    out
}

/// The `Mode:` of a member (`leader`, `follower`, `standalone`), `None` when it is not serving.
pub fn zk_mode(addr: &str) -> Option<String> {
    let answer = four_letter(addr, "srvr");
    let line = answer.lines().find_map(|l| l.strip_prefix("Mode: "))?;
    Some(line.trim().to_string())
}

/// How many established TCP connections process `pid` holds to the servers of the
/// ZooKeeper connect string `connect` (`host:port[,host:port...]`): one per open session.
pub fn zookeeper_connections(pid: u32, connect: &str) -> usize {
    let servers: Vec<SocketAddr> = connect
        .split(',')
        .flat_map(|server| {
            server
                .trim()
                .to_socket_addrs()
                .unwrap_or_else(|e| panic!("ZooKeeper server {server:?}: {e}"))
        })
        .collect();
    established_tcp_peers(pid)
        .iter()
        .filter(|peer| servers.contains(peer))
        .count()
}

fn zookeeper_script(args: &[&str]) -> Result<(), String> {
    let script = repo_root().join("scripts/zookeeper.sh");
    let out = Command::new(script)
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "zookeeper.sh {args:?}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// A stopped ensemble member (1-based, as in `zookeeper.sh`); started again by `restart`
/// or, whatever happens, when dropped.
pub struct StoppedMember {
    dir: PathBuf,
    member: usize,
    running: bool,
}

impl StoppedMember {
    pub fn stop(dir: &Path, member: usize) -> Self {
        // Not running from here on, whatever the script manages: Drop starts it.
        let guard = Self {
            dir: dir.to_path_buf(),
            member,
            running: false,
        };
        zookeeper_script(&["kill-one", &dir.to_string_lossy(), &member.to_string()])
            .unwrap_or_else(|e| panic!("{e}"));
        guard
    }

    /// Starts the member again and waits until it serves (`zookeeper.sh start-one`).
    pub fn restart(&mut self) {
        if !self.running {
            self.running = true;
            let (dir, i) = (self.dir.to_string_lossy(), self.member.to_string());
            zookeeper_script(&["start-one", &dir, &i]).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

impl Drop for StoppedMember {
    fn drop(&mut self) {
        if !self.running {
            self.running = true;
            let (dir, i) = (self.dir.to_string_lossy(), self.member.to_string());
            if let Err(e) = zookeeper_script(&["start-one", &dir, &i]) {
                eprintln!("could not restart ZooKeeper member {i}: {e}");
            }
        }
    }
}
