//! The compaction planner: a pure function of a table's live files and the options.
//!
//! Per partition, a data file is a candidate when it is smaller than `min-file-size`,
//! larger than `max-file-size` (it is split), or has deletes that apply to it. Candidates
//! are bin-packed (first fit, largest first) into groups of at most
//! `max-file-group-size` bytes (100 GiB: a partition is usually one group), each written
//! as target-sized files and one smaller remainder. A group is rewritten when it has
//! `min-input-files` files, or a file with `delete-file-threshold` deletes, or deletes of
//! at least `delete-ratio-threshold` of its rows, or a file to split; never a lone file
//! without deletes (rewriting it would change nothing). So planning again on the output
//! of a compaction (target-sized files, at most one remainder per partition, no deletes)
//! plans nothing: compaction settles. (Groups of only about the target size would leave
//! a remainder per group, and those remainders would be planned again.) A group expects
//! `ceil(bytes / target)` output files; partitions come in the order they first appear.

use std::collections::{BTreeSet, HashMap};

mod options;

pub use options::{parse_size, CompactionOptions, OptionError, NAMES as OPTION_NAMES};
pub(crate) use options::{MIN_INPUT_FILES, TARGET_FILE_SIZE};

use floe_table::Partition;

/// The kind of a delete file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeleteKind {
    /// Equality deletes: rows with these key values.
    Equality,
    /// Position deletes: rows at these positions of data files.
    Position,
}

/// What the planner knows of a live delete file.
#[derive(Clone, Debug)]
pub struct DeleteFileInfo {
    /// Its location.
    pub path: String,
    /// Equality or position deletes.
    pub kind: DeleteKind,
    /// Deletes it holds.
    pub record_count: u64,
    /// Its size.
    pub size_bytes: u64,
}

/// What the planner knows of a live data file.
#[derive(Clone, Debug)]
pub struct DataFileInfo {
    /// Its location.
    pub path: String,
    /// Its partition.
    pub partition: Partition,
    /// Its size.
    pub size_bytes: u64,
    /// Rows it holds, before deletes.
    pub record_count: u64,
    /// Indexes into the delete files: those that may apply to this file.
    pub deletes: Vec<usize>,
}

/// Why a group is rewritten.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupReason {
    /// It has `min-input-files` files.
    EnoughInputFiles,
    /// A file has `delete-file-threshold` deletes applying.
    TooManyDeleteFiles,
    /// Its deletes are `delete-ratio-threshold` of its rows.
    HighDeleteRatio,
    /// A file is above `max-file-size` and is split.
    FileTooLarge,
}

/// Data files of one partition to rewrite together.
#[derive(Clone, Debug)]
pub struct FileGroup {
    /// The partition of every file of the group.
    pub partition: Partition,
    /// Indexes into the data files.
    pub data_files: Vec<usize>,
    /// Indexes into the delete files: the union of those applying to the group, sorted.
    pub delete_files: Vec<usize>,
    /// Bytes of its data files.
    pub input_bytes: u64,
    /// Rows of its data files, before deletes.
    pub input_records: u64,
    /// Deletes of its delete files.
    pub delete_records: u64,
    /// Files the rewrite should write: `ceil(bytes / target)`.
    pub expected_output_files: usize,
    /// Why it is rewritten.
    pub reason: GroupReason,
}

/// Totals of a plan.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlanSummary {
    /// Groups.
    pub groups: usize,
    /// Data files of every group.
    pub data_files: usize,
    /// Delete files of every group (a file applying to two groups counts twice).
    pub delete_files: usize,
    /// Bytes of the data files.
    pub input_bytes: u64,
    /// Rows of the data files.
    pub input_records: u64,
}

/// The totals of `groups`.
pub fn summarize(groups: &[FileGroup]) -> PlanSummary {
    PlanSummary {
        groups: groups.len(),
        data_files: groups.iter().map(|g| g.data_files.len()).sum(),
        delete_files: groups.iter().map(|g| g.delete_files.len()).sum(),
        input_bytes: groups.iter().map(|g| g.input_bytes).sum(),
        input_records: groups.iter().map(|g| g.input_records).sum(),
    }
}

/// The groups to rewrite, partitions in the order they first appear in `data`.
pub fn plan(
    data: &[DataFileInfo],
    deletes: &[DeleteFileInfo],
    options: &CompactionOptions,
) -> Vec<FileGroup> {
    let mut partitions: Vec<&Partition> = Vec::new();
    let mut candidates: HashMap<&Partition, Vec<usize>> = HashMap::new();
    for (i, file) in data.iter().enumerate() {
        let small = file.size_bytes < options.min_file_size_bytes;
        let large = file.size_bytes > options.max_file_size_bytes;
        let list = candidates.entry(&file.partition).or_insert_with(|| {
            partitions.push(&file.partition);
            Vec::new()
        });
        if small || large || !file.deletes.is_empty() {
            list.push(i);
        }
    }
    let mut groups = Vec::new();
    for partition in partitions {
        for bin in bin_pack(data, &candidates[partition], options) {
            if let Some(group) = group_of(data, deletes, bin, options) {
                groups.push(group);
            }
        }
    }
    groups
}

/// First fit decreasing into bins of at most `max-file-group-size`; a file too large for
/// any bin gets its own.
fn bin_pack(
    data: &[DataFileInfo],
    files: &[usize],
    options: &CompactionOptions,
) -> Vec<Vec<usize>> {
    let mut order = files.to_vec();
    order.sort_by(|&a, &b| {
        data[b]
            .size_bytes
            .cmp(&data[a].size_bytes)
            .then_with(|| data[a].path.cmp(&data[b].path))
            .then(a.cmp(&b))
    });
    let capacity = options.max_file_group_size_bytes;
    let mut bins: Vec<(u64, Vec<usize>)> = Vec::new();
    for i in order {
        let size = data[i].size_bytes;
        match bins.iter_mut().find(|(used, _)| used + size <= capacity) {
            Some((used, bin)) => {
                *used += size;
                bin.push(i);
            }
            None => bins.push((size, vec![i])),
        }
    }
    bins.into_iter().map(|(_, bin)| bin).collect()
}

fn group_of(
    data: &[DataFileInfo],
    deletes: &[DeleteFileInfo],
    files: Vec<usize>,
    options: &CompactionOptions,
) -> Option<FileGroup> {
    let input_bytes: u64 = files.iter().map(|&i| data[i].size_bytes).sum();
    let input_records: u64 = files.iter().map(|&i| data[i].record_count).sum();
    let delete_files: BTreeSet<usize> = files
        .iter()
        .flat_map(|&i| data[i].deletes.iter().copied())
        .collect();
    let delete_records: u64 = delete_files.iter().map(|&d| deletes[d].record_count).sum();
    let too_large = files
        .iter()
        .any(|&i| data[i].size_bytes > options.max_file_size_bytes);
    if files.len() == 1 && delete_files.is_empty() && !too_large {
        return None; // Rewriting it would change nothing, whatever the options say.
    }
    let reason = if files.len() >= options.min_input_files {
        GroupReason::EnoughInputFiles
    } else if files
        .iter()
        .any(|&i| data[i].deletes.len() >= options.delete_file_threshold)
    {
        GroupReason::TooManyDeleteFiles
    } else if !delete_files.is_empty()
        && delete_records as f64 >= options.delete_ratio_threshold * input_records.max(1) as f64
    {
        GroupReason::HighDeleteRatio
    } else if too_large {
        GroupReason::FileTooLarge
    } else {
        return None;
    };
    // The rolling writer writes target-sized files and the remainder last.
    let target = options.target_file_size_bytes.max(1);
    let expected_output_files = input_bytes.div_ceil(target).max(1) as usize;
    Some(FileGroup {
        partition: data[files[0]].partition.clone(),
        data_files: files,
        delete_files: delete_files.into_iter().collect(),
        input_bytes,
        input_records,
        delete_records,
        expected_output_files,
        reason,
    })
}

#[cfg(test)]
#[path = "planner_tests.rs"]
mod tests;
