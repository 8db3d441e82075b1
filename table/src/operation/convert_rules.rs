//! The rules of converting a partition's equality deletes into position deletes, pure:
//! what a conversion must convert, fold and read (`conversions_of`), whether it can still commit
//! on the current table (`validate_conversion`), and which delete files its commit removes
//! (the converted ones, and every delete file of the partition that no live data file is
//! left for: `dangling_deletes`).
//!
//! A conversion reads, on the snapshot of sequence number S0, the partition's live
//! equality-delete files and the live data files they may apply to (data sequence number
//! below theirs), and writes position deletes for the rows they hide. Upserts committed
//! meanwhile are no conflict: their data files have sequence numbers above S0, which the
//! converted deletes never applied to, and their own deletes are not converted. A
//! compaction committed meanwhile is: it may have removed a data file read (its rows now
//! live in a new file the conversion did not read) or a converted delete, so the
//! partition is skipped and converted another time. The partition's position-delete files
//! are folded into the conversion's own: their positions are copied, and with the data
//! sequence number of S0 (at or above theirs) they still apply to the same rows.

use std::collections::BTreeSet;

use iceberg::spec::DataContentType;

use super::replace_rules::may_apply;
use crate::files::{LiveFile, Partition};

/// One partition's conversion, as planned on the snapshot of sequence number
/// `start_sequence`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeleteConversion {
    /// The partition.
    pub partition: Partition,
    /// The sequence number of the snapshot read.
    pub start_sequence: i64,
    /// The equality-delete files converted.
    pub converted: BTreeSet<String>,
    /// The data files they may apply to, whose key columns are read.
    pub read: BTreeSet<String>,
    /// The partition's position-delete files, folded into the conversion's own (their
    /// positions copied): readers open one position-delete file per partition instead.
    pub folded: BTreeSet<String>,
}

/// The conversion of each partition of `files` (the live files of the snapshot of
/// sequence number `start_sequence`) holding an equality-delete file. Equality deletes of
/// an unpartitioned spec apply to every partition and are left alone.
pub fn conversions_of(files: &[LiveFile], start_sequence: i64) -> Vec<DeleteConversion> {
    let is_converted =
        |f: &&LiveFile| f.content == DataContentType::EqualityDeletes && !f.unpartitioned;
    let mut partitions: Vec<&Partition> = Vec::new();
    for f in files.iter().filter(is_converted) {
        if !partitions.contains(&&f.partition) {
            partitions.push(&f.partition);
        }
    }
    let mut out = Vec::new();
    for partition in partitions {
        let converted: Vec<&LiveFile> = files
            .iter()
            .filter(is_converted)
            .filter(|f| &f.partition == partition)
            .collect();
        let read = files
            .iter()
            .filter(|f| f.content == DataContentType::Data)
            .filter(|d| converted.iter().any(|e| may_apply(e, d)))
            .map(|d| d.path.clone())
            .collect();
        let folded = files
            .iter()
            .filter(|f| f.content == DataContentType::PositionDeletes && !f.unpartitioned)
            .filter(|f| &f.partition == partition)
            .map(|f| f.path.clone())
            .collect();
        out.push(DeleteConversion {
            partition: partition.clone(),
            start_sequence,
            converted: converted.iter().map(|e| e.path.clone()).collect(),
            read,
            folded,
        });
    }
    out
}

/// Why a partition's conversion cannot commit on the current table.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConversionConflict {
    /// Another commit removed some of the converted equality-delete files.
    #[error(
        "converted equality-delete files are no longer live (another commit removed them): {0:?}"
    )]
    DeletesGone(Vec<String>),
    /// Another commit removed some of the data files read.
    #[error(
        "data files the conversion read are no longer live (another commit replaced them): {0:?}"
    )]
    DataFilesGone(Vec<String>),
    /// Data files the converted deletes apply to, which the conversion did not read (a
    /// compaction's output, keeping an older sequence number).
    #[error("data files the converted deletes apply to were committed after the conversion read the partition: {0:?}")]
    NewDataFiles(Vec<String>),
}

/// Checks that `conversion` can commit on a table whose live files are now `current`.
pub fn validate_conversion(
    conversion: &DeleteConversion,
    current: &[LiveFile],
) -> Result<(), ConversionConflict> {
    let live = |content: DataContentType| -> BTreeSet<&str> {
        current
            .iter()
            .filter(|f| f.content == content)
            .map(|f| f.path.as_str())
            .collect()
    };
    let gone = |wanted: &BTreeSet<String>, live: &BTreeSet<&str>| -> Vec<String> {
        wanted
            .iter()
            .filter(|p| !live.contains(p.as_str()))
            .cloned()
            .collect()
    };
    let mut deletes = gone(
        &conversion.converted,
        &live(DataContentType::EqualityDeletes),
    );
    deletes.extend(gone(
        &conversion.folded,
        &live(DataContentType::PositionDeletes),
    ));
    if !deletes.is_empty() {
        return Err(ConversionConflict::DeletesGone(deletes));
    }
    let data = gone(&conversion.read, &live(DataContentType::Data));
    if !data.is_empty() {
        return Err(ConversionConflict::DataFilesGone(data));
    }
    let converted: Vec<&LiveFile> = current
        .iter()
        .filter(|f| conversion.converted.contains(&f.path))
        .collect();
    let unread: Vec<String> = current
        .iter()
        .filter(|d| d.content == DataContentType::Data && !conversion.read.contains(&d.path))
        .filter(|d| converted.iter().any(|e| may_apply(e, d)))
        .map(|d| d.path.clone())
        .collect();
    if !unread.is_empty() {
        return Err(ConversionConflict::NewDataFiles(unread));
    }
    Ok(())
}

/// The delete files of `partition` (not unpartitioned ones) among `current` that apply to
/// no live data file any more.
pub fn dangling_deletes(partition: &Partition, current: &[LiveFile]) -> BTreeSet<String> {
    let data: Vec<&LiveFile> = current
        .iter()
        .filter(|f| f.content == DataContentType::Data)
        .collect();
    current
        .iter()
        .filter(|d| d.content != DataContentType::Data && !d.unpartitioned)
        .filter(|d| d.partition == *partition)
        .filter(|d| !data.iter().any(|f| may_apply(d, f)))
        .map(|d| d.path.clone())
        .collect()
}

#[cfg(test)]
#[path = "convert_rules_tests.rs"]
mod tests;
