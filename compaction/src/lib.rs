//! Floe's compactor: plans which small data files of a table to merge (a pure function of
//! the table's live files and the options, `plan`), rewrites each group with its deletes
//! applied into target-sized files ordered by key (`rewrite`), and commits each group as
//! its own `replace` snapshot whose new files keep the data sequence number of the
//! snapshot the compaction started from (`run`), so equality deletes committed meanwhile
//! still hide the rewritten rows; several nodes can compact one table together, each
//! rewriting the groups whose claims it gets ([`compact_together`], [`GroupClaims`]); before it commits, a group's files are read back and
//! checked against the rows read (`verify`, on by default). `expire` removes the snapshots older than a table's
//! retention and deletes the files only they reached. Everything it reads and commits
//! goes through the table layer (`floe-table`).
#![deny(missing_docs)]

mod convert;
mod error;
mod expire;
mod plan;
mod rewrite;
mod run;
#[cfg(test)]
mod test_support;

pub use convert::{
    convert_deletes, delete_file_counts, ConversionReport, ConversionRequest, DeleteFileCounts,
    PartitionOutcome, PartitionReport,
};
pub use error::CompactionError;
pub use expire::{
    delete_files, expire_snapshots, files_to_delete, reachable_files, snapshots_to_expire,
    DeleteReport, Entries, ExpireOptions, ExpireReport, ReachableFiles,
};
pub use plan::{
    parse_size, plan, summarize, CompactionOptions, DataFileInfo, DeleteFileInfo, DeleteKind,
    FileGroup, GroupReason, OptionError, PlanSummary, OPTION_NAMES,
};
pub use rewrite::{
    rewrite_group, Fault, KeyColumns, LiveBatch, LiveRows, Mismatch, RewriteSettings,
    RewrittenGroup,
};
pub use run::{
    compact, compact_together, group_outcome_label, CompactionReport, CompactionRequest, Elsewhere,
    GroupClaim, GroupClaims, GroupOutcome, GroupReport, LeftGroup, PlannedGroup, Progress, Silent,
    DEFAULT_SORT_BUDGET_BYTES,
};

#[cfg(test)]
mod send_check {
    fn is_send<T: Send>(_: T) {}
    #[allow(dead_code)]
    fn futures_are_send(c: std::sync::Arc<dyn floe_table::TableCatalog>, t: iceberg::TableIdent) {
        is_send(crate::run::compact(
            c.clone(),
            &t,
            &Default::default(),
            std::sync::Arc::new(crate::run::Silent),
        ));
        is_send(crate::expire::expire_snapshots(c.as_ref(), &t, None, None));
    }
}
