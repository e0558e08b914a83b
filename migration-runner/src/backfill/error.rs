//! What a backfill command can refuse or fail at. Every message names the
//! backfill and says how to go on; causes are kept as `#[source]`.

use sea_orm::DbErr;

use crate::connect::db_error;
use crate::exit::Exit;

#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    #[error("unknown backfill `{name}`: {hint}")]
    Unknown { name: String, hint: String },

    #[error(
        "backfill `{name}` is declared twice: in crate `{first}` and in crate `{second}`; backfill names \
         must be unique across the workspace: rename one of them"
    )]
    Duplicate {
        name: String,
        first: String,
        second: String,
    },

    #[error(
        "backfill `{name}` cannot walk `{table}`: {problem}; run `migrate up` first, or fix the backfill's \
         `table()`/`key()`"
    )]
    NoTable {
        name: String,
        table: String,
        problem: String,
    },

    #[error(
        "backfill `{name}` is guarded by the feature flag `{flag}`, which is off; nothing was changed: turn it \
         on with `migration-runner flag set {flag} on` (`cargo xtask flag set {flag} on`) once the code it \
         waits for is deployed"
    )]
    FlagOff { name: String, flag: String },

    #[error(
        "backfill `{name}` stopped after its current batch: its feature flag `{flag}` was turned off (the \
         kill switch); its committed batches are kept ({rows_done} rows done, state `paused`): once the cause \
         is fixed, `flag set {flag} on` and `backfill resume {name}` continues from there"
    )]
    FlagTurnedOff {
        name: String,
        flag: String,
        rows_done: i64,
    },

    #[error(
        "the connected role cannot read `{table}`, which is read to see whether backfill `{name}` has work \
         left before `{migration}` applies: {}; grant it with `GRANT SELECT ON {table} TO <role>;` \
         (`migrate preflight` lists every missing privilege at once)",
        db_error::describe(.source)
    )]
    TableUnreadable {
        name: String,
        migration: String,
        table: String,
        #[source]
        source: DbErr,
    },

    #[error(
        "this database was never migrated (it has no `{}`), so it has no backfills or flags; nothing was \
         created: run `migrate up` first (`cargo xtask migrate`, or `migration-runner up`), or check that \
         DATABASE_URL names the right database",
        crate::history::TABLE
    )]
    NotMigrated,

    #[error(
        "backfill `{name}` is {state}; nothing was changed: `backfill resume {name}` continues it from where \
         it stopped{detail}"
    )]
    NotRunnable {
        name: String,
        state: String,
        detail: String,
    },

    #[error("backfill `{name}` is already finished; nothing to {action}")]
    AlreadyFinished { name: String, action: &'static str },

    #[error(
        "backfill `{name}` is running in another session ({holder}); nothing was changed: wait for it, or \
         stop it with `backfill pause {name}`"
    )]
    Busy { name: String, holder: String },

    #[error(
        "backfill `{name}` failed on the batch after key {cursor} and stopped; its committed batches are kept \
         (state `failed`): {}; fix the cause, then `backfill resume {name}` continues from there",
        db_error::describe(.source)
    )]
    BatchFailed {
        name: String,
        cursor: String,
        #[source]
        source: DbErr,
    },

    #[error(
        "backfill `{name}` gave up after {attempts} attempts on the batch after key {cursor} (lock timeout \
         {lock_timeout_ms} ms, statement timeout {statement_timeout_ms} ms): {}; its committed batches are \
         kept (state `failed`): find what holds `{table}` in `pg_stat_activity`, then `backfill resume {name}`",
        db_error::describe(.source)
    )]
    RetriesExhausted {
        name: String,
        table: String,
        cursor: String,
        attempts: u32,
        lock_timeout_ms: u64,
        statement_timeout_ms: u64,
        #[source]
        source: DbErr,
    },

    #[error(
        "migration `{migration}` needs backfill `{backfill}` finished first ({state}); nothing was applied: \
         run `migration-runner backfill run {backfill}` (`cargo xtask backfill run {backfill}`){hint}, then \
         `migrate up` again"
    )]
    ContractWaiting {
        migration: String,
        backfill: String,
        state: String,
        hint: String,
    },

    #[error("`{name}` is not a valid flag name: use lowercase letters, digits, `_` and `.`")]
    BadFlagName { name: String },

    #[error(
        "the connected role cannot {action} the backfill tables (`public.backfill_ledger`, \
         `public.feature_flags`): {}; grant it with `GRANT USAGE, CREATE ON SCHEMA public TO <role>;` \
         (first run) and `GRANT SELECT, INSERT, UPDATE ON public.backfill_ledger, public.feature_flags TO \
         <role>;`",
        db_error::describe(.source)
    )]
    PermissionDenied {
        action: &'static str,
        #[source]
        source: DbErr,
    },

    #[error("{context}: {}", db_error::describe(.source))]
    Database {
        context: String,
        #[source]
        source: DbErr,
    },
}

impl BackfillError {
    pub(crate) fn db(context: impl Into<String>, source: DbErr) -> Self {
        if db_error::kind(&source) == db_error::Kind::PermissionDenied {
            BackfillError::PermissionDenied {
                action: "use",
                source,
            }
        } else {
            BackfillError::Database {
                context: context.into(),
                source,
            }
        }
    }

    /// The process exit code (the one table, [`Exit`]).
    pub fn exit(&self) -> Exit {
        match self {
            BackfillError::Unknown { .. } | BackfillError::BadFlagName { .. } => Exit::Usage,
            BackfillError::Duplicate { .. }
            | BackfillError::NoTable { .. }
            | BackfillError::FlagOff { .. }
            | BackfillError::FlagTurnedOff { .. }
            | BackfillError::NotMigrated
            | BackfillError::TableUnreadable { .. }
            | BackfillError::NotRunnable { .. }
            | BackfillError::AlreadyFinished { .. }
            | BackfillError::ContractWaiting { .. }
            | BackfillError::PermissionDenied { .. } => Exit::Refused,
            BackfillError::Busy { .. } => Exit::Unavailable,
            BackfillError::BatchFailed { .. } | BackfillError::RetriesExhausted { .. } => {
                Exit::Failed
            }
            BackfillError::Database { source, .. } => {
                if db_error::kind(source) == db_error::Kind::ConnectionLost {
                    Exit::Unavailable
                } else {
                    Exit::Failed
                }
            }
        }
    }
}
