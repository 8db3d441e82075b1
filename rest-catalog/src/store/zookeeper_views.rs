//! View markers on ZooKeeper: `catalog/views/<ns>/<view>`, an empty node beside each
//! view's pointer in `catalog/tables/<ns>/<view>`, created and removed in the same `multi`
//! as the pointer, so a namespace's tables and views are listed from two child lists.

use std::collections::BTreeSet;

use iceberg::{NamespaceIdent, TableIdent};
use zookeeper_client::Error as ZkError;

use super::{read_error, ZooKeeperStore, PERSISTENT};
use crate::store::znode_names::{decode, encode, namespace_node};
use crate::store::StoreError;

impl ZooKeeperStore {
    pub(super) fn views_path(&self, ns: &NamespaceIdent) -> String {
        format!("{}/{}", self.views, namespace_node(ns))
    }

    /// The marker that says the entry of `ident` is a view.
    pub(super) fn view_marker(&self, ident: &TableIdent) -> String {
        format!(
            "{}/{}",
            self.views_path(&ident.namespace),
            encode(&ident.name)
        )
    }

    /// Makes `views/<ns>`, the parent of a namespace's view markers, if it is missing.
    pub(super) async fn ensure_views_dir(&self, ns: &NamespaceIdent) -> Result<(), StoreError> {
        let path = self.views_path(ns);
        match self.client().await?.create(&path, b"", &PERSISTENT).await {
            Ok(_) | Err(ZkError::NodeExists) => Ok(()),
            // Only an empty parent node: nothing of an entry was written.
            Err(e) => Err(read_error(e)),
        }
    }

    /// The decoded names of a node's children; `None` when the node does not exist.
    pub(super) async fn child_names(
        &self,
        path: &str,
    ) -> Result<Option<BTreeSet<String>>, StoreError> {
        match self.client().await?.list_children(path).await {
            Ok(nodes) => nodes
                .iter()
                .map(|n| decode(n))
                .collect::<Result<_, _>>()
                .map(Some),
            Err(ZkError::NoNode) => Ok(None),
            Err(e) => Err(read_error(e)),
        }
    }

    /// The names of a namespace's entries, and which of them are views. The markers are
    /// read before and after the names: a view created or dropped meanwhile is in one of
    /// the two reads, so it is never taken for a table.
    pub(super) async fn names_and_views(
        &self,
        ns: &NamespaceIdent,
    ) -> Result<(BTreeSet<String>, BTreeSet<String>), StoreError> {
        let views_before = self.child_names(&self.views_path(ns)).await?;
        let Some(names) = self.child_names(&self.tables_path(ns)).await? else {
            return Err(StoreError::NoSuchNamespace(ns.to_string()));
        };
        let views_after = self.child_names(&self.views_path(ns)).await?;
        let views = views_before
            .into_iter()
            .chain(views_after)
            .flatten()
            .collect();
        Ok((names, views))
    }
}
