//! The history table, `public.seaql_migrations`: one row per migration the
//! database has seen. It keeps sea-orm's own columns (`version`,
//! `applied_at` in Unix seconds) so sea-orm's tooling can still read it, and
//! adds what a production runner needs.
//!
//! Rows are read distrustfully: a state this runner never writes, a blanked
//! checksum, or text with control characters is reported, not believed. Only
//! this crate writes the table (the writers are `pub(crate)`).

use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement, TransactionTrait, Value};

use crate::connect::printable;
use crate::error::{HistoryError, Result};

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowState {
    /// Applied completely (or adopted with `resolve --applied`).
    Applied,
    /// Started and never finished: a non-transactional migration that crashed.
    Running,
    /// A non-transactional migration (or its rollback) that failed midway.
    Failed,
    /// Cleared with `resolve --rolled-back`: pending again.
    RolledBack,
    /// A value this runner never writes (history edited by hand, or a newer
    /// runner's): shown as is and refused, never guessed at.
    Unknown(String),
}

impl RowState {
    pub fn as_str(&self) -> &str {
        match self {
            RowState::Applied => "applied",
            RowState::Running => "running",
            RowState::Failed => "failed",
            RowState::RolledBack => "rolled_back",
            RowState::Unknown(text) => text,
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "applied" => RowState::Applied,
            "running" => RowState::Running,
            "failed" => RowState::Failed,
            "rolled_back" => RowState::RolledBack,
            other => RowState::Unknown(printable(other)),
        }
    }

    /// Rows that stand for something in the database (not cleared ones).
    pub fn is_present(&self) -> bool {
        !matches!(self, RowState::RolledBack)
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

/// One row of the history table, its text made printable.
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableState {
    Absent,
    /// Created by sea-orm's own migrator: `version` and `applied_at` only.
    SeaOrm,
    /// Has this runner's columns.
    Current,
}

/// One round trip, so a no-op deploy stays cheap. A table of that name that
/// is not a migration history is refused, naming what it has.
async fn table_state<C: ConnectionTrait>(db: &C) -> Result<TableState> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT to_regclass('public.seaql_migrations') IS NOT NULL AS present, \
                    coalesce((SELECT array_agg(attname::text ORDER BY attnum) FROM pg_attribute \
                              WHERE attrelid = to_regclass('public.seaql_migrations') \
                                AND attnum > 0 AND NOT attisdropped), '{}') AS columns",
        ))
        .await
        .map_err(HistoryError::read)?;
    let (present, columns): (bool, Vec<String>) = match row {
        Some(row) => (
            row.try_get("", "present").map_err(HistoryError::read)?,
            row.try_get("", "columns").map_err(HistoryError::read)?,
        ),
        None => (false, Vec::new()),
    };
    let has = |name: &str| columns.iter().any(|c| c == name);
    Ok(if !present {
        TableState::Absent
    } else if !(has("version") && has("applied_at")) {
        return Err(HistoryError::Foreign {
            columns: columns.iter().map(|c| printable(c)).collect(),
        }
        .into());
    } else if [
        "schema_name",
        "checksum",
        "state",
        "execution_ms",
        "applied_on",
        "out_of_order",
        "note",
    ]
    .iter()
    .all(|c| has(c))
    {
        TableState::Current
    } else {
        TableState::SeaOrm
    })
}

/// The history as read, and the state of its table.
#[derive(Debug, Clone)]
pub struct History {
    pub rows: Vec<HistoryRow>,
    pub table: TableState,
}

impl History {
    /// Creates or upgrades the table, and records today's checksums for rows
    /// adopted from sea-orm's own table, in one transaction so a crash never
    /// leaves rows without checksums in a table of ours. The caller holds the
    /// migration lock.
    pub(crate) async fn install(
        &self,
        db: &sea_orm::DatabaseConnection,
        adopted: &[(&str, &str, &str)],
    ) -> Result<()> {
        if self.table == TableState::Current && adopted.is_empty() {
            return Ok(());
        }
        let txn = db.begin().await.map_err(HistoryError::write)?;
        if self.table != TableState::Current {
            txn.execute_unprepared(INSTALL_SQL)
                .await
                .map_err(HistoryError::write)?;
        }
        if !adopted.is_empty() {
            adopt(&txn, adopted).await?;
        }
        txn.commit().await.map_err(HistoryError::write)?;
        Ok(())
    }
}

/// Every row, oldest first. An absent table reads as an empty history, and
/// sea-orm's own table as applied rows whose checksums are yet to be recorded.
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
        .await
        .map_err(HistoryError::read)?
        .into_iter()
        .map(|raw| HistoryRow {
            name: printable(&raw.version),
            schema: printable(&raw.schema_name),
            checksum: printable(&raw.checksum),
            state: RowState::parse(&raw.state),
            execution_ms: raw.execution_ms,
            applied_on: raw.applied_on,
            out_of_order: raw.out_of_order,
            note: raw.note.as_deref().map(printable),
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
            "SELECT version::text AS version, to_timestamp(applied_at) AS applied_on \
             FROM public.seaql_migrations ORDER BY version",
        ))
        .await
        .map_err(HistoryError::read)?;
    rows.into_iter()
        .map(|row| {
            Ok(HistoryRow {
                name: printable(
                    &row.try_get::<String>("", "version")
                        .map_err(HistoryError::read)?,
                ),
                schema: String::new(),
                checksum: String::new(),
                state: RowState::Applied,
                execution_ms: 0,
                applied_on: row.try_get("", "applied_on").map_err(HistoryError::read)?,
                out_of_order: false,
                note: None,
            })
        })
        .collect()
}

/// What to write for one migration.
pub(crate) struct NewRow<'a> {
    pub name: &'a str,
    pub schema: &'a str,
    pub checksum: &'a str,
    pub state: RowState,
    pub execution_ms: i64,
    pub out_of_order: bool,
    pub note: Option<&'a str>,
}

/// Inserts or replaces the row (a rolled-back or failed row is reused on retry).
pub(crate) async fn record<C: ConnectionTrait>(db: &C, row: NewRow<'_>) -> Result<()> {
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
    .await
    .map_err(HistoryError::write)?;
    Ok(())
}

pub(crate) async fn set_state<C: ConnectionTrait>(
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
    .await
    .map_err(HistoryError::write)?;
    Ok(())
}

/// Gives the adopted rows (sea-orm's own migrator wrote them) their schema
/// and checksum: `(name, schema, checksum)` each, in one statement.
async fn adopt<C: ConnectionTrait>(db: &C, adopted: &[(&str, &str, &str)]) -> Result<()> {
    let column = |field: usize| -> Value {
        let values: Vec<String> = adopted
            .iter()
            .map(|&(name, schema, checksum)| [name, schema, checksum][field].to_owned())
            .collect();
        Value::from(values)
    };
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "UPDATE public.seaql_migrations h SET schema_name = a.schema, checksum = a.checksum, \
             note = coalesce(h.note, 'adopted from an earlier history: checksum recorded on adoption') \
         FROM unnest($1::text[], $2::text[], $3::text[]) AS a(version, schema, checksum) \
         WHERE h.version = a.version AND h.checksum = ''",
        [column(0), column(1), column(2)],
    ))
    .await
    .map_err(HistoryError::write)?;
    Ok(())
}

pub(crate) async fn delete<C: ConnectionTrait>(db: &C, name: &str) -> Result<()> {
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "DELETE FROM public.seaql_migrations WHERE version = $1",
        [Value::from(name)],
    ))
    .await
    .map_err(HistoryError::write)?;
    Ok(())
}
