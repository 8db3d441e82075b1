//! Names of the ZooKeeper store's znodes: namespace levels and table names,
//! percent-encoded so that any valid name is one znode name (no `/`, no control
//! characters), with namespace levels joined by `.`.

use iceberg::NamespaceIdent;

use super::{Failure, StoreError};

pub fn encode(part: &str) -> String {
    let mut out = String::with_capacity(part.len());
    for b in part.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn decode(node: &str) -> Result<String, StoreError> {
    let corrupt = || StoreError::Failed(format!("corrupt znode name {node:?}").into());
    let bytes = node.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or_else(corrupt)?;
            let hex = std::str::from_utf8(hex).map_err(|_| corrupt())?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| corrupt())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| corrupt())
}

pub fn namespace_node(ns: &NamespaceIdent) -> String {
    ns.iter().map(|l| encode(l)).collect::<Vec<_>>().join(".")
}

pub fn namespace_from_node(node: &str) -> Result<NamespaceIdent, StoreError> {
    let levels = node.split('.').map(decode).collect::<Result<Vec<_>, _>>()?;
    NamespaceIdent::from_vec(levels).map_err(|e| StoreError::Failed(Failure::of(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn znode_names_round_trip_and_never_contain_separators() {
        for level in ["a", "Über", "x y", "a%b", "semi;colon", "-_"] {
            let enc = encode(level);
            assert!(!enc.contains('/') && !enc.contains('.'), "{enc}");
            assert_eq!(decode(&enc).unwrap(), level);
        }
        let ns = NamespaceIdent::from_strs(["a", "b c"]).unwrap();
        assert_eq!(namespace_from_node(&namespace_node(&ns)).unwrap(), ns);
        assert!(decode("%zz").is_err());
    }
}
