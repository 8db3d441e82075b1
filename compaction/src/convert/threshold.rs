//! When a scheduled conversion is due, pure: the live delete files of a table, counted
//! per kind and per partition; a table is converted once one partition holds at least
//! `floe.convert-deletes.min-files` equality-delete files.

use std::collections::HashMap;

use floe_table::{LiveFile, Partition};
use iceberg::spec::DataContentType;

/// A table's live delete files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeleteFileCounts {
    /// Equality-delete files.
    pub equality: usize,
    /// Position-delete files.
    pub position: usize,
    /// The most equality-delete files one partition holds (unpartitioned ones left out:
    /// a conversion leaves them).
    pub most_equality_in_a_partition: usize,
}

impl DeleteFileCounts {
    /// Whether a conversion is due at `min_files` equality-delete files in a partition.
    pub fn due(&self, min_files: usize) -> bool {
        self.most_equality_in_a_partition >= min_files.max(1)
    }
}

/// The delete files among `files` (a table's live files).
pub fn delete_file_counts(files: &[LiveFile]) -> DeleteFileCounts {
    let mut per_partition: HashMap<&Partition, usize> = HashMap::new();
    let mut counts = DeleteFileCounts::default();
    for file in files {
        match file.content {
            DataContentType::EqualityDeletes => {
                counts.equality += 1;
                if !file.unpartitioned {
                    *per_partition.entry(&file.partition).or_default() += 1;
                }
            }
            DataContentType::PositionDeletes => counts.position += 1,
            DataContentType::Data => {}
        }
    }
    counts.most_equality_in_a_partition = per_partition.values().copied().max().unwrap_or(0);
    counts
}

#[cfg(test)]
mod tests {
    use iceberg::spec::{Literal, Struct};

    use super::*;

    fn file(content: DataContentType, bucket: i32, unpartitioned: bool) -> LiveFile {
        LiveFile {
            path: format!("{content:?}-{bucket}"),
            content,
            partition: Partition {
                spec_id: 0,
                value: Struct::from_iter([Some(Literal::int(bucket))]),
            },
            unpartitioned,
            sequence_number: 1,
            referenced_data_file: None,
        }
    }

    #[test]
    fn a_conversion_is_due_once_one_partition_has_enough_equality_deletes() {
        use DataContentType::*;
        let mut files = vec![file(Data, 0, false), file(PositionDeletes, 0, false)];
        files.extend((0..3).map(|_| file(EqualityDeletes, 0, false)));
        files.extend((0..2).map(|_| file(EqualityDeletes, 1, false)));
        files.extend((0..5).map(|_| file(EqualityDeletes, 2, true)));
        let counts = delete_file_counts(&files);
        assert_eq!(
            counts,
            DeleteFileCounts {
                equality: 10,
                position: 1,
                most_equality_in_a_partition: 3,
            }
        );
        // (min files, due)
        for (min, due) in [(1, true), (3, true), (4, false), (16, false), (0, true)] {
            assert_eq!(counts.due(min), due, "min {min}");
        }
        assert!(!delete_file_counts(&[]).due(1));
    }
}
