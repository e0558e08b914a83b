//! The history table, `public.seaql_migrations`: one row per migration the
//! database has seen. It keeps sea-orm's own columns (`version`,
//! `applied_at` in Unix seconds) so sea-orm's tooling can still read it, and
//! adds what a production runner needs.

use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement, Value};

use crate::error::Result;

pub const TABLE: &str = "public.seaql_migrations";

/// Creates the table (first run) and adds our columns to a table that
/// sea-orm's own migrator created (adopting an existing database).
const INSTALL_SQL: &str = "\
CREATE TABLE IF NOT EXISTS public.seaql_migrations (
    version varchar NOT NULL PRIMARY KEY,
    applied_at bigint NOT NULL
);
ALTER TABLE public.seaql_migrations
    ADD COLUMN IF NOT EXISTS schema_name text NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS checksum text NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS state text NOT NULL DEFAULT 'applied',
    ADD COLUMN IF NOT EXISTS execution_ms bigint NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS applied_on timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN IF NOT EXISTS applied_by text NOT NULL DEFAULT current_user,
    ADD COLUMN IF NOT EXISTS out_of_order boolean NOT NULL DEFAULT false,
    ADD COLUMN IF NOT EXISTS note text;
COMMENT ON TABLE public.seaql_migrations IS
    'Global migration history of every schema, written by migration-runner';";

/// Whether a history row's migration finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowState {
    /// Applied completely (or adopted with `resolve --applied`).
    Applied,
    /// A non-transactional migration started and never finished: a crash, or a failure.
    Running,
    Failed,
    /// Cleared with `resolve --rolled-back`: pending again.
    RolledBack,
}

impl RowState {
    pub fn as_str(self) -> &'static str {
        match self {
            RowState::Applied => "applied",
            RowState::Running => "running",
            RowState::Failed => "failed",
            RowState::RolledBack => "rolled_back",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "running" => RowState::Running,
            "failed" => RowState::Failed,
            "rolled_back" => RowState::RolledBack,
            _ => RowState::Applied,
        }
    }
}

#[derive(Debug, Clone, FromQueryResult)]
struct RawRow {
    version: String,
    schema_name: String,
    checksum: String,
    state: String,
    execution_ms: i64,
    applied_on: chrono::DateTime<chrono::FixedOffset>,
    out_of_order: bool,
    note: Option<String>,
}

/// One row of the history table.
#[derive(Debug, Clone)]
pub struct HistoryRow {
    pub name: String,
    pub schema: String,
    pub checksum: String,
    pub state: RowState,
    pub execution_ms: i64,
    pub applied_on: chrono::DateTime<chrono::FixedOffset>,
    pub out_of_order: bool,
    pub note: Option<String>,
}

/// What the database has of the history table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableState {
    Absent,
    /// Created by sea-orm's own migrator: `version` and `applied_at` only.
    SeaOrm,
    /// Has this runner's columns.
    Current,
}

/// One round trip, so a no-op deploy stays cheap.
async fn table_state<C: ConnectionTrait>(db: &C) -> Result<TableState> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT to_regclass('public.seaql_migrations') IS NOT NULL AS present, \
                    EXISTS (SELECT 1 FROM pg_attribute \
                            WHERE attrelid = to_regclass('public.seaql_migrations') \
                              AND attname = 'note' AND NOT attisdropped) AS current",
        ))
        .await?;
    let (present, current) = match row {
        Some(row) => (row.try_get("", "present")?, row.try_get("", "current")?),
        None => (false, false),
    };
    Ok(match (present, current) {
        (_, true) => TableState::Current,
        (true, false) => TableState::SeaOrm,
        (false, false) => TableState::Absent,
    })
}

/// The history as read, and the state of its table.
#[derive(Debug, Clone)]
pub struct History {
    pub rows: Vec<HistoryRow>,
    pub table: TableState,
}

impl History {
    /// Creates or upgrades the table; the caller holds the migration lock.
    pub async fn install<C: ConnectionTrait>(&self, db: &C) -> Result<()> {
        if self.table != TableState::Current {
            db.execute_unprepared(INSTALL_SQL).await?;
        }
        Ok(())
    }
}

/// Every row, oldest first. An absent table reads as an empty history, and
/// sea-orm's own table as applied rows without checksums.
pub async fn load<C: ConnectionTrait>(db: &C) -> Result<History> {
    let table = table_state(db).await?;
    let rows = match table {
        TableState::Absent => Vec::new(),
        TableState::SeaOrm => sea_orm_rows(db).await?,
        TableState::Current => RawRow::find_by_statement(Statement::from_string(
            DbBackend::Postgres,
            "SELECT version, schema_name, checksum, state, execution_ms, applied_on, out_of_order, note \
             FROM public.seaql_migrations ORDER BY applied_on, version",
        ))
        .all(db)
        .await?
        .into_iter()
        .map(|raw| HistoryRow {
            name: raw.version,
            schema: raw.schema_name,
            checksum: raw.checksum,
            state: RowState::parse(&raw.state),
            execution_ms: raw.execution_ms,
            applied_on: raw.applied_on,
            out_of_order: raw.out_of_order,
            note: raw.note,
        })
        .collect(),
    };
    Ok(History { rows, table })
}

/// Rows of a table created by sea-orm's own migrator (adoption): applied, unchecked.
async fn sea_orm_rows<C: ConnectionTrait>(db: &C) -> Result<Vec<HistoryRow>> {
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT version, to_timestamp(applied_at) AS applied_on FROM public.seaql_migrations ORDER BY version",
        ))
        .await?;
    rows.into_iter()
        .map(|row| {
            Ok(HistoryRow {
                name: row.try_get("", "version")?,
                schema: String::new(),
                checksum: String::new(),
                state: RowState::Applied,
                execution_ms: 0,
                applied_on: row.try_get("", "applied_on")?,
                out_of_order: false,
                note: None,
            })
        })
        .collect()
}

/// What to write for one migration.
pub struct NewRow<'a> {
    pub name: &'a str,
    pub schema: &'a str,
    pub checksum: &'a str,
    pub state: RowState,
    pub execution_ms: i64,
    pub out_of_order: bool,
    pub note: Option<&'a str>,
}

/// Inserts or replaces the row (a rolled-back or failed row is reused on retry).
pub async fn record<C: ConnectionTrait>(db: &C, row: NewRow<'_>) -> Result<()> {
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO public.seaql_migrations \
             (version, applied_at, schema_name, checksum, state, execution_ms, applied_on, applied_by, out_of_order, note) \
         VALUES ($1, extract(epoch FROM now())::bigint, $2, $3, $4, $5, now(), current_user, $6, $7) \
         ON CONFLICT (version) DO UPDATE SET \
             applied_at = excluded.applied_at, schema_name = excluded.schema_name, \
             checksum = excluded.checksum, state = excluded.state, \
             execution_ms = excluded.execution_ms, applied_on = excluded.applied_on, \
             applied_by = excluded.applied_by, out_of_order = excluded.out_of_order, note = excluded.note",
        [
            Value::from(row.name),
            Value::from(row.schema),
            Value::from(row.checksum),
            Value::from(row.state.as_str()),
            Value::from(row.execution_ms),
            Value::from(row.out_of_order),
            Value::from(row.note.map(str::to_owned)),
        ],
    ))
    .await?;
    Ok(())
}

pub async fn set_state<C: ConnectionTrait>(
    db: &C,
    name: &str,
    state: RowState,
    execution_ms: i64,
    note: Option<&str>,
) -> Result<()> {
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "UPDATE public.seaql_migrations SET state = $2, execution_ms = $3, note = coalesce($4, note) \
         WHERE version = $1",
        [
            Value::from(name),
            Value::from(state.as_str()),
            Value::from(execution_ms),
            Value::from(note.map(str::to_owned)),
        ],
    ))
    .await?;
    Ok(())
}

/// Gives an adopted row (sea-orm's own migrator wrote it) its schema and checksum.
pub async fn adopt<C: ConnectionTrait>(
    db: &C,
    name: &str,
    schema: &str,
    checksum: &str,
) -> Result<()> {
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "UPDATE public.seaql_migrations SET schema_name = $2, checksum = $3, \
             note = coalesce(note, 'adopted from an earlier history: checksum recorded on adoption') \
         WHERE version = $1 AND checksum = ''",
        [Value::from(name), Value::from(schema), Value::from(checksum)],
    ))
    .await?;
    Ok(())
}

pub async fn delete<C: ConnectionTrait>(db: &C, name: &str) -> Result<()> {
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "DELETE FROM public.seaql_migrations WHERE version = $1",
        [Value::from(name)],
    ))
    .await?;
    Ok(())
}
