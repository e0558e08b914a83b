//! What a command returns: every layer's error gathered once, at the top
//! (the orchestrator's [`MigrateError`], the gate's, operations', backfills'),
//! and the usage mistakes only the command line makes. Each keeps its
//! message, its `#[source]` and its exit code.

use sea_orm::DbErr;

use crate::backfill::BackfillError;
use crate::connect::db_error;
use crate::deploy::error::MigrateError;
use crate::exit::Exit;
use crate::gate::check::CheckError;
use crate::gate::drift::DriftError;
use crate::operations::OperationsError;

/// Everything a command of either binary can refuse or fail at.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Migrate(#[from] MigrateError),
    #[error(transparent)]
    Check(#[from] CheckError),
    #[error(transparent)]
    Drift(#[from] DriftError),
    #[error(transparent)]
    Backfill(#[from] BackfillError),
    #[error(transparent)]
    Approvals(#[from] crate::gate::approvals::ApprovalsError),
    #[error(transparent)]
    Operations(Box<OperationsError>),
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

impl From<OperationsError> for CommandError {
    fn from(err: OperationsError) -> Self {
        CommandError::Operations(Box::new(err))
    }
}

/// The orchestrator's phases' errors, met by a command outside a run (a
/// catalog to build, a connection to open), are the orchestrator's.
macro_rules! through_migrate_error {
    ($($error:ty),* $(,)?) => {$(
        impl From<$error> for CommandError {
            fn from(err: $error) -> Self {
                CommandError::Migrate(MigrateError::from(err))
            }
        }
    )*};
}

through_migrate_error!(
    crate::source::catalog::CatalogError,
    crate::connect::ConnectError,
    crate::history::HistoryError,
    crate::history::lock::LockError,
    crate::deploy::verify::VerifyError,
    crate::citus::CitusError,
    crate::roles::role_names::RoleNamesError,
);

impl CommandError {
    /// Reading the history table waited out `lock_timeout` (another session
    /// holds a lock on it), in the run or in `drift`'s verification.
    pub fn history_lock_timeout(self) -> Result<DbErr, Self> {
        match self {
            CommandError::Migrate(err) => err.history_lock_timeout().map_err(Self::Migrate),
            CommandError::Drift(DriftError::Migrate(err)) => err
                .history_lock_timeout()
                .map_err(|err| Self::Drift(DriftError::Migrate(err))),
            other => Err(other),
        }
    }

    /// The process exit code (the one table, [`Exit`]).
    pub fn exit(&self) -> Exit {
        match self {
            CommandError::Migrate(err) => err.exit(),
            CommandError::Check(err) => err.exit(),
            CommandError::Drift(err) => err.exit(),
            CommandError::Backfill(err) => err.exit(),
            CommandError::Approvals(err) => err.exit(),
            CommandError::Operations(err) => err.exit(),
            CommandError::Io { .. } => Exit::Failed,
            CommandError::Database { source, .. } => db_error::exit(source),
            CommandError::Usage(_) => Exit::Usage,
        }
    }
}

pub type Result<T, E = CommandError> = std::result::Result<T, E>;
