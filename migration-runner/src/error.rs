//! The runner's errors, split by the phase that raises them (catalog,
//! connection, history, verification, lock, apply). Every message is
//! lowercase, names the migration (and the crate that owns it) when there is
//! one, and says how to fix it; causes are kept as `#[source]`.

use sea_orm::DbErr;

use crate::capture::Direction;
pub use crate::catalog::CatalogError;
use crate::connect::ConnectError;
use crate::db_error;
use crate::exit::Exit;
pub use crate::history::HistoryError;
pub use crate::lock::LockError;
use crate::preflight::MissingPrivilege;
use crate::status::IntegrityProblem;

/// Everything the runner can refuse or fail at.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(transparent)]
    History(#[from] HistoryError),
    #[error(transparent)]
    Verify(#[from] VerifyError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Apply(#[from] ApplyError),
    #[error(transparent)]
    Check(#[from] crate::check::CheckError),
    #[error(transparent)]
    Backfill(#[from] crate::backfill::BackfillError),
    #[error(transparent)]
    Citus(#[from] crate::citus::CitusError),
    #[error(transparent)]
    Operations(Box<crate::operations::OperationsError>),
    #[error(transparent)]
    RoleNames(#[from] crate::role_names::RoleNamesError),
    #[error(transparent)]
    Replay(#[from] crate::scratch::ReplayError),
    #[error("cannot use `{}`: {source}", path.display())]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{context}: {}", db_error::describe(.source))]
    Database {
        context: &'static str,
        #[source]
        source: DbErr,
    },
    /// Flags that parse but do not fit together.
    #[error("{0}")]
    Usage(String),
}

impl MigrateError {
    /// Reading or writing the history table waited out `lock_timeout`
    /// (another session holds a lock on it).
    pub fn history_lock_timeout(self) -> std::result::Result<DbErr, Self> {
        match self {
            MigrateError::History(HistoryError::Database { source, .. })
                if db_error::kind(&source) == db_error::Kind::LockTimeout =>
            {
                Ok(source)
            }
            other => Err(other),
        }
    }

    /// The process exit code (the one table, [`Exit`]).
    pub fn exit(&self) -> Exit {
        match self {
            MigrateError::Catalog(err) => err.exit(),
            MigrateError::Connect(ConnectError::Config(_)) => Exit::Usage,
            MigrateError::Connect(_) => Exit::Unavailable,
            MigrateError::History(HistoryError::Foreign { .. })
            | MigrateError::History(HistoryError::PermissionDenied { .. }) => Exit::Refused,
            MigrateError::History(_) => Exit::Failed,
            MigrateError::Verify(_) => Exit::Refused,
            MigrateError::Lock(LockError::Timeout { .. })
            | MigrateError::Lock(LockError::HistoryLocked { .. }) => Exit::Unavailable,
            MigrateError::Lock(_) => Exit::Failed,
            MigrateError::Apply(_) => Exit::Failed,
            MigrateError::Io { .. } => Exit::Failed,
            MigrateError::Check(_) => Exit::Usage,
            MigrateError::Backfill(err) => err.exit(),
            MigrateError::Citus(crate::citus::CitusError::Incompatible { .. }) => Exit::Refused,
            MigrateError::Citus(_) => Exit::Failed,
            MigrateError::Operations(err) => err.exit(),
            MigrateError::RoleNames(err) => err.exit(),
            MigrateError::Usage(_) => Exit::Usage,
            MigrateError::Replay(_) => Exit::Refused,
            MigrateError::Database { source, .. } => {
                if db_error::kind(source) == db_error::Kind::ConnectionLost {
                    Exit::Unavailable
                } else {
                    Exit::Failed
                }
            }
        }
    }

    /// The exit code as a number.
    pub fn exit_code(&self) -> u8 {
        self.exit().code()
    }
}

/// Refusals after comparing the code with history, before anything changes.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("history integrity check failed; nothing was changed:\n{}", format_lines(.0))]
    Integrity(Vec<IntegrityProblem>),

    #[error(
        "migration `{name}` in crate `{krate}` has no statements yet (written by `migrate new` and not \
         filled in); nothing was applied: write its `up` and `down` in {krate}/src/migrations/{name}.rs, \
         or delete the file and its line in mod.rs; `--to` can stop before it"
    )]
    Unwritten { name: String, krate: String },

    #[error(
        "the connected role lacks privileges the pending migrations need; nothing was applied:\n{}\n  \
         run the statements above as the owner or a superuser, then retry",
        format_lines(.0)
    )]
    Preflight(Vec<MissingPrivilege>),

    #[error(
        "`migrate down` is destructive and APP_ENV is `production`; forward-fix with a new migration instead, \
         or pass `--allow-destructive` if you really mean to drop data"
    )]
    DestructiveRefused,

    #[error("not confirmed; nothing was changed (pass `--yes` to skip the question)")]
    Declined,

    #[error("migration `{name}` is already applied; nothing to resolve")]
    AlreadyApplied { name: String },

    #[error(
        "migration `{name}` is {state}, not failed; `resolve --rolled-back` only clears failed entries \
         (use `cargo xtask migrate down` to undo an applied migration)"
    )]
    NotFailed { name: String, state: String },

    #[error("migration `{name}` has no history entry; nothing to resolve")]
    NotInHistory { name: String },

    #[error(
        "the connected role may not create the throwaway database this command replays history into \
         (on {endpoint}: {reason}); grant it CREATEDB, or pass `--shadow-url` with an empty database"
    )]
    ShadowRefused { endpoint: String, reason: String },

    #[error(
        "the shadow database `{database}` on {endpoint} is not empty (it has tables of the owned schemas, \
         or a history table); give `--shadow-url` an empty database: replaying into it must not mix"
    )]
    ShadowNotEmpty { endpoint: String, database: String },
}

/// Running a migration's statements.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
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

fn format_lines<T: std::fmt::Display>(lines: &[T]) -> String {
    lines
        .iter()
        .map(|line| format!("  - {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

pub type Result<T, E = MigrateError> = std::result::Result<T, E>;
