//! Before writing anything: can the connected role do what the seeds need?
//! `USAGE` on each seeded schema, and on each seeded table `SELECT` and
//! `INSERT`, and `UPDATE` where present rows are set to the seed's values
//! (reference data, or `--overwrite`). Every missing privilege is reported
//! at once, each with the `GRANT` that fixes it, as `migrate preflight`
//! does for migrations.

use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};

use crate::error::SeedError;
use crate::upsert::Present;
use migration_runner::deploy::preflight::quote;
use schema_core::seeding::Ownership;

/// Refuses (listing every fix) when the role lacks a privilege the seeds need.
pub async fn check<C: ConnectionTrait>(
    db: &C,
    tables: &[(&'static str, Ownership)],
    overwrite: bool,
) -> Result<(), SeedError> {
    let names: Vec<String> = tables
        .iter()
        .map(|(table, _)| (*table).to_owned())
        .collect();
    let updates: Vec<bool> = tables
        .iter()
        .map(|(_, ownership)| Present::of(*ownership, overwrite) == Present::Update)
        .collect();
    // One row per table: what of SELECT / INSERT / UPDATE it lacks, and
    // whether its schema's USAGE is missing.
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT t.name, split_part(t.name, '.', 1) AS schema, \
                    NOT has_schema_privilege(split_part(t.name, '.', 1), 'USAGE') AS no_usage, \
                    array_remove(ARRAY[ \
                      CASE WHEN NOT has_table_privilege(t.name, 'SELECT') THEN 'SELECT' END, \
                      CASE WHEN NOT has_table_privilege(t.name, 'INSERT') THEN 'INSERT' END, \
                      CASE WHEN t.updates AND NOT has_table_privilege(t.name, 'UPDATE') THEN 'UPDATE' END \
                    ], NULL) AS lacking, \
                    current_user::text AS role \
               FROM unnest($1::text[], $2::bool[]) AS t(name, updates) \
              WHERE to_regclass(t.name) IS NOT NULL",
            [Value::from(names), Value::from(updates)],
        ))
        .await
        .map_err(SeedError::database("checking the role's privileges on the seeded tables"))?;
    let mut fixes: Vec<String> = Vec::new();
    let mut role = String::new();
    for row in rows {
        let read = |e| SeedError::database("reading the role's privileges")(e);
        role = row.try_get::<String>("", "role").map_err(read)?;
        let grantee = quote(&role);
        let schema: String = row.try_get("", "schema").map_err(read)?;
        if row.try_get::<bool>("", "no_usage").map_err(read)? {
            let fix = format!("GRANT USAGE ON SCHEMA {} TO {grantee};", quote(&schema));
            if !fixes.contains(&fix) {
                fixes.push(fix);
            }
        }
        let lacking: Vec<String> = row.try_get("", "lacking").map_err(read)?;
        if !lacking.is_empty() {
            let table: String = row.try_get("", "name").map_err(read)?;
            fixes.push(format!(
                "GRANT {} ON {table} TO {grantee};",
                lacking.join(", ")
            ));
        }
    }
    if fixes.is_empty() {
        Ok(())
    } else {
        Err(SeedError::MissingPrivileges { role, fixes })
    }
}
