//! SHA-256 in lowercase hex, the one digest the catalog shows: hashed secrets in the
//! authentication settings, ETags and idempotency-key fingerprints.

use sha2::{Digest, Sha256};

/// The lowercase hex SHA-256 of `parts`, one after another (a caller that needs parts
/// kept apart puts a separator between them).
pub(crate) fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update(part);
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_hashed_as_one_text() {
        // `printf %s abc | sha256sum`
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(sha256_hex(&[b"abc"]), abc);
        assert_eq!(sha256_hex(&[b"a", b"", b"bc"]), abc);
    }
}
