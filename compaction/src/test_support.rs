//! Small helpers shared by the crate's unit tests.

use std::collections::HashMap;

/// A string map from literal pairs.
pub fn string_map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
