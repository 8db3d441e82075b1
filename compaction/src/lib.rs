//! Floe's compactor: plans which small data files of a table to merge (a pure function of
//! the table's live files, `planner`, with its `options`), rewrites each group with its
//! deletes applied into target-sized files ordered by key (`rewrite`), and commits each
//! group as its own `replace` snapshot whose new files keep the data sequence number of
//! the snapshot the compaction started from (`replace`), so equality deletes committed
//! meanwhile still hide the rewritten rows. `expire` chooses the snapshots and files
//! that snapshot expiry removes.

pub mod catalog;
pub mod error;
pub mod expire;
pub mod expire_run;
pub mod options;
pub mod planner;
pub mod replace;
pub mod replace_commit;
pub mod rewrite;
pub mod run;
pub mod sort;
pub mod parquet_props;
pub mod summary;
pub mod table_files;
#[cfg(test)]
mod test_support;
