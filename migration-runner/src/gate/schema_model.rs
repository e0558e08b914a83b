//! A database's schemas as comparable facts, and the differences between two
//! of them: what `drift` (live database against its replayed history) and
//! `check` (entities against migrations) report, and what `migrate dev` will
//! turn into a migration.
//!
//! Each fact has a key (what it is about: a table, a column, the primary key,
//! a unique key or index by its columns, a foreign key by its columns, a check
//! by its name) and a value (its definition, as PostgreSQL itself renders it:
//! `format_type`, `pg_get_expr`, `pg_get_constraintdef`), so constraint and
//! index names that differ between two equivalent schemas do not matter.

use std::collections::BTreeMap;
use std::fmt;

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};
use serde::Serialize;

/// What a fact is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Key {
    Table { table: String },
    Column { table: String, column: String },
    PrimaryKey { table: String },
    Unique { table: String, columns: String },
    Index { table: String, columns: String },
    ForeignKey { table: String, columns: String },
    Check { table: String, name: String },
}

impl Key {
    pub fn table(&self) -> &str {
        match self {
            Key::Table { table }
            | Key::Column { table, .. }
            | Key::PrimaryKey { table }
            | Key::Unique { table, .. }
            | Key::Index { table, .. }
            | Key::ForeignKey { table, .. }
            | Key::Check { table, .. } => table,
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Table { table } => write!(f, "table {table}"),
            Key::Column { table, column } => write!(f, "column {table}.{column}"),
            Key::PrimaryKey { table } => write!(f, "primary key of {table}"),
            Key::Unique { table, columns } => write!(f, "unique key {table} ({columns})"),
            Key::Index { table, columns } => write!(f, "index {table} ({columns})"),
            Key::ForeignKey { table, columns } => write!(f, "foreign key {table} ({columns})"),
            Key::Check { table, name } => write!(f, "check {name} on {table}"),
        }
    }
}

/// Which facts to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Everything PostgreSQL has (drift).
    Full,
    /// What SeaORM entities can describe: no check constraints (entities compare with it).
    Entities,
}

/// The facts of some schemas of one database.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SchemaModel {
    pub facts: BTreeMap<Key, String>,
}

/// One difference between an expected and an actual model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    pub key: Key,
    /// The definition on the expected side (`None`: absent there).
    pub expected: Option<String>,
    /// The definition on the actual side (`None`: absent there).
    pub actual: Option<String>,
}

impl Difference {
    /// "entity says X, migrations give Y" with the sides named by the caller.
    pub fn describe(&self, expected_side: &str, actual_side: &str) -> String {
        let side = |value: &Option<String>| match value {
            Some(value) => format!("`{value}`"),
            None => "nothing".to_owned(),
        };
        format!(
            "{}: {expected_side} {}, {actual_side} {}",
            self.key,
            side(&self.expected),
            side(&self.actual)
        )
    }
}

impl SchemaModel {
    /// Reads the facts of `schemas` from the connected database.
    pub async fn read<C: ConnectionTrait>(
        db: &C,
        schemas: &[&str],
        detail: Detail,
    ) -> Result<Self, DbErr> {
        let schemas: Vec<String> = schemas.iter().map(|s| (*s).to_owned()).collect();
        let rows = db
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                FACTS_SQL,
                [Value::from(schemas)],
            ))
            .await?;
        let mut facts = BTreeMap::new();
        for row in rows {
            let kind: String = row.try_get("", "kind")?;
            let table: String = row.try_get("", "tbl")?;
            let name: String = row.try_get("", "name")?;
            let value: String = row.try_get("", "value")?;
            let key = match kind.as_str() {
                "table" => Key::Table { table },
                "column" => Key::Column {
                    table,
                    column: name,
                },
                "primary_key" => Key::PrimaryKey { table },
                "unique" => Key::Unique {
                    table,
                    columns: name,
                },
                "index" => Key::Index {
                    table,
                    columns: name,
                },
                "foreign_key" => Key::ForeignKey {
                    table,
                    columns: name,
                },
                "check" if detail == Detail::Full => Key::Check { table, name },
                _ => continue,
            };
            facts.insert(key, value);
        }
        Ok(Self { facts })
    }

    /// Every fact of `expected` missing from or different in `actual`, and
    /// every fact `actual` has beyond it, in key order.
    pub fn diff(expected: &SchemaModel, actual: &SchemaModel) -> Vec<Difference> {
        let mut differences = Vec::new();
        for (key, value) in &expected.facts {
            match actual.facts.get(key) {
                Some(other) if other == value => {}
                other => differences.push(Difference {
                    key: key.clone(),
                    expected: Some(value.clone()),
                    actual: other.cloned(),
                }),
            }
        }
        for (key, value) in &actual.facts {
            if !expected.facts.contains_key(key) {
                differences.push(Difference {
                    key: key.clone(),
                    expected: None,
                    actual: Some(value.clone()),
                });
            }
        }
        differences.sort_by(|a, b| a.key.cmp(&b.key));
        differences
    }
}

/// One query for every fact: tables, columns, primary keys, unique keys
/// (constraints and unique indexes alike), other indexes, foreign keys and
/// checks of the given schemas.
const FACTS_SQL: &str = r#"
WITH rel AS (
    SELECT c.oid, format('%s.%s', n.nspname, c.relname) AS tbl
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'p')
),
cols AS (
    SELECT a.attrelid, a.attnum, a.attname FROM pg_attribute a JOIN rel ON rel.oid = a.attrelid
    WHERE a.attnum > 0 AND NOT a.attisdropped
),
collist AS (
    SELECT i.indexrelid, string_agg(coalesce(cols.attname::text, '(expression)'), ', ' ORDER BY k.ord) AS names
    FROM pg_index i
    JOIN rel ON rel.oid = i.indrelid
    CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
    LEFT JOIN cols ON cols.attrelid = i.indrelid AND cols.attnum = k.attnum
    WHERE k.ord <= i.indnkeyatts
    GROUP BY i.indexrelid
)
SELECT 'table' AS kind, rel.tbl, '' AS name, 'exists' AS value FROM rel
UNION ALL
SELECT 'column', rel.tbl, a.attname::text,
       format_type(a.atttypid, a.atttypmod)
       || CASE WHEN a.attnotnull THEN ' not null' ELSE ' null' END
       || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
FROM pg_attribute a JOIN rel ON rel.oid = a.attrelid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT CASE WHEN i.indisprimary THEN 'primary_key' WHEN i.indisunique THEN 'unique' ELSE 'index' END,
       rel.tbl,
       CASE WHEN i.indisprimary THEN '' ELSE collist.names END,
       CASE WHEN i.indisprimary THEN '(' || collist.names || ')'
            ELSE am.amname
                 || coalesce(' where ' || pg_get_expr(i.indpred, i.indrelid), '')
       END
FROM pg_index i
JOIN rel ON rel.oid = i.indrelid
JOIN collist ON collist.indexrelid = i.indexrelid
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_am am ON am.oid = ic.relam
UNION ALL
SELECT 'foreign_key', rel.tbl,
       (SELECT string_agg(cols.attname::text, ', ' ORDER BY k.ord)
          FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
          JOIN cols ON cols.attrelid = con.conrelid AND cols.attnum = k.attnum),
       regexp_replace(pg_get_constraintdef(con.oid), '^FOREIGN KEY \([^)]*\) ', '')
FROM pg_constraint con JOIN rel ON rel.oid = con.conrelid
WHERE con.contype = 'f'
UNION ALL
SELECT 'check', rel.tbl, con.conname::text, pg_get_constraintdef(con.oid)
FROM pg_constraint con JOIN rel ON rel.oid = con.conrelid
WHERE con.contype = 'c'
"#;
