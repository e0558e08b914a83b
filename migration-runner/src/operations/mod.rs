//! Operator commands on whole databases: `db backup` (a consistent
//! `pg_dump` custom-format archive of the owned schemas and the `public`
//! tables this product keeps, with a manifest beside it), `db restore` (into
//! an empty or new database, never over the database commands deploy to) and
//! `db verify-backup` (restore into a throwaway database and compare every
//! table's rows and content hash, and the migration head, with the manifest).
//!
//! The manifest's figures are read in the very snapshot `pg_dump` dumps
//! (`pg_export_snapshot`, `pg_dump --snapshot`), so a busy database still
//! gives a manifest that matches its archive. Passwords reach `pg_dump` and
//! `pg_restore` through their environment (`PGPASSWORD`), never their
//! command line, and nothing printed or written carries one.
//!
//! It owns the archive, its manifest and finding the client tools. It may
//! import deploy (to verify a restored history) and the gate's throwaway
//! databases, and every layer below; never the CLI (its commands live in
//! `cli/operations.rs`).

pub mod manifest;
pub mod tools;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use sea_orm::{
    AccessMode, ConnectionTrait, DbBackend, IsolationLevel, Statement, TransactionTrait,
};
use sha2::{Digest, Sha256};
use tokio::io::AsyncBufReadExt as _;

use crate::connect::ConnectError;
use crate::connect::db_error;
use crate::connect::{self, ConnectSettings, DatabaseTarget, Session};
use crate::deploy::error::MigrateError;
use crate::exit::Exit;
use crate::source::catalog::Catalog;
use manifest::{Manifest, TableFigures};
use schema_core::schema_crate::Workspace;

/// Why a backup, restore or verification could not be done.
#[derive(Debug, thiserror::Error)]
pub enum OperationsError {
    #[error(
        "`{tool}` not found (looked in {looked}); install PostgreSQL's client tools, version {server_major} or \
         newer (`apt-get install postgresql-client-{server_major}`, `brew install postgresql@{server_major}`), \
         or set PG_BIN_DIR to the directory that holds them"
    )]
    ToolMissing {
        tool: &'static str,
        looked: String,
        server_major: u32,
    },

    #[error(
        "`{tool}` at {} is version {version}, older than the server ({server}), and cannot read it; install \
         version {server_major} or newer (`apt-get install postgresql-client-{server_major}`) or point \
         PG_BIN_DIR at it",
        path.display()
    )]
    ToolTooOld {
        tool: &'static str,
        path: PathBuf,
        version: String,
        server: String,
        server_major: u32,
    },

    #[error("cannot run `{tool}`: {source}; check that the file is executable")]
    Spawn {
        tool: &'static str,
        #[source]
        source: std::io::Error,
    },

    #[error("`{tool}` failed ({status}){}: {output}", table.as_deref().map(|t| format!(" at table {t}")).unwrap_or_default())]
    ToolFailed {
        tool: &'static str,
        status: String,
        /// The table it was dumping or restoring when it failed, when it said.
        table: Option<String>,
        output: String,
    },

    #[error(
        "archive {} does not exist or cannot be read: {source}; pass the `.dump` file `db backup` wrote",
        path.display()
    )]
    ArchiveMissing {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "manifest {} cannot be read ({problem}); it is written beside the archive by `db backup` and must \
         stay with it",
        path.display()
    )]
    ManifestUnreadable { path: PathBuf, problem: String },

    #[error(
        "database `{database}` at {endpoint} is not empty ({what}); restore into a new or empty database, or \
         pass --force to replace what is there"
    )]
    TargetNotEmpty {
        database: String,
        endpoint: String,
        what: String,
    },

    #[error(
        "database `{database}` at {endpoint} is the one commands deploy to (DATABASE_URL): the server says so \
         (system identifier {system_identifier}, database oid {oid}), whatever host, socket or role the URL \
         uses; restores never go there, not even with --force: restore into a new database (`db restore FILE \
         --into {database}_restored`), check it, then point the application at it (see docs/RUNBOOK.md, \
         \"Restore\")"
    )]
    DeployTarget {
        database: String,
        endpoint: String,
        system_identifier: String,
        oid: String,
    },

    #[error(
        "cannot tell which server {endpoint} is ({reason}); a restore must know it is not the database \
         commands deploy to, and asks the server (`pg_control_system()`): every role may run it unless it \
         was revoked; grant it back with `GRANT EXECUTE ON FUNCTION pg_control_system() TO {role};` in \
         that database, or restore as a superuser"
    )]
    IdentityUnknown {
        endpoint: String,
        role: String,
        reason: String,
    },

    #[error("`--into {given}` is not a database name or a postgres:// URL: {problem}")]
    BadTarget { given: String, problem: String },

    #[error("cannot use `{}`: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{context}: {}", db_error::describe(.source))]
    Database {
        context: &'static str,
        #[source]
        source: sea_orm::DbErr,
    },

    #[error(transparent)]
    Connect(#[from] ConnectError),

    /// Reading or verifying the history of a database (the deploy target's,
    /// or a restored one's).
    #[error(transparent)]
    Migrate(Box<MigrateError>),

    #[error(transparent)]
    Scratch(#[from] crate::gate::scratch::ScratchError),
}

impl From<crate::source::catalog::CatalogError> for OperationsError {
    fn from(err: crate::source::catalog::CatalogError) -> Self {
        MigrateError::from(err).into()
    }
}

impl OperationsError {
    pub fn exit(&self) -> Exit {
        match self {
            OperationsError::ToolMissing { .. }
            | OperationsError::ToolTooOld { .. }
            | OperationsError::TargetNotEmpty { .. }
            | OperationsError::DeployTarget { .. }
            | OperationsError::IdentityUnknown { .. } => Exit::Refused,
            OperationsError::Spawn { .. } | OperationsError::ToolFailed { .. } => Exit::Failed,
            OperationsError::ArchiveMissing { .. }
            | OperationsError::ManifestUnreadable { .. }
            | OperationsError::BadTarget { .. } => Exit::Usage,
            OperationsError::Io { .. } => Exit::Failed,
            OperationsError::Database { source, .. } => db_error::exit(source),
            OperationsError::Connect(err) => err.exit(),
            OperationsError::Migrate(err) => err.exit(),
            OperationsError::Scratch(err) => err.exit(),
        }
    }
}

impl From<MigrateError> for OperationsError {
    fn from(err: MigrateError) -> Self {
        OperationsError::Migrate(Box::new(err))
    }
}

type Result<T, E = OperationsError> = std::result::Result<T, E>;

fn database_error(context: &'static str) -> impl FnOnce(sea_orm::DbErr) -> OperationsError {
    move |source| OperationsError::Database { context, source }
}

/// Lines of progress on stderr; quiet in tests that ask for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    Show,
    Quiet,
}

/// The server's version and major version.
async fn server_version<C: ConnectionTrait>(db: &C) -> Result<(String, u32)> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT current_setting('server_version') AS version, \
                    current_setting('server_version_num')::int AS num",
        ))
        .await
        .map_err(database_error("reading the server's version"))?
        .ok_or_else(|| OperationsError::Database {
            context: "reading the server's version",
            source: sea_orm::DbErr::Custom("no answer".into()),
        })?;
    let version: String = row
        .try_get("", "version")
        .map_err(database_error("reading the server's version"))?;
    let num: i32 = row
        .try_get("", "num")
        .map_err(database_error("reading the server's version"))?;
    Ok((version, (num / 10_000) as u32))
}

async fn open(target: &DatabaseTarget, settings: &ConnectSettings) -> Result<Session> {
    Ok(connect::open(target, settings).await?)
}

/// What `db backup` wrote.
#[derive(Debug, Clone)]
pub struct BackupReport {
    pub archive: PathBuf,
    pub manifest_path: PathBuf,
    pub manifest: Manifest,
    pub elapsed: Duration,
}

/// The owned schemas: every schema crate's.
pub fn owned_schemas(registry: &Workspace) -> Vec<String> {
    (registry.migrations)()
        .iter()
        .map(|source| source.schema.to_owned())
        .collect()
}

/// `db backup`: the default archive is `backups/<database>-<UTC time>.dump`.
pub async fn backup(
    registry: &Workspace,
    target: &DatabaseTarget,
    out: Option<&Path>,
    settings: &ConnectSettings,
    progress: Progress,
) -> Result<BackupReport> {
    let started = Instant::now();
    let session = open(target, settings).await?;
    let db = session.connection();
    let (server, server_major) = server_version(db).await?;
    let pg_dump = tools::find("pg_dump", server_major, &server)?;
    let now = chrono::Utc::now();
    let archive = match out {
        Some(path) => path.to_owned(),
        None => PathBuf::from("backups").join(format!(
            "{}-{}.dump",
            target.database().unwrap_or("database"),
            now.format("%Y%m%dT%H%M%SZ")
        )),
    };
    if let Some(parent) = archive.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| OperationsError::Io {
            path: parent.to_owned(),
            source,
        })?;
    }
    let schemas = owned_schemas(registry);
    // One snapshot for the figures and for pg_dump.
    let snapshot = db
        .begin_with_config(
            Some(IsolationLevel::RepeatableRead),
            Some(AccessMode::ReadOnly),
        )
        .await
        .map_err(database_error("opening the backup's snapshot"))?;
    snapshot
        .execute_unprepared(manifest::STABLE_SETTINGS)
        .await
        .map_err(database_error("setting up the backup's session"))?;
    let snapshot_id: String = snapshot
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT pg_export_snapshot() AS id",
        ))
        .await
        .map_err(database_error("exporting the backup's snapshot"))?
        .map(|row| row.try_get::<String>("", "id"))
        .transpose()
        .map_err(database_error("exporting the backup's snapshot"))?
        .unwrap_or_default();
    let tables = manifest::tables(&snapshot, &schemas)
        .await
        .map_err(database_error("listing the tables to back up"))?;
    let figures = manifest::figures(&snapshot, &tables)
        .await
        .map_err(database_error("counting and hashing the tables"))?;
    let applied = manifest::applied(&snapshot)
        .await
        .map_err(database_error("reading the migration history"))?;
    let catalog = Catalog::workspace(registry)?;
    let head = manifest::head(&applied, &catalog);

    let mut args: Vec<String> = vec![
        "--format=custom".into(),
        format!("--file={}", archive.display()),
        format!("--snapshot={snapshot_id}"),
        "--no-password".into(),
        "--verbose".into(),
    ];
    for schema in schemas.iter().map(String::as_str).chain(["public"]) {
        args.push(format!("--schema={}", manifest::quote(schema)));
    }
    // `public` holds the kept tables; anything else there is not ours.
    for other in public_tables_not_kept(&snapshot).await? {
        args.push(format!(
            "--exclude-table=public.{}",
            manifest::quote(&other)
        ));
    }
    let total_rows: i64 = figures.iter().map(|f| f.rows).sum();
    run_tool(
        &pg_dump,
        &args,
        target,
        None,
        progress,
        "dumping contents of table",
        &figures,
    )
    .await?;
    snapshot
        .commit()
        .await
        .map_err(database_error("closing the backup's snapshot"))?;
    let (archive_bytes, archive_sha256) = file_digest(&archive)?;
    let manifest = Manifest {
        format: Manifest::FORMAT,
        created_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        database: target.redacted(),
        server_version: server,
        pg_dump_version: pg_dump.version.clone(),
        migration_head: head,
        applied_migrations: applied.len(),
        schemas,
        tables: figures,
        archive_bytes,
        archive_sha256,
    };
    let manifest_path = Manifest::path_for(&archive);
    let text = serde_json::to_string_pretty(&manifest).unwrap_or_default();
    std::fs::write(&manifest_path, format!("{}\n", target.scrub(&text))).map_err(|source| {
        OperationsError::Io {
            path: manifest_path.clone(),
            source,
        }
    })?;
    let _ = session.close().await;
    if progress == Progress::Show {
        eprintln!(
            "backup: {} tables, {total_rows} rows, {} bytes",
            manifest.tables.len(),
            manifest.archive_bytes
        );
    }
    Ok(BackupReport {
        archive,
        manifest_path,
        manifest,
        elapsed: started.elapsed(),
    })
}

async fn public_tables_not_kept<C: ConnectionTrait>(db: &C) -> Result<Vec<String>> {
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT c.relname::text AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
              WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') \
                AND NOT c.relname = ANY($1::text[]) ORDER BY 1",
            [sea_orm::Value::from(
                manifest::KEPT_PUBLIC_TABLES.map(str::to_owned).to_vec(),
            )],
        ))
        .await
        .map_err(database_error("listing the tables of `public`"))?;
    rows.iter()
        .map(|row| row.try_get::<String>("", "name"))
        .collect::<std::result::Result<_, _>>()
        .map_err(database_error("listing the tables of `public`"))
}

fn file_digest(path: &Path) -> Result<(u64, String)> {
    use std::io::Read as _;
    let mut file = std::fs::File::open(path).map_err(|source| OperationsError::ArchiveMissing {
        path: path.to_owned(),
        source,
    })?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0_u8; 1 << 20];
    let mut bytes = 0_u64;
    loop {
        let read = file
            .read(&mut buffer)
            .map_err(|source| OperationsError::Io {
                path: path.to_owned(),
                source,
            })?;
        if read == 0 {
            break;
        }
        bytes += read as u64;
        hasher.update(&buffer[..read]);
    }
    Ok((bytes, hex::encode(hasher.finalize())))
}

/// Runs `pg_dump`/`pg_restore` with the target's libpq environment (the
/// password in `PGPASSWORD`), showing a line per table it reaches
/// (`marker "schema.table"` in its verbose output). Its other output is kept
/// (scrubbed) for the error.
async fn run_tool(
    tool: &tools::Tool,
    args: &[String],
    target: &DatabaseTarget,
    database: Option<&str>,
    progress: Progress,
    marker: &str,
    figures: &[TableFigures],
) -> Result<()> {
    let mut command = tokio::process::Command::new(&tool.path);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .env_remove("PGPASSFILE")
        .env_remove("PGSERVICE");
    for (key, value) in target.libpq_environment() {
        command.env(key, value);
    }
    if let Some(database) = database {
        command.env("PGDATABASE", database);
    }
    let mut child = command.spawn().map_err(|source| OperationsError::Spawn {
        tool: tool.name,
        source,
    })?;
    let stderr = child.stderr.take().expect("stderr is piped");
    let mut lines = tokio::io::BufReader::new(stderr).lines();
    let mut kept: Vec<String> = Vec::new();
    let mut reached = 0_usize;
    let mut last_table: Option<String> = None;
    while let Ok(Some(line)) = lines.next_line().await {
        let line = target.scrub(&connect::printable(&line));
        if line.trim().is_empty() {
            continue;
        }
        if let Some(rest) = line.split_once(marker).map(|(_, rest)| rest) {
            reached += 1;
            let table = rest.trim().trim_matches('"').replace('"', "");
            last_table = Some(table.clone());
            if progress == Progress::Show {
                let rows = figures
                    .iter()
                    .find(|f| f.table == table)
                    .map_or(String::new(), |f| format!(", {} rows", f.rows));
                eprintln!(
                    "{}: {table} (table {reached} of {}{rows})",
                    tool.name,
                    figures.len()
                );
            }
        } else if !line.contains(": processing ")
            && !line.contains(": creating ")
            && !line.contains(": reading ")
            && !line.contains(": last built-in")
            && !line.contains(": saving ")
            && !line.contains(": dumping ")
            && !line.contains(": identifying ")
            && !line.contains(": finding ")
            && !line.contains(": flagging ")
            && !line.contains(": executing ")
            && !line.contains(": connecting ")
            && !line.contains(": implied data-only")
        {
            kept.push(line);
        }
    }
    let status = child
        .wait()
        .await
        .map_err(|source| OperationsError::Spawn {
            tool: tool.name,
            source,
        })?;
    if !status.success() {
        let tail: Vec<&String> = kept.iter().rev().take(12).collect();
        let output = tail
            .into_iter()
            .rev()
            .cloned()
            .collect::<Vec<_>>()
            .join("\n  ");
        return Err(OperationsError::ToolFailed {
            tool: tool.name,
            status: status.to_string(),
            table: last_table,
            output: target.scrub(&output),
        });
    }
    Ok(())
}

/// A temporary file, removed when dropped.
struct TempFile {
    path: PathBuf,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The archive's table of contents without the entries for schema `public`
/// itself, which every database already has (the archive selects `public`
/// for the kept tables, so `pg_dump` wrote a `CREATE SCHEMA public`).
async fn restore_list(
    tool: &tools::Tool,
    archive: &Path,
    target: &DatabaseTarget,
) -> Result<TempFile> {
    let output = tokio::process::Command::new(&tool.path)
        .arg("--list")
        .arg(archive)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|source| OperationsError::Spawn {
            tool: tool.name,
            source,
        })?;
    if !output.status.success() {
        return Err(OperationsError::ToolFailed {
            tool: tool.name,
            status: output.status.to_string(),
            table: None,
            output: target.scrub(&connect::printable(&String::from_utf8_lossy(
                &output.stderr,
            ))),
        });
    }
    let list: String = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| {
            !line.contains(" SCHEMA - public ") && !line.contains(" COMMENT - SCHEMA public ")
        })
        .map(|line| format!("{line}\n"))
        .collect();
    let path = std::env::temp_dir().join(format!(
        "migration-runner-restore-{}-{}.list",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    std::fs::write(&path, list).map_err(|source| OperationsError::Io {
        path: path.clone(),
        source,
    })?;
    Ok(TempFile { path })
}

/// Reads the manifest beside `archive`.
pub fn read_manifest(archive: &Path) -> Result<Manifest> {
    std::fs::metadata(archive).map_err(|source| OperationsError::ArchiveMissing {
        path: archive.to_owned(),
        source,
    })?;
    let path = Manifest::path_for(archive);
    let text =
        std::fs::read_to_string(&path).map_err(|err| OperationsError::ManifestUnreadable {
            path: path.clone(),
            problem: err.to_string(),
        })?;
    serde_json::from_str(&text).map_err(|err| OperationsError::ManifestUnreadable {
        path,
        problem: err.to_string(),
    })
}

/// What `db restore` did.
#[derive(Debug, Clone)]
pub struct RestoreReport {
    pub database: String,
    pub created: bool,
    pub tables: usize,
    pub rows: i64,
    pub elapsed: Duration,
}

/// Where `--into` points: a database name on the configured server, or a URL.
pub fn restore_target(configured: &DatabaseTarget, into: &str) -> Result<DatabaseTarget> {
    if into.contains("://") {
        return DatabaseTarget::parse(into, connect::UrlSource::Given).map_err(|err| {
            OperationsError::BadTarget {
                given: connect::redact_url(into),
                problem: err.to_string(),
            }
        });
    }
    let valid = !into.is_empty()
        && into.len() < 64
        && into
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid {
        return Err(OperationsError::BadTarget {
            given: into.to_owned(),
            problem: "a database name is letters, digits, `_` and `-`, at most 63 of them"
                .to_owned(),
        });
    }
    Ok(configured.with_database(into))
}

/// A session on the server for creating databases: the configured database,
/// or `postgres` when that one cannot be opened (it may be the one lost).
async fn admin_session(configured: &DatabaseTarget, settings: &ConnectSettings) -> Result<Session> {
    match open(configured, settings).await {
        Ok(session) => Ok(session),
        Err(first) => open(&configured.with_database("postgres"), settings)
            .await
            .map_err(|_| first),
    }
}

/// A database as its server identifies it, whatever URL reached it: the
/// cluster's system identifier and the database's oid.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DatabaseIdentity {
    system_identifier: String,
    oid: i64,
    name: String,
}

/// The identity of the database `db` is connected to.
async fn identity_of<C: ConnectionTrait>(
    db: &C,
    endpoint: &str,
    role: &str,
) -> Result<DatabaseIdentity> {
    let unknown = |reason: String| OperationsError::IdentityUnknown {
        endpoint: endpoint.to_owned(),
        role: role.to_owned(),
        reason,
    };
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT (SELECT system_identifier::text FROM pg_control_system()) AS system_identifier, \
                    d.oid::bigint AS oid, d.datname::text AS name \
               FROM pg_database d WHERE d.datname = current_database()",
        ))
        .await
        .map_err(|err| unknown(crate::connect::db_error::describe(&err)))?
        .ok_or_else(|| unknown("no answer".to_owned()))?;
    let read = |column: &str| -> Result<String> {
        row.try_get::<String>("", column)
            .map_err(|err| unknown(err.to_string()))
    };
    Ok(DatabaseIdentity {
        system_identifier: read("system_identifier")?,
        oid: row
            .try_get::<i64>("", "oid")
            .map_err(|err| unknown(err.to_string()))?,
        name: read("name")?,
    })
}

/// The configured database's identity; when it cannot be opened (lost), its
/// server's identifier and its name, which a restore then must not take.
async fn deploy_identity(configured: &DatabaseTarget, admin: &Session) -> Result<DatabaseIdentity> {
    let found = identity_of(
        admin.connection(),
        &configured.endpoint(),
        configured.user(),
    )
    .await?;
    let wanted = configured.database().unwrap_or_default();
    if found.name == wanted || wanted.is_empty() {
        Ok(found)
    } else {
        Ok(DatabaseIdentity {
            oid: -1,
            name: wanted.to_owned(),
            ..found
        })
    }
}

/// Where a restore goes, once every precondition holds: the target's
/// server, whether the database exists, and a session on the server for
/// creating it.
enum Destination {
    /// The database exists: a session on it.
    Existing(Session),
    /// It does not: a session on its server's maintenance database.
    Absent(Session),
}

/// Opens the restore's target, or its server when the database does not
/// exist yet (SQLSTATE 3D000), and refuses the deploy target by identity.
async fn destination(
    target: &DatabaseTarget,
    deploy: &DatabaseIdentity,
    settings: &ConnectSettings,
) -> Result<Destination> {
    let refuse = |found: &DatabaseIdentity| OperationsError::DeployTarget {
        database: found.name.clone(),
        endpoint: target.endpoint(),
        system_identifier: found.system_identifier.clone(),
        oid: found.oid.to_string(),
    };
    match open(target, settings).await {
        Ok(session) => {
            let found =
                identity_of(session.connection(), &target.endpoint(), target.user()).await?;
            let same_server = found.system_identifier == deploy.system_identifier;
            if same_server && (found.oid == deploy.oid || found.name == deploy.name) {
                let _ = session.close().await;
                return Err(refuse(&found));
            }
            Ok(Destination::Existing(session))
        }
        Err(OperationsError::Connect(connect::ConnectError::Refused { code, .. }))
            if code == "3D000" =>
        {
            // A session on the target's server to create it from: its
            // maintenance databases, as `createdb` tries them.
            let server = match open(&target.with_database("postgres"), settings).await {
                Ok(server) => server,
                Err(first) => open(&target.with_database("template1"), settings)
                    .await
                    .map_err(|_| first)?,
            };
            let found = identity_of(server.connection(), &target.endpoint(), target.user()).await?;
            let name = target.database().unwrap_or_default();
            if found.system_identifier == deploy.system_identifier && name == deploy.name {
                let _ = server.close().await;
                return Err(refuse(&DatabaseIdentity {
                    name: name.to_owned(),
                    ..deploy.clone()
                }));
            }
            Ok(Destination::Absent(server))
        }
        Err(other) => Err(other),
    }
}

/// `db restore FILE --into DATABASE [--force]`. Every refusal (the deploy
/// target, a missing or old `pg_restore`, a non-empty database without
/// `--force`) comes before anything is created or changed.
pub async fn restore(
    configured: &DatabaseTarget,
    archive: &Path,
    into: &str,
    force: bool,
    settings: &ConnectSettings,
    progress: Progress,
) -> Result<RestoreReport> {
    let started = Instant::now();
    let manifest = read_manifest(archive)?;
    let target = restore_target(configured, into)?;
    let name = target.database().unwrap_or_default().to_owned();
    let admin = admin_session(configured, settings).await?;
    let deploy = deploy_identity(configured, &admin).await;
    let _ = admin.close().await;
    let deploy = deploy?;
    let destination = destination(&target, &deploy, settings).await?;
    let session = match &destination {
        Destination::Existing(session) | Destination::Absent(session) => session.clone(),
    };
    let checked = async {
        let (server, server_major) = server_version(session.connection()).await?;
        let pg_restore = tools::find("pg_restore", server_major, &server)?;
        if let Destination::Existing(existing) = &destination
            && let Some(what) = contents(existing.connection()).await?
            && !force
        {
            return Err(OperationsError::TargetNotEmpty {
                database: name.clone(),
                endpoint: target.endpoint(),
                what,
            });
        }
        let list = restore_list(&pg_restore, archive, &target).await?;
        Ok::<_, OperationsError>((pg_restore, list))
    }
    .await;
    let (pg_restore, list) = match checked {
        Ok(checked) => checked,
        Err(err) => {
            let _ = session.close().await;
            return Err(err);
        }
    };
    let created = matches!(destination, Destination::Absent(_));
    if created {
        let made = session
            .connection()
            .execute_unprepared(&format!("CREATE DATABASE {}", manifest::quote(&name)))
            .await
            .map_err(database_error("creating the database to restore into"));
        if let Err(err) = made {
            let _ = session.close().await;
            return Err(err);
        }
    }
    let _ = session.close().await;
    let mut args: Vec<String> = vec![
        "--no-password".into(),
        "--no-owner".into(),
        "--exit-on-error".into(),
        "--single-transaction".into(),
        "--verbose".into(),
        format!("--dbname={name}"),
    ];
    if force {
        args.push("--clean".into());
        args.push("--if-exists".into());
    }
    args.push(format!("--use-list={}", list.path.display()));
    args.push(archive.display().to_string());
    run_tool(
        &pg_restore,
        &args,
        &target,
        Some(&name),
        progress,
        "processing data for table",
        &manifest.tables,
    )
    .await?;
    Ok(RestoreReport {
        database: name,
        created,
        tables: manifest.tables.len(),
        rows: manifest.rows(),
        elapsed: started.elapsed(),
    })
}

/// What a database holds beyond an empty one, in words (`None`: empty).
async fn contents<C: ConnectionTrait>(db: &C) -> Result<Option<String>> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                      WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') \
                        AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
                        AND n.nspname NOT LIKE 'pg\\_%')::bigint AS relations, \
                    (SELECT count(*) FROM pg_namespace WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'public') \
                        AND nspname NOT LIKE 'pg\\_%')::bigint AS schemas",
        ))
        .await
        .map_err(database_error("checking that the restore's database is empty"))?
        .ok_or_else(|| OperationsError::Database {
            context: "checking that the restore's database is empty",
            source: sea_orm::DbErr::Custom("no answer".into()),
        })?;
    let relations: i64 = row
        .try_get("", "relations")
        .map_err(database_error("reading its contents"))?;
    let schemas: i64 = row
        .try_get("", "schemas")
        .map_err(database_error("reading its contents"))?;
    Ok((relations > 0 || schemas > 0)
        .then(|| format!("{relations} table(s) or view(s), {schemas} schema(s) besides `public`")))
}

/// One way a restored archive disagrees with its manifest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Mismatch {
    /// `schema.table`, or `None` for the archive as a whole or its history.
    pub table: Option<String>,
    pub problem: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.table {
            Some(table) => write!(f, "table {table}: {}", self.problem),
            None => f.write_str(&self.problem),
        }
    }
}

/// What `db verify-backup` found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VerifyReport {
    pub archive: PathBuf,
    pub tables: usize,
    pub rows: i64,
    pub migration_head: Option<String>,
    /// `migrate status`'s exit code on the restored database (0 or 1 pass);
    /// `None` when the archive was not restored (it changed, or would not restore).
    pub status_exit_code: Option<u8>,
    pub mismatches: Vec<Mismatch>,
    pub restore_ms: u128,
    pub elapsed_ms: u128,
}

impl VerifyReport {
    pub fn passed(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// `db verify-backup FILE`: restores into a throwaway database on the
/// configured server and compares it with the manifest.
pub async fn verify_backup(
    registry: &Workspace,
    configured: &DatabaseTarget,
    archive: &Path,
    settings: &ConnectSettings,
    progress: Progress,
) -> Result<VerifyReport> {
    let started = Instant::now();
    let manifest = read_manifest(archive)?;
    let mut mismatches = Vec::new();
    let unrestored = |mismatches: Vec<Mismatch>| VerifyReport {
        archive: archive.to_owned(),
        tables: manifest.tables.len(),
        rows: manifest.rows(),
        migration_head: manifest.migration_head.clone(),
        status_exit_code: None,
        mismatches,
        restore_ms: 0,
        elapsed_ms: started.elapsed().as_millis(),
    };
    // A file that is not the one backed up is not restored: what pg_restore
    // would say of it (if anything) is not the finding.
    let (_, digest) = file_digest(archive)?;
    if digest != manifest.archive_sha256 {
        return Ok(unrestored(vec![Mismatch {
            table: None,
            problem: format!(
                "the archive's SHA-256 is {}, the manifest says {}: the file changed after the backup \
                 (not restored); take a new backup, or find the copy whose checksum matches",
                &digest[..12],
                manifest
                    .archive_sha256
                    .get(..12)
                    .unwrap_or(&manifest.archive_sha256)
            ),
        }]));
    }
    let admin = admin_session(configured, settings).await?;
    let tool = async {
        let (server, server_major) = server_version(admin.connection()).await?;
        tools::find("pg_restore", server_major, &server)
    }
    .await;
    let pg_restore = match tool {
        Ok(tool) => tool,
        Err(err) => {
            let _ = admin.close().await;
            return Err(err);
        }
    };
    let scratch =
        crate::gate::scratch::Scratch::create(admin.connection(), configured, "verify_backup")
            .await?;
    let name = scratch.target.database().unwrap_or_default().to_owned();
    let outcome = async {
        let restore_started = Instant::now();
        // Grants name roles that belong to the source's server; the data,
        // not who may read it, is what is verified here.
        let args: Vec<String> = vec![
            "--no-password".into(),
            "--no-owner".into(),
            "--no-privileges".into(),
            "--exit-on-error".into(),
            "--single-transaction".into(),
            "--verbose".into(),
            format!("--dbname={name}"),
        ];
        let list = restore_list(&pg_restore, archive, &scratch.target).await?;
        let args: Vec<String> = args
            .into_iter()
            .chain([
                format!("--use-list={}", list.path.display()),
                archive.display().to_string(),
            ])
            .collect();
        let restored = run_tool(
            &pg_restore,
            &args,
            &scratch.target,
            Some(&name),
            progress,
            "processing data for table",
            &manifest.tables,
        )
        .await;
        if let Err(OperationsError::ToolFailed { table, output, .. }) = &restored
        {
            // The archive does not restore: that is the verification's finding.
            mismatches.push(Mismatch {
                table: table.clone(),
                problem: format!("does not restore: {output}"),
            });
            return Ok::<_, OperationsError>((restore_started.elapsed().as_millis(), None));
        }
        restored?;
        let restore_ms = restore_started.elapsed().as_millis();
        let db = scratch.session.connection();
        db.execute_unprepared(manifest::STABLE_SETTINGS)
            .await
            .map_err(database_error("setting up the verification's session"))?;
        let tables = manifest::tables(db, &manifest.schemas)
            .await
            .map_err(database_error("listing the restored tables"))?;
        let figures = manifest::figures(db, &tables)
            .await
            .map_err(database_error("counting and hashing the restored tables"))?;
        compare_tables(&manifest.tables, &figures, &mut mismatches);
        let applied = manifest::applied(db)
            .await
            .map_err(database_error("reading the restored history"))?;
        let catalog = Catalog::workspace(registry)?;
        let head = manifest::head(&applied, &catalog);
        if head != manifest.migration_head || applied.len() != manifest.applied_migrations {
            mismatches.push(Mismatch {
                table: None,
                problem: format!(
                    "history: the restored database's migration head is {} ({} applied), the manifest says {} ({} applied)",
                    head.as_deref().unwrap_or("none"),
                    applied.len(),
                    manifest.migration_head.as_deref().unwrap_or("none"),
                    manifest.applied_migrations
                ),
            });
        }
        let runner = crate::deploy::runner::Runner::new(scratch.session.clone(), catalog, crate::deploy::runner::RunnerOptions::default()).await?;
        let status = runner.inspect().await.map(|inspection| {
            (inspection.exit_code(), inspection.problems.iter().map(|p| p.to_string()).collect::<Vec<_>>())
        });
        let (status_exit_code, problems) = status?;
        for problem in problems {
            mismatches.push(Mismatch {
                table: None,
                problem: format!("migrate status: {problem}"),
            });
        }
        Ok::<_, OperationsError>((restore_ms, Some(status_exit_code)))
    }
    .await;
    scratch.dispose().await;
    let _ = admin.close().await;
    let (restore_ms, status_exit_code) = outcome?;
    Ok(VerifyReport {
        archive: archive.to_owned(),
        tables: manifest.tables.len(),
        rows: manifest.rows(),
        migration_head: manifest.migration_head.clone(),
        status_exit_code,
        mismatches,
        restore_ms,
        elapsed_ms: started.elapsed().as_millis(),
    })
}

fn compare_tables(expected: &[TableFigures], actual: &[TableFigures], out: &mut Vec<Mismatch>) {
    for want in expected {
        match actual.iter().find(|got| got.table == want.table) {
            None => out.push(Mismatch {
                table: Some(want.table.clone()),
                problem: "in the manifest, missing from the archive".to_owned(),
            }),
            Some(got) if got.rows != want.rows => out.push(Mismatch {
                table: Some(want.table.clone()),
                problem: format!("{} rows restored, the manifest says {}", got.rows, want.rows),
            }),
            Some(got) if got.hash != want.hash => out.push(Mismatch {
                table: Some(want.table.clone()),
                problem: format!(
                    "content hash {} restored, the manifest says {} (same row count, {}: a row differs)",
                    got.hash, want.hash, got.rows
                ),
            }),
            Some(_) => {}
        }
    }
    for got in actual {
        if !expected.iter().any(|want| want.table == got.table) {
            out.push(Mismatch {
                table: Some(got.table.clone()),
                problem: "in the archive, not in the manifest".to_owned(),
            });
        }
    }
}
