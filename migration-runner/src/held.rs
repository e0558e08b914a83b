//! The session's one connection, taken out of its pool for a run of steps.
//!
//! sqlx pings every connection its pool takes back (a `Sync` and its
//! `ReadyForQuery`), and SeaORM's `begin()` takes the connection from the pool
//! for each transaction: one round trip more per migration than `psql` needs.
//! The executor holds the connection for the whole run instead, and drives
//! each transaction itself, so a migration costs `BEGIN` with its first
//! statement, the rest, and the history row with `COMMIT`.
//!
//! While it is held, the session's pool has nothing to give: everything the
//! run does between its first and last step goes through [`Held`].

use std::sync::Arc;

use sea_orm::sqlx::pool::PoolConnection;
use sea_orm::sqlx::{Executor as _, Postgres};
use sea_orm::{
    ConnAcquireErr, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, ExecResult, QueryResult,
    RuntimeErr, Statement,
};
use sea_query_sqlx::SqlxValues;
use tokio::sync::Mutex;

/// The connection, and whether a transaction is open on it.
pub(crate) struct Held {
    conn: Mutex<Link>,
}

struct Link {
    conn: PoolConnection<Postgres>,
    in_transaction: bool,
}

impl Drop for Link {
    fn drop(&mut self) {
        // A run dropped (or failed to roll back) inside a transaction must
        // not hand a connection in that state back to the pool.
        if self.in_transaction {
            self.conn.close_on_drop();
        }
    }
}

impl Held {
    /// Takes the session's connection out of its pool until this is dropped.
    pub(crate) async fn take(db: &DatabaseConnection) -> Result<Self, DbErr> {
        let conn = db
            .get_postgres_connection_pool()
            .acquire()
            .await
            .map_err(acquire_error)?;
        Ok(Self {
            conn: Mutex::new(Link {
                conn,
                in_transaction: false,
            }),
        })
    }

    /// Opens a transaction together with `first`, parameterless SQL, in one
    /// round trip (one simple query: `BEGIN` cannot fail on its own).
    pub(crate) async fn begin_with(&self, first: &str) -> Result<(), DbErr> {
        let mut link = self.conn.lock().await;
        link.in_transaction = true;
        let sql = format!("BEGIN;\n{first}");
        link.conn
            .execute(sea_orm::sqlx::AssertSqlSafe(sql))
            .await
            .map(drop)
            .map_err(exec_error)
    }

    /// Runs `last`, parameterless SQL, and commits, in one round trip. On an
    /// error the transaction is still open (or already ended, when `COMMIT`
    /// itself failed): the caller rolls back either way.
    pub(crate) async fn commit_with(&self, last: &str) -> Result<(), DbErr> {
        let mut link = self.conn.lock().await;
        let sql = format!("{last};\nCOMMIT");
        link.conn
            .execute(sea_orm::sqlx::AssertSqlSafe(sql))
            .await
            .map_err(exec_error)?;
        link.in_transaction = false;
        Ok(())
    }

    pub(crate) async fn begin(&self) -> Result<(), DbErr> {
        self.transaction_control("BEGIN", true).await
    }

    pub(crate) async fn commit(&self) -> Result<(), DbErr> {
        self.transaction_control("COMMIT", false).await
    }

    /// Rolls the open transaction back; the connection is closed instead of
    /// reused when that fails (the server rolls back when it goes).
    pub(crate) async fn rollback(&self) -> Result<(), DbErr> {
        self.transaction_control("ROLLBACK", false).await
    }

    async fn transaction_control(&self, sql: &'static str, opens: bool) -> Result<(), DbErr> {
        let mut link = self.conn.lock().await;
        if opens {
            link.in_transaction = true;
        }
        link.conn.execute(sql).await.map_err(exec_error)?;
        link.in_transaction = opens;
        Ok(())
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Held {
    fn get_database_backend(&self) -> DbBackend {
        DbBackend::Postgres
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        let mut link = self.conn.lock().await;
        query(&stmt)
            .execute(&mut *link.conn)
            .await
            .map(Into::into)
            .map_err(exec_error)
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        let mut link = self.conn.lock().await;
        link.conn
            .execute(sea_orm::sqlx::AssertSqlSafe(sql.to_owned()))
            .await
            .map(Into::into)
            .map_err(exec_error)
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        let mut link = self.conn.lock().await;
        query(&stmt)
            .fetch_optional(&mut *link.conn)
            .await
            .map(|row| row.map(Into::into))
            .map_err(query_error)
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let mut link = self.conn.lock().await;
        query(&stmt)
            .fetch_all(&mut *link.conn)
            .await
            .map(|rows| rows.into_iter().map(Into::into).collect())
            .map_err(query_error)
    }
}

/// The statement as sqlx runs it (prepared, with its parameters bound), as
/// SeaORM's own PostgreSQL driver does.
fn query(stmt: &Statement) -> sea_orm::sqlx::query::Query<'_, Postgres, SqlxValues> {
    let values = stmt
        .values
        .clone()
        .unwrap_or_else(|| sea_orm::Values(Vec::new()));
    sea_orm::sqlx::query_with(
        sea_orm::sqlx::AssertSqlSafe(stmt.sql.as_str()),
        SqlxValues(values),
    )
}

// The same error shapes as SeaORM's driver, so `db_error` reads them alike.

fn exec_error(err: sea_orm::sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(Arc::new(err)))
}

fn query_error(err: sea_orm::sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(Arc::new(err)))
}

fn acquire_error(err: sea_orm::sqlx::Error) -> DbErr {
    match err {
        sea_orm::sqlx::Error::PoolTimedOut => DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
        sea_orm::sqlx::Error::PoolClosed => {
            DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed)
        }
        other => DbErr::Conn(RuntimeErr::SqlxError(Arc::new(other))),
    }
}
