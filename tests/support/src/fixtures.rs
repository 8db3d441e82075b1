//! The committed test data under the repository's `fixtures/` (listed in
//! `fixtures/README.md`): change streams as CSV and Parquet, inputs the CLI must refuse,
//! and request bodies. Paths are relative to `fixtures/`.

use std::path::PathBuf;

use serde_json::Value;

use crate::server::repo_root;

/// The path of fixture `relative` (for example `changes/base-1.parquet`); panics when it
/// is missing.
pub fn fixture_path(relative: &str) -> PathBuf {
    let path = repo_root().join("fixtures").join(relative);
    assert!(path.is_file(), "no fixture {}", path.display());
    path
}

/// The bytes of fixture `relative`.
pub fn fixture_bytes(relative: &str) -> Vec<u8> {
    let path = fixture_path(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Fixture `relative` parsed as JSON.
pub fn fixture_json(relative: &str) -> Value {
    serde_json::from_slice(&fixture_bytes(relative))
        .unwrap_or_else(|e| panic!("fixture {relative} is not JSON: {e}"))
}
