//! Floe's compactor: plans which small data files of a table to merge (a pure function of
//! the table's live files, `planner`, with its `options`), rewrites each group with its
//! deletes applied into target-sized files ordered by key (`rewrite`), and commits each
//! group as its own `replace` snapshot whose new files keep the data sequence number of
//! the snapshot the compaction started from (`replace`), so equality deletes committed
//! meanwhile still hide the rewritten rows. `expire` chooses the snapshots and files
//! that snapshot expiry removes.

pub mod catalog;
pub mod deletes;
pub mod error;
pub mod expire;
pub mod expire_run;
pub mod manifest_rewrite;
pub mod options;
pub mod parquet_props;
pub mod planner;
pub mod replace;
pub mod replace_commit;
pub mod rewrite;
pub mod run;
pub mod sort;
pub mod summary;
pub mod table_files;
#[cfg(test)]
mod test_support;

#[cfg(test)]
mod send_check {
    fn is_send<T: Send>(_: T) {}
    #[allow(dead_code)]
    fn futures_are_send(
        c: std::sync::Arc<dyn crate::catalog::TableCatalog>,
        g: crate::replace_commit::GroupChange,
    ) {
        is_send(crate::run::compact(
            c.clone(),
            &Default::default(),
            std::sync::Arc::new(crate::run::Silent),
        ));
        is_send(crate::expire_run::expire_snapshots(c.as_ref(), None, None));
        is_send(crate::replace_commit::commit_group(
            c.as_ref(),
            &g,
            &mut Default::default(),
        ));
    }
}
