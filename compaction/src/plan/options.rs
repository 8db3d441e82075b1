//! The compaction options, named as Iceberg's `rewrite_data_files` names them: from the
//! table's properties (`floe.compaction.<option>`, the target also from
//! `write.target-file-size-bytes`), then overridden (from the command line) by name.
//! Other `floe.compaction.*` properties (such as `floe.compaction.enabled`) are not options
//! and are ignored; an override with an unknown name is an error. The min and max file
//! sizes default to 0.75 and 1.8 x the resolved target.

use std::collections::HashMap;

use floe_table::properties::{
    COMPACTION_OPTION_PREFIX as PREFIX, TARGET_FILE_SIZE as WRITE_TARGET,
};

// The option names.

/// Target size of the files written.
pub const TARGET_FILE_SIZE: &str = "target-file-size-bytes";
/// Files below are candidates.
pub const MIN_FILE_SIZE: &str = "min-file-size-bytes";
/// Files above are split.
pub const MAX_FILE_SIZE: &str = "max-file-size-bytes";
/// Fewest files a group needs, unless its deletes call for a rewrite.
pub const MIN_INPUT_FILES: &str = "min-input-files";
/// A file with at least this many deletes applying is rewritten.
pub const DELETE_FILE_THRESHOLD: &str = "delete-file-threshold";
/// A group whose deletes are at least this share of its rows is rewritten.
pub const DELETE_RATIO_THRESHOLD: &str = "delete-ratio-threshold";
/// Groups rewritten at once.
pub const MAX_CONCURRENT: &str = "max-concurrent-file-group-rewrites";
/// The most bytes of input in one group.
pub const MAX_GROUP_SIZE: &str = "max-file-group-size-bytes";
/// Whether each group's output is checked against its input before it commits (Floe's
/// own option, not Iceberg's).
pub const VERIFY: &str = "verify";
/// Every option name.
pub const NAMES: [&str; 9] = [
    TARGET_FILE_SIZE,
    MIN_FILE_SIZE,
    MAX_FILE_SIZE,
    MIN_INPUT_FILES,
    DELETE_FILE_THRESHOLD,
    DELETE_RATIO_THRESHOLD,
    MAX_CONCURRENT,
    MAX_GROUP_SIZE,
    VERIFY,
];

/// The options of one compaction run.
#[derive(Clone, Debug, PartialEq)]
pub struct CompactionOptions {
    /// Default 128 MiB.
    pub target_file_size_bytes: u64,
    /// Files below are candidates. Default 0.75 x target.
    pub min_file_size_bytes: u64,
    /// Files above are split. Default 1.8 x target.
    pub max_file_size_bytes: u64,
    /// Fewest files a group needs, unless its deletes call for it. Default 5.
    pub min_input_files: usize,
    /// A file with at least this many deletes applying is rewritten. Default: never (as
    /// Iceberg Java's `Integer.MAX_VALUE`).
    pub delete_file_threshold: usize,
    /// A group whose deletes are at least this share of its rows is rewritten. Default 0.3.
    pub delete_ratio_threshold: f64,
    /// Groups rewritten at once. Default 4.
    pub max_concurrent_file_group_rewrites: usize,
    /// The most bytes of input in one group. Default 100 GiB, as in Iceberg Java (or the
    /// max file size, when larger): a partition is usually one group, so a run leaves at
    /// most one small file in it.
    pub max_file_group_size_bytes: u64,
    /// Check each group's output files against its input rows (after deletes) before it
    /// commits: row count and per-column digests. Default true.
    pub verify: bool,
}

/// A bad option: which one, where it came from, what was wrong.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("compaction option {name} ({source_of}): {problem}")]
pub struct OptionError {
    /// The option.
    pub name: String,
    /// Where its value came from: a table property, an override, the default.
    pub source_of: String,
    /// What is wrong.
    pub problem: String,
}

/// Parses a size: plain bytes, or with a unit (`B`, `KiB`, `MiB`, `GiB`, `KB`, `MB`, `GB`).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a size like 134217728 or 128MiB"))?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => return Err(format!("unknown size unit {other:?} in {text:?}")),
    };
    number
        .checked_mul(factor)
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// The given values by option name, each with where it came from.
struct Given(HashMap<&'static str, (String, String)>);

impl Given {
    fn error(&self, name: &str, problem: impl Into<String>) -> OptionError {
        let source_of = self
            .0
            .get(name)
            .map_or("default".to_string(), |(s, _)| s.clone());
        OptionError {
            name: name.to_string(),
            source_of,
            problem: problem.into(),
        }
    }

    fn size(&self, name: &'static str) -> Result<Option<u64>, OptionError> {
        self.0
            .get(name)
            .map(|(_, v)| parse_size(v).map_err(|e| self.error(name, e)))
            .transpose()
    }

    fn count(&self, name: &'static str) -> Result<Option<usize>, OptionError> {
        self.0
            .get(name)
            .map(|(_, v)| {
                v.trim()
                    .parse::<usize>()
                    .map_err(|_| self.error(name, format!("{v:?} is not a whole number")))
            })
            .transpose()
    }
}

impl CompactionOptions {
    /// The options for a table with `properties`, then `overrides` by option name.
    pub fn resolve(
        properties: &HashMap<String, String>,
        overrides: &[(String, String)],
    ) -> Result<Self, OptionError> {
        let mut given = Given(HashMap::new());
        if let Some(v) = properties.get(WRITE_TARGET) {
            given.0.insert(
                TARGET_FILE_SIZE,
                (format!("table property {WRITE_TARGET}"), v.clone()),
            );
        }
        for name in NAMES {
            if let Some(v) = properties.get(&format!("{PREFIX}{name}")) {
                let source = format!("table property {PREFIX}{name}");
                given.0.insert(name, (source, v.clone()));
            }
        }
        for (name, value) in overrides {
            let known = NAMES
                .iter()
                .find(|n| **n == name)
                .ok_or_else(|| OptionError {
                    name: name.clone(),
                    source_of: "override".into(),
                    problem: format!("unknown option; known: {}", NAMES.join(", ")),
                })?;
            given
                .0
                .insert(known, (format!("override {name}"), value.clone()));
        }
        let target = given.size(TARGET_FILE_SIZE)?.unwrap_or(128 << 20);
        if target == 0 {
            return Err(given.error(TARGET_FILE_SIZE, "must be more than 0"));
        }
        let min = given
            .size(MIN_FILE_SIZE)?
            .unwrap_or((target as f64 * 0.75) as u64);
        let max = given
            .size(MAX_FILE_SIZE)?
            .unwrap_or((target as f64 * 1.8) as u64);
        if min > target {
            return Err(given.error(MIN_FILE_SIZE, format!("{min} is above the target {target}")));
        }
        if max < target {
            return Err(given.error(MAX_FILE_SIZE, format!("{max} is below the target {target}")));
        }
        let min_input_files = given.count(MIN_INPUT_FILES)?.unwrap_or(5);
        if min_input_files == 0 {
            return Err(given.error(MIN_INPUT_FILES, "must be at least 1"));
        }
        let delete_file_threshold = given.count(DELETE_FILE_THRESHOLD)?.unwrap_or(usize::MAX);
        if delete_file_threshold == 0 {
            return Err(given.error(DELETE_FILE_THRESHOLD, "must be at least 1"));
        }
        let ratio = match given.0.get(DELETE_RATIO_THRESHOLD) {
            None => 0.3,
            Some((_, v)) => v.trim().parse::<f64>().map_err(|_| {
                given.error(DELETE_RATIO_THRESHOLD, format!("{v:?} is not a number"))
            })?,
        };
        if !(ratio > 0.0 && ratio <= 1.0) {
            return Err(given.error(DELETE_RATIO_THRESHOLD, format!("{ratio} is not in (0, 1]")));
        }
        // By default at least one file of the max size fits a group, however large the target.
        let max_group = given.size(MAX_GROUP_SIZE)?.unwrap_or(max.max(100 << 30));
        if max_group < max {
            return Err(given.error(
                MAX_GROUP_SIZE,
                format!("{max_group} is below the max file size {max}"),
            ));
        }
        let concurrency = given.count(MAX_CONCURRENT)?.unwrap_or(4);
        if concurrency == 0 {
            return Err(given.error(MAX_CONCURRENT, "must be at least 1"));
        }
        let verify = match given.0.get(VERIFY) {
            None => true,
            Some((_, v)) => match v.trim() {
                "true" => true,
                "false" => false,
                _ => return Err(given.error(VERIFY, format!("{v:?} is not true or false"))),
            },
        };
        Ok(Self {
            verify,
            target_file_size_bytes: target,
            min_file_size_bytes: min,
            max_file_size_bytes: max,
            min_input_files,
            delete_file_threshold,
            delete_ratio_threshold: ratio,
            max_concurrent_file_group_rewrites: concurrency,
            max_file_group_size_bytes: max_group,
        })
    }
}

#[cfg(test)]
#[path = "options_tests.rs"]
mod tests;
