//! The schema map's document ([`schema_map::MapDocument`]) from what the
//! engine knows: the [`SchemaModel`] of the owned schemas (read from the
//! live database or a replay of the history), each schema's owners, the
//! runtime roles' grants, and, from a live database, its pending
//! migrations, drift findings and backfills in flight.

use std::collections::{BTreeMap, BTreeSet};

use schema_map::{
    Backfill, Column, Constraint, ForeignKey, Grant, Index, MapDocument, Role, Schema, Table,
};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};

use crate::gate::owners::Owners;
use crate::model::{ConstraintKind, SchemaModel};

/// What a live database adds per schema.
#[derive(Debug, Clone, Default)]
pub struct Live {
    pub pending: BTreeMap<String, Vec<String>>,
    pub drift: BTreeMap<String, Vec<String>>,
    pub backfills: BTreeMap<String, Vec<Backfill>>,
}

impl Live {
    /// Puts each schema's findings on the document, which now says it was
    /// read from a database.
    pub fn apply(mut self, document: &mut MapDocument) {
        document.source = "database".to_owned();
        for schema in &mut document.schemas {
            schema.pending = self.pending.remove(&schema.name).unwrap_or_default();
            schema.drift = self.drift.remove(&schema.name).unwrap_or_default();
            schema.backfills = self.backfills.remove(&schema.name).unwrap_or_default();
        }
    }
}

/// Why Citus would refuse a key: between two app schemas (each distributed
/// on its own), where only keys into `core` (reference tables) hold.
pub fn citus_refuses(from_schema: &str, to_schema: &str) -> Option<String> {
    (from_schema != to_schema && to_schema != "core" && to_schema != "public").then(|| {
        format!(
            "a key from distributed schema `{from_schema}` into distributed schema `{to_schema}`: \
             Citus refuses it (keys between teams may only point into `core`, whose tables are reference tables)"
        )
    })
}

fn kind_name(kind: ConstraintKind) -> &'static str {
    match kind {
        ConstraintKind::PrimaryKey => "primary key",
        ConstraintKind::Unique => "unique",
        ConstraintKind::ForeignKey => "foreign key",
        ConstraintKind::Check => "check",
        ConstraintKind::Exclusion => "exclusion",
    }
}

/// The document of `schemas` (in that order) as `model` holds them, with
/// their owners: what the history gives, and nothing that depends on when or
/// where it was made (the caller adds the roles, [`Live`] findings, Citus
/// and the time).
pub fn document(model: &SchemaModel, schemas: &[&str], owners: &Owners) -> MapDocument {
    let mut tables = Vec::new();
    let mut foreign_keys = Vec::new();
    for schema in schemas {
        for table in model.tables.values().filter(|t| t.schema() == *schema) {
            let primary: Vec<&str> = table
                .primary_key()
                .map(|pk| pk.columns.iter().map(String::as_str).collect())
                .unwrap_or_default();
            for constraint in table
                .constraints
                .iter()
                .filter(|c| c.kind == ConstraintKind::ForeignKey)
            {
                let Some(to) = &constraint.references else {
                    continue;
                };
                let to_schema = to.split_once('.').map_or("public", |(s, _)| s);
                let cross_schema = to_schema != table.schema();
                foreign_keys.push(ForeignKey {
                    name: constraint.name.clone(),
                    from: table.name.clone(),
                    from_columns: constraint.columns.clone(),
                    to: to.clone(),
                    to_columns: constraint.referenced_columns.clone(),
                    cross_schema,
                    citus_refused: citus_refuses(table.schema(), to_schema),
                });
            }
            tables.push(Table {
                id: table.name.clone(),
                schema: table.schema().to_owned(),
                name: table.short_name().to_owned(),
                comment: table.comment.clone(),
                columns: table
                    .columns
                    .iter()
                    .map(|c| Column {
                        name: c.name.clone(),
                        data_type: c.data_type.clone(),
                        nullable: !c.not_null,
                        default: c
                            .default
                            .clone()
                            .or_else(|| {
                                c.identity
                                    .as_ref()
                                    .map(|i| format!("generated {i} as identity"))
                            })
                            .or_else(|| {
                                c.generated
                                    .as_ref()
                                    .map(|g| format!("generated always as ({g})"))
                            }),
                        primary_key: primary.contains(&c.name.as_str()),
                    })
                    .collect(),
                indexes: table
                    .indexes
                    .iter()
                    .map(|i| Index {
                        name: i.name.clone(),
                        definition: i.definition.clone(),
                    })
                    .collect(),
                constraints: table
                    .constraints
                    .iter()
                    .map(|c| Constraint {
                        name: c.name.clone(),
                        kind: kind_name(c.kind).to_owned(),
                        definition: c.definition.clone(),
                    })
                    .collect(),
                distribution: None,
            });
        }
    }
    MapDocument {
        format: schema_map::document::FORMAT.to_owned(),
        title: schemas.join(", "),
        source: "history".to_owned(),
        generated_at: String::new(),
        citus: false,
        schemas: schemas
            .iter()
            .map(|schema| Schema {
                name: (*schema).to_owned(),
                owners: owners
                    .teams([*schema])
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
                pending: Vec::new(),
                drift: Vec::new(),
                backfills: Vec::new(),
            })
            .collect(),
        tables,
        foreign_keys,
        roles: Vec::new(),
    }
}

/// The privileges each role other than a table's owner holds on the
/// tables of `schemas` (from the tables' ACLs), a schema's grants folded
/// into one when the role holds the same on every table of it (`model`
/// says which tables each schema has).
pub async fn grants<C: ConnectionTrait>(
    db: &C,
    model: &SchemaModel,
    schemas: &[&str],
) -> Result<Vec<Role>, DbErr> {
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT r.rolname AS role, n.nspname AS schema, c.relname AS table_name, \
                    string_agg(DISTINCT a.privilege_type, ',' ORDER BY a.privilege_type) AS privileges \
             FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             CROSS JOIN LATERAL aclexplode(c.relacl) a \
             JOIN pg_roles r ON r.oid = a.grantee \
             WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p') AND a.grantee <> c.relowner \
             GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
            [Value::from(
                schemas.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(),
            )],
        ))
        .await?;
    let mut tables: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for table in model.tables.values() {
        tables
            .entry(table.schema())
            .or_default()
            .insert(table.short_name());
    }
    // role -> schema -> table -> privileges
    let mut held: BTreeMap<String, BTreeMap<String, BTreeMap<String, Vec<String>>>> =
        BTreeMap::new();
    for row in rows {
        let privileges: String = row.try_get("", "privileges")?;
        held.entry(row.try_get("", "role")?)
            .or_default()
            .entry(row.try_get("", "schema")?)
            .or_default()
            .insert(
                row.try_get("", "table_name")?,
                privileges.split(',').map(str::to_owned).collect(),
            );
    }
    Ok(held
        .into_iter()
        .map(|(name, by_schema)| {
            let mut grants = Vec::new();
            for (schema, by_table) in by_schema {
                let every_table = tables.get(schema.as_str()).is_some_and(|all| {
                    all.len() == by_table.len() && all.iter().all(|t| by_table.contains_key(*t))
                });
                let first = by_table.values().next().cloned().unwrap_or_default();
                if every_table && by_table.values().all(|p| *p == first) {
                    grants.push(Grant {
                        schema,
                        table: None,
                        privileges: first,
                    });
                } else {
                    for (table, privileges) in by_table {
                        grants.push(Grant {
                            schema: schema.clone(),
                            table: Some(table),
                            privileges,
                        });
                    }
                }
            }
            Role { name, grants }
        })
        .collect())
}
