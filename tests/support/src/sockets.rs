//! The TCP connections of a process, from Linux's `/proc`: the socket inodes among its
//! open files (`/proc/PID/fd`) matched against the kernel's TCP tables of its network
//! namespace (`/proc/PID/net/tcp` and `tcp6`).

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// `st` of an established connection in the kernel's TCP tables.
const ESTABLISHED: &str = "01";

/// The remote address of every established TCP connection process `pid` holds (an
/// IPv4-mapped IPv6 peer as its IPv4 address).
pub fn established_tcp_peers(pid: u32) -> Vec<SocketAddr> {
    let fd_dir = format!("/proc/{pid}/fd");
    let inodes: BTreeSet<u64> = std::fs::read_dir(&fd_dir)
        .unwrap_or_else(|e| panic!("{fd_dir}: {e}"))
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|target| {
            let target = target.to_str()?;
            target
                .strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect();
    let mut peers = Vec::new();
    for table in ["tcp", "tcp6"] {
        let path = format!("/proc/{pid}/net/{table}");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue; // no IPv6 in this kernel
        };
        for line in text.lines().skip(1) {
            // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid
            // timeout inode ...
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(remote), Some(state), Some(inode)) =
                (fields.get(2), fields.get(3), fields.get(9))
            else {
                continue;
            };
            let ours = inode.parse().is_ok_and(|i: u64| inodes.contains(&i));
            if ours && *state == ESTABLISHED {
                peers.push(
                    parse_address(remote).unwrap_or_else(|| {
                        panic!("unreadable address {remote:?} in {path}: {line}")
                    }),
                );
            }
        }
    }
    peers
}

/// `ADDR:PORT` as the TCP tables print it: the address as 32-bit words in host byte
/// order (one for IPv4, four for IPv6), the port as 16 bits, in hex.
fn parse_address(text: &str) -> Option<SocketAddr> {
    let (address, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let words: Vec<[u8; 4]> = (0..address.len() / 8)
        .map(|i| u32::from_str_radix(address.get(i * 8..i * 8 + 8)?, 16).ok())
        .collect::<Option<Vec<u32>>>()?
        .into_iter()
        .map(u32::to_ne_bytes)
        .collect();
    let ip = match words.as_slice() {
        [v4] => IpAddr::V4(Ipv4Addr::from(*v4)),
        [a, b, c, d] => {
            let mut bytes = [0u8; 16];
            for (chunk, word) in bytes.chunks_mut(4).zip([a, b, c, d]) {
                chunk.copy_from_slice(word);
            }
            let v6 = Ipv6Addr::from(bytes);
            v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}
