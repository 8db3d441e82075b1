//! What a local warehouse holds: every file under a directory (to compare before and
//! after a request), and metadata files read and checked to be table metadata.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

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
