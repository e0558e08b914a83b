//! Driving one backfill: keyset batches in primary-key order, one short
//! transaction each that also advances the ledger, with a lock timeout and a
//! statement timeout per batch, a sleep between batches, a batch size that
//! adapts toward a target duration, and bounded retries of transient
//! failures. A `pause`, `cancel` or `mark-finished` from another session is
//! seen at the start of the next batch (the ledger row is read under lock
//! in each batch's transaction), so the run stops after its current batch.

use std::time::{Duration, Instant};

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, TransactionTrait, Value,
};

use super::Registered;
use super::error::BackfillError;
use super::ledger::{self, LedgerState};
use crate::connect::db_error::{self, Kind};

/// The advisory-lock class of backfills (`pg_try_advisory_lock(class, hashtext(name))`).
pub const LOCK_CLASS: i32 = 7312;

/// What "throttled" means by default, and why.
///
/// - **Target batch duration, 200 ms.** A batch holds the row locks of the
///   rows it changes until it commits, so a writer updating one of them waits
///   at most about a batch; and a lock request queued behind a batch (an
///   `ALTER TABLE` of a deploy, with the readers queued behind *it*) waits at
///   most that long too. 200 ms is below what a user of the application
///   notices, and long enough that the fixed cost of a batch (four round
///   trips, the ledger row, the commit) is under 1% of it.
/// - **Sleep, 5 ms between batches** (a fortieth of the target): lock
///   waiters are granted at each commit anyway (a queued `ALTER TABLE` goes
///   before the next batch's lock request); the pause adds a gap in which
///   the table's row locks are all free, and keeps the backfill's write rate
///   (so the WAL a replica replays, and the dead rows autovacuum cleans) a
///   little below one `UPDATE`'s, at a cost of about 2% of its rate (20 ms,
///   the earlier default, cost about 10%: `backfill_bench`). A replica that
///   lags behind it wants `--sleep` raised, not a smaller target.
/// - **Batch timeout, 2 s** (ten targets): the whole batch transaction, from
///   `BEGIN` to `COMMIT`, lock waits included, never runs longer. A batch cut
///   at it is rolled back (ledger included), retried smaller, and writers
///   never wait on the backfill longer than that.
/// - **Lock timeout, 1 s**: a batch waiting for a lock (someone holds the
///   table) gives up and retries rather than queue others behind it.
pub const DEFAULT_TARGET_BATCH: Duration = Duration::from_millis(200);
pub const DEFAULT_SLEEP: Duration = Duration::from_millis(5);
pub const DEFAULT_BATCH_TIMEOUT: Duration = Duration::from_millis(2_000);
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_millis(1_000);

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Rows in the first batch (default: the backfill's own).
    pub batch_size: Option<u32>,
    /// Pause between batches.
    pub sleep: Duration,
    /// Stop after walking this many rows (state `pending`; `run` continues).
    pub max_rows: Option<u64>,
    /// The batch duration the batch size adapts toward.
    pub target_batch: Duration,
    /// Longest a batch's transaction may run, `BEGIN` to `COMMIT` (its
    /// statements' timeouts are what is left of it), before it is cancelled,
    /// rolled back and retried smaller.
    pub statement_timeout: Duration,
    /// Longest a batch may wait for a lock before it is rolled back and retried.
    pub lock_timeout: Duration,
    /// Consecutive retries of one batch before the backfill stops as `failed`.
    pub retries: u32,
    /// Continue a paused, cancelled or failed backfill (`resume`).
    pub resume: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            batch_size: None,
            sleep: DEFAULT_SLEEP,
            max_rows: None,
            target_batch: DEFAULT_TARGET_BATCH,
            statement_timeout: DEFAULT_BATCH_TIMEOUT,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            retries: 5,
            resume: false,
        }
    }
}

/// Why a run ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Walked to the end of the table.
    Finished,
    /// The ledger already said finished: nothing ran.
    AlreadyFinished,
    /// Stopped after a batch because another session paused it.
    Paused,
    /// Stopped after a batch because another session cancelled it.
    Cancelled,
    /// Stopped because another session marked it finished.
    MarkedFinished,
    /// Stopped at `--max-rows`; `run` continues.
    MaxRows,
}

impl Outcome {
    /// Whether work is left.
    pub fn left_work(self) -> bool {
        matches!(
            self,
            Outcome::Paused | Outcome::Cancelled | Outcome::MaxRows
        )
    }
}

/// What one run did.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub name: String,
    pub outcome: Outcome,
    /// The cursor this run started from (a resumed run).
    pub resumed_from: Option<String>,
    /// Rows walked by this run.
    pub rows: u64,
    /// Rows this run's batches changed.
    pub changed: u64,
    pub batches: u64,
    pub retries: u64,
    /// The ledger's totals after the run.
    pub rows_done: i64,
    pub rows_total: i64,
    pub elapsed: Duration,
    /// The longest batch transaction (begin to commit).
    pub longest_batch: Duration,
    pub statement_timeout: Duration,
    /// After walking to the end, rows still need it (written behind the cursor
    /// while it ran): the flag or the application may be wrong.
    pub work_left_behind: bool,
}

/// Progress, after each batch.
#[derive(Debug, Clone)]
pub struct Progress<'a> {
    pub name: &'a str,
    pub rows_done: i64,
    pub rows_total: i64,
    pub batch_size: u32,
    /// Rows per second of this run so far.
    pub rate: f64,
    pub retrying: Option<String>,
}

const MIN_BATCH: u32 = 10;
const MAX_BATCH: u32 = 100_000;

fn stmt(sql: &str, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

/// `academy.webinars` → `"academy"."webinars"`.
pub(crate) fn quote_qualified(name: &str) -> String {
    name.split('.')
        .map(quote_ident)
        .collect::<Vec<_>>()
        .join(".")
}

fn quote_ident(part: &str) -> String {
    format!("\"{}\"", part.replace('"', "\"\""))
}

/// The key column's type, or why the table cannot be walked.
async fn key_type(db: &DatabaseConnection, backfill: &Registered) -> Result<String, BackfillError> {
    let inner = &backfill.inner;
    let row = db
        .query_one_raw(stmt(
            "SELECT to_regclass($1) IS NOT NULL, \
                    (SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a \
                      WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND NOT a.attisdropped)",
            vec![
                quote_qualified(inner.table()).into(),
                inner.key().to_owned().into(),
            ],
        ))
        .await
        .map_err(|e| BackfillError::db("cannot read the table's catalog", e))?;
    let (present, ty) = match row {
        Some(row) => (
            row.try_get_by_index::<bool>(0).unwrap_or(false),
            row.try_get_by_index::<Option<String>>(1).unwrap_or(None),
        ),
        None => (false, None),
    };
    match (present, ty) {
        (true, Some(ty)) => Ok(ty),
        (false, _) => Err(BackfillError::NoTable {
            name: inner.name().to_owned(),
            table: inner.table().to_owned(),
            problem: "the table does not exist".to_owned(),
        }),
        (true, None) => Err(BackfillError::NoTable {
            name: inner.name().to_owned(),
            table: inner.table().to_owned(),
            problem: format!("it has no column `{}`", inner.key()),
        }),
    }
}

/// The table's size: the planner's estimate, or a count when it has none.
async fn estimate(db: &DatabaseConnection, table: &str) -> Result<i64, BackfillError> {
    let quoted = quote_qualified(table);
    let estimated = db
        .query_one_raw(stmt(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass($1)",
            vec![quoted.clone().into()],
        ))
        .await
        .map_err(|e| BackfillError::db("cannot estimate the table's size", e))?
        .and_then(|r| r.try_get_by_index::<i64>(0).ok())
        .unwrap_or(-1);
    if estimated > 0 {
        return Ok(estimated);
    }
    let counted = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT count(*) FROM {quoted}"),
        ))
        .await;
    match counted {
        Ok(row) => row
            .map_or(Ok(0), |r| r.try_get_by_index::<i64>(0))
            .map_err(|e| BackfillError::db("cannot count the table's rows", e)),
        // Only progress is estimated: a count cut by the run's limits (a
        // large table never analysed, or one locked) leaves it unknown.
        Err(e)
            if db_error::kind(&e) == Kind::LockTimeout
                || db_error::sqlstate(&e).as_deref() == Some("57014") =>
        {
            Ok(0)
        }
        Err(e) => Err(BackfillError::db("cannot count the table's rows", e)),
    }
}

/// Takes the backfill's session lock, or names who holds it.
async fn lock(db: &DatabaseConnection, name: &str) -> Result<(), BackfillError> {
    let granted = db
        .query_one_raw(stmt(
            "SELECT pg_try_advisory_lock($1, hashtext($2))",
            vec![LOCK_CLASS.into(), name.into()],
        ))
        .await
        .map_err(|e| BackfillError::db("cannot take the backfill's lock", e))?
        .and_then(|r| r.try_get_by_index::<bool>(0).ok())
        .unwrap_or(false);
    if granted {
        return Ok(());
    }
    let holder = db
        .query_one_raw(stmt(
            "SELECT format('pid %s, application `%s`', a.pid, a.application_name) \
               FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
              WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::int::oid \
                AND l.objid = hashtext($2)::oid LIMIT 1",
            vec![LOCK_CLASS.into(), name.into()],
        ))
        .await
        .ok()
        .flatten()
        .and_then(|r| r.try_get_by_index::<String>(0).ok())
        .unwrap_or_else(|| "another session".to_owned());
    Err(BackfillError::Busy {
        name: name.to_owned(),
        holder: crate::connect::printable(&holder),
    })
}

async fn unlock(db: &DatabaseConnection, name: &str) {
    let _ = db
        .execute_raw(stmt(
            "SELECT pg_advisory_unlock($1, hashtext($2))",
            vec![LOCK_CLASS.into(), name.into()],
        ))
        .await;
}

/// Runs (or continues) one backfill on the session's connection.
pub async fn run(
    db: &DatabaseConnection,
    backfill: &Registered,
    options: &RunOptions,
    progress: &mut dyn FnMut(&Progress<'_>),
) -> Result<RunReport, BackfillError> {
    let name = backfill.inner.name();
    ledger::install(db).await?;
    lock(db, name).await?;
    let outcome = locked(db, backfill, options, progress).await;
    unlock(db, name).await;
    outcome
}

/// The run's lock and batch limits, on the session: in force before any
/// statement of a batch can wait on the table (a lock is taken while a
/// statement is parsed, before anything it sets takes effect).
async fn set_limits(db: &DatabaseConnection, sql: &BatchSql) -> Result<(), BackfillError> {
    db.execute_unprepared(&format!(
        "SET lock_timeout = {}; SET statement_timeout = {}",
        sql.lock_timeout_ms, sql.open_timeout_ms
    ))
    .await
    .map_err(|e| BackfillError::db("cannot set the backfill's timeouts", e))?;
    Ok(())
}

/// Back to the server's defaults once the batches are done.
async fn reset_limits(db: &DatabaseConnection) {
    let _ = db
        .execute_unprepared("RESET lock_timeout; RESET statement_timeout")
        .await;
}

async fn locked(
    db: &DatabaseConnection,
    backfill: &Registered,
    options: &RunOptions,
    progress: &mut dyn FnMut(&Progress<'_>),
) -> Result<RunReport, BackfillError> {
    let inner = &backfill.inner;
    let name = inner.name();
    let started = Instant::now();
    let key_type = key_type(db, backfill).await?;
    ledger::ensure(db, name, backfill.schema, inner.table()).await?;
    let row = ledger::load(db, name).await?.expect("ensured above");
    let mut report = RunReport {
        name: name.to_owned(),
        outcome: Outcome::AlreadyFinished,
        resumed_from: row.cursor.clone(),
        rows: 0,
        changed: 0,
        batches: 0,
        retries: 0,
        rows_done: row.rows_done,
        rows_total: row.rows_total.unwrap_or(0),
        elapsed: Duration::ZERO,
        longest_batch: Duration::ZERO,
        statement_timeout: options.statement_timeout,
        work_left_behind: false,
    };
    let note = match &row.state {
        // Finished is finished, whatever the flag says now.
        LedgerState::Finished => return Ok(report),
        LedgerState::Pending => None,
        LedgerState::Running => Some("continued after an interrupted run"),
        LedgerState::Paused | LedgerState::Cancelled | LedgerState::Failed if options.resume => {
            Some("resumed")
        }
        state => {
            return Err(BackfillError::NotRunnable {
                name: name.to_owned(),
                state: state.as_str().to_owned(),
                detail: row
                    .last_error
                    .as_deref()
                    .filter(|_| matches!(state, LedgerState::Failed))
                    .map(|e| format!(" (last error: {e})"))
                    .unwrap_or_default(),
            });
        }
    };
    if let Some(flag) = inner.flag()
        && !super::flags::is_on(db, flag).await?
    {
        return Err(BackfillError::FlagOff {
            name: name.to_owned(),
            flag: flag.to_owned(),
        });
    }
    let batch_size = options
        .batch_size
        .unwrap_or_else(|| inner.batch_size())
        .clamp(1, MAX_BATCH);
    let sql = BatchSql::new(
        &quote_qualified(inner.table()),
        &quote_ident(inner.key()),
        &key_type,
        inner.batch_sql(),
        inner.flag(),
        options,
    );
    // From here on every statement may meet the table's locks.
    set_limits(db, &sql).await?;
    let walked = async {
        let total = estimate(db, inner.table()).await?.max(row.rows_done);
        report.rows_total = total;
        ledger::start(db, name, total, batch_size, note).await?;
        let walk = Walk {
            sql: &sql,
            cursor: row.cursor.clone(),
            batch_size,
            total,
            started,
        };
        walk.run(db, backfill, options, progress, &mut report).await
    }
    .await;
    reset_limits(db).await;
    walked?;
    if report.outcome == Outcome::Finished {
        report.work_left_behind = has_work(db, inner.has_work_sql()).await.unwrap_or(false);
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Where a run's batches stand.
struct Walk<'a> {
    sql: &'a BatchSql,
    cursor: Option<String>,
    batch_size: u32,
    /// The table's estimated size.
    total: i64,
    started: Instant,
}

impl Walk<'_> {
    /// The batches, one after another, until the end, a stop, or a failure.
    async fn run(
        self,
        db: &DatabaseConnection,
        backfill: &Registered,
        options: &RunOptions,
        progress: &mut dyn FnMut(&Progress<'_>),
        report: &mut RunReport,
    ) -> Result<(), BackfillError> {
        let Walk {
            sql,
            mut cursor,
            mut batch_size,
            total,
            started,
        } = self;
        let inner = &backfill.inner;
        let name = inner.name();
        let target = effective_target(options);
        let mut failures = 0_u32;
        loop {
            if let Some(max) = options.max_rows {
                if report.rows >= max {
                    ledger::set_state(
                        db,
                        name,
                        &LedgerState::Pending,
                        Some(&format!("stopped after --max-rows {max}")),
                    )
                    .await?;
                    report.outcome = Outcome::MaxRows;
                    break;
                }
                let left = u32::try_from(max - report.rows).unwrap_or(u32::MAX);
                batch_size = batch_size.min(left.max(1));
            }
            let batch_started = Instant::now();
            let attempt = batch(db, name, sql, cursor.as_deref(), batch_size).await;
            match attempt {
                Ok(Batch::FlagOff) => {
                    let flag = inner.flag().unwrap_or_default().to_owned();
                    return Err(BackfillError::FlagTurnedOff {
                        name: name.to_owned(),
                        flag,
                        rows_done: report.rows_done,
                    });
                }
                Ok(Batch::Stopped(state)) => {
                    report.outcome = match state {
                        LedgerState::Paused => Outcome::Paused,
                        LedgerState::Cancelled => Outcome::Cancelled,
                        _ => Outcome::MarkedFinished,
                    };
                    break;
                }
                Ok(Batch::End) => {
                    report.outcome = Outcome::Finished;
                    break;
                }
                Ok(Batch::Done {
                    last,
                    scanned,
                    changed,
                }) => {
                    let took = batch_started.elapsed();
                    report.longest_batch = report.longest_batch.max(took);
                    failures = 0;
                    report.rows += scanned;
                    report.changed += changed;
                    report.batches += 1;
                    report.rows_done += i64::try_from(scanned).unwrap_or(i64::MAX);
                    cursor = Some(last);
                    batch_size = adapt(batch_size, took, target);
                    let elapsed = started.elapsed().as_secs_f64().max(1e-6);
                    progress(&Progress {
                        name,
                        rows_done: report.rows_done,
                        rows_total: total.max(report.rows_done),
                        batch_size,
                        rate: report.rows as f64 / elapsed,
                        retrying: None,
                    });
                    if !options.sleep.is_zero() {
                        tokio::time::sleep(options.sleep).await;
                    }
                }
                Err(source) => {
                    let kind = db_error::kind(&source);
                    let timed_out = db_error::sqlstate(&source).as_deref() == Some("57014");
                    let transient = timed_out
                        || matches!(
                            kind,
                            Kind::LockTimeout | Kind::Transient | Kind::ConnectionLost
                        );
                    let cursor_text = cursor.clone().unwrap_or_else(|| "(start)".to_owned());
                    if !transient {
                        let _ =
                            ledger::record_failure(db, name, &db_error::describe(&source)).await;
                        return Err(BackfillError::BatchFailed {
                            name: name.to_owned(),
                            cursor: cursor_text,
                            source,
                        });
                    }
                    failures += 1;
                    report.retries += 1;
                    if kind == Kind::ConnectionLost && failures <= options.retries {
                        // The pool reconnects; the session lock went with the old session.
                        tokio::time::sleep(backoff(failures)).await;
                        match lock(db, name).await {
                            Ok(()) => {}
                            Err(busy @ BackfillError::Busy { .. }) => return Err(busy),
                            Err(_) => continue,
                        }
                        // A new session: its limits too.
                        if set_limits(db, sql).await.is_err() {
                            continue;
                        }
                    }
                    if failures > options.retries {
                        let _ =
                            ledger::record_failure(db, name, &db_error::describe(&source)).await;
                        return Err(BackfillError::RetriesExhausted {
                            name: name.to_owned(),
                            table: inner.table().to_owned(),
                            cursor: cursor_text,
                            attempts: failures,
                            lock_timeout_ms: options.lock_timeout.as_millis() as u64,
                            statement_timeout_ms: options.statement_timeout.as_millis() as u64,
                            source,
                        });
                    }
                    if timed_out {
                        // Cut at the budget: it ran at least that long, so the
                        // rows it would do in the target time are at most this.
                        batch_size = shrink(batch_size, target, options.statement_timeout);
                    } else if kind == Kind::LockTimeout {
                        batch_size = (batch_size / 2).max(MIN_BATCH.min(batch_size));
                    }
                    let message = db_error::describe(&source);
                    let _ = ledger::record_retry(db, name, &message).await;
                    progress(&Progress {
                        name,
                        rows_done: report.rows_done,
                        rows_total: total.max(report.rows_done),
                        batch_size,
                        rate: report.rows as f64 / started.elapsed().as_secs_f64().max(1e-6),
                        retrying: Some(format!(
                            "batch after key {cursor_text} retried ({failures} of {}): {message}",
                            options.retries
                        )),
                    });
                    if kind != Kind::ConnectionLost {
                        tokio::time::sleep(backoff(failures)).await;
                    }
                }
            }
        }
        Ok(())
    }
}

fn backoff(failures: u32) -> Duration {
    Duration::from_millis(100 * 2_u64.pow(failures.min(6)))
}

/// The batch duration the size adapts toward: the target, but at most half
/// the batch's timeout, so a batch slower than usual is not cut.
fn effective_target(options: &RunOptions) -> Duration {
    options
        .target_batch
        .min(options.statement_timeout / 2)
        .max(Duration::from_millis(1))
}

/// Toward the target duration: straight to the size the last batch's rate
/// gives, but at most fourfold up per batch (so a slow first batch, cold
/// caches, does not overshoot much; from 1,000 rows to 64,000 in three
/// batches) and at most eightfold down.
fn adapt(size: u32, took: Duration, target: Duration) -> u32 {
    let took = took.as_secs_f64().max(1e-4);
    let wanted = f64::from(size) * target.as_secs_f64() / took;
    let next = wanted.clamp(f64::from(size) / 8.0, f64::from(size) * 4.0);
    (next as u32).clamp(MIN_BATCH, MAX_BATCH)
}

/// After a batch was cut at its timeout: the size that would have taken the
/// target at most, and at most half.
fn shrink(size: u32, target: Duration, timeout: Duration) -> u32 {
    let ratio = target.as_secs_f64() / timeout.as_secs_f64().max(1e-3);
    let next = (f64::from(size) * ratio.min(0.5)) as u32;
    next.max(MIN_BATCH.min(size)).max(1)
}

/// Whether any row still needs the backfill.
pub(crate) async fn has_work<C: ConnectionTrait>(db: &C, sql: &str) -> Result<bool, DbErr> {
    db.query_one_raw(Statement::from_string(DbBackend::Postgres, sql.to_owned()))
        .await?
        .map_or(Ok(false), |r| r.try_get_by_index::<bool>(0))
}

/// The first and last key of the batch `s` and its size (types without
/// `min`/`max`, such as `uuid` before PostgreSQL 16, included).
const RANGE_OF_S: &str = "(SELECT k FROM s ORDER BY k LIMIT 1)::text, \
     (SELECT k FROM s ORDER BY k DESC LIMIT 1)::text, (SELECT count(*) FROM s)";

/// The ledger's advance: `$3` its name, `$2` the new cursor, `$4` the rows
/// walked, `$5` the batch size, `$6` the rows changed (in the combined
/// statement: the rows its `batch` returned).
const ADVANCE: &str = "UPDATE public.backfill_ledger SET cursor = $2, rows_done = rows_done + $4, \
     rows_changed = rows_changed + $6, batches = batches + 1, batch_size = $5, \
     last_error = NULL, updated_at = now() WHERE name = $3";

/// The SQL of a batch, built once per run.
struct BatchSql {
    /// Reads and locks the ledger row, sets the transaction's timeouts, and
    /// finds the next range: from the start, and after a cursor (`$4`).
    open_first: String,
    open_after: String,
    /// The backfill's statement and the ledger's advance as one statement
    /// (`None`: the batch SQL is not one plain `UPDATE`/`DELETE`/`INSERT`,
    /// it runs as it is and the ledger advances in a statement of its own).
    combined: Option<String>,
    batch_sql: String,
    /// The transaction's budget and what is left for the commit.
    budget_ms: String,
    reserve_ms: String,
    lock_timeout_ms: String,
    /// The session's statement timeout while batches run: a batch's first
    /// statement is bounded by it before its own budget is set.
    open_timeout_ms: String,
    /// The backfill's kill switch (`$6`), read with the ledger row.
    flag: Option<String>,
}

impl BatchSql {
    fn new(
        table: &str,
        key: &str,
        key_type: &str,
        batch_sql: &str,
        flag: Option<&str>,
        options: &RunOptions,
    ) -> Self {
        let budget = options
            .statement_timeout
            .as_millis()
            .clamp(1, i32::MAX as u128);
        // A commit and its round trip normally take well under a millisecond;
        // a tenth of the budget (at most 100 ms) is kept for them.
        let reserve = (budget / 10).min(100);
        let lock = options.lock_timeout.as_millis().clamp(1, budget);
        // `$1` name, `$2` budget, `$4` reserve (the lock timeout is the
        // session's, set before the first batch: `set_limits`); the
        // statement timeout of what follows is the budget left, counted from
        // the transaction's start (`now()`), less the reserve. The locks a
        // batch takes are bounded by the same budget, and so is a client that
        // stalls inside the transaction (`idle_in_transaction_session_timeout`
        // ends its session, rolling the batch back).
        let open = |filter: &str| {
            format!(
                "WITH l AS (SELECT state, cursor, coalesce((SELECT f.enabled FROM public.feature_flags f WHERE f.name = $6), \
                                            $6::text IS NULL) AS flag_on \
                              FROM public.backfill_ledger WHERE name = $1 FOR UPDATE), \
                      s AS (SELECT {key} AS k FROM {table} {filter} ORDER BY {key} LIMIT $5) \
                 SELECT l.state, l.cursor, {RANGE_OF_S}, l.flag_on, \
                        set_config('jit', 'off', true), \
                        set_config('idle_in_transaction_session_timeout', $2, true), \
                        set_config('statement_timeout', greatest(1, $2::int - $4::int \
                            - ceil(extract(epoch FROM clock_timestamp() - now()) * 1000)::int)::text, true) \
                   FROM l"
            )
        };
        Self {
            open_first: open("WHERE $3::text IS NULL"),
            open_after: open(&format!("WHERE {key} > $3::{key_type}")),
            combined: combinable(batch_sql).map(|statement| {
                format!(
                    "WITH batch AS ({statement}\nRETURNING 1), \
                          advance AS ({}) \
                     SELECT count(*) FROM batch",
                    ADVANCE.replace("$6", "(SELECT count(*) FROM batch)")
                )
            }),
            batch_sql: batch_sql.to_owned(),
            budget_ms: budget.to_string(),
            reserve_ms: reserve.to_string(),
            lock_timeout_ms: lock.to_string(),
            open_timeout_ms: (budget - reserve).max(1).to_string(),
            flag: flag.map(str::to_owned),
        }
    }
}

/// The batch SQL's one statement when it is a plain `UPDATE`, `DELETE` or
/// `INSERT` without `RETURNING` (read with the parser of `sql_objects`), so
/// it can run together with the ledger's advance; `None` otherwise.
pub(crate) fn combinable(sql: &str) -> Option<String> {
    use sql_objects::syntax;
    use squawk_syntax::SyntaxKind;

    let statements = syntax::statements(sql).ok()?;
    let [statement] = statements.as_slice() else {
        return None;
    };
    let plain = matches!(
        statement.kind(),
        SyntaxKind::UPDATE | SyntaxKind::DELETE | SyntaxKind::INSERT
    ) && syntax::child(statement, SyntaxKind::RETURNING_CLAUSE).is_none();
    if !plain {
        return None;
    }
    // The statement's text as PostgreSQL delimits it: from its first token
    // to its `;` (comments before that included), or to the end.
    let start = statement
        .descendants_with_tokens()
        .filter_map(|element| element.into_token())
        .find(|token| !token.kind().is_trivia())
        .map_or(0, |token| usize::from(token.text_range().start()));
    let end = statement
        .children_with_tokens()
        .find(|element| element.kind() == SyntaxKind::SEMICOLON)
        .map_or(sql.len(), |semicolon| {
            usize::from(semicolon.text_range().start())
        });
    let text = sql.get(start..end)?;
    Some(text.trim().trim_end_matches(';').trim_end().to_owned()).filter(|t| !t.is_empty())
}

enum Batch {
    /// Another session changed the state: stop.
    Stopped(LedgerState),
    /// The backfill's flag was turned off: recorded as paused, stop.
    FlagOff,
    /// No row after the cursor: the ledger now says finished.
    End,
    Done {
        last: String,
        scanned: u64,
        changed: u64,
    },
}

/// One batch, in one transaction of at most the budget and four round
/// trips: `BEGIN`; read and lock the ledger row (whether to go on, the
/// cursor), set the timeouts and find the next range, in one statement; run
/// the backfill's SQL over the range together with the ledger's advance, in
/// one statement; `COMMIT`.
async fn batch(
    db: &DatabaseConnection,
    name: &str,
    sql: &BatchSql,
    cursor: Option<&str>,
    size: u32,
) -> Result<Batch, DbErr> {
    let txn = db.begin().await?;
    let result = async {
        let open = |cursor: Option<&str>| {
            stmt(
                if cursor.is_some() {
                    &sql.open_after
                } else {
                    &sql.open_first
                },
                vec![
                    name.into(),
                    sql.budget_ms.clone().into(),
                    cursor.map(str::to_owned).into(),
                    sql.reserve_ms.clone().into(),
                    i64::from(size).into(),
                    sql.flag.clone().into(),
                ],
            )
        };
        let not_found = || DbErr::RecordNotFound(format!("the ledger row of `{name}`"));
        let mut row = txn
            .query_one_raw(open(cursor))
            .await?
            .ok_or_else(not_found)?;
        let state = LedgerState::parse(&row.try_get_by_index::<String>(0)?);
        if state != LedgerState::Running {
            return Ok(Batch::Stopped(state));
        }
        if !row.try_get_by_index::<bool>(5)? {
            // The kill switch: nothing of this batch runs, and `resume`
            // continues from the cursor once the flag is on again.
            txn.execute_raw(stmt(
                "UPDATE public.backfill_ledger SET state = 'paused', \
                        note = 'stopped: its feature flag was turned off', updated_at = now() \
                  WHERE name = $1",
                vec![name.into()],
            ))
            .await?;
            return Ok(Batch::FlagOff);
        }
        let ledger_cursor: Option<String> = row.try_get_by_index(1)?;
        if ledger_cursor.as_deref() != cursor {
            // The ledger is ahead of this run (a commit whose answer was lost
            // with the connection): walk on from the ledger's cursor.
            row = txn
                .query_one_raw(open(ledger_cursor.as_deref()))
                .await?
                .ok_or_else(not_found)?;
        }
        let scanned = u64::try_from(row.try_get_by_index::<i64>(4)?).unwrap_or(0);
        let (Some(first), Some(last)) = (
            row.try_get_by_index::<Option<String>>(2)?,
            row.try_get_by_index::<Option<String>>(3)?,
        ) else {
            txn.execute_raw(stmt(
                "UPDATE public.backfill_ledger SET state = 'finished', finished_at = now(), \
                        updated_at = now() WHERE name = $1",
                vec![name.into()],
            ))
            .await?;
            return Ok(Batch::End);
        };
        let scanned_i64 = i64::try_from(scanned).unwrap_or(i64::MAX);
        let size_i32 = i32::try_from(size).unwrap_or(i32::MAX);
        let changed = match &sql.combined {
            Some(combined) => {
                let changed = txn
                    .query_one_raw(stmt(
                        combined,
                        vec![
                            first.into(),
                            last.clone().into(),
                            name.into(),
                            scanned_i64.into(),
                            size_i32.into(),
                        ],
                    ))
                    .await?
                    .map_or(Ok(0), |r| r.try_get_by_index::<i64>(0))?;
                u64::try_from(changed).unwrap_or(0)
            }
            None => {
                let changed = txn
                    .execute_raw(stmt(
                        &sql.batch_sql,
                        vec![first.into(), last.clone().into()],
                    ))
                    .await?
                    .rows_affected();
                // `$1` is unused here: the same numbering as the combined statement.
                txn.execute_raw(stmt(
                    ADVANCE,
                    vec![
                        Value::from(None::<String>),
                        last.clone().into(),
                        name.into(),
                        scanned_i64.into(),
                        size_i32.into(),
                        i64::try_from(changed).unwrap_or(i64::MAX).into(),
                    ],
                ))
                .await?;
                changed
            }
        };
        Ok(Batch::Done {
            last,
            scanned,
            changed,
        })
    }
    .await;
    match result {
        Ok(done) => {
            txn.commit().await?;
            Ok(done)
        }
        Err(err) => {
            let _ = txn.rollback().await;
            Err(err)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_batch_size_moves_toward_the_target_at_most_fourfold_up_eightfold_down() {
        let target = Duration::from_millis(200);
        assert_eq!(adapt(1000, Duration::from_millis(100), target), 2000);
        assert_eq!(adapt(1000, Duration::from_millis(10), target), 4000);
        assert_eq!(adapt(1000, Duration::from_millis(400), target), 500);
        assert_eq!(adapt(1000, Duration::from_millis(1000), target), 200);
        assert_eq!(adapt(1000, Duration::from_secs(10), target), 125);
        assert_eq!(adapt(20, Duration::from_secs(10), target), MIN_BATCH);
        assert_eq!(
            adapt(MAX_BATCH, Duration::from_millis(1), target),
            MAX_BATCH
        );
    }

    #[test]
    fn a_cut_batch_shrinks_to_what_fits_the_target() {
        let target = Duration::from_millis(200);
        assert_eq!(shrink(100_000, target, Duration::from_secs(2)), 10_000);
        assert_eq!(shrink(1000, target, Duration::from_millis(300)), 500);
        assert_eq!(shrink(15, target, Duration::from_secs(2)), MIN_BATCH);
        assert_eq!(shrink(3, target, Duration::from_secs(2)), 3);
    }

    #[test]
    fn the_target_stays_under_half_the_timeout() {
        let options = |target, timeout| RunOptions {
            target_batch: Duration::from_millis(target),
            statement_timeout: Duration::from_millis(timeout),
            ..RunOptions::default()
        };
        assert_eq!(
            effective_target(&options(200, 2000)),
            Duration::from_millis(200)
        );
        assert_eq!(
            effective_target(&options(5000, 2000)),
            Duration::from_millis(1000)
        );
    }

    #[test]
    fn one_plain_dml_statement_combines_with_the_ledger_advance() {
        assert_eq!(
            combinable("  UPDATE t SET a = 1 WHERE id BETWEEN $1::int AND $2::int -- note\n ;  ")
                .as_deref(),
            Some("UPDATE t SET a = 1 WHERE id BETWEEN $1::int AND $2::int -- note")
        );
        assert!(combinable("DELETE FROM t WHERE id BETWEEN $1::int AND $2::int").is_some());
        assert!(
            combinable("WITH x AS (SELECT 1) UPDATE t SET a = 1 FROM x WHERE id BETWEEN $1::int AND $2::int")
                .is_some()
        );
        for sql in [
            "UPDATE t SET a = 1 WHERE id BETWEEN $1::int AND $2::int RETURNING id",
            "UPDATE t SET a = 1; UPDATE t SET b = 1",
            "SELECT fill($1, $2)",
            "not sql",
        ] {
            assert_eq!(combinable(sql), None, "{sql}");
        }
        let academy = schema_academy::backfills::WebinarCapacity;
        assert!(
            combinable(schema_core::backfill::Backfill::batch_sql(&academy)).is_some(),
            "the shipped backfill runs in one statement with its ledger advance"
        );
    }

    #[test]
    fn qualified_names_are_quoted() {
        assert_eq!(
            quote_qualified("academy.webinars"),
            "\"academy\".\"webinars\""
        );
        assert_eq!(quote_qualified("a\"b"), "\"a\"\"b\"");
    }
}
