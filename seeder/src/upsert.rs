//! The upsert statement for one table, and the encoding of a batch into its
//! parameters.
//!
//! One statement per batch:
//!
//! ```text
//! WITH upserted AS (
//!   INSERT INTO "core"."users" AS t ("id", "email", "display_name")
//!   SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[])
//!   ON CONFLICT ("email") DO UPDATE
//!     SET "display_name" = excluded."display_name", "updated_at" = now()
//!     WHERE (t."display_name") IS DISTINCT FROM (excluded."display_name")
//!   RETURNING (xmax = 0) AS inserted
//! )
//! SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM upserted
//! ```
//!
//! A row whose values did not change fails the `WHERE`, so it is neither
//! rewritten nor returned: unchanged = batch size − inserted − updated. Each
//! column travels as ONE array parameter, whatever the batch size, so a
//! statement is far below PostgreSQL's 65,535 bind-parameter limit. The
//! arrays are sent in PostgreSQL's text array format (`{"a",NULL}`) because
//! sea-query's array values cannot carry NULL elements.
//!
//! Neither `id` nor the natural key is ever updated: a row created outside
//! the seeder with the same natural key keeps its own id, and seed rows that
//! reference it by the seed's id then fail their foreign key (reported with
//! the table's name).

use std::fmt::Write as _;

use schema_core::seeding::{Batch, Cell, Column, SqlType, TableSeed};
use sea_orm::{DbBackend, Statement, Value};

use crate::error::SeedError;

/// Columns the seeder manages itself: never seeded, never compared.
const BOOKKEEPING: &[&str] = &["created_at", "updated_at"];

/// The statement for one table; bind an [`EncodedBatch`] to run it.
#[derive(Debug, Clone)]
pub struct Upsert {
    pub table: &'static str,
    pub columns: &'static [Column],
    pub sql: String,
}

/// One batch as the statement's parameters.
#[derive(Debug, Clone)]
pub struct EncodedBatch {
    pub rows: u64,
    pub arrays: Vec<String>,
}

impl Upsert {
    /// Validates the table's description and builds its statement.
    pub fn for_table(table: &TableSeed) -> Result<Self, SeedError> {
        let invalid = |problem: String| SeedError::InvalidSeed {
            table: table.table.to_owned(),
            problem,
        };
        let Some((schema, name)) = table.table.split_once('.') else {
            return Err(invalid(
                "the table name must be schema-qualified, like `core.users`".to_owned(),
            ));
        };
        match table.columns.first() {
            Some(column) if column.name == "id" && column.ty == SqlType::Uuid => {}
            _ => {
                return Err(invalid(
                    "the first column must be `id` of type uuid (from `seeding::id`)".to_owned(),
                ));
            }
        }
        for (index, column) in table.columns.iter().enumerate() {
            if table.columns[..index].iter().any(|c| c.name == column.name) {
                return Err(invalid(format!("column `{}` is listed twice", column.name)));
            }
            if BOOKKEEPING.contains(&column.name) {
                return Err(invalid(format!(
                    "column `{}` is bookkeeping the seeder maintains; remove it from the seed",
                    column.name
                )));
            }
        }
        if table.conflict.is_empty() {
            return Err(invalid(
                "it declares no natural key (`conflict`): list the columns of a unique constraint"
                    .to_owned(),
            ));
        }
        if let Some(missing) = table
            .conflict
            .iter()
            .find(|key| !table.columns.iter().any(|c| c.name == **key))
        {
            return Err(invalid(format!(
                "natural-key column `{missing}` is not one of the seeded columns"
            )));
        }
        Ok(Self {
            table: table.table,
            columns: table.columns,
            sql: build_sql(schema, name, table.columns, table.conflict),
        })
    }

    /// The statement with `batch`'s parameters bound.
    pub fn statement(&self, batch: EncodedBatch) -> Statement {
        Statement::from_sql_and_values(
            DbBackend::Postgres,
            self.sql.clone(),
            batch.arrays.into_iter().map(Value::from),
        )
    }

    /// Encodes `batch` column by column, checking each row's shape and types.
    pub fn encode(&self, batch: &Batch) -> Result<EncodedBatch, SeedError> {
        encode(self.table, self.columns, batch)
    }
}

fn build_sql(schema: &str, table: &str, columns: &[Column], conflict: &[&str]) -> String {
    let list = |names: &mut dyn Iterator<Item = &str>, prefix: &str| {
        names
            .map(|name| format!("{prefix}{}", quote(name)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let arrays = columns
        .iter()
        .enumerate()
        .map(|(index, column)| format!("${}::{}[]", index + 1, column.ty.sql()))
        .collect::<Vec<_>>()
        .join(", ");
    let updatable: Vec<&str> = columns
        .iter()
        .map(|column| column.name)
        .filter(|name| *name != "id" && !conflict.contains(name))
        .collect();
    let on_conflict = if updatable.is_empty() {
        // Every seeded value is part of the key: an existing row cannot differ.
        "DO NOTHING".to_owned()
    } else {
        let set = updatable
            .iter()
            .map(|name| format!("{0} = excluded.{0}", quote(name)))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "DO UPDATE SET {set}, \"updated_at\" = now() WHERE ({}) IS DISTINCT FROM ({})",
            list(&mut updatable.iter().copied(), "t."),
            list(&mut updatable.iter().copied(), "excluded."),
        )
    };
    format!(
        "WITH upserted AS (INSERT INTO {}.{} AS t ({}) SELECT * FROM unnest({arrays}) \
         ON CONFLICT ({}) {on_conflict} RETURNING (xmax = 0) AS inserted) \
         SELECT count(*) FILTER (WHERE inserted) AS inserted, \
         count(*) FILTER (WHERE NOT inserted) AS updated FROM upserted",
        quote(schema),
        quote(table),
        list(&mut columns.iter().map(|c| c.name), ""),
        list(&mut conflict.iter().copied(), ""),
    )
}

/// A double-quoted SQL identifier.
pub fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// Turns rows into one PostgreSQL text-format array per column.
pub fn encode(table: &str, columns: &[Column], batch: &Batch) -> Result<EncodedBatch, SeedError> {
    let mut arrays: Vec<String> = columns
        .iter()
        .map(|_| {
            let mut array = String::with_capacity(batch.len() * 16 + 2);
            array.push('{');
            array
        })
        .collect();
    for (index, row) in batch.iter().enumerate() {
        if row.len() != columns.len() {
            return Err(SeedError::InvalidSeed {
                table: table.to_owned(),
                problem: format!(
                    "row {index} of a batch has {} values but the table seeds {} columns",
                    row.len(),
                    columns.len()
                ),
            });
        }
        for ((cell, column), array) in row.iter().zip(columns).zip(arrays.iter_mut()) {
            if !column.ty.accepts(cell) {
                return Err(SeedError::InvalidSeed {
                    table: table.to_owned(),
                    problem: format!(
                        "row {index} of a batch has {cell:?} in column `{}`, which is {}",
                        column.name,
                        column.ty.sql()
                    ),
                });
            }
            if index > 0 {
                array.push(',');
            }
            push_element(array, cell);
        }
    }
    for array in &mut arrays {
        array.push('}');
    }
    Ok(EncodedBatch {
        rows: batch.len() as u64,
        arrays,
    })
}

/// Appends one array element: `NULL`, or the value double-quoted with `"`
/// and `\` escaped, which is safe for every type's text input.
fn push_element(array: &mut String, cell: &Cell) {
    match cell {
        Cell::Null => array.push_str("NULL"),
        Cell::Text(text) => {
            array.push('"');
            for c in text.chars() {
                if c == '"' || c == '\\' {
                    array.push('\\');
                }
                array.push(c);
            }
            array.push('"');
        }
        // None of these can contain a quote or a backslash.
        Cell::Uuid(uuid) => {
            let _ = write!(array, "\"{}\"", uuid.hyphenated());
        }
        Cell::Int(int) => {
            let _ = write!(array, "\"{int}\"");
        }
        Cell::Bool(flag) => array.push_str(if *flag { "\"t\"" } else { "\"f\"" }),
        Cell::Timestamp(at) => {
            let _ = write!(array, "\"{}\"", at.format("%Y-%m-%dT%H:%M:%S%.6fZ"));
        }
    }
}
