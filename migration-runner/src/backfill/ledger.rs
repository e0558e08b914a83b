//! The backfill ledger, `public.backfill_ledger`: one row per backfill that
//! ever started (or was paused, cancelled or marked finished), with its
//! state, cursor and counts. The driver updates it in the same transaction
//! as each batch, so a backfill killed at any moment resumes from its last
//! committed batch, nothing lost and nothing counted twice. Like the history
//! table it lives in `public` and only the engine creates and writes it.

use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement, Value};
use serde::Serialize;

use super::error::BackfillError;
use crate::connect::printable;

pub const TABLE: &str = "public.backfill_ledger";

/// Creates the ledger and the flags table when absent (under a transaction
/// lock, so two first runs do not race).
const INSTALL_SQL: &str = "\
SELECT pg_advisory_xact_lock(7311, 1);
CREATE TABLE IF NOT EXISTS public.backfill_ledger (
    name text PRIMARY KEY,
    schema_name text NOT NULL,
    table_name text NOT NULL,
    state text NOT NULL DEFAULT 'pending',
    cursor text,
    rows_done bigint NOT NULL DEFAULT 0,
    rows_changed bigint NOT NULL DEFAULT 0,
    rows_total bigint,
    batches bigint NOT NULL DEFAULT 0,
    batch_size integer,
    attempts integer NOT NULL DEFAULT 0,
    retries bigint NOT NULL DEFAULT 0,
    last_error text,
    note text,
    started_at timestamptz,
    finished_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL DEFAULT current_user
);
COMMENT ON TABLE public.backfill_ledger IS
    'Progress of every backfill, written by migration-runner in the same transaction as each batch';
CREATE TABLE IF NOT EXISTS public.feature_flags (
    name text PRIMARY KEY,
    enabled boolean NOT NULL,
    note text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL DEFAULT current_user
);
COMMENT ON TABLE public.feature_flags IS
    'Feature flags: read by the application (schema_core::flags), written by migration-runner flag set';
-- Application code reads the flags as its runtime role (`Flag::is_on`):
-- readable by every role, as `public.migration_settings` is; written only
-- by the roles that deploy.
GRANT SELECT ON public.feature_flags TO PUBLIC;";

/// Refuses a database that was never migrated: backfills and flags belong to
/// the workspace's history, and nothing is created without it.
pub(crate) async fn require_history<C: ConnectionTrait>(db: &C) -> Result<(), BackfillError> {
    let migrated = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT to_regclass($1) IS NOT NULL",
            [crate::history::TABLE.into()],
        ))
        .await
        .map_err(|e| BackfillError::db("cannot read the migration history", e))?
        .map(|row| row.try_get_by_index::<bool>(0))
        .transpose()
        .map_err(|e| BackfillError::db("cannot read the migration history", e))?
        .unwrap_or(false);
    if migrated {
        Ok(())
    } else {
        Err(BackfillError::NotMigrated)
    }
}

/// Where a backfill stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerState {
    /// Never started, or stopped by `--max-rows`: `run` continues it.
    Pending,
    /// A runner is on it, or one was killed (`run` continues it).
    Running,
    /// Stopped by `pause`: `resume` continues it.
    Paused,
    /// Stopped by `cancel`: `resume` continues it.
    Cancelled,
    /// Stopped by an error or exhausted retries: `resume` continues it.
    Failed,
    /// Done (walked to the end, nothing to do, or `mark-finished`).
    Finished,
    /// A value this engine never writes: shown, never guessed at.
    Unknown(String),
}

impl LedgerState {
    pub fn as_str(&self) -> &str {
        match self {
            LedgerState::Pending => "pending",
            LedgerState::Running => "running",
            LedgerState::Paused => "paused",
            LedgerState::Cancelled => "cancelled",
            LedgerState::Failed => "failed",
            LedgerState::Finished => "finished",
            LedgerState::Unknown(text) => text,
        }
    }

    pub(crate) fn parse(text: &str) -> Self {
        match text {
            "pending" => LedgerState::Pending,
            "running" => LedgerState::Running,
            "paused" => LedgerState::Paused,
            "cancelled" => LedgerState::Cancelled,
            "failed" => LedgerState::Failed,
            "finished" => LedgerState::Finished,
            other => LedgerState::Unknown(printable(other)),
        }
    }
}

#[derive(Debug, Clone, FromQueryResult)]
struct RawRow {
    name: String,
    state: String,
    cursor: Option<String>,
    rows_done: i64,
    rows_changed: i64,
    rows_total: Option<i64>,
    batches: i64,
    batch_size: Option<i32>,
    attempts: i32,
    retries: i64,
    last_error: Option<String>,
    note: Option<String>,
    started_at: Option<String>,
    finished_at: Option<String>,
    updated_at: String,
}

/// One ledger row, its text made printable.
#[derive(Debug, Clone, Serialize)]
pub struct LedgerRow {
    pub name: String,
    pub state: LedgerState,
    /// The last key of the last committed batch.
    pub cursor: Option<String>,
    /// Rows walked (each once).
    pub rows_done: i64,
    /// Rows the batches changed.
    pub rows_changed: i64,
    /// The table's estimated size when the run started.
    pub rows_total: Option<i64>,
    pub batches: i64,
    pub batch_size: Option<i32>,
    /// Runs started (a resumed or restarted run counts again).
    pub attempts: i32,
    /// Batches retried after a transient failure.
    pub retries: i64,
    pub last_error: Option<String>,
    pub note: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub updated_at: String,
}

impl From<RawRow> for LedgerRow {
    fn from(raw: RawRow) -> Self {
        Self {
            name: printable(&raw.name),
            state: LedgerState::parse(&raw.state),
            cursor: raw.cursor.map(|c| printable(&c)),
            rows_done: raw.rows_done,
            rows_changed: raw.rows_changed,
            rows_total: raw.rows_total,
            batches: raw.batches,
            batch_size: raw.batch_size,
            attempts: raw.attempts,
            retries: raw.retries,
            last_error: raw.last_error.map(|e| printable(&e)),
            note: raw.note.map(|n| printable(&n)),
            started_at: raw.started_at,
            finished_at: raw.finished_at,
            updated_at: raw.updated_at,
        }
    }
}

const SELECT: &str = "SELECT name, state, cursor, rows_done, rows_changed, rows_total, batches, batch_size, \
    attempts, retries, last_error, note, \
    to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS started_at, \
    to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS finished_at, \
    to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS updated_at \
    FROM public.backfill_ledger";

fn stmt(sql: &str, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

/// Whether both tables exist (one round trip).
async fn installed<C: ConnectionTrait>(db: &C) -> Result<bool, BackfillError> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT to_regclass('public.backfill_ledger') IS NOT NULL \
                AND to_regclass('public.feature_flags') IS NOT NULL",
        ))
        .await
        .map_err(|e| BackfillError::db("cannot read the backfill ledger", e))?;
    Ok(row
        .and_then(|r| r.try_get_by_index::<bool>(0).ok())
        .unwrap_or(false))
}

/// Creates the ledger and flags tables when absent (one simple query: its
/// statements commit together).
pub(crate) async fn install<C: ConnectionTrait>(db: &C) -> Result<(), BackfillError> {
    if installed(db).await? {
        return Ok(());
    }
    let fail = |source| match crate::connect::db_error::kind(&source) {
        crate::connect::db_error::Kind::PermissionDenied => BackfillError::PermissionDenied {
            action: "create",
            source,
        },
        _ => BackfillError::db("cannot create the backfill ledger", source),
    };
    db.execute_unprepared(INSTALL_SQL)
        .await
        .map(drop)
        .map_err(fail)
}

/// Every ledger row (none when the table does not exist yet).
pub async fn load_all<C: ConnectionTrait>(db: &C) -> Result<Vec<LedgerRow>, BackfillError> {
    if !installed(db).await? {
        return Ok(Vec::new());
    }
    let rows = RawRow::find_by_statement(Statement::from_string(
        DbBackend::Postgres,
        format!("{SELECT} ORDER BY name"),
    ))
    .all(db)
    .await
    .map_err(|e| BackfillError::db("cannot read the backfill ledger", e))?;
    Ok(rows.into_iter().map(LedgerRow::from).collect())
}

/// One backfill's row, if it has one.
pub async fn load<C: ConnectionTrait>(
    db: &C,
    name: &str,
) -> Result<Option<LedgerRow>, BackfillError> {
    if !installed(db).await? {
        return Ok(None);
    }
    let row = RawRow::find_by_statement(stmt(
        &format!("{SELECT} WHERE name = $1"),
        vec![name.into()],
    ))
    .one(db)
    .await
    .map_err(|e| BackfillError::db(format!("cannot read the ledger of `{name}`"), e))?;
    Ok(row.map(LedgerRow::from))
}

/// Makes sure the backfill has a row (state `pending`).
pub(crate) async fn ensure<C: ConnectionTrait>(
    db: &C,
    name: &str,
    schema: &str,
    table: &str,
) -> Result<(), BackfillError> {
    db.execute_raw(stmt(
        "INSERT INTO public.backfill_ledger (name, schema_name, table_name) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO NOTHING",
        vec![name.into(), schema.into(), table.into()],
    ))
    .await
    .map_err(|e| BackfillError::db(format!("cannot write the ledger of `{name}`"), e))?;
    Ok(())
}

/// Sets the state (and a note when given); `finished` also stamps `finished_at`.
pub(crate) async fn set_state<C: ConnectionTrait>(
    db: &C,
    name: &str,
    state: &LedgerState,
    note: Option<&str>,
) -> Result<(), BackfillError> {
    db.execute_raw(stmt(
        "UPDATE public.backfill_ledger SET state = $2, note = coalesce($3, note), updated_at = now(), \
                updated_by = current_user, \
                finished_at = CASE WHEN $2 = 'finished' THEN now() ELSE finished_at END \
          WHERE name = $1",
        vec![name.into(), state.as_str().into(), note.map(str::to_owned).into()],
    ))
    .await
    .map_err(|e| BackfillError::db(format!("cannot write the ledger of `{name}`"), e))?;
    Ok(())
}

/// Records a transient failure that is being retried.
pub(crate) async fn record_retry<C: ConnectionTrait>(
    db: &C,
    name: &str,
    error: &str,
) -> Result<(), BackfillError> {
    db.execute_raw(stmt(
        "UPDATE public.backfill_ledger SET retries = retries + 1, last_error = $2, updated_at = now() \
          WHERE name = $1",
        vec![name.into(), error.into()],
    ))
    .await
    .map_err(|e| BackfillError::db(format!("cannot write the ledger of `{name}`"), e))?;
    Ok(())
}

/// Records the failure that stopped the backfill: state `failed`.
pub(crate) async fn record_failure<C: ConnectionTrait>(
    db: &C,
    name: &str,
    error: &str,
) -> Result<(), BackfillError> {
    db.execute_raw(stmt(
        "UPDATE public.backfill_ledger SET state = 'failed', last_error = $2, updated_at = now() \
          WHERE name = $1",
        vec![name.into(), error.into()],
    ))
    .await
    .map_err(|e| BackfillError::db(format!("cannot write the ledger of `{name}`"), e))?;
    Ok(())
}

/// Starts (or continues) a run: state `running`, one more attempt.
pub(crate) async fn start<C: ConnectionTrait>(
    db: &C,
    name: &str,
    rows_total: i64,
    batch_size: u32,
    note: Option<&str>,
) -> Result<(), BackfillError> {
    db.execute_raw(stmt(
        "UPDATE public.backfill_ledger SET state = 'running', attempts = attempts + 1, \
                started_at = coalesce(started_at, now()), rows_total = $2, batch_size = $3, \
                note = coalesce($4, note), updated_at = now(), updated_by = current_user \
          WHERE name = $1",
        vec![
            name.into(),
            rows_total.into(),
            i32::try_from(batch_size).unwrap_or(i32::MAX).into(),
            note.map(str::to_owned).into(),
        ],
    ))
    .await
    .map_err(|e| BackfillError::db(format!("cannot write the ledger of `{name}`"), e))?;
    Ok(())
}

/// Records a backfill finished without running it: nothing to do, or
/// `mark-finished` (the reason goes in `note`).
pub(crate) async fn mark_finished<C: ConnectionTrait>(
    db: &C,
    name: &str,
    schema: &str,
    table: &str,
    note: &str,
) -> Result<(), BackfillError> {
    ensure(db, name, schema, table).await?;
    set_state(db, name, &LedgerState::Finished, Some(note)).await
}
