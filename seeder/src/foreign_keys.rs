//! Undeclared dependencies: every foreign key from a seeded schema into
//! another schema must point at a schema its seeds declare in `depends_on`
//! (directly or through another dependency), or the seed order could insert
//! a row before the row it references. Checked against the live catalog.

use std::collections::BTreeMap;

use schema_core::seeding::SchemaSeed;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, Value};

use crate::error::SeedError;
use crate::order;

/// Refuses when a foreign key of one of `schemas` (indices into `seeds`)
/// points into a schema that is not among its declared dependencies.
pub async fn check(
    db: &DatabaseConnection,
    seeds: &[Box<dyn SchemaSeed>],
    schemas: &[usize],
) -> Result<(), SeedError> {
    let names: Vec<&str> = schemas.iter().map(|&i| seeds[i].schema()).collect();
    let sql = "SELECT c.conname::text AS constraint_name, \
                      src_ns.nspname::text AS source_schema, src.relname::text AS source_table, \
                      dst_ns.nspname::text AS target_schema, dst.relname::text AS target_table \
               FROM pg_constraint c \
               JOIN pg_class src ON src.oid = c.conrelid \
               JOIN pg_namespace src_ns ON src_ns.oid = src.relnamespace \
               JOIN pg_class dst ON dst.oid = c.confrelid \
               JOIN pg_namespace dst_ns ON dst_ns.oid = dst.relnamespace \
               WHERE c.contype = 'f' AND src_ns.nspname = ANY($1::text[]) AND dst_ns.nspname <> src_ns.nspname \
               ORDER BY 2, 3, 1";
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            [Value::from(
                names
                    .iter()
                    .map(|name| (*name).to_owned())
                    .collect::<Vec<String>>(),
            )],
        ))
        .await
        .map_err(SeedError::database(
            "reading cross-schema foreign keys from pg_constraint",
        ))?;
    for row in rows {
        let get = |column: &str| {
            row.try_get::<String>("", column)
                .map_err(SeedError::database(
                    "reading cross-schema foreign keys from pg_constraint",
                ))
        };
        let schema = get("source_schema")?;
        let target_schema = get("target_schema")?;
        if order::closure_of(seeds, &schema).contains(&target_schema) {
            continue;
        }
        return Err(SeedError::UndeclaredForeignKey {
            table: format!("{schema}.{}", get("source_table")?),
            constraint: get("constraint_name")?,
            target: format!("{target_schema}.{}", get("target_table")?),
            schema,
            target_schema,
        });
    }
    Ok(())
}

/// The foreign-key columns of every table in `schemas`, by qualified table
/// name (`core.user_roles` → `["role_id", "user_id"]`), from the live
/// catalog: the columns whose seeded values are resolved through the
/// session's id map, so a reference follows a row that exists under another
/// id (see [`crate::upsert`]).
pub async fn columns(
    db: &impl ConnectionTrait,
    schemas: &[&str],
) -> Result<BTreeMap<String, Vec<String>>, SeedError> {
    let sql = "SELECT DISTINCT ns.nspname::text || '.' || rel.relname::text AS table_name, \
                      a.attname::text AS column_name \
               FROM pg_constraint c \
               JOIN pg_class rel ON rel.oid = c.conrelid \
               JOIN pg_namespace ns ON ns.oid = rel.relnamespace \
               JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) \
               WHERE c.contype = 'f' AND ns.nspname = ANY($1::text[]) \
               ORDER BY 1, 2";
    let context = "reading foreign-key columns from pg_constraint";
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            [Value::from(
                schemas
                    .iter()
                    .map(|name| (*name).to_owned())
                    .collect::<Vec<String>>(),
            )],
        ))
        .await
        .map_err(SeedError::database(context))?;
    let mut columns: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in rows {
        let table = row
            .try_get::<String>("", "table_name")
            .map_err(SeedError::database(context))?;
        let column = row
            .try_get::<String>("", "column_name")
            .map_err(SeedError::database(context))?;
        columns.entry(table).or_default().push(column);
    }
    Ok(columns)
}
