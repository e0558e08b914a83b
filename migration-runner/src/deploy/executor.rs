//! Running one migration, up or down, through ONE path that honours its
//! transaction mode both ways (as sea-orm-migration's `exec.rs` does):
//!
//! - transactional: its statements and its history change (a row written on
//!   `up`, deleted on `down`) commit together or not at all;
//! - non-transactional (`use_transaction() == Some(false)`, for
//!   `CREATE INDEX CONCURRENTLY`): history says `running` first, so a crash
//!   shows as `failed`, then `applied` (up) or no row (down).
//!
//! A statement that waits longer than the session's `lock_timeout` for a
//! table lock is given up, so readers never queue behind a blocked DDL; the
//! migration is retried a bounded number of times with backoff, then fails
//! naming the table.

use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Statement};

use crate::connect::db_error::{self, Kind};
use crate::exit::Exit;
use crate::held::Held;
use crate::history::HistoryError;
use crate::history::lock::LockError;
use crate::history::{self, NewRow, RowState};
use crate::source::capture::{Direction, Script};
use sql_objects::{self, Objects};

/// How long DDL may wait for a table lock, and how often a migration is
/// retried when it could not get one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DdlLimits {
    pub lock_timeout: Duration,
    pub retries: u32,
}

impl Default for DdlLimits {
    fn default() -> Self {
        Self {
            lock_timeout: Duration::from_secs(5),
            retries: 3,
        }
    }
}

/// One migration to run in one direction.
#[derive(Debug, Clone, Copy)]
pub struct Step<'a> {
    pub name: &'a str,
    pub schema: &'a str,
    pub transactional: bool,
    pub direction: Direction,
    pub script: &'a Script,
    /// Written to history on `up`.
    pub checksum: &'a str,
    pub out_of_order: bool,
}

/// What one run of a step took.
#[derive(Debug, Clone, Copy)]
pub struct Done {
    /// What history records (and the report prints): the statements' time.
    pub execution_ms: i64,
    pub statements: usize,
    pub attempts: u32,
}

/// Runs steps on the run's one connection, held out of its pool while the
/// executor lives (see [`crate::held`]), counting what it committed so a
/// lost connection can say how far the run got.
pub(crate) struct Executor {
    db: Held,
    limits: DdlLimits,
    committed: usize,
    /// On a Citus cluster: `core` tables a step creates become reference
    /// tables inside the step's own transaction (see [`crate::citus`]).
    placing: Option<Placing>,
}

/// Citus placement done by the executor, for the run's report.
#[derive(Debug, Default)]
pub(crate) struct Placing {
    pub steps: Vec<crate::citus::Step>,
}

/// A step's statement time, and what it placed on Citus.
type Applied = (i64, Vec<crate::citus::Step>);

/// A statement that failed, before it is turned into an error.
struct Failure {
    index: usize,
    statement: String,
    source: DbErr,
}

impl Executor {
    /// Takes the session's connection until the executor is dropped.
    pub(crate) async fn hold(
        db: &DatabaseConnection,
        limits: DdlLimits,
    ) -> Result<Self, ApplyError> {
        let db = Held::take(db).await.map_err(|source| ApplyError::Session {
            context: "the session's connection is gone",
            source,
        })?;
        Ok(Self {
            db,
            limits,
            committed: 0,
            placing: None,
        })
    }

    /// The held connection, for what the run does between steps.
    pub(crate) fn connection(&self) -> &Held {
        &self.db
    }

    /// The same executor for a Citus cluster.
    pub(crate) fn placing_on_citus(mut self) -> Self {
        self.placing = Some(Placing::default());
        self
    }

    /// What the executor placed on Citus so far.
    pub(crate) fn placed(&mut self) -> Vec<crate::citus::Step> {
        self.placing
            .as_mut()
            .map(|placing| std::mem::take(&mut placing.steps))
            .unwrap_or_default()
    }

    /// Bounds every lock wait of the session's statements (history writes
    /// included). The caller already holds the migration lock.
    pub(crate) async fn set_lock_timeout(&self) -> Result<(), ApplyError> {
        let millis = self.limits.lock_timeout.as_millis().max(1);
        self.db
            .execute_unprepared(&format!("SET lock_timeout = {millis}"))
            .await
            .map_err(|source| ApplyError::Lock(LockError::Database(source)))?;
        Ok(())
    }

    pub(crate) async fn run(&mut self, step: &Step<'_>) -> Result<Done, ApplyError> {
        let mut attempt = 1;
        loop {
            let outcome = if step.transactional {
                self.in_transaction(step).await
            } else {
                self.outside_transaction(step).await
            };
            match outcome {
                Ok((execution_ms, placed)) => {
                    self.committed += 1;
                    self.keep(placed);
                    return Ok(Done {
                        execution_ms,
                        statements: step.script.statements.len(),
                        attempts: attempt,
                    });
                }
                Err(failure) if db_error::kind(&failure.source) == Kind::LockTimeout => {
                    if attempt > self.limits.retries {
                        return Err(self.lock_timeout(step, failure, attempt));
                    }
                    let backoff = Duration::from_millis(250 * 2_u64.pow(attempt.min(6)));
                    eprintln!(
                        "`{}` waited more than {} ms for a lock on {}; retrying in {} ms (attempt {} of {})",
                        step.name,
                        self.limits.lock_timeout.as_millis(),
                        tables_of(&failure.statement),
                        backoff.as_millis(),
                        attempt + 1,
                        self.limits.retries + 1
                    );
                    tokio::time::sleep(backoff).await;
                    attempt += 1;
                }
                Err(failure) => return Err(self.failed(step, failure).await),
            }
        }
    }

    /// Statements and history change in one transaction, opened together
    /// with the first statement when it has no parameters (not on Citus).
    async fn in_transaction(&self, step: &Step<'_>) -> Result<Applied, Failure> {
        let history_failure = |source| Failure {
            index: 0,
            statement: format!("(history of `{}`)", step.name),
            source,
        };
        let started = Instant::now();
        // Citus forwards a DDL statement's whole query text to the workers,
        // which refuse the `BEGIN;` in front of it: there, `BEGIN` goes alone.
        let fused = match self.placing {
            None => step
                .script
                .statements
                .first()
                .filter(|s| s.values.is_none()),
            Some(_) => None,
        };
        let opened = match fused {
            Some(first) => self
                .db
                .begin_with(&first.sql)
                .await
                .map_err(|source| Failure {
                    index: 0,
                    statement: first.to_string(),
                    source,
                }),
            None => self.db.begin().await.map_err(history_failure),
        };
        if let Err(failure) = opened {
            // A lost connection cannot roll back; the server does it.
            let _ = self.db.rollback().await;
            return Err(failure);
        }
        if let Err(failure) =
            execute_from(&self.db, step.script, usize::from(fused.is_some())).await
        {
            let _ = self.db.rollback().await;
            return Err(failure);
        }
        let placed = match self.place(&self.db, step).await {
            Ok(placed) => placed,
            Err(failure) => {
                let _ = self.db.rollback().await;
                return Err(failure);
            }
        };
        let execution_ms = elapsed_ms(started);
        // The history row goes with the `COMMIT`: a migration of k
        // statements is k + 1 round trips (`psql -f`: k + 3).
        let written = match step.direction {
            Direction::Up => {
                let row = history::record_sql(&applied_row(step, execution_ms));
                self.db.commit_with(&row).await.map_err(history_failure)
            }
            Direction::Down => match history::delete(&self.db, step.name).await {
                Ok(()) => self.db.commit().await.map_err(history_failure),
                Err(err) => Err(history_failure(into_db(err))),
            },
        };
        if let Err(failure) = written {
            let _ = self.db.rollback().await;
            return Err(failure);
        }
        Ok((execution_ms, placed))
    }

    /// On Citus, makes the `core` tables `step` created reference tables, on
    /// `db` (the step's transaction, or the session after a step that runs
    /// outside one).
    async fn place<C: ConnectionTrait>(
        &self,
        db: &C,
        step: &Step<'_>,
    ) -> Result<Vec<crate::citus::Step>, Failure> {
        if self.placing.is_none() {
            return Ok(Vec::new());
        }
        crate::citus::reference_new_tables(db, step.name)
            .await
            .map_err(|err| {
                let statement = match &err {
                    crate::citus::CitusError::Step { object, .. } => {
                        format!("SELECT create_reference_table('{object}')")
                    }
                    _ => "(reading Citus's metadata)".to_owned(),
                };
                Failure {
                    index: step.script.statements.len(),
                    statement,
                    source: match err {
                        crate::citus::CitusError::Step { source, .. }
                        | crate::citus::CitusError::Read { source } => source,
                        other => DbErr::Custom(other.to_string()),
                    },
                }
            })
    }

    fn keep(&mut self, placed: Vec<crate::citus::Step>) {
        if let Some(placing) = self.placing.as_mut() {
            placing.steps.extend(placed);
        }
    }

    /// `running` first, then the statements one by one, then the final state.
    async fn outside_transaction(&self, step: &Step<'_>) -> Result<Applied, Failure> {
        let history_failure = |err: HistoryError| Failure {
            index: 0,
            statement: format!("(history of `{}`)", step.name),
            source: into_db(err),
        };
        let started = Instant::now();
        match step.direction {
            Direction::Up => history::record(
                &self.db,
                NewRow {
                    state: RowState::Running,
                    ..applied_row(step, 0)
                },
            )
            .await
            .map_err(history_failure)?,
            Direction::Down => history::set_state(
                &self.db,
                step.name,
                RowState::Running,
                0,
                Some("rolling back (down) outside a transaction"),
            )
            .await
            .map_err(history_failure)?,
        }
        execute_all(&self.db, step.script).await?;
        let placed = self.place(&self.db, step).await?;
        let execution_ms = elapsed_ms(started);
        match step.direction {
            Direction::Up => {
                history::set_state(&self.db, step.name, RowState::Applied, execution_ms, None).await
            }
            Direction::Down => history::delete(&self.db, step.name).await,
        }
        .map_err(history_failure)?;
        Ok((execution_ms, placed))
    }

    /// Turns a failure into the error the operator reads, marking a
    /// non-transactional migration `failed` in history when the session lives.
    async fn failed(&self, step: &Step<'_>, failure: Failure) -> ApplyError {
        let Failure {
            index,
            statement,
            source,
        } = failure;
        if db_error::kind(&source) == Kind::ConnectionLost {
            return ApplyError::ConnectionLost {
                name: step.name.to_owned(),
                schema: step.schema.to_owned(),
                direction: step.direction,
                committed: self.committed,
                outcome: if step.transactional {
                    "the server rolled it back"
                } else {
                    "it ran outside a transaction and may be half done (history shows it `running`)"
                },
                source,
            };
        }
        let note = format!(
            "{} failed at statement {}: {}",
            step.direction.as_str(),
            index + 1,
            db_error::describe(&source)
        );
        let failure = StatementFailure {
            name: step.name.to_owned(),
            schema: step.schema.to_owned(),
            direction: step.direction,
            statement_index: index + 1,
            statement,
            source,
        };
        if step.transactional {
            return if db_error::kind(&failure.source) == Kind::PermissionDenied {
                ApplyError::PermissionDenied(failure)
            } else {
                ApplyError::Failed(failure)
            };
        }
        if let Err(err) =
            history::set_state(&self.db, step.name, RowState::Failed, 0, Some(&note)).await
        {
            return ApplyError::History(err);
        }
        ApplyError::NonTransactionalFailed(failure)
    }

    fn lock_timeout(&self, step: &Step<'_>, failure: Failure, attempts: u32) -> ApplyError {
        ApplyError::LockTimeout {
            name: step.name.to_owned(),
            schema: step.schema.to_owned(),
            tables: tables_of(&failure.statement),
            lock_timeout_ms: u64::try_from(self.limits.lock_timeout.as_millis())
                .unwrap_or(u64::MAX),
            attempts,
            source: failure.source,
        }
    }
}

fn applied_row<'a>(step: &Step<'a>, execution_ms: i64) -> NewRow<'a> {
    NewRow {
        name: step.name,
        schema: step.schema,
        checksum: step.checksum,
        state: RowState::Applied,
        execution_ms,
        out_of_order: step.out_of_order,
        note: step
            .out_of_order
            .then_some("applied with --allow-out-of-order"),
    }
}

async fn execute_all<C: ConnectionTrait>(db: &C, script: &Script) -> Result<(), Failure> {
    execute_from(db, script, 0).await
}

/// The script's statements from index `first` on.
async fn execute_from<C: ConnectionTrait>(
    db: &C,
    script: &Script,
    first: usize,
) -> Result<(), Failure> {
    for (index, statement) in script.statements.iter().enumerate().skip(first) {
        execute(db, statement).await.map_err(|source| Failure {
            index,
            statement: statement.to_string(),
            source,
        })?;
    }
    Ok(())
}

/// One round trip per statement: parameterless SQL goes through the simple
/// query protocol (no prepare), which also accepts multi-statement text.
async fn execute<C: ConnectionTrait>(db: &C, statement: &Statement) -> Result<(), DbErr> {
    match statement.values {
        None => db.execute_unprepared(&statement.sql).await.map(drop),
        Some(_) => db.execute_raw(statement.clone()).await.map(drop),
    }
}

/// The tables a statement touches, for "waited for a lock on ...".
fn tables_of(statement: &str) -> String {
    let mut objects = Objects::default();
    sql_objects::collect(statement, &mut objects);
    let tables: Vec<String> = objects
        .altered_tables
        .iter()
        .chain(&objects.referenced_tables)
        .chain(&objects.created_tables)
        .map(|(schema, table)| format!("`{schema}.{table}`"))
        .collect();
    if tables.is_empty() {
        "a table it touches".to_owned()
    } else {
        tables.join(", ")
    }
}

/// History writes fail as `HistoryError`; inside a step they are one more
/// failed statement, so the connection-lost and lock-timeout checks see them.
fn into_db(err: HistoryError) -> DbErr {
    match err {
        HistoryError::Database { source, .. } | HistoryError::PermissionDenied { source, .. } => {
            source
        }
        other => DbErr::Custom(other.to_string()),
    }
}

fn elapsed_ms(started: Instant) -> i64 {
    i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX)
}

/// Running a migration's statements.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The session's connection could not be held for the run.
    #[error("{context}: {}", db_error::describe(.source))]
    Session {
        context: &'static str,
        #[source]
        source: DbErr,
    },

    /// Bounding the session's lock waits failed.
    #[error(transparent)]
    Lock(LockError),

    /// Marking a non-transactional migration `failed` in history failed.
    #[error(transparent)]
    History(HistoryError),

    #[error(
        "migration `{}` (schema `{}`) failed in its `{}` step at statement {} and was rolled back (no \
         changes and no history change were kept): {}\n  statement: {}\n  fix the migration and run the \
         command again",
        .0.name, .0.schema, .0.direction.as_str(), .0.statement_index, db_error::describe(&.0.source),
        .0.statement
    )]
    Failed(#[source] StatementFailure),

    #[error(
        "migration `{}` (schema `{}`) was refused a privilege in its `{}` step at statement {} and was \
         rolled back: {}\n  statement: {}\n  the connected role lacks a privilege the migration needs: \
         `cargo xtask migrate preflight` lists the GRANTs to run",
        .0.name, .0.schema, .0.direction.as_str(), .0.statement_index, db_error::describe(&.0.source),
        .0.statement
    )]
    PermissionDenied(#[source] StatementFailure),

    #[error(
        "non-transactional migration `{}` (schema `{}`) failed in its `{}` step at statement {}: {}\n  \
         statement: {}\n  its earlier statements stay applied and history marks it `failed`: repair the \
         database by hand, then `cargo xtask migrate resolve --rolled-back {}` to retry it or `--applied \
         {}` if you completed it",
        .0.name, .0.schema, .0.direction.as_str(), .0.statement_index, db_error::describe(&.0.source),
        .0.statement, .0.name, .0.name
    )]
    NonTransactionalFailed(#[source] StatementFailure),

    #[error(
        "migration `{name}` (schema `{schema}`) waited more than {lock_timeout_ms} ms for a lock on {tables} \
         in each of {attempts} attempts and was rolled back each time; another session holds that table \
         (a long transaction or query): find it in `pg_stat_activity`, let it finish, then run the command \
         again (`--ddl-lock-timeout` and `--ddl-retries` wait longer)"
    )]
    LockTimeout {
        name: String,
        schema: String,
        tables: String,
        lock_timeout_ms: u64,
        attempts: u32,
        #[source]
        source: DbErr,
    },

    #[error(
        "lost the connection to the database while running `{name}` (schema `{schema}`, {}): {}; {committed} \
         migration(s) of this run were committed before it; {outcome}: run `migrate status` to see where \
         history stands, then the command again",
        direction.as_str(),
        db_error::describe(.source)
    )]
    ConnectionLost {
        name: String,
        schema: String,
        direction: Direction,
        committed: usize,
        outcome: &'static str,
        #[source]
        source: DbErr,
    },
}

/// Which statement of which migration's step failed, and why: what the
/// three ways a statement fails ([`ApplyError::Failed`],
/// [`ApplyError::PermissionDenied`], [`ApplyError::NonTransactionalFailed`])
/// have in common.
#[derive(Debug, thiserror::Error)]
#[error(
    "statement {statement_index} of `{name}`'s `{}` step: {}",
    direction.as_str(),
    db_error::describe(.source)
)]
pub struct StatementFailure {
    pub name: String,
    pub schema: String,
    pub direction: Direction,
    /// Counted from 1.
    pub statement_index: usize,
    pub statement: String,
    #[source]
    pub source: DbErr,
}

impl ApplyError {
    /// The process exit code: a lost connection is the server's
    /// unavailability; a statement that failed, a failure.
    pub fn exit(&self) -> Exit {
        match self {
            ApplyError::Session { source, .. } => db_error::exit(source),
            ApplyError::Lock(err) => err.exit(),
            ApplyError::History(err) => err.exit(),
            _ => Exit::Failed,
        }
    }
}
