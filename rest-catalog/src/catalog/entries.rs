//! What tables and views share: one entry per name in the store, so the checks that a
//! name is free, the entry of a name by kind and the 404 of a missing one, and listing,
//! renaming and dropping an entry under its lock are written once, for both kinds.

use iceberg::{NamespaceIdent, TableIdent};

use super::{store_error, Catalog};
use crate::error::{CatalogError, Result};
use crate::names::{validate_namespace, validate_table};
use crate::store::{EntryKind, EntryRecord, PageRequest, StoreError};

/// Maps a store error of an operation on an entry of `kind`: a missing entry is a missing
/// table or view.
fn entry_store_error(kind: EntryKind) -> impl Fn(StoreError) -> CatalogError {
    move |e| match (e, kind) {
        (StoreError::NoSuchEntry(name), EntryKind::Table) => CatalogError::NoSuchTable(name),
        (StoreError::NoSuchEntry(name), EntryKind::View) => CatalogError::NoSuchView(name),
        (e, _) => store_error(e),
    }
}

impl Catalog {
    /// Refuses a name a table or a view has already.
    pub(crate) async fn check_name_free(&self, ident: &TableIdent) -> Result<()> {
        match self.store.load_entry(ident).await.map_err(store_error)? {
            Some(found) => Err(CatalogError::already_exists(Some(found.kind), ident)),
            None => Ok(()),
        }
    }

    /// The 409 for a name found taken when the store was asked to take it: it says by what
    /// when the name can be read.
    pub(crate) async fn name_taken(&self, ident: &TableIdent) -> CatalogError {
        let kind = self.store.load_entry(ident).await.ok().flatten();
        CatalogError::already_exists(kind.map(|e| e.kind), ident)
    }

    /// The entry of a table or view (by `kind`); the kind's 404 when there is none.
    pub(crate) async fn entry_record(
        &self,
        ident: &TableIdent,
        kind: EntryKind,
    ) -> Result<EntryRecord> {
        match self.store.load_entry(ident).await.map_err(store_error)? {
            Some(r) if r.kind == kind => Ok(r),
            _ => Err(self.missing(ident, kind).await),
        }
    }

    /// The 404 for a table (or view, by `kind`) the store does not have; an entry of the
    /// other kind is not one. A table route answers `NoSuchTableException` whatever the
    /// reason, as the spec lists for it (Iceberg's Java client falls back to metadata
    /// tables such as `db.orders.snapshots` only on that answer), a view route
    /// `NoSuchViewException`; the message says when the namespace is missing too.
    pub(crate) async fn missing(&self, ident: &TableIdent, kind: EntryKind) -> CatalogError {
        let not_found = |what: String| match kind {
            EntryKind::Table => CatalogError::NoSuchTable(what),
            EntryKind::View => CatalogError::NoSuchView(what),
        };
        match self.load_namespace(&ident.namespace).await {
            Err(CatalogError::NoSuchNamespace(_)) => not_found(format!(
                "{ident} (namespace {} does not exist)",
                ident.namespace
            )),
            Err(e) => e,
            Ok(_) => not_found(ident.to_string()),
        }
    }

    /// Whether `ident` names an entry of `kind`.
    pub(crate) async fn entry_exists(&self, ident: &TableIdent, kind: EntryKind) -> Result<bool> {
        validate_table(ident)?;
        let entry = self.store.load_entry(ident).await.map_err(store_error)?;
        Ok(entry.is_some_and(|e| e.kind == kind))
    }

    /// The tables or views of a namespace, a page at a time, and the next page's token.
    pub(crate) async fn list_entries(
        &self,
        ns: &NamespaceIdent,
        kind: EntryKind,
        page: &PageRequest,
    ) -> Result<(Vec<TableIdent>, Option<String>)> {
        validate_namespace(ns)?;
        let listed = self.store.list_entries(ns, kind, page).await;
        let (names, next) = listed.map_err(store_error)?;
        let idents = names
            .into_iter()
            .map(|n| TableIdent::new(ns.clone(), n))
            .collect();
        Ok((idents, next))
    }

    /// Takes the lock of the entry of `ident` (of `kind`): the lock of the uuid found there,
    /// checked again once held, since the entry may have been replaced under its name
    /// meanwhile (then the new one's lock is taken). So a drop or rename never runs beside
    /// a commit of the entry it changes, which moves the pointer on the znode version it
    /// read under that lock.
    async fn lock_entry(
        &self,
        ident: &TableIdent,
        kind: EntryKind,
    ) -> Result<Box<dyn floe_locks::LockGuard>> {
        const ATTEMPTS: usize = 3;
        for _ in 0..ATTEMPTS {
            let uuid = self.entry_record(ident, kind).await?.uuid;
            let guard = self
                .locks
                .acquire(&uuid.to_string(), self.lock_timeout)
                .await?;
            if self.entry_record(ident, kind).await?.uuid == uuid {
                return Ok(guard);
            }
        }
        Err(CatalogError::commit_failed(format!(
            "{ident} was replaced {ATTEMPTS} times while waiting for its lock; retry"
        )))
    }

    /// Moves the entry of `from` (of `kind`) to `to`, under its lock.
    pub(crate) async fn rename_entry(
        &self,
        from: &TableIdent,
        to: &TableIdent,
        kind: EntryKind,
    ) -> Result<()> {
        validate_table(from)?;
        validate_table(to)?;
        let _lock = self.lock_entry(from, kind).await?;
        match self.store.rename_entry(from, to, kind).await {
            Err(StoreError::NameTaken(_)) => Err(self.name_taken(to).await),
            done => done.map_err(entry_store_error(kind)),
        }
    }

    /// Removes the entry of `ident` (of `kind`) under its lock, and answers it.
    pub(crate) async fn drop_entry(
        &self,
        ident: &TableIdent,
        kind: EntryKind,
    ) -> Result<EntryRecord> {
        validate_table(ident)?;
        let _lock = self.lock_entry(ident, kind).await?;
        let dropped = self.store.drop_entry(ident, kind).await;
        dropped.map_err(entry_store_error(kind))
    }
}

#[cfg(test)]
#[path = "entries_tests.rs"]
mod tests;
