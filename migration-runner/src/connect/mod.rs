//! Reaching the database: reading `DATABASE_URL` (with the source it came
//! from, for messages), keeping its password out of every output, and
//! opening the run's one [`Session`].
//!
//! A password may be written raw in the URL, reserved characters and all
//! (`postgres://deploy:a/b?c#d@db/app`): everything between the user's `:`
//! and the last `@` is the password. It is redacted before anything parses
//! the URL, so no error can echo it.
//!
//! It owns the URL, the session and what a database error means
//! ([`db_error`]). It may import `exit` only; never anything that reads
//! migrations or history.

pub mod db_error;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use sea_orm::sqlx::ConnectOptions as _;
use sea_orm::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sea_orm::{DatabaseConnection, SqlxPostgresConnector};

/// Where the URL came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlSource {
    /// The `DATABASE_URL` environment variable.
    Environment,
    /// The release binary's `--database-url` flag.
    Flag,
    /// `DATABASE_URL` in a `.env` file, at this line.
    DotEnv {
        path: std::path::PathBuf,
        line: usize,
    },
    /// The local development cluster.
    LocalCluster,
    /// The local Citus cluster's coordinator (`db start --citus`).
    LocalCitus,
    /// Given by code (tests, benchmarks).
    Given,
}

impl fmt::Display for UrlSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlSource::Environment => f.write_str("DATABASE_URL in the environment"),
            UrlSource::Flag => f.write_str("--database-url"),
            UrlSource::DotEnv { path, line } => {
                write!(f, "DATABASE_URL in {} (line {line})", path.display())
            }
            UrlSource::LocalCluster => f.write_str("the local cluster under target/postgres"),
            UrlSource::LocalCitus => {
                f.write_str("the local Citus cluster's coordinator under target/citus")
            }
            UrlSource::Given => f.write_str("the given URL"),
        }
    }
}

/// Why the configured database cannot be used, before any connection is tried.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "{origin} is set but empty; set it to `postgres://user:password@host:5432/database`, or unset \
         it to use the local cluster (`cargo xtask` only)"
    )]
    Empty { origin: UrlSource },

    #[error(
        "{origin} is not a PostgreSQL URL ({problem}): `{redacted}`; write it as \
         `postgres://user:password@host:5432/database`"
    )]
    Malformed {
        origin: UrlSource,
        problem: String,
        redacted: String,
    },

    #[error(
        "{} line {line} cannot be parsed (at character {column}); nothing was read from it: fix that \
         line (`KEY=value`, quote values that contain spaces or `#`)",
        path.display()
    )]
    DotEnvLine {
        path: std::path::PathBuf,
        line: usize,
        column: usize,
    },

    #[error("cannot read {}: {source}", path.display())]
    DotEnvRead {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "DATABASE_URL is not set; the release binary never starts a local database: set DATABASE_URL \
         (or pass --database-url), or use `cargo xtask migrate` for local development"
    )]
    Unset,
}

/// A validated database URL and where it came from.
#[derive(Clone)]
pub struct DatabaseTarget {
    /// The URL as given, for `--show-password` and child processes.
    pub url: String,
    pub source: UrlSource,
    options: PgConnectOptions,
}

impl fmt::Debug for DatabaseTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseTarget")
            .field("url", &self.redacted())
            .field("source", &self.source)
            .finish()
    }
}

impl DatabaseTarget {
    /// Validates `raw`; errors never contain its password.
    pub fn parse(raw: &str, source: UrlSource) -> Result<Self, ConfigError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(ConfigError::Empty { origin: source });
        }
        let malformed = |problem: String| ConfigError::Malformed {
            origin: source.clone(),
            problem,
            redacted: redact_url(trimmed),
        };
        let normalized = normalize(trimmed).map_err(&malformed)?;
        let mut options = PgConnectOptions::from_str(&normalized)
            .map_err(|err| malformed(scrub(&err.to_string(), trimmed)))?;
        // An IPv6 literal keeps its URL brackets (`[::1]`), which no resolver
        // takes: connect to the address inside them.
        if let Some(address) = options
            .get_host()
            .strip_prefix('[')
            .and_then(|host| host.strip_suffix(']'))
        {
            let address = address.to_owned();
            options = options.host(&address);
        }
        Ok(Self {
            url: trimmed.to_owned(),
            source,
            options,
        })
    }

    /// The URL with its password replaced by `***`.
    pub fn redacted(&self) -> String {
        redact_url(&self.url)
    }

    /// `host:port` (or the socket directory), for messages.
    pub fn endpoint(&self) -> String {
        match self.options.get_socket() {
            Some(socket) => format!("socket {}", socket.display()),
            None if self.options.get_host().contains(':') => {
                format!("[{}]:{}", self.options.get_host(), self.options.get_port())
            }
            None => format!("{}:{}", self.options.get_host(), self.options.get_port()),
        }
    }

    pub fn user(&self) -> &str {
        self.options.get_username()
    }

    pub fn database(&self) -> Option<&str> {
        self.options.get_database()
    }

    /// The same server and credentials, another database (a throwaway one).
    pub fn with_database(&self, database: &str) -> Self {
        Self {
            url: self.url.clone(),
            source: self.source.clone(),
            options: self.options.clone().database(database),
        }
    }

    /// Removes this URL's password from any text.
    pub fn scrub(&self, text: &str) -> String {
        scrub(text, &self.url)
    }

    /// The libpq environment (`PGHOST`, `PGPORT`, `PGUSER`, `PGDATABASE`,
    /// `PGPASSWORD`, `PGSSLMODE`) for a child process such as `pg_dump`, so
    /// the password travels in its environment, never on its command line.
    pub fn libpq_environment(&self) -> Vec<(&'static str, String)> {
        let host = match self.options.get_socket() {
            Some(socket) => socket.display().to_string(),
            None => self.options.get_host().to_owned(),
        };
        let mut env = vec![
            ("PGHOST", host),
            ("PGPORT", self.options.get_port().to_string()),
            ("PGUSER", self.options.get_username().to_owned()),
        ];
        if let Some(database) = self.options.get_database() {
            env.push(("PGDATABASE", database.to_owned()));
        }
        let rest = self
            .url
            .split_once("://")
            .map_or(&*self.url, |(_, rest)| rest);
        let in_userinfo = rest
            .rsplit_once('@')
            .and_then(|(userinfo, _)| userinfo.split_once(':'))
            .map(|(_, password)| password.to_owned());
        let password = in_userinfo
            .map(|password| decode(&password))
            .or_else(|| self.query_parameter("password"));
        if let Some(password) = password {
            // As the URL parser reads it: `%XX` escapes decoded.
            env.push(("PGPASSWORD", password));
        }
        env.push((
            "PGSSLMODE",
            ssl_mode_name(self.options.get_ssl_mode()).to_owned(),
        ));
        if let Some(root) = self.query_parameter("sslrootcert") {
            env.push(("PGSSLROOTCERT", root));
        }
        env
    }

    /// A `?key=value` parameter of the URL, `%XX` escapes decoded.
    fn query_parameter(&self, name: &str) -> Option<String> {
        self.url.split_once('?').and_then(|(_, query)| {
            query.split('&').find_map(|pair| {
                pair.split_once('=')
                    .filter(|(key, _)| key.eq_ignore_ascii_case(name))
                    .map(|(_, value)| decode(value))
            })
        })
    }
}

/// `postgres://` or `postgresql://`, then a userinfo whose reserved
/// characters are percent-encoded, so the URL parser reads the password raw
/// users wrote. A `%` followed by two hex digits is kept as an escape.
fn normalize(url: &str) -> Result<String, String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err("it does not start with `postgres://`".to_owned());
    };
    if !matches!(scheme, "postgres" | "postgresql") {
        return Err(format!(
            "the scheme is `{}`, not `postgres`",
            printable(scheme)
        ));
    }
    // libpq takes an empty host (`postgres://user@/db?host=/run/postgresql`,
    // a Unix socket); sqlx's parser wants one, and `host=` then wins.
    let with_host = |host: &str| {
        if host.starts_with('/') || host.starts_with('?') || host.is_empty() {
            format!("localhost{host}")
        } else {
            host.to_owned()
        }
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return Ok(format!("{scheme}://{}", with_host(rest)));
    };
    let host = with_host(host);
    let (user, password) = match userinfo.split_once(':') {
        Some((user, password)) => (user, Some(password)),
        None => (userinfo, None),
    };
    let mut out = format!("{scheme}://{}", encode(user));
    if let Some(password) = password {
        out.push(':');
        out.push_str(&encode(password));
    }
    out.push('@');
    out.push_str(&host);
    Ok(out)
}

fn encode(part: &str) -> String {
    let bytes = part.as_bytes();
    let mut out = String::with_capacity(part.len());
    for (index, &byte) in bytes.iter().enumerate() {
        let escape = byte == b'%'
            && bytes.get(index + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(index + 2).is_some_and(u8::is_ascii_hexdigit);
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) || escape {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Replaces the password in a URL with `***`: everything between the user's
/// `:` and the last `@`, and any `password=` query parameter. Works on URLs
/// that no parser accepts, since it must run before parsing.
pub fn redact_url(url: &str) -> String {
    // Without a scheme it is still redacted: it is what users mistype.
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), url),
    };
    let redacted = match rest.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            let secret = if userinfo.contains(':') { ":***" } else { "" };
            format!("{scheme}{user}{secret}@{host}")
        }
        None => url.to_owned(),
    };
    redact_query(&redacted)
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

/// Removes the URL's password from any text (an error message, a log line),
/// in every form it may take: raw, percent-encoded and decoded.
pub fn scrub(text: &str, url: &str) -> String {
    let mut clean = text.replace(url, &redact_url(url));
    for password in passwords_of(url) {
        if password.len() >= 3 {
            clean = clean.replace(&password, "***");
        }
    }
    clean
}

/// The password as written, percent-encoded and decoded.
fn passwords_of(url: &str) -> Vec<String> {
    let mut found = Vec::new();
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    if let Some((userinfo, _)) = rest.rsplit_once('@')
        && let Some((_, password)) = userinfo.split_once(':')
    {
        found.push(password.to_owned());
        found.push(encode(password));
        found.push(decode(password));
    }
    if let Some((_, query)) = url.split_once('?') {
        for pair in query.split('&') {
            if let Some((key, value)) = pair.split_once('=')
                && key.eq_ignore_ascii_case("password")
            {
                found.push(value.to_owned());
                found.push(decode(value));
            }
        }
    }
    // Longest first, so a form that contains another is replaced whole.
    found.sort_by_key(|p| std::cmp::Reverse(p.len()));
    found.dedup();
    found
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = |at: usize| bytes.get(at).and_then(|b| (*b as char).to_digit(16));
        match (bytes[index], hex(index + 1), hex(index + 2)) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                index += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Text from outside (history rows, server messages) with control characters
/// (terminal escape codes among them) shown as `\u{..}` instead of sent raw.
pub fn printable(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// How to open a session.
#[derive(Debug, Clone)]
pub struct ConnectSettings {
    /// `application_name`, so `pg_stat_activity` and lock messages say who it is.
    pub application: String,
    /// How long to wait for the server to accept the connection.
    pub timeout: Duration,
    /// The session's `lock_timeout` (`None`: the server's), set in the
    /// startup packet: no round trip of its own, and `RESET lock_timeout`
    /// returns to it.
    pub lock_timeout: Option<Duration>,
}

impl ConnectSettings {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

    pub fn new(application: &str) -> Self {
        Self {
            application: application.to_owned(),
            timeout: Self::DEFAULT_TIMEOUT,
            lock_timeout: None,
        }
    }

    /// `--connect-timeout SECONDS` for `application`.
    pub fn with_timeout(application: &str, seconds: u64) -> Self {
        Self {
            timeout: Duration::from_secs(seconds),
            ..Self::new(application)
        }
    }
}

/// Why a connection could not be opened; never contains the password.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(
        "cannot reach the database at {endpoint} ({source_name}): {reason}; check that the server runs and \
         the host and port are right"
    )]
    Unreachable {
        endpoint: String,
        source_name: String,
        reason: String,
    },

    #[error(
        "the database at {endpoint} ({source_name}) did not accept a connection within {} s; check the host, \
         the network, and the server's load, or raise `--connect-timeout`",
        timeout.as_secs()
    )]
    TimedOut {
        endpoint: String,
        source_name: String,
        timeout: Duration,
    },

    #[error(
        "the database at {endpoint} ({source_name}) refused the login of `{user}`: {message} (SQLSTATE {code}); \
         check the user, password and database in the URL"
    )]
    Refused {
        endpoint: String,
        source_name: String,
        user: String,
        message: String,
        code: String,
    },

    #[error(
        "the TLS handshake with the database at {endpoint} ({source_name}) failed under sslmode={mode}: \
         {message}; with verify-ca or verify-full, the server's certificate must be signed by a root in \
         `sslrootcert` (and, for verify-full, name the host you connect to); use sslmode=require to \
         encrypt without checking the certificate"
    )]
    Tls {
        endpoint: String,
        source_name: String,
        mode: &'static str,
        message: String,
    },

    #[error("connecting to the database at {endpoint} ({source_name}) failed: {message}")]
    Other {
        endpoint: String,
        source_name: String,
        message: String,
    },

    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl ConnectError {
    /// The process exit code: a malformed URL is the caller's mistake, any
    /// other failure to connect the database's unavailability.
    pub fn exit(&self) -> crate::exit::Exit {
        match self {
            ConnectError::Config(_) => crate::exit::Exit::Usage,
            _ => crate::exit::Exit::Unavailable,
        }
    }
}

/// The run's one database session: the lock, the history and every migration
/// share it. Only [`connect`] makes one, on a pool of exactly one connection,
/// so a runner cannot be handed a pool whose queries land on other sessions.
#[derive(Clone)]
pub struct Session {
    db: DatabaseConnection,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Session")
    }
}

impl Session {
    /// The session's connection, for queries of the caller's own (the seeder's upserts).
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Ends the session.
    pub async fn close(self) -> Result<(), sea_orm::DbErr> {
        self.db.close().await
    }
}

/// Opens a session on `url` (given by code) with the default settings.
pub async fn connect(url: &str, application: &str) -> Result<Session, ConnectError> {
    let target = DatabaseTarget::parse(url, UrlSource::Given)?;
    open(&target, &ConnectSettings::new(application)).await
}

/// Opens the run's session. Fails fast with the endpoint and the operating
/// system's reason when nothing listens there.
pub async fn open(
    target: &DatabaseTarget,
    settings: &ConnectSettings,
) -> Result<Session, ConnectError> {
    let endpoint = target.endpoint();
    let source_name = target.source.to_string();
    // sqlx reports a missing root certificate as an I/O error, which reads as
    // an unreachable server.
    if let Some(root) = target.query_parameter("sslrootcert")
        && !std::path::Path::new(&root).is_file()
    {
        return Err(ConnectError::Tls {
            endpoint,
            source_name,
            mode: ssl_mode_name(target.options.get_ssl_mode()),
            message: format!("the `sslrootcert` file {} does not exist", printable(&root)),
        });
    }
    let mut options = target
        .options
        .clone()
        .application_name(&settings.application)
        .disable_statement_logging();
    if let Some(lock_timeout) = settings.lock_timeout {
        let millis = lock_timeout.as_millis().clamp(1, i32::MAX as u128);
        options = options.options([("lock_timeout", millis.to_string())]);
    }
    // End a query whose client died (a runner killed with SIGKILL) within a
    // second, so it stops holding the migration lock: set in the startup
    // packet, no round trip of its own. A server older than 14 refuses the
    // unknown setting; it is opened again without it.
    let checked = options
        .clone()
        .options([("client_connection_check_interval", "1000")]);
    let pool = match fail_fast(target, settings, pool(checked, settings)).await? {
        Err(err) if is_unknown_setting(&err) => pool(options, settings).await,
        other => other,
    }
    .map_err(|err| describe_connect_error(target, settings, &err))?;
    Ok(Session {
        db: SqlxPostgresConnector::from_sqlx_postgres_pool(pool),
    })
}

/// The run's pool: exactly one connection, opened now.
async fn pool(
    options: PgConnectOptions,
    settings: &ConnectSettings,
) -> Result<sea_orm::sqlx::PgPool, sea_orm::sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .acquire_timeout(settings.timeout)
        .idle_timeout(None)
        .max_lifetime(None)
        .test_before_acquire(false)
        .connect_with(options)
        .await
}

/// After this long without a session, a plain TCP connect checks whether
/// anything listens at all.
const PROBE_AFTER: Duration = Duration::from_millis(150);

/// The pool retries a refused connection until its timeout. When `connecting`
/// has not succeeded within [`PROBE_AFTER`], a plain TCP connect runs beside
/// it and tells at once, with the operating system's reason, when nothing
/// listens there; a connection that succeeds first pays for no probe.
async fn fail_fast<T>(
    target: &DatabaseTarget,
    settings: &ConnectSettings,
    connecting: impl Future<Output = T>,
) -> Result<T, ConnectError> {
    let tcp = target.options.get_socket().is_none() && !target.options.get_host().starts_with('/');
    if !tcp {
        return Ok(connecting.await);
    }
    let probe = async {
        tokio::time::sleep(PROBE_AFTER).await;
        let address = (
            target.options.get_host().to_owned(),
            target.options.get_port(),
        );
        match tokio::time::timeout(settings.timeout, tokio::net::TcpStream::connect(address)).await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(err)) => Err(ConnectError::Unreachable {
                endpoint: target.endpoint(),
                source_name: target.source.to_string(),
                reason: target.scrub(&err.to_string()),
            }),
            Err(_) => Err(ConnectError::TimedOut {
                endpoint: target.endpoint(),
                source_name: target.source.to_string(),
                timeout: settings.timeout,
            }),
        }
    };
    tokio::pin!(connecting);
    tokio::select! {
        biased;
        done = &mut connecting => Ok(done),
        Err(unreachable) = probe => Err(unreachable),
    }
}

/// The server refused a setting of the startup packet it does not know
/// (SQLSTATE 42704, a server older than the setting).
fn is_unknown_setting(err: &sea_orm::sqlx::Error) -> bool {
    matches!(err, sea_orm::sqlx::Error::Database(db) if db.code().as_deref() == Some("42704"))
}

fn describe_connect_error(
    target: &DatabaseTarget,
    settings: &ConnectSettings,
    err: &sea_orm::sqlx::Error,
) -> ConnectError {
    use sea_orm::sqlx::Error;
    let endpoint = target.endpoint();
    let source_name = target.source.to_string();
    match err {
        Error::PoolTimedOut => ConnectError::TimedOut {
            endpoint,
            source_name,
            timeout: settings.timeout,
        },
        Error::Io(io) => ConnectError::Unreachable {
            endpoint,
            source_name,
            reason: target.scrub(&io.to_string()),
        },
        Error::Database(db) => ConnectError::Refused {
            endpoint,
            source_name,
            user: target.user().to_owned(),
            message: target.scrub(&printable(db.message())),
            code: db.code().map(|c| c.into_owned()).unwrap_or_default(),
        },
        Error::Tls(tls) => ConnectError::Tls {
            endpoint,
            source_name,
            mode: ssl_mode_name(target.options.get_ssl_mode()),
            message: target.scrub(&printable(&tls.to_string())),
        },
        other => ConnectError::Other {
            endpoint,
            source_name,
            message: target.scrub(&printable(&other.to_string())),
        },
    }
}

/// `sslmode` as libpq spells it.
fn ssl_mode_name(mode: sea_orm::sqlx::postgres::PgSslMode) -> &'static str {
    use sea_orm::sqlx::postgres::PgSslMode;
    match mode {
        PgSslMode::Disable => "disable",
        PgSslMode::Allow => "allow",
        PgSslMode::Prefer => "prefer",
        PgSslMode::Require => "require",
        PgSslMode::VerifyCa => "verify-ca",
        PgSslMode::VerifyFull => "verify-full",
    }
}

/// `DATABASE_URL` from the environment, or else from a `.env` file in the
/// current directory or a parent. `Ok(None)` when neither sets it; an empty
/// value or a malformed `.env` is an error naming where it is.
pub fn configured_target() -> Result<Option<DatabaseTarget>, ConfigError> {
    if let Some(raw) = std::env::var_os("DATABASE_URL") {
        let raw = raw.to_string_lossy().into_owned();
        return DatabaseTarget::parse(&raw, UrlSource::Environment).map(Some);
    }
    let Some((path, value, line)) = dotenv_database_url()? else {
        return Ok(None);
    };
    DatabaseTarget::parse(&value, UrlSource::DotEnv { path, line }).map(Some)
}

/// Reads the nearest `.env` (current directory, then its parents): every line
/// must parse. Returns its `DATABASE_URL`, if any, with the line it is on.
fn dotenv_database_url() -> Result<Option<(std::path::PathBuf, String, usize)>, ConfigError> {
    let Some(path) = find_dotenv() else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::DotEnvRead {
        path: path.clone(),
        source,
    })?;
    let iter = dotenvy::from_path_iter(&path).map_err(|err| ConfigError::DotEnvRead {
        path: path.clone(),
        source: std::io::Error::other(err.to_string()),
    })?;
    let mut found = None;
    for item in iter {
        match item {
            Ok((key, value)) if key == "DATABASE_URL" => found = Some(value),
            Ok(_) => {}
            Err(dotenvy::Error::LineParse(content, column)) => {
                let line = text
                    .find(content.as_str())
                    .map_or(0, |at| text[..at].matches('\n').count() + 1);
                return Err(ConfigError::DotEnvLine {
                    path,
                    line,
                    column: column + 1,
                });
            }
            Err(err) => {
                return Err(ConfigError::DotEnvRead {
                    path,
                    source: std::io::Error::other(err.to_string()),
                });
            }
        }
    }
    Ok(found.map(|value| {
        let line = text
            .lines()
            .position(|l| {
                let l = l.trim_start();
                l.strip_prefix("export ")
                    .unwrap_or(l)
                    .trim_start()
                    .starts_with("DATABASE_URL")
            })
            .map_or(0, |index| index + 1);
        (path, value, line)
    }))
}

fn find_dotenv() -> Option<std::path::PathBuf> {
    let cwd = std::env::current_dir().ok()?;
    cwd.ancestors()
        .map(|dir| dir.join(".env"))
        .find(|candidate| candidate.is_file())
}

/// Loads the nearest `.env` into the environment (without overriding what is
/// set), after checking that every line of it parses.
pub fn load_dotenv() -> Result<(), ConfigError> {
    let Some(path) = find_dotenv() else {
        return Ok(());
    };
    dotenv_database_url()?;
    dotenvy::from_path(&path).map_err(|err| ConfigError::DotEnvRead {
        path,
        source: std::io::Error::other(err.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every character a URL reserves, and `%` and a space.
    const NASTY: &str = ":/?#[]@!$&'()*+,;=% x";

    #[test]
    fn redacts_passwords_in_urls() {
        let cases = [
            (
                "postgres://deploy:s3cr%40t@db.internal:5432/app?sslmode=require",
                "postgres://deploy:***@db.internal:5432/app?sslmode=require",
            ),
            ("postgres://deploy@db/app", "postgres://deploy@db/app"),
            (
                "postgres://db/app?user=x&password=hunter2",
                "postgres://db/app?user=x&password=***",
            ),
            (
                "postgres://deploy:a/b?c#d@e@db:5432/app",
                "postgres://deploy:***@db:5432/app",
            ),
        ];
        for (url, redacted) in cases {
            assert_eq!(redact_url(url), redacted, "{url}");
        }
    }

    #[test]
    fn a_raw_password_with_every_reserved_character_is_read_and_never_shown() {
        let password = format!("pw{NASTY}end");
        let url = format!("postgres://deploy:{password}@db.internal:5433/app");
        let target = DatabaseTarget::parse(&url, UrlSource::Environment).unwrap();
        assert_eq!(target.endpoint(), "db.internal:5433");
        assert_eq!(target.user(), "deploy");
        assert_eq!(target.database(), Some("app"));
        assert_eq!(
            target.redacted(),
            "postgres://deploy:***@db.internal:5433/app"
        );
        assert!(!format!("{target:?}").contains(&password));
        let text = format!("failed for {url} with {password} and {}", encode(&password));
        let clean = target.scrub(&text);
        assert!(!clean.contains(&password), "{clean}");
        assert!(!clean.contains(&encode(&password)), "{clean}");
    }

    #[test]
    fn malformed_urls_are_refused_without_their_password() {
        let password = format!("pw{NASTY}");
        for url in [
            format!("mysql://u:{password}@db/app"),
            format!("u:{password}@db/app"),
            format!("postgres://u:{password}@db:notaport/app"),
        ] {
            let err = DatabaseTarget::parse(&url, UrlSource::Environment)
                .unwrap_err()
                .to_string();
            assert!(!err.contains(&password), "{err}");
            assert!(err.contains("DATABASE_URL in the environment"), "{err}");
        }
        let err = DatabaseTarget::parse("  ", UrlSource::Environment)
            .unwrap_err()
            .to_string();
        assert!(err.contains("is set but empty"), "{err}");
    }

    #[test]
    fn printable_escapes_control_characters() {
        assert_eq!(printable("plain"), "plain");
        assert_eq!(printable("a\u{1b}[31mred"), "a\\u{1b}[31mred");
    }
}
