//! What the orchestrator returns: the errors of the phases it runs (catalog,
//! connection, history, verification, lock, preflight, apply, backfill gate,
//! Citus, role names), each defined beside the phase that raises it and
//! gathered here. Every message is lowercase, names the migration (and the
//! crate that owns it) when there is one, and says how to fix it; causes are
//! kept as `#[source]`.

use sea_orm::DbErr;

use crate::connect::ConnectError;
use crate::connect::db_error;
pub use crate::deploy::executor::{ApplyError, StatementFailure};
pub use crate::deploy::verify::VerifyError;
use crate::exit::Exit;
pub use crate::history::HistoryError;
pub use crate::history::lock::LockError;
pub use crate::source::catalog::CatalogError;

/// Everything the orchestrator ([`crate::deploy::runner`]) can refuse or
/// fail at: the errors of the phases it runs, gathered. Each keeps its
/// message and exit code.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(transparent)]
    History(#[from] HistoryError),
    #[error(transparent)]
    Verify(VerifyError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Apply(ApplyError),
    #[error(transparent)]
    Preflight(#[from] crate::deploy::preflight::PreflightError),
    #[error(transparent)]
    Backfill(#[from] crate::backfill::BackfillError),
    #[error(transparent)]
    Citus(#[from] crate::citus::CitusError),
    #[error(transparent)]
    RoleNames(#[from] crate::roles::role_names::RoleNamesError),
    #[error("{context}: {}", db_error::describe(.source))]
    Database {
        context: &'static str,
        #[source]
        source: DbErr,
    },
}

/// A history read inside verification is a history error of the run: the
/// same message, exit code and lock-timeout handling as any other.
impl From<VerifyError> for MigrateError {
    fn from(err: VerifyError) -> Self {
        match err {
            VerifyError::History(err) => MigrateError::History(err),
            other => MigrateError::Verify(other),
        }
    }
}

/// The executor's session and lock failures are the run's, as everywhere.
impl From<ApplyError> for MigrateError {
    fn from(err: ApplyError) -> Self {
        match err {
            ApplyError::History(err) => MigrateError::History(err),
            ApplyError::Lock(err) => MigrateError::Lock(err),
            ApplyError::Session { context, source } => MigrateError::Database { context, source },
            other => MigrateError::Apply(other),
        }
    }
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
            MigrateError::Connect(err) => err.exit(),
            MigrateError::History(err) => err.exit(),
            MigrateError::Verify(_) => Exit::Refused,
            MigrateError::Lock(err) => err.exit(),
            MigrateError::Apply(err) => err.exit(),
            MigrateError::Preflight(err) => err.exit(),
            MigrateError::Backfill(err) => err.exit(),
            MigrateError::Citus(err) => err.exit(),
            MigrateError::RoleNames(err) => err.exit(),
            MigrateError::Database { source, .. } => db_error::exit(source),
        }
    }
}

pub type Result<T, E = MigrateError> = std::result::Result<T, E>;
