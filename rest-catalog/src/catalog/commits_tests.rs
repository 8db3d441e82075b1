//! The commit protocol's outcomes with a store that fails on purpose: a certain failure
//! deletes the new metadata file; an unknown outcome deletes nothing and answers
//! CommitStateUnknown unless re-reading the pointer shows the commit landed.

use super::super::faulty_store::{Fault, Fixture};
use crate::error::CatalogError;

#[tokio::test]
async fn certain_failures_delete_and_unknown_outcomes_keep_files() {
    let f = Fixture::new().await;

    // (fault, expected outcome, pointer moves, files added)
    let cases = [
        (Fault::None, "ok", true, 1),
        (Fault::Moved, "failed", false, 0),
        (Fault::UnknownNotApplied, "unknown", false, 1),
        (Fault::UnknownApplied, "ok", true, 1),
    ];
    for (i, (fault, outcome, moves, added)) in cases.into_iter().enumerate() {
        let before_files = f.metadata_files().len();
        let before = f.pointer().await;
        *f.store.fault.lock().unwrap() = fault;
        let got = f
            .catalog
            .commit_table(f.set_property(&format!("k{i}")))
            .await;
        let kind = match &got {
            Ok(_) => "ok",
            Err(CatalogError::CommitFailed(_)) => "failed",
            Err(CatalogError::CommitStateUnknown(_)) => "unknown",
            Err(e) => panic!("{fault:?}: unexpected {e}"),
        };
        assert_eq!(kind, outcome, "{fault:?}");
        assert_eq!(f.pointer().await != before, moves, "{fault:?}");
        assert_eq!(
            f.metadata_files().len(),
            before_files + added,
            "{fault:?}: files kept or deleted wrongly"
        );
        // The pointer always names a file that exists.
        assert!(std::path::Path::new(&f.pointer().await).exists());
    }
}
