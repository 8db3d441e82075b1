//! Checks of a table after concurrent or failing commits: exactly the acknowledged
//! files, a linear history, and metadata files that exist and parse.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use iceberg::spec::TableMetadata;
use iceberg::table::Table;

use crate::cluster::{live_entries, Ack};
use crate::http::{table_path, Http};
use crate::scan::scan_ids;
use crate::warehouse::read_metadata_file;

/// Checks the final table: its live data files are exactly `expected` (path → id), each
/// once; a scan returns each id once; the history is one line of one-file appends,
/// sequence numbers 1..=n, `main` at the last; and the metadata files are all readable.
/// Returns the live entries (path, adding snapshot).
pub async fn verify_table(table: &Table, expected: &BTreeMap<String, i64>) -> Vec<(String, i64)> {
    let entries = live_entries(table).await;
    let mut live: Vec<String> = entries.iter().map(|e| e.0.clone()).collect();
    live.sort();
    let distinct: Vec<String> = expected.keys().cloned().collect();
    assert_eq!(live.len(), distinct.len(), "live data files: {live:?}");
    assert_eq!(
        live, distinct,
        "the live data files are the acknowledged ones, once each"
    );
    let mut want_ids: Vec<i64> = expected.values().copied().collect();
    want_ids.sort();
    let mut distinct_ids = want_ids.clone();
    distinct_ids.dedup();
    assert_eq!(
        distinct_ids, want_ids,
        "the test gave every file its own id"
    );
    assert_eq!(scan_ids(table).await, want_ids, "a scan sees each row once");

    let md = table.metadata();
    assert_linear_history(md, expected.len());
    let location = table
        .metadata_location()
        .expect("a loaded table has a location");
    assert_metadata_files(location, md);
    entries
}

/// `verify_table` with the acknowledged appends as the expected files, and each 200
/// answer's snapshot is the one that added its file; every snapshot added one live file.
pub async fn verify_acks(table: &Table, acks: &[Ack]) {
    let expected: BTreeMap<String, i64> = acks.iter().map(|a| (a.file.clone(), a.id)).collect();
    assert_eq!(
        expected.len(),
        acks.len(),
        "every append wrote its own file"
    );
    let added_by: HashMap<String, i64> = verify_table(table, &expected).await.into_iter().collect();
    for a in acks {
        if let Some(s) = a.snapshot_id {
            assert_eq!(
                added_by[&a.file], s,
                "the snapshot acknowledged for {}",
                a.file
            );
        }
    }
    let adders: BTreeSet<i64> = added_by.values().copied().collect();
    let snapshots: BTreeSet<i64> = table
        .metadata()
        .snapshots()
        .map(|s| s.snapshot_id())
        .collect();
    assert_eq!(adders, snapshots, "each snapshot added one live file");
    assert_log_lists(
        table,
        acks.iter().filter_map(|a| a.metadata_location.as_deref()),
    );
}

/// Every metadata file in `acknowledged` is the table's current one or in its metadata log
/// (unless the log was trimmed to `write.metadata.previous-versions-max`, 100 by default).
pub fn assert_log_lists<'a>(table: &Table, acknowledged: impl Iterator<Item = &'a str>) {
    let metadata = table.metadata();
    let mut listed: BTreeSet<&str> = (metadata.metadata_log().iter())
        .map(|l| l.metadata_file.as_str())
        .collect();
    if listed.len() >= 100 {
        return;
    }
    listed.extend(table.metadata_location());
    for location in acknowledged {
        assert!(
            listed.contains(location),
            "{location} is not in the metadata log"
        );
    }
}

/// `n` snapshots in one chain: sequence numbers 1..=n, each the parent of the next, each
/// adding one data file, `main` and the current snapshot at the last.
pub fn assert_linear_history(md: &TableMetadata, n: usize) {
    let mut snaps: Vec<_> = md.snapshots().cloned().collect();
    snaps.sort_by_key(|s| s.sequence_number());
    let seqs: Vec<i64> = snaps.iter().map(|s| s.sequence_number()).collect();
    assert_eq!(seqs, (1..=n as i64).collect::<Vec<_>>(), "sequence numbers");
    assert_eq!(
        snaps[0].parent_snapshot_id(),
        None,
        "the first has no parent"
    );
    for pair in snaps.windows(2) {
        assert_eq!(
            pair[1].parent_snapshot_id(),
            Some(pair[0].snapshot_id()),
            "snapshot {} (seq {}) must follow the one before",
            pair[1].snapshot_id(),
            pair[1].sequence_number()
        );
    }
    for s in &snaps {
        let added = s.summary().additional_properties.get("added-data-files");
        assert_eq!(added.map(String::as_str), Some("1"), "snapshot {s:?}");
    }
    let last = snaps.last().unwrap().snapshot_id();
    assert_eq!(md.snapshot_for_ref("main").unwrap().snapshot_id(), last);
    assert_eq!(md.current_snapshot_id(), Some(last));
    assert_eq!(md.last_sequence_number(), n as i64);
}

/// The current metadata file and every metadata-log entry exist and are table metadata;
/// the log is in file-version order, in time order up to the one minute of clock skew the
/// Iceberg spec tolerates (a snapshot's timestamp, set by its writer before a retried
/// commit, becomes `last-updated-ms`), and does not name the current file.
pub fn assert_metadata_files(location: &str, md: &TableMetadata) {
    let current: TableMetadata = serde_json::from_value(read_metadata_file(location)).unwrap();
    assert_eq!(&current, md, "{location} holds the metadata served");
    let log = md.metadata_log();
    assert!(
        !log.is_empty(),
        "a committed table logs earlier metadata files"
    );
    for entry in log {
        read_metadata_file(&entry.metadata_file);
        assert_ne!(
            entry.metadata_file, location,
            "the log holds earlier files only"
        );
    }
    let version = |f: &str| -> u64 {
        let name = f.rsplit('/').next().unwrap();
        name.split('-').next().unwrap().parse().unwrap()
    };
    for pair in log.windows(2) {
        assert!(
            version(&pair[0].metadata_file) < version(&pair[1].metadata_file),
            "log order: {pair:?}"
        );
        assert!(
            pair[0].timestamp_ms <= pair[1].timestamp_ms + 60_000,
            "log times: {pair:?}"
        );
        assert_ne!(pair[0].metadata_file, pair[1].metadata_file);
    }
}

/// Loads `ns.<table>` over plain HTTP and checks the pointer: the metadata file exists,
/// parses, equals the metadata served, and so does every metadata-log entry. Returns the
/// metadata location.
pub async fn assert_pointer_sound(http: &Http, table: &str) -> String {
    let loaded = http.get(&table_path(&["ns"], table)).await.ok();
    let location = loaded["metadata-location"].as_str().expect("location");
    let md: TableMetadata = serde_json::from_value(loaded["metadata"].clone()).unwrap();
    assert_metadata_files(location, &md);
    location.to_string()
}
