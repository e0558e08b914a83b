//! The history table, `public.seaql_migrations`: one row per migration the
//! database has seen. It keeps sea-orm's own columns (`version`,
//! `applied_at` in Unix seconds) so sea-orm's tooling can still read it, and
//! adds what a production runner needs.
//!
//! Rows are read distrustfully: a state this runner never writes, a blanked
//! checksum, or text with control characters is reported, not believed. Only
//! this crate writes the table (the writers are `pub(crate)`).
//!
//! It owns the table, its digest row and the migration lock ([`lock`]). It may
//! import `connect`, `exit` and nothing above: never the catalog, deploy, the
//! gate or the CLI, which read it through `load` and `unchanged`.

pub mod lock;

use sea_orm::{
    ConnectionTrait, DbBackend, DbErr, FromQueryResult, Statement, TransactionTrait, Value,
};

use crate::connect::db_error;
use crate::connect::printable;

/// The history table, qualified; every other module names it through this
/// constant (or [`TABLE_NAME`]), never as a literal.
pub const TABLE: &str = "public.seaql_migrations";
/// The history table's name within `public`.
pub const TABLE_NAME: &str = "seaql_migrations";

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

/// The history's companion table: one row holding the number of history rows
/// and a digest of them (four 60-bit lanes of each row's SHA-256 over
/// `version`, `checksum` and `state`, summed). A trigger on the history table
/// keeps it in the same transaction as every change to a row, whoever makes
/// it (this runner, an older one, sea-orm's migrator, a hand edit), so a
/// no-op deploy compares the code's digest with this one row instead of
/// reading the whole history. The sum does not depend on row order; the order
/// rules (out of order, missing) only matter when something is pending or
/// missing, and then the counts or digests differ and the full comparison runs.
pub const DIGEST_TABLE: &str = "public.seaql_migrations_digest";

/// The trigger function's body. Its SHA-256 is checked on every fast check, so
/// a replaced body (or a disabled trigger) sends the run to the full comparison.
const DIGEST_FUNCTION_BODY: &str = "
DECLARE
    h text;
    n bigint := 0;
    d numeric[] := ARRAY[0, 0, 0, 0];
BEGIN
    -- A restore that left the companion table out: nothing to keep; the next
    -- `up` rebuilds it, and until then every run compares in full.
    IF to_regclass('public.seaql_migrations_digest') IS NULL THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE public.seaql_migrations_digest SET row_count = 0, d1 = 0, d2 = 0, d3 = 0, d4 = 0;
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        h := encode(sha256(convert_to(OLD.version::text || E'\\n' || OLD.checksum || E'\\n' || OLD.state, 'UTF8')), 'hex');
        d := ARRAY[d[1] - ('x' || substr(h, 1, 15))::bit(60)::bigint, d[2] - ('x' || substr(h, 16, 15))::bit(60)::bigint,
                   d[3] - ('x' || substr(h, 31, 15))::bit(60)::bigint, d[4] - ('x' || substr(h, 46, 15))::bit(60)::bigint];
        n := n - 1;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        h := encode(sha256(convert_to(NEW.version::text || E'\\n' || NEW.checksum || E'\\n' || NEW.state, 'UTF8')), 'hex');
        d := ARRAY[d[1] + ('x' || substr(h, 1, 15))::bit(60)::bigint, d[2] + ('x' || substr(h, 16, 15))::bit(60)::bigint,
                   d[3] + ('x' || substr(h, 31, 15))::bit(60)::bigint, d[4] + ('x' || substr(h, 46, 15))::bit(60)::bigint];
        n := n + 1;
    END IF;
    UPDATE public.seaql_migrations_digest
       SET row_count = row_count + n, d1 = d1 + d[1], d2 = d2 + d[2], d3 = d3 + d[3], d4 = d4 + d[4];
    RETURN NULL;
END
";

/// Creates (or repairs) the digest table, its trigger function and triggers,
/// and recomputes the digest from the rows: idempotent, and what upgrades a
/// history table written by an earlier version. The function runs as its
/// owner (`SECURITY DEFINER`), so a role that may only write the history
/// table still keeps the digest.
fn install_digest_sql() -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS public.seaql_migrations_digest (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    history oid NOT NULL,
    row_count bigint NOT NULL,
    d1 numeric, d2 numeric, d3 numeric, d4 numeric
);
COMMENT ON TABLE public.seaql_migrations_digest IS
    'Row count and digest of public.seaql_migrations, kept by its trigger; written by migration-runner';
CREATE OR REPLACE FUNCTION public.seaql_migrations_digest() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $digest${DIGEST_FUNCTION_BODY}$digest$;
DROP TRIGGER IF EXISTS seaql_migrations_digest ON public.seaql_migrations;
DROP TRIGGER IF EXISTS seaql_migrations_digest_truncate ON public.seaql_migrations;
CREATE TRIGGER seaql_migrations_digest AFTER INSERT OR UPDATE OR DELETE ON public.seaql_migrations
    FOR EACH ROW EXECUTE FUNCTION public.seaql_migrations_digest();
CREATE TRIGGER seaql_migrations_digest_truncate AFTER TRUNCATE ON public.seaql_migrations
    FOR EACH STATEMENT EXECUTE FUNCTION public.seaql_migrations_digest();
INSERT INTO public.seaql_migrations_digest (id, history, row_count, d1, d2, d3, d4)
SELECT true, 'public.seaql_migrations'::regclass::oid, a.n, a.d1, a.d2, a.d3, a.d4 FROM ({ROWS_DIGEST_SQL}) AS a
ON CONFLICT (id) DO UPDATE SET history = excluded.history, row_count = excluded.row_count,
    d1 = excluded.d1, d2 = excluded.d2, d3 = excluded.d3, d4 = excluded.d4;"
    )
}

/// The row count and digest of the history table's rows, computed by the server.
const ROWS_DIGEST_SQL: &str = "SELECT count(*) AS n, \
       coalesce(sum(('x' || substr(h, 1, 15))::bit(60)::bigint), 0) AS d1, \
       coalesce(sum(('x' || substr(h, 16, 15))::bit(60)::bigint), 0) AS d2, \
       coalesce(sum(('x' || substr(h, 31, 15))::bit(60)::bigint), 0) AS d3, \
       coalesce(sum(('x' || substr(h, 46, 15))::bit(60)::bigint), 0) AS d4 \
  FROM (SELECT encode(sha256(convert_to(version::text || E'\\n' || checksum || E'\\n' || state, 'UTF8')), 'hex') AS h \
          FROM public.seaql_migrations) AS rows";

/// True when both digest triggers of the history table (`relation`, an oid
/// expression) are enabled and run our function, its body unchanged.
fn triggers_kept_sql(relation: &str) -> String {
    use sha2::{Digest as _, Sha256};
    let body = hex::encode(Sha256::digest(DIGEST_FUNCTION_BODY.as_bytes()));
    format!(
        "(SELECT count(*) FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid \
           WHERE t.tgrelid = {relation} AND t.tgenabled IN ('O', 'A') \
             AND t.tgname IN ('seaql_migrations_digest', 'seaql_migrations_digest_truncate') \
             AND p.proname = 'seaql_migrations_digest' AND p.prosecdef \
             AND encode(sha256(convert_to(p.prosrc, 'UTF8')), 'hex') = '{body}') = 2"
    )
}

/// What the code says history must be when nothing is pending: every
/// migration, applied, with the checksum its SQL has now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    pub rows: usize,
    pub lanes: [u128; 4],
}

impl Digest {
    /// The digest of `(name, checksum)` rows, each `applied`, as the trigger computes it.
    pub fn of<'a>(rows: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let (rows, lanes) = crate::source::sum::row_digest(rows);
        Digest { rows, lanes }
    }
}

/// Which history rows the one-row check returns beside its verdict.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Shown<'a> {
    /// None: the no-op deploy.
    Nothing,
    /// These (names from the code): `status`'s newest rows.
    Named(&'a [&'a str]),
    /// Every row: `status --all` and `--json`.
    Every,
}

/// What the one-row check found when history is exactly the code.
#[derive(Debug)]
pub(crate) struct Unchanged {
    /// The rows [`Shown`] asked for.
    pub rows: Vec<HistoryRow>,
    /// The values of the caller's extra expressions, in order.
    pub extras: Vec<Option<String>>,
}

/// The one-row check of a no-op run: the companion table holds exactly
/// `code`'s digest, for this history table, kept by our trigger function (its
/// body unchanged, both triggers enabled). With `lock`, it also takes and
/// releases the migration lock in the same statement, so a deploy in progress
/// elsewhere sends the caller to the full path, which waits for it. `Some`
/// with the rows `shown` asks for, and the text of each of `extras` (SQL
/// expressions the caller needs beside it, so a no-op stays one statement),
/// when it holds; `None` on any failure too (no companion table yet, no
/// privilege on it or on what an extra reads): the caller then compares
/// everything. One round trip, on the simple query protocol.
pub(crate) async fn unchanged(
    db: &sea_orm::DatabaseConnection,
    code: &Digest,
    lock: bool,
    shown: Shown<'_>,
    extras: &[&str],
) -> Option<Unchanged> {
    let lock = if lock {
        format!(
            "pg_try_advisory_xact_lock({})",
            crate::history::lock::LOCK_KEY
        )
    } else {
        "true".to_owned()
    };
    let [d1, d2, d3, d4] = code.lanes;
    // The rows travel as one JSON text (`json` itself is no text to the
    // driver), `applied_on` in UTC as the full comparison decodes it,
    // whatever the session's `TimeZone`.
    let rows = |filter: &str| {
        format!(
            "(SELECT json_agg(json_build_object('version', version, 'schema_name', schema_name, \
                     'checksum', checksum, 'state', state, 'execution_ms', execution_ms, \
                     'applied_on', to_char(applied_on AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"'), \
                     'out_of_order', out_of_order, 'note', note))::text \
                FROM public.seaql_migrations{filter})"
        )
    };
    let rows = match shown {
        Shown::Nothing => "NULL::text".to_owned(),
        Shown::Named([]) => "'[]'::text".to_owned(),
        Shown::Named(names) => {
            let names: Vec<String> = names
                .iter()
                .map(|name| format!("'{}'", name.replace('\'', "''")))
                .collect();
            rows(&format!(" WHERE version IN ({})", names.join(", ")))
        }
        Shown::Every => rows(""),
    };
    let extra_columns: String = extras
        .iter()
        .map(|extra| format!(", ({extra})::text"))
        .collect();
    let sql = format!(
        "SELECT {lock} AND d.history = to_regclass('public.seaql_migrations')::oid \
            AND d.row_count = {count} AND d.d1 = {d1} AND d.d2 = {d2} AND d.d3 = {d3} AND d.d4 = {d4} \
            AND {kept} AS unchanged, {rows} AS rows{extra_columns} \
         FROM public.seaql_migrations_digest d",
        count = code.rows,
        kept = triggers_kept_sql("d.history"),
    );
    // A `Session` is always a PostgreSQL pool of one connection.
    let pool = db.get_postgres_connection_pool();
    let row = sea_orm::sqlx::raw_sql(sea_orm::sqlx::AssertSqlSafe(sql))
        .fetch_optional(pool)
        .await
        .ok()??;
    use sea_orm::sqlx::Row as _;
    if !row.try_get::<Option<bool>, _>(0).ok()?? {
        return None;
    }
    let extras = (0..extras.len())
        .map(|index| row.try_get::<Option<String>, _>(2 + index).ok())
        .collect::<Option<Vec<_>>>()?;
    let rows = match row.try_get::<Option<String>, _>(1).ok()? {
        // `json_agg` of no rows, or nothing asked for.
        None => Vec::new(),
        Some(json) => {
            let raw: Vec<RawRow> = serde_json::from_str(&json).ok()?;
            raw.into_iter().map(HistoryRow::from).collect()
        }
    };
    Some(Unchanged { rows, extras })
}

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

#[derive(Debug, Clone, FromQueryResult, serde::Deserialize)]
struct RawRow {
    version: String,
    schema_name: String,
    checksum: String,
    state: String,
    execution_ms: i64,
    #[serde(deserialize_with = "rfc3339")]
    applied_on: chrono::DateTime<chrono::FixedOffset>,
    out_of_order: bool,
    note: Option<String>,
}

/// A `timestamptz` as PostgreSQL's JSON writes it.
fn rfc3339<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<chrono::DateTime<chrono::FixedOffset>, D::Error> {
    let text = <String as serde::Deserialize>::deserialize(deserializer)?;
    chrono::DateTime::parse_from_rfc3339(&text).map_err(serde::de::Error::custom)
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

impl From<RawRow> for HistoryRow {
    fn from(raw: RawRow) -> Self {
        HistoryRow {
            name: printable(&raw.version),
            schema: printable(&raw.schema_name),
            checksum: printable(&raw.checksum),
            state: RowState::parse(&raw.state),
            execution_ms: raw.execution_ms,
            applied_on: raw.applied_on,
            out_of_order: raw.out_of_order,
            note: raw.note.as_deref().map(printable),
        }
    }
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
async fn table_state<C: ConnectionTrait>(db: &C) -> Result<TableState, HistoryError> {
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
        });
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
    /// The companion digest is in place and agrees with the rows; when not,
    /// the next write under the lock (re)builds it.
    pub digest_current: bool,
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
    ) -> Result<(), HistoryError> {
        if self.table == TableState::Current && adopted.is_empty() && self.digest_current {
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
        if !self.digest_current || !adopted.is_empty() {
            // In a savepoint: a role that may write the history but not own it
            // (no trigger can be created) deploys as before, without the fast
            // no-op check.
            let savepoint = txn.begin().await.map_err(HistoryError::write)?;
            // On Citus the function stays on the coordinator, with the
            // history table its trigger serves: propagated to every worker
            // (a distributed transaction and connections opened to each) it
            // cost 40 ms of a 700 ms cold deploy. A placeholder setting on
            // plain PostgreSQL.
            let sql = format!(
                "SET LOCAL citus.enable_ddl_propagation = off;\n{}",
                install_digest_sql()
            );
            match savepoint.execute_unprepared(&sql).await {
                Ok(_) => savepoint.commit().await.map_err(HistoryError::write)?,
                Err(_) => savepoint.rollback().await.map_err(HistoryError::write)?,
            }
        }
        txn.commit().await.map_err(HistoryError::write)?;
        Ok(())
    }
}

/// Every row, oldest first. An absent table reads as an empty history, and
/// sea-orm's own table as applied rows whose checksums are yet to be recorded.
pub async fn load<C: ConnectionTrait>(db: &C) -> Result<History, HistoryError> {
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
        .map(HistoryRow::from)
        .collect(),
    };
    let digest_current = table == TableState::Current && digest_current(db).await;
    Ok(History {
        rows,
        table,
        digest_current,
    })
}

/// Whether the companion digest is in place (table, function, both triggers)
/// and agrees with the rows as they are. Any failure reads as "no".
async fn digest_current<C: ConnectionTrait>(db: &C) -> bool {
    let kept = triggers_kept_sql("to_regclass('public.seaql_migrations')::oid");
    let present = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT to_regclass('public.seaql_migrations_digest') IS NOT NULL AND {kept} AS present"
            ),
        ))
        .await;
    let yes = |row: std::result::Result<Option<sea_orm::QueryResult>, sea_orm::DbErr>,
               column: &str| {
        row.ok()
            .flatten()
            .and_then(|row| row.try_get::<Option<bool>>("", column).ok().flatten())
            .unwrap_or(false)
    };
    if !yes(present, "present") {
        return false;
    }
    let agrees = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT d.history = to_regclass('public.seaql_migrations')::oid AND d.row_count = a.n \
                        AND d.d1 = a.d1 AND d.d2 = a.d2 AND d.d3 = a.d3 AND d.d4 = a.d4 AS agrees \
                   FROM public.seaql_migrations_digest d, ({ROWS_DIGEST_SQL}) AS a"
            ),
        ))
        .await;
    yes(agrees, "agrees")
}

/// Rows of a table created by sea-orm's own migrator (adoption): applied, unchecked.
async fn sea_orm_rows<C: ConnectionTrait>(db: &C) -> Result<Vec<HistoryRow>, HistoryError> {
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
pub(crate) async fn record<C: ConnectionTrait>(
    db: &C,
    row: NewRow<'_>,
) -> Result<(), HistoryError> {
    db.execute_unprepared(&record_sql(&row))
        .await
        .map_err(HistoryError::write)?;
    Ok(())
}

/// The statement that records `row` (inserted, or replacing a cleared
/// entry), its values written in as literals: parameterless, so the executor
/// sends it together with the `COMMIT` after it (one round trip).
pub(crate) fn record_sql(row: &NewRow<'_>) -> String {
    use sea_orm::sea_query::{PostgresQueryBuilder, QueryBuilder as _};
    let literal = |value: Value| PostgresQueryBuilder.value_to_string(&value);
    format!(
        "INSERT INTO public.seaql_migrations \
             (version, applied_at, schema_name, checksum, state, execution_ms, applied_on, applied_by, out_of_order, note) \
         VALUES ({}, extract(epoch FROM now())::bigint, {}, {}, {}, {}, now(), current_user, {}, {}) \
         ON CONFLICT (version) DO UPDATE SET \
             applied_at = excluded.applied_at, schema_name = excluded.schema_name, \
             checksum = excluded.checksum, state = excluded.state, \
             execution_ms = excluded.execution_ms, applied_on = excluded.applied_on, \
             applied_by = excluded.applied_by, out_of_order = excluded.out_of_order, note = excluded.note",
        literal(Value::from(row.name)),
        literal(Value::from(row.schema)),
        literal(Value::from(row.checksum)),
        literal(Value::from(row.state.as_str())),
        literal(Value::from(row.execution_ms)),
        literal(Value::from(row.out_of_order)),
        literal(Value::from(row.note.map(str::to_owned))),
    )
}

pub(crate) async fn set_state<C: ConnectionTrait>(
    db: &C,
    name: &str,
    state: RowState,
    execution_ms: i64,
    note: Option<&str>,
) -> Result<(), HistoryError> {
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
async fn adopt<C: ConnectionTrait>(
    db: &C,
    adopted: &[(&str, &str, &str)],
) -> Result<(), HistoryError> {
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

pub(crate) async fn delete<C: ConnectionTrait>(db: &C, name: &str) -> Result<(), HistoryError> {
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "DELETE FROM public.seaql_migrations WHERE version = $1",
        [Value::from(name)],
    ))
    .await
    .map_err(HistoryError::write)?;
    Ok(())
}

/// Reading or writing the history table.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error(
        "`{}` exists but is not a migration history (its columns are {}); it belongs to something else: \
         rename that table, or deploy into another database",
        crate::history::TABLE,
        columns.join(", ")
    )]
    Foreign { columns: Vec<String> },

    #[error(
        "the connected role cannot {action} the history table `{table}`: {}; grant it \
         with `GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO <role>;` (and \
         `GRANT USAGE, CREATE ON SCHEMA public TO <role>;` if the table does not exist yet), run as its \
         owner; `migrate preflight` lists every missing privilege",
        db_error::describe(.source),
        table = crate::history::TABLE
    )]
    PermissionDenied {
        action: &'static str,
        #[source]
        source: DbErr,
    },

    #[error("cannot {action} the history table `{}`: {}", crate::history::TABLE, db_error::describe(.source))]
    Database {
        action: &'static str,
        #[source]
        source: DbErr,
    },
}

impl HistoryError {
    /// The process exit code: a table that is not a history, or a role that
    /// may not read it, is a refusal; anything else a failure.
    pub fn exit(&self) -> crate::exit::Exit {
        match self {
            HistoryError::Foreign { .. } | HistoryError::PermissionDenied { .. } => {
                crate::exit::Exit::Refused
            }
            HistoryError::Database { .. } => crate::exit::Exit::Failed,
        }
    }

    fn from_db(action: &'static str, source: DbErr) -> Self {
        if db_error::kind(&source) == db_error::Kind::PermissionDenied {
            HistoryError::PermissionDenied { action, source }
        } else {
            HistoryError::Database { action, source }
        }
    }

    pub(crate) fn read(source: DbErr) -> Self {
        Self::from_db("read", source)
    }

    pub(crate) fn write(source: DbErr) -> Self {
        Self::from_db("write", source)
    }
}
