//! Finding the database and connecting to it: `DATABASE_URL` (environment,
//! then `.env`), or the local cluster; and keeping passwords out of output.

use std::time::Duration;

use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

use crate::local_pg::{self, LocalCluster, LocalPgError};

/// Where the URL came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlSource {
    Environment,
    DotEnv,
    LocalCluster,
}

#[derive(Debug, Clone)]
pub struct DatabaseTarget {
    pub url: String,
    pub source: UrlSource,
}

impl DatabaseTarget {
    /// The URL with its password replaced by `***`.
    pub fn redacted(&self) -> String {
        redact_url(&self.url)
    }
}

/// `DATABASE_URL` from the environment or a `.env` file in the current
/// directory (or a parent), if set.
pub fn configured_url() -> Option<DatabaseTarget> {
    if let Ok(url) = std::env::var("DATABASE_URL") {
        return (!url.trim().is_empty()).then_some(DatabaseTarget {
            url,
            source: UrlSource::Environment,
        });
    }
    // Loads `.env` into the environment without overriding what is already set.
    dotenvy::dotenv().ok()?;
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
        .map(|url| DatabaseTarget {
            url,
            source: UrlSource::DotEnv,
        })
}

/// `DATABASE_URL` if set; otherwise the local cluster's application
/// database, initialised, started and created on demand.
pub async fn resolve_or_start_local() -> Result<DatabaseTarget, LocalPgError> {
    if let Some(target) = configured_url() {
        return Ok(target);
    }
    let cluster = LocalCluster::for_project()?;
    tokio::task::spawn_blocking(move || cluster.ensure_running().map(|()| cluster))
        .await
        .map_err(|join| LocalPgError::Io {
            path: local_pg::target_dir(),
            source: std::io::Error::other(join.to_string()),
        })?
        .and_then(|cluster| {
            Ok(DatabaseTarget {
                url: cluster.url(local_pg::APP_DATABASE)?,
                source: UrlSource::LocalCluster,
            })
        })
}

/// Replaces the password in a `postgres://user:password@host/db` URL with `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(cut) => rest.split_at(cut),
        None => (rest, ""),
    };
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return redact_query(url);
    };
    let user = match userinfo.split_once(':') {
        Some((user, _)) => format!("{user}:***"),
        None => userinfo.to_owned(),
    };
    redact_query(&format!("{scheme}://{user}@{host}{tail}"))
}

/// `?password=...` is also accepted by libpq-style URLs.
fn redact_query(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{base}?{}", query.join("&"))
}

/// Removes the URL's password from any text (an error message, a log line).
pub fn scrub(text: &str, url: &str) -> String {
    let mut clean = text.replace(url, &redact_url(url));
    if let Some(password) = password_of(url).filter(|p| p.len() >= 3) {
        clean = clean.replace(&password, "***");
    }
    clean
}

fn password_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let userinfo = authority.rsplit_once('@')?.0;
    Some(userinfo.split_once(':')?.1.to_owned())
}

/// One connection, kept for the whole run: the advisory lock, the history and
/// every migration share its session, and nothing reconnects.
pub async fn connect(url: &str, application: &str) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    let application = application.to_owned();
    options
        .max_connections(1)
        // No `min_connections`: a pool that keeps a minimum reconnects in the
        // background, and a half-finished login holds up `DROP DATABASE`.
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30))
        .idle_timeout(None::<Duration>)
        .max_lifetime(None::<Duration>)
        .test_before_acquire(false)
        .sqlx_logging(false)
        .map_sqlx_postgres_opts(move |pg| pg.application_name(&application));
    Database::connect(options).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_in_urls() {
        assert_eq!(
            redact_url("postgres://deploy:s3cr%40t@db.internal:5432/app?sslmode=require"),
            "postgres://deploy:***@db.internal:5432/app?sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://deploy@db/app"),
            "postgres://deploy@db/app"
        );
        assert_eq!(
            redact_url("postgres://db/app?user=x&password=hunter2"),
            "postgres://db/app?user=x&password=***"
        );
    }

    #[test]
    fn scrub_removes_the_password_anywhere() {
        let url = "postgres://deploy:hunter2@db/app";
        assert_eq!(
            scrub(
                "could not connect to postgres://deploy:hunter2@db/app (hunter2)",
                url
            ),
            "could not connect to postgres://deploy:***@db/app (***)"
        );
    }
}
