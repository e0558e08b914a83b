//! The migration lock: a session-level PostgreSQL advisory lock held by the
//! runner's one connection for the whole run, so concurrent deploys apply
//! each migration exactly once and the others wait, then find nothing to do.
//!
//! Behind a transaction-mode pooler (PgBouncer `pool_mode = transaction`) a
//! session lock may be taken on one server connection and the migrations run
//! on another: point the runner at the database directly, or at a
//! session-mode pool.

use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

use crate::connect::db_error;

/// `hashtext('migration-runner')`-style constant: fixed so every version of the
/// runner, and anything else that wants to wait for deploys, agrees on it.
pub const LOCK_KEY: i64 = 0x6d69_6772_6174_6521;

/// How the run got the lock.
#[derive(Debug, Clone)]
pub struct Acquired {
    pub waited: Duration,
    /// Who held it when we started waiting, if anyone did.
    pub waited_for: Option<String>,
}

/// Takes the lock, waiting at most `timeout`.
pub async fn acquire<C: ConnectionTrait>(db: &C, timeout: Duration) -> Result<Acquired, LockError> {
    let started = Instant::now();
    if try_lock(db).await? {
        return Ok(Acquired {
            waited: started.elapsed(),
            waited_for: None,
        });
    }
    let holder = describe_holder(db).await.map_err(LockError::Database)?;
    eprintln!(
        "waiting up to {} s for the migration lock held by {holder}",
        timeout.as_secs()
    );
    // lock_timeout bounds the wait inside the server: no polling, and the
    // lock is granted the moment the holder lets go.
    let millis = timeout.as_millis().max(1);
    db.execute_unprepared(&format!("SET lock_timeout = {millis}"))
        .await
        .map_err(LockError::Database)?;
    let waited = db
        .execute_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT pg_advisory_lock({LOCK_KEY})"),
        ))
        .await;
    db.execute_unprepared("RESET lock_timeout")
        .await
        .map_err(LockError::Database)?;
    match waited {
        Ok(_) => Ok(Acquired {
            waited: started.elapsed(),
            waited_for: Some(holder),
        }),
        Err(err)
            if crate::connect::db_error::kind(&err)
                == crate::connect::db_error::Kind::LockTimeout =>
        {
            Err(LockError::Timeout {
                waited_secs: timeout.as_secs(),
                holder: describe_holder(db).await.unwrap_or(holder),
            })
        }
        Err(err) => Err(LockError::Database(err)),
    }
}

pub async fn release<C: ConnectionTrait>(db: &C) -> Result<(), LockError> {
    db.execute_unprepared(&format!("SELECT pg_advisory_unlock({LOCK_KEY})"))
        .await
        .map_err(LockError::Database)?;
    Ok(())
}

async fn try_lock<C: ConnectionTrait>(db: &C) -> Result<bool, LockError> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT pg_try_advisory_lock({LOCK_KEY}) AS locked"),
        ))
        .await
        .map_err(LockError::Database)?;
    Ok(row
        .map(|r| r.try_get::<bool>("", "locked"))
        .transpose()
        .map_err(LockError::Database)?
        .unwrap_or(false))
}

/// The session columns [`describe`] reads, from `pg_stat_activity a`.
const HOLDER_COLUMNS: &str = "a.pid, coalesce(nullif(a.application_name, ''), 'unknown application') AS app, \
     coalesce(a.usename::text, '?') AS usr, coalesce(host(a.client_addr), 'local socket') AS host, \
     extract(epoch FROM now() - a.backend_start)::bigint AS secs";

/// "pid 4242 (migration-runner from 10.0.0.7, user deploy, connected 12 s ago)".
/// A role without `pg_read_all_stats` sees another role's session with its
/// details blanked: the pid is still named.
async fn describe_holder<C: ConnectionTrait>(db: &C) -> Result<String, DbErr> {
    let sql = format!(
        "SELECT {HOLDER_COLUMNS} \
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'advisory' AND l.granted \
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
           AND l.classid = {high} AND l.objid = {low} AND l.objsubid = 1 LIMIT 1",
        high = (LOCK_KEY >> 32) as u32,
        low = LOCK_KEY as u32,
    );
    describe(db, Statement::from_string(DbBackend::Postgres, sql)).await
}

/// Who holds a lock on `table` (another session than this one), described
/// as [`describe_holder`] does.
pub async fn describe_table_holder<C: ConnectionTrait>(
    db: &C,
    table: &str,
) -> Result<String, DbErr> {
    let sql = format!(
        "SELECT {HOLDER_COLUMNS} \
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'relation' AND l.granted AND l.relation = to_regclass($1) \
           AND l.pid <> pg_backend_pid() \
         ORDER BY l.mode = 'AccessExclusiveLock' DESC LIMIT 1"
    );
    describe(
        db,
        Statement::from_sql_and_values(DbBackend::Postgres, sql, [table.into()]),
    )
    .await
}

async fn describe<C: ConnectionTrait>(db: &C, query: Statement) -> Result<String, DbErr> {
    let row = db.query_one_raw(query).await?;
    Ok(match row {
        Some(row) => {
            let pid = row.try_get::<i32>("", "pid")?;
            match row.try_get::<Option<i64>>("", "secs")? {
                Some(secs) => format!(
                    "pid {pid} ({} from {}, user {}, connected {secs} s ago)",
                    crate::connect::printable(&row.try_get::<String>("", "app")?),
                    row.try_get::<String>("", "host")?,
                    crate::connect::printable(&row.try_get::<String>("", "usr")?),
                ),
                None => format!(
                    "pid {pid} (user {}; its other details are hidden from this role: a superuser or \
                     `pg_read_all_stats` sees them)",
                    crate::connect::printable(&row.try_get::<String>("", "usr")?),
                ),
            }
        }
        None => "another session (it may have just released it)".to_owned(),
    })
}

/// Taking the migration lock.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "timed out after {waited_secs} s waiting for the migration lock held by {holder}; another deploy is \
         running: wait for it, or raise the wait with `--lock-timeout SECONDS`"
    )]
    Timeout { waited_secs: u64, holder: String },

    #[error(
        "timed out after {waited_secs} s waiting for a lock on the history table `{table}` held by \
         {holder}; nothing was changed: find what that session is doing (`SELECT * FROM \
         pg_stat_activity WHERE pid = …`), or raise the wait with `--lock-timeout SECONDS`"
    )]
    HistoryLocked {
        table: &'static str,
        waited_secs: u64,
        holder: String,
        #[source]
        source: DbErr,
    },

    #[error("cannot take the migration lock: {}", db_error::describe(.0))]
    Database(#[source] DbErr),
}

impl LockError {
    /// The process exit code: waiting out a lock another session holds is
    /// the database's unavailability, anything else a failure.
    pub fn exit(&self) -> crate::exit::Exit {
        match self {
            LockError::Timeout { .. } | LockError::HistoryLocked { .. } => {
                crate::exit::Exit::Unavailable
            }
            _ => crate::exit::Exit::Failed,
        }
    }
}
