//! What the pages read from the catalog: every table in the namespaces a viewer may read,
//! a table's current metadata (the catalog's cached parse of its metadata file), and the
//! figures of its current snapshot's live files, read through the table layer's
//! `live_entries` once per snapshot and kept while the snapshot stays current.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use floe_rest_catalog::{Catalog, MetadataFile, PageRequest};
use floe_table::live_entries;
use floe_table::storage::{file_io_for, ObjectStoreStorageFactory};
use iceberg::spec::{DataContentType, TableMetadata};
use iceberg::{NamespaceIdent, TableIdent};

use crate::error::UiError;
use crate::session::Viewer;

/// What the live files of a table's current snapshot add up to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct LiveFigures {
    /// The size of each live data file, in bytes.
    pub data_sizes: Vec<u64>,
    /// Live equality-delete files.
    pub equality_delete_files: u64,
    /// Live position-delete files.
    pub position_delete_files: u64,
}

impl LiveFigures {
    /// The figures of live files given as (content, size in bytes).
    pub(crate) fn of(files: impl IntoIterator<Item = (DataContentType, u64)>) -> LiveFigures {
        let mut figures = LiveFigures::default();
        for (content, size) in files {
            match content {
                DataContentType::Data => figures.data_sizes.push(size),
                DataContentType::EqualityDeletes => figures.equality_delete_files += 1,
                DataContentType::PositionDeletes => figures.position_delete_files += 1,
            }
        }
        figures
    }

    /// Live data files.
    pub(crate) fn data_files(&self) -> u64 {
        self.data_sizes.len() as u64
    }

    /// The bytes of the live data files.
    pub(crate) fn data_bytes(&self) -> u64 {
        self.data_sizes.iter().sum()
    }

    /// The average size of a live data file; `None` without one.
    pub(crate) fn average_bytes(&self) -> Option<u64> {
        (!self.data_sizes.is_empty()).then(|| self.data_bytes() / self.data_files())
    }
}

/// Which snapshot a table's kept figures are of.
type SnapshotKey = (uuid::Uuid, Option<i64>);

/// Each table's live figures, by name, with the snapshot they are of.
type Kept = HashMap<String, (SnapshotKey, Arc<LiveFigures>)>;

/// The catalog as the pages read it.
#[derive(Clone)]
pub(crate) struct Reader {
    catalog: Catalog,
    /// The node's storage settings, kept inside the warehouse.
    storage: ObjectStoreStorageFactory,
    /// Each table's live figures, with the snapshot they are of: one entry per table.
    live: Arc<Mutex<Kept>>,
}

impl Reader {
    /// Reads `catalog`, the tables' files with `storage`.
    pub(crate) fn new(catalog: Catalog, storage: ObjectStoreStorageFactory) -> Self {
        Reader {
            catalog,
            storage,
            live: Arc::default(),
        }
    }

    /// Every namespace, parents before children, in the catalog's order.
    async fn namespaces(&self) -> Result<Vec<NamespaceIdent>, UiError> {
        let mut found = Vec::new();
        let mut queue = vec![None];
        while let Some(parent) = queue.pop() {
            let (children, _) = (self.catalog)
                .list_namespaces(parent.as_ref(), &PageRequest::default())
                .await?;
            for child in children.into_iter().rev() {
                queue.push(Some(child.clone()));
                found.push(child);
            }
        }
        found.sort_by(|a, b| a.iter().cmp(b.iter()));
        Ok(found)
    }

    /// Every table of the namespaces `viewer` may read, by namespace then name.
    pub(crate) async fn visible_tables(&self, viewer: &Viewer) -> Result<Vec<TableIdent>, UiError> {
        let mut tables = Vec::new();
        for ns in self.namespaces().await? {
            if viewer.may_read(&ns) {
                let (mut found, _) = self
                    .catalog
                    .list_tables(&ns, &PageRequest::default())
                    .await?;
                found.sort_by(|a, b| a.name.cmp(&b.name));
                tables.extend(found);
            }
        }
        Ok(tables)
    }

    /// The table's current metadata file.
    pub(crate) async fn metadata(&self, ident: &TableIdent) -> Result<MetadataFile, UiError> {
        Ok(self.catalog.load_table(ident).await?)
    }

    /// The figures of the live files of `metadata`'s current snapshot: kept ones while
    /// the table's current snapshot is the one they are of, read afresh otherwise.
    pub(crate) async fn live(
        &self,
        ident: &TableIdent,
        metadata: &TableMetadata,
    ) -> Result<Arc<LiveFigures>, UiError> {
        let name = ident.to_string();
        let key = (metadata.uuid(), metadata.current_snapshot_id());
        if let Some((kept_key, figures)) = self.lock().get(&name) {
            if *kept_key == key {
                return Ok(figures.clone());
            }
        }
        let file_io = file_io_for(
            metadata.location(),
            self.catalog.warehouse().client_config(),
            &self.storage,
        )?;
        let entries = live_entries(&file_io, metadata, None).await?;
        let figures = Arc::new(LiveFigures::of(entries.iter().map(|(_, e)| {
            let file = e.data_file();
            (file.content_type(), file.file_size_in_bytes())
        })));
        self.lock().insert(name, (key, figures.clone()));
        Ok(figures)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_figures_count_each_content_apart() {
        use DataContentType::*;
        // (files, figures, data bytes, average data file)
        type Case = (
            &'static [(DataContentType, u64)],
            LiveFigures,
            u64,
            Option<u64>,
        );
        let cases: [Case; 2] = [
            (&[], LiveFigures::default(), 0, None),
            (
                &[
                    (Data, 100),
                    (EqualityDeletes, 7),
                    (Data, 301),
                    (PositionDeletes, 9),
                    (EqualityDeletes, 8),
                ],
                LiveFigures {
                    data_sizes: vec![100, 301],
                    equality_delete_files: 2,
                    position_delete_files: 1,
                },
                401,
                Some(200),
            ),
        ];
        for (files, want, bytes, average) in cases {
            let figures = LiveFigures::of(files.iter().copied());
            assert_eq!(figures, want);
            assert_eq!(figures.average_bytes(), average);
            assert_eq!(figures.data_files(), want.data_sizes.len() as u64);
            assert_eq!(figures.data_bytes(), bytes);
        }
    }
}
