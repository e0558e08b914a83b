//! The manifest written beside every archive, and the per-table figures it
//! holds: row count and a content hash that does not depend on row order
//! (each row's text form hashed, the hashes summed), read in a session whose
//! settings make that text the same on every server (UTC, ISO dates, full
//! float precision).

use std::path::{Path, PathBuf};

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};
use serde::{Deserialize, Serialize};

/// The `public` tables this product keeps (history, backfill ledger, flags,
/// the runner's settings: the runtime roles' name templates, and on Citus
/// the placement steps it took).
pub const KEPT_PUBLIC_TABLES: [&str; 5] = [
    crate::history::TABLE_NAME,
    "backfill_ledger",
    "feature_flags",
    crate::roles::role_names::SETTINGS_TABLE,
    "seaql_migrations_citus",
];

/// Settings that fix how values print, for hashes comparable across sessions.
pub const STABLE_SETTINGS: &str = "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'; \
     SET IntervalStyle = 'postgres'; SET extra_float_digits = 3; SET bytea_output = 'hex'";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableFigures {
    /// `schema.table`.
    pub table: String,
    pub rows: i64,
    /// MD5 over the row count and the sum of every row's hash.
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// This file's format.
    pub format: u32,
    /// When the snapshot was taken (RFC 3339, UTC).
    pub created_at: String,
    /// The server, with the password redacted (`postgres://deploy:***@db:5432/app`).
    pub database: String,
    pub server_version: String,
    pub pg_dump_version: String,
    /// The newest applied migration (global order), if any.
    pub migration_head: Option<String>,
    pub applied_migrations: usize,
    pub schemas: Vec<String>,
    pub tables: Vec<TableFigures>,
    /// The archive file's size and SHA-256.
    pub archive_bytes: u64,
    pub archive_sha256: String,
}

impl Manifest {
    pub const FORMAT: u32 = 1;

    /// `<archive>.manifest.json`.
    pub fn path_for(archive: &Path) -> PathBuf {
        let mut name = archive.as_os_str().to_owned();
        name.push(".manifest.json");
        PathBuf::from(name)
    }

    pub fn rows(&self) -> i64 {
        self.tables.iter().map(|t| t.rows).sum()
    }
}

/// The tables a backup covers, as `schema.table`, sorted: every table of the
/// owned schemas, and the kept `public` tables that exist.
pub async fn tables<C: ConnectionTrait>(db: &C, schemas: &[String]) -> Result<Vec<String>, DbErr> {
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT format('%s.%s', n.nspname, c.relname) AS name \
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
              WHERE c.relkind IN ('r', 'p') \
                AND (n.nspname = ANY($1::text[]) OR (n.nspname = 'public' AND c.relname = ANY($2::text[]))) \
              ORDER BY 1",
            [
                Value::from(schemas.to_vec()),
                Value::from(KEPT_PUBLIC_TABLES.map(str::to_owned).to_vec()),
            ],
        ))
        .await?;
    rows.iter()
        .map(|row| row.try_get::<String>("", "name"))
        .collect()
}

/// Row count and content hash of each table (names as [`tables`] gives them).
pub async fn figures<C: ConnectionTrait>(
    db: &C,
    tables: &[String],
) -> Result<Vec<TableFigures>, DbErr> {
    let mut out = Vec::with_capacity(tables.len());
    for table in tables {
        let (schema, name) = table.split_once('.').unwrap_or(("public", table));
        let sql = format!(
            "SELECT count(*)::bigint AS rows, md5(count(*)::text || ':' || \
                    coalesce(sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint), 0)::text) AS hash \
               FROM {}.{} AS t",
            quote(schema),
            quote(name)
        );
        let row = db
            .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
            .await?
            .ok_or_else(|| DbErr::Custom(format!("no answer counting {table}")))?;
        out.push(TableFigures {
            table: table.clone(),
            rows: row.try_get("", "rows")?,
            hash: row.try_get("", "hash")?,
        });
    }
    Ok(out)
}

/// The applied migrations in history (empty without a history table).
pub async fn applied<C: ConnectionTrait>(db: &C) -> Result<Vec<String>, DbErr> {
    let present = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT to_regclass($1) IS NOT NULL AS present, \
                    EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = 'public' \
                             AND table_name = $2 AND column_name = 'state') AS has_state",
            [
                crate::history::TABLE.into(),
                crate::history::TABLE_NAME.into(),
            ],
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("no answer reading history".into()))?;
    if !present.try_get::<bool>("", "present")? {
        return Ok(Vec::new());
    }
    let table = crate::history::TABLE;
    let sql = if present.try_get::<bool>("", "has_state")? {
        format!(
            "SELECT version FROM {table} WHERE state IS NULL OR state = 'applied' ORDER BY version"
        )
    } else {
        format!("SELECT version FROM {table} ORDER BY version")
    };
    let rows = db
        .query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await?;
    rows.iter()
        .map(|row| row.try_get::<String>("", "version"))
        .collect()
}

/// The newest of `applied` in the code's global order (names the code does
/// not know sort by name, after the known ones).
pub fn head(applied: &[String], catalog: &crate::source::catalog::Catalog) -> Option<String> {
    applied
        .iter()
        .max_by_key(|name| {
            (
                catalog.position(name).map_or(usize::MAX, |p| p),
                (*name).clone(),
            )
        })
        .cloned()
}

pub fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}
