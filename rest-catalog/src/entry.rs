//! What a name in a namespace holds: a table or a view. Tables and views share one set of
//! names per namespace, as in Iceberg's catalogs: a view cannot take a table's name.

use serde::{Deserialize, Serialize};

/// What a catalog entry is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// An Iceberg table.
    #[default]
    Table,
    /// An Iceberg view.
    View,
}

impl EntryKind {
    /// Whether it is a table (the default, which stored entries leave out).
    pub fn is_table(&self) -> bool {
        *self == EntryKind::Table
    }
}

impl std::fmt::Display for EntryKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EntryKind::Table => "table",
            EntryKind::View => "view",
        })
    }
}
