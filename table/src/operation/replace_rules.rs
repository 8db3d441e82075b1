//! The rules of a compaction commit (a `replace` snapshot), pure: which delete file may
//! apply to which data file (the sequence-number rules), whether a rewritten group can
//! still commit on the current table, and which delete files it can remove with it.
//!
//! A rewritten group's new files keep the data sequence number of the snapshot the
//! compaction started from (S0). Deletes committed after S0 have higher sequence numbers:
//! an equality delete still hides the rewritten rows (it applies to data of a lower
//! sequence number), so concurrent upserts are no conflict. A position delete committed
//! after S0 against a rewritten file would be lost (its file is gone): that is a conflict,
//! and the group is skipped.

use std::collections::{BTreeMap, BTreeSet};

use iceberg::spec::DataContentType;

use crate::files::{LiveFile, Partition};

/// Whether delete file `delete` may hide rows of data file `data` (Iceberg v2 rules):
/// same partition (or an unpartitioned delete), and an equality delete applies to data of
/// a strictly lower sequence number, a position delete to data of a lower or equal one
/// (and only to the file it references, when it references one).
pub fn may_apply(delete: &LiveFile, data: &LiveFile) -> bool {
    let same_partition = delete.unpartitioned || delete.partition == data.partition;
    same_partition
        && match delete.content {
            DataContentType::EqualityDeletes => data.sequence_number < delete.sequence_number,
            DataContentType::PositionDeletes => {
                data.sequence_number <= delete.sequence_number
                    && delete
                        .referenced_data_file
                        .as_ref()
                        .is_none_or(|p| *p == data.path)
            }
            DataContentType::Data => false,
        }
}

/// For every data file among `files`, the delete files among them that may apply to it.
pub fn deletes_by_data_file(files: &[LiveFile]) -> BTreeMap<String, Vec<String>> {
    let (data, deletes): (Vec<&LiveFile>, Vec<&LiveFile>) = files
        .iter()
        .partition(|f| f.content == DataContentType::Data);
    data.iter()
        .map(|f| {
            let applying = deletes
                .iter()
                .filter(|d| may_apply(d, f))
                .map(|d| d.path.clone())
                .collect();
            (f.path.clone(), applying)
        })
        .collect()
}

/// Why a rewritten group cannot commit on the current table.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplaceConflict {
    /// Another commit replaced some of the group's data files.
    #[error("rewritten data files are no longer live (another commit replaced them): {0:?}")]
    DataFilesGone(Vec<String>),
    /// Position deletes that would be lost point at some of the group's data files.
    #[error(
        "position deletes committed after the compaction started point at rewritten files: {0:?}"
    )]
    NewPositionDeletes(Vec<String>),
}

/// Checks that a group rewritten from the snapshot of sequence number `start_sequence`
/// can replace `group` on a table whose live files are now `current`.
pub fn validate(
    group: &BTreeSet<String>,
    start_sequence: i64,
    current: &[LiveFile],
) -> Result<(), ReplaceConflict> {
    let live: BTreeSet<&str> = current
        .iter()
        .filter(|f| f.content == DataContentType::Data)
        .map(|f| f.path.as_str())
        .collect();
    let gone: Vec<String> = group
        .iter()
        .filter(|p| !live.contains(p.as_str()))
        .cloned()
        .collect();
    if !gone.is_empty() {
        return Err(ReplaceConflict::DataFilesGone(gone));
    }
    let group_files: Vec<&LiveFile> = current.iter().filter(|f| group.contains(&f.path)).collect();
    let new_position_deletes: Vec<String> = current
        .iter()
        .filter(|d| {
            d.content == DataContentType::PositionDeletes && d.sequence_number > start_sequence
        })
        .filter(|d| group_files.iter().any(|f| may_apply(d, f)))
        .map(|d| d.path.clone())
        .collect();
    if !new_position_deletes.is_empty() {
        return Err(ReplaceConflict::NewPositionDeletes(new_position_deletes));
    }
    Ok(())
}

/// The delete files that replacing `group` makes useless, among `current` (the table's
/// live files now): in the group's partition (or unpartitioned), committed at or before
/// the start, and applying to no live data file outside the group. The group's new files
/// keep the start's sequence number, so no such delete applies to them.
pub fn removable_deletes(
    group: &BTreeSet<String>,
    group_partition: &Partition,
    start_sequence: i64,
    current: &[LiveFile],
) -> BTreeSet<String> {
    let data: Vec<&LiveFile> = current
        .iter()
        .filter(|f| f.content == DataContentType::Data && !group.contains(&f.path))
        .collect();
    current
        .iter()
        .filter(|d| d.content != DataContentType::Data)
        .filter(|d| d.sequence_number <= start_sequence)
        .filter(|d| d.unpartitioned || d.partition == *group_partition)
        .filter(|d| !data.iter().any(|f| may_apply(d, f)))
        .map(|d| d.path.clone())
        .collect()
}

#[cfg(test)]
#[path = "replace_rules_tests.rs"]
mod tests;
