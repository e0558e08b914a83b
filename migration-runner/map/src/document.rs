//! The `schema-map/1` document: what the page draws and what `--format
//! json` prints, in the page's own shape.

use serde::{Deserialize, Serialize};

/// The format's name, written into every document.
pub const FORMAT: &str = "schema-map/1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapDocument {
    pub format: String,
    pub title: String,
    /// `database` (read from a live database) or `history` (a replay).
    pub source: String,
    pub generated_at: String,
    pub citus: bool,
    pub schemas: Vec<Schema>,
    pub tables: Vec<Table>,
    pub foreign_keys: Vec<ForeignKey>,
    pub roles: Vec<Role>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    pub name: String,
    pub owners: Vec<String>,
    /// Migrations of the code not applied yet.
    pub pending: Vec<String>,
    pub drift: Vec<String>,
    pub backfills: Vec<Backfill>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backfill {
    pub name: String,
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    /// `schema.table`.
    pub id: String,
    pub schema: String,
    pub name: String,
    pub comment: Option<String>,
    pub columns: Vec<Column>,
    pub indexes: Vec<Index>,
    pub constraints: Vec<Constraint>,
    /// On Citus: `reference`, `distributed (by x)`, `local`.
    pub distribution: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub data_type: String,
    pub nullable: bool,
    pub default: Option<String>,
    pub primary_key: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    pub name: String,
    pub definition: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Constraint {
    pub name: String,
    /// `primary key`, `unique`, `check`, `foreign key`, `exclusion`.
    pub kind: String,
    pub definition: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignKey {
    pub name: String,
    pub from: String,
    pub from_columns: Vec<String>,
    pub to: String,
    pub to_columns: Vec<String>,
    pub cross_schema: bool,
    /// Why Citus would refuse it, if it would.
    pub citus_refused: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    pub name: String,
    pub grants: Vec<Grant>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub schema: String,
    /// `None`: every table of the schema.
    pub table: Option<String>,
    pub privileges: Vec<String>,
}

impl MapDocument {
    /// The tables of `schema`, in the document's order.
    pub fn tables_of<'a>(&'a self, schema: &'a str) -> impl Iterator<Item = &'a Table> + 'a {
        self.tables
            .iter()
            .filter(move |table| table.schema == schema)
    }
}
