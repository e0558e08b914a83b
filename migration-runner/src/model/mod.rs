//! The schema model: every object of some schemas of one database, read in
//! one catalog query, as typed values. Tables with their columns (type,
//! nullability, default, identity, generated expression, collation),
//! constraints and indexes by name (keys, INCLUDE columns, operator classes,
//! collations, sort order, predicate), triggers and comments; enums,
//! domains, sequences, views, materialized views, functions and procedures.
//!
//! What compares two models lives here too: [`facts`] (what `drift` and
//! `check` report, one line per difference) and [`ddl`] (the ordered
//! statements that turn one model into the other, for `migrate diff` and
//! `migrate dev`).
//!
//! It may import nothing of the engine but `connect` (what a database error
//! means); it never reads history, migrations or the workspace, and never
//! writes: the callers choose the database (a throwaway replay, the entities
//! materialised, the live one).

pub mod ddl;
pub mod facts;

use std::collections::BTreeMap;

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};
use serde::{Deserialize, Serialize};

pub use facts::{Detail, Difference, Key};

/// Every object of the schemas read, by qualified name (`schema.name`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaModel {
    /// The schemas asked for that exist.
    pub schemas: Vec<String>,
    pub tables: BTreeMap<String, Table>,
    pub views: BTreeMap<String, View>,
    pub sequences: BTreeMap<String, Sequence>,
    pub enums: BTreeMap<String, EnumType>,
    pub domains: BTreeMap<String, Domain>,
    /// By `schema.name(argument types)`: overloads are distinct routines.
    pub routines: BTreeMap<String, Routine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    pub name: String,
    pub partitioned: bool,
    pub comment: Option<String>,
    /// In the table's column order.
    pub columns: Vec<Column>,
    pub constraints: Vec<Constraint>,
    pub indexes: Vec<Index>,
    pub triggers: Vec<Trigger>,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Its primary key, when it has one.
    pub fn primary_key(&self) -> Option<&Constraint> {
        self.constraints
            .iter()
            .find(|c| c.kind == ConstraintKind::PrimaryKey)
    }

    /// The table's name without its schema.
    pub fn short_name(&self) -> &str {
        self.name.split_once('.').map_or(&self.name, |(_, n)| n)
    }

    pub fn schema(&self) -> &str {
        self.name.split_once('.').map_or("public", |(s, _)| s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    /// As `format_type` writes it (`character varying(20)`, `timestamp with time zone`).
    pub data_type: String,
    pub not_null: bool,
    pub default: Option<String>,
    /// `always` or `by default`.
    pub identity: Option<String>,
    /// A stored generated column's expression.
    pub generated: Option<String>,
    /// When it differs from the type's.
    pub collation: Option<String>,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ConstraintKind {
    #[serde(rename = "p")]
    PrimaryKey,
    #[serde(rename = "u")]
    Unique,
    #[serde(rename = "f")]
    ForeignKey,
    #[serde(rename = "c")]
    Check,
    #[serde(rename = "x")]
    Exclusion,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Constraint {
    pub name: String,
    pub kind: ConstraintKind,
    /// As `pg_get_constraintdef` writes it: what `ADD CONSTRAINT name` takes.
    pub definition: String,
    pub columns: Vec<String>,
    /// A foreign key's table.
    pub references: Option<String>,
    pub referenced_columns: Vec<String>,
    pub validated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    pub name: String,
    pub unique: bool,
    pub method: String,
    /// As `pg_get_indexdef` writes it (a `CREATE INDEX` statement).
    pub definition: String,
    /// The index of a primary key, unique or exclusion constraint: it comes
    /// and goes with the constraint.
    pub backs_constraint: bool,
    pub keys: Vec<IndexKey>,
    pub include: Vec<String>,
    pub predicate: Option<String>,
}

impl Index {
    /// The definition without the index's own name: two indexes with the
    /// same one are duplicates.
    pub fn shape(&self) -> String {
        self.definition
            .split_once(" ON ")
            .map_or_else(|| self.definition.clone(), |(_, on)| on.to_owned())
            + if self.unique { " (unique)" } else { "" }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexKey {
    /// A key column, or `None` for an expression.
    pub column: Option<String>,
    pub expression: Option<String>,
    /// When it is not the type's default.
    pub opclass: Option<String>,
    /// When it is not the column's.
    pub collation: Option<String>,
    pub descending: bool,
    pub nulls_first: bool,
}

impl IndexKey {
    /// The column's name, or the expression in parentheses.
    pub fn term(&self) -> String {
        match (&self.column, &self.expression) {
            (Some(column), _) => column.clone(),
            (None, Some(expression)) => format!("({expression})"),
            (None, None) => "(expression)".to_owned(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    pub name: String,
    /// As `pg_get_triggerdef` writes it (a `CREATE TRIGGER` statement).
    pub definition: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct View {
    pub name: String,
    pub materialized: bool,
    /// The query, as `pg_get_viewdef` writes it.
    pub definition: String,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sequence {
    pub name: String,
    pub data_type: String,
    pub start: String,
    pub increment: String,
    pub min: String,
    pub max: String,
    pub cache: String,
    pub cycle: bool,
    /// `schema.table.column` of a `serial` column, whose sequence it is.
    pub owned_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnumType {
    pub name: String,
    pub labels: Vec<String>,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Domain {
    pub name: String,
    pub base: String,
    pub not_null: bool,
    pub default: Option<String>,
    /// `(name, definition)`.
    pub checks: Vec<(String, String)>,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Routine {
    pub name: String,
    /// Its identity arguments (`integer, text`).
    pub arguments: String,
    pub procedure: bool,
    /// As `pg_get_functiondef` writes it (a `CREATE OR REPLACE` statement).
    pub definition: String,
    pub comment: Option<String>,
}

impl Routine {
    pub fn signature(&self) -> String {
        format!("{}({})", self.name, self.arguments)
    }
}

/// The catalog query's document, before it is keyed.
#[derive(Deserialize)]
struct Document {
    schemas: Vec<String>,
    tables: Vec<Table>,
    views: Vec<View>,
    sequences: Vec<Sequence>,
    types: Vec<TypeRow>,
    routines: Vec<Routine>,
}

#[derive(Deserialize)]
struct TypeRow {
    name: String,
    kind: String,
    labels: Vec<String>,
    base: Option<String>,
    not_null: bool,
    default: Option<String>,
    checks: Vec<DomainCheck>,
    comment: Option<String>,
}

#[derive(Deserialize)]
struct DomainCheck {
    name: String,
    definition: String,
}

impl SchemaModel {
    /// Reads every object of `schemas` from the connected database, in one
    /// round trip.
    pub async fn read<C: ConnectionTrait>(db: &C, schemas: &[&str]) -> Result<Self, DbErr> {
        let schemas: Vec<String> = schemas.iter().map(|s| (*s).to_owned()).collect();
        let row = db
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                include_str!("catalog.sql"),
                [Value::from(schemas)],
            ))
            .await?
            .ok_or_else(|| DbErr::Custom("the catalog query returned no row".to_owned()))?;
        let text: String = row.try_get("", "model")?;
        Self::from_document(&text)
    }

    fn from_document(text: &str) -> Result<Self, DbErr> {
        let document: Document = serde_json::from_str(text)
            .map_err(|err| DbErr::Custom(format!("the catalog query's document: {err}")))?;
        let mut model = SchemaModel {
            schemas: document.schemas,
            ..SchemaModel::default()
        };
        model.tables = document
            .tables
            .into_iter()
            .map(|t| (t.name.clone(), t))
            .collect();
        model.views = document
            .views
            .into_iter()
            .map(|v| (v.name.clone(), v))
            .collect();
        model.sequences = document
            .sequences
            .into_iter()
            .map(|s| (s.name.clone(), s))
            .collect();
        model.routines = document
            .routines
            .into_iter()
            .map(|r| (r.signature(), r))
            .collect();
        for row in document.types {
            if row.kind == "e" {
                model.enums.insert(
                    row.name.clone(),
                    EnumType {
                        name: row.name,
                        labels: row.labels,
                        comment: row.comment,
                    },
                );
            } else {
                model.domains.insert(
                    row.name.clone(),
                    Domain {
                        name: row.name,
                        base: row.base.unwrap_or_default(),
                        not_null: row.not_null,
                        default: row.default,
                        checks: row
                            .checks
                            .into_iter()
                            .map(|c| (c.name, c.definition))
                            .collect(),
                        comment: row.comment,
                    },
                );
            }
        }
        Ok(model)
    }

    /// Whether the model holds nothing but (empty) schemas.
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
            && self.views.is_empty()
            && self.sequences.is_empty()
            && self.enums.is_empty()
            && self.domains.is_empty()
            && self.routines.is_empty()
    }
}
