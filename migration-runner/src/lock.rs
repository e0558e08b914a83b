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

use crate::error::{MigrateError, Result};

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
pub async fn acquire<C: ConnectionTrait>(db: &C, timeout: Duration) -> Result<Acquired> {
    let started = Instant::now();
    if try_lock(db).await? {
        return Ok(Acquired {
            waited: started.elapsed(),
            waited_for: None,
        });
    }
    let holder = describe_holder(db).await?;
    eprintln!(
        "waiting up to {} s for the migration lock held by {holder}",
        timeout.as_secs()
    );
    // lock_timeout bounds the wait inside the server: no polling, and the
    // lock is granted the moment the holder lets go.
    let millis = timeout.as_millis().max(1);
    db.execute_unprepared(&format!("SET lock_timeout = {millis}"))
        .await?;
    let waited = db
        .execute_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT pg_advisory_lock({LOCK_KEY})"),
        ))
        .await;
    db.execute_unprepared("RESET lock_timeout").await?;
    match waited {
        Ok(_) => Ok(Acquired {
            waited: started.elapsed(),
            waited_for: Some(holder),
        }),
        Err(err) if is_lock_timeout(&err) => Err(MigrateError::LockTimeout {
            waited_secs: timeout.as_secs(),
            holder: describe_holder(db).await.unwrap_or(holder),
        }),
        Err(err) => Err(err.into()),
    }
}

pub async fn release<C: ConnectionTrait>(db: &C) -> Result<()> {
    db.execute_unprepared(&format!("SELECT pg_advisory_unlock({LOCK_KEY})"))
        .await?;
    Ok(())
}

async fn try_lock<C: ConnectionTrait>(db: &C) -> Result<bool> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT pg_try_advisory_lock({LOCK_KEY}) AS locked"),
        ))
        .await?;
    Ok(row
        .map(|r| r.try_get::<bool>("", "locked"))
        .transpose()?
        .unwrap_or(false))
}

/// "pid 4242 (migration-runner on deploy-7, user deploy, running for 12 s)".
async fn describe_holder<C: ConnectionTrait>(db: &C) -> Result<String> {
    let sql = format!(
        "SELECT a.pid, coalesce(nullif(a.application_name, ''), 'unknown application') AS app, \
                coalesce(a.usename::text, '?') AS usr, coalesce(host(a.client_addr), 'local socket') AS host, \
                extract(epoch FROM now() - a.backend_start)::bigint AS secs \
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'advisory' AND l.granted \
           AND l.classid = {high} AND l.objid = {low} AND l.objsubid = 1 LIMIT 1",
        high = (LOCK_KEY >> 32) as u32,
        low = LOCK_KEY as u32,
    );
    let row = db
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await?;
    Ok(match row {
        Some(row) => format!(
            "pid {} ({} from {}, user {}, connected {} s ago)",
            row.try_get::<i32>("", "pid")?,
            row.try_get::<String>("", "app")?,
            row.try_get::<String>("", "host")?,
            row.try_get::<String>("", "usr")?,
            row.try_get::<i64>("", "secs")?,
        ),
        None => "another session (it may have just released it)".to_owned(),
    })
}

fn is_lock_timeout(err: &DbErr) -> bool {
    // SQLSTATE 55P03 lock_not_available; sea-orm surfaces it in the message.
    let text = err.to_string();
    text.contains("55P03") || text.contains("lock timeout")
}
