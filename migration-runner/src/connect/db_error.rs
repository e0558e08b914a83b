//! What a database error means, read from its SQLSTATE and the driver's
//! error kind instead of from its text.

use sea_orm::sqlx::postgres::PgDatabaseError;
use sea_orm::{DbErr, RuntimeErr};

use crate::connect::printable;

/// The classes of failure the runner treats differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `lock_timeout` fired (55P03): someone else holds a lock we need.
    LockTimeout,
    /// The session is gone: network, server restart, or administrator.
    ConnectionLost,
    /// 42501: the role lacks a privilege.
    PermissionDenied,
    /// Serialization failure or deadlock: worth retrying.
    Transient,
    Other,
}

fn sqlx_error(err: &DbErr) -> Option<&sea_orm::sqlx::Error> {
    match err {
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => Some(e.as_ref()),
        _ => None,
    }
}

/// The SQLSTATE of a server error.
pub fn sqlstate(err: &DbErr) -> Option<String> {
    match sqlx_error(err)? {
        sea_orm::sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
        _ => None,
    }
}

pub fn kind(err: &DbErr) -> Kind {
    use sea_orm::sqlx::Error;
    match sqlx_error(err) {
        Some(Error::Io(_) | Error::Protocol(_) | Error::PoolClosed | Error::WorkerCrashed) => {
            Kind::ConnectionLost
        }
        Some(Error::PoolTimedOut) => Kind::ConnectionLost,
        Some(Error::Database(_)) => match sqlstate(err).as_deref() {
            Some("55P03") => Kind::LockTimeout,
            Some("42501") => Kind::PermissionDenied,
            Some("40001" | "40P01") => Kind::Transient,
            Some(code) if code.starts_with("08") || code.starts_with("57P") => Kind::ConnectionLost,
            _ => Kind::Other,
        },
        _ if matches!(err, DbErr::ConnectionAcquire(_)) => Kind::ConnectionLost,
        _ => Kind::Other,
    }
}

/// The exit code of a failed statement: a lost connection is the server's
/// unavailability, anything else a failure.
pub fn exit(err: &DbErr) -> crate::exit::Exit {
    if kind(err) == Kind::ConnectionLost {
        crate::exit::Exit::Unavailable
    } else {
        crate::exit::Exit::Failed
    }
}

/// The server's message, its SQLSTATE, and its detail and hint when given,
/// without the driver's decoration; printable.
pub fn describe(err: &DbErr) -> String {
    let text = match sqlx_error(err) {
        Some(sea_orm::sqlx::Error::Database(db)) => {
            let mut text = db.message().to_owned();
            if let Some(pg) = db.try_downcast_ref::<PgDatabaseError>() {
                if let Some(detail) = pg.detail() {
                    text.push_str(&format!("; detail: {detail}"));
                }
                if let Some(hint) = pg.hint() {
                    text.push_str(&format!("; hint: {hint}"));
                }
            }
            if let Some(code) = db.code() {
                text.push_str(&format!(" (SQLSTATE {code})"));
            }
            text
        }
        Some(other) => other.to_string(),
        None => err.to_string(),
    };
    printable(&text)
}
