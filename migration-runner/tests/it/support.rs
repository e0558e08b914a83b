//! Helpers shared by the runner's integration tests.

use migration_dev::testing::TestDatabase;
pub use migration_dev::testing::{scalar_i64, scalar_text, texts};
use migration_runner::{Catalog, Runner, RunnerOptions, SchemaSource};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};
use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager};

/// A migration written as SQL text, for tests that need one the workspace does not have.
pub struct SqlMigration {
    pub name: String,
    pub up: Vec<String>,
    pub down: Vec<String>,
    pub transactional: bool,
}

impl SqlMigration {
    pub fn new(name: &str, up: &[&str], down: &[&str]) -> Self {
        Self {
            name: name.to_owned(),
            up: up.iter().map(|s| (*s).to_owned()).collect(),
            down: down.iter().map(|s| (*s).to_owned()).collect(),
            transactional: true,
        }
    }

    pub fn non_transactional(mut self) -> Self {
        self.transactional = false;
        self
    }
}

impl MigrationName for SqlMigration {
    fn name(&self) -> &str {
        &self.name
    }
}

#[async_trait::async_trait]
impl MigrationTrait for SqlMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for sql in &self.up {
            manager.get_connection().execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for sql in &self.down {
            manager.get_connection().execute_unprepared(sql).await?;
        }
        Ok(())
    }

    fn use_transaction(&self) -> Option<bool> {
        (!self.transactional).then_some(false)
    }
}

/// The workspace's sources with extra migrations added to the named schemas' crates.
pub fn workspace_plus(extra: Vec<(&'static str, Box<dyn MigrationTrait>)>) -> Vec<SchemaSource> {
    let mut sources =
        migration_runner::source::catalog::workspace_sources(&schema_registry::workspace());
    for (schema, migration) in extra {
        sources
            .iter_mut()
            .find(|s| s.schema == schema)
            .expect("a workspace schema")
            .migrations
            .push(migration);
    }
    sources
}

pub async fn runner(db: &TestDatabase, sources: Vec<SchemaSource>) -> Runner {
    runner_with(db, sources, RunnerOptions::default()).await
}

pub async fn runner_with(
    db: &TestDatabase,
    sources: Vec<SchemaSource>,
    options: RunnerOptions,
) -> Runner {
    let catalog = Catalog::new(sources).expect("a valid catalog");
    let connection = migration_runner::connect(&db.url, "migration-runner-test")
        .await
        .expect("connect to the test database");
    Runner::new(connection, catalog, options)
        .await
        .expect("a runner")
}

pub async fn workspace_runner(db: &TestDatabase) -> Runner {
    runner(
        db,
        migration_runner::source::catalog::workspace_sources(&schema_registry::workspace()),
    )
    .await
}

/// A plain connection for assertions (separate from the runner's).
pub async fn connect(db: &TestDatabase) -> DatabaseConnection {
    sea_orm::Database::connect(&db.url).await.expect("connect")
}

/// Every column, constraint and index outside the system schemas and the
/// engine's own tables in `public` (history, backfill ledger, feature flags,
/// settings),
/// as one comparable text.
pub async fn catalog_snapshot(db: &DatabaseConnection) -> String {
    scalar_text(
        db,
        "SELECT coalesce(string_agg(line, E'\\n' ORDER BY line), '') FROM (
           SELECT format('schema %s', nspname) AS line FROM pg_namespace
            WHERE nspname NOT LIKE 'pg\\_%' AND nspname NOT IN ('information_schema', 'public')
           UNION ALL
           SELECT format('column %s.%s.%s %s %s %s', table_schema, table_name, column_name, data_type,
                         is_nullable, coalesce(column_default, ''))
             FROM information_schema.columns
            WHERE table_schema NOT IN ('pg_catalog', 'information_schema')
              AND (table_schema, table_name) NOT IN
                  (('public', 'seaql_migrations'), ('public', 'backfill_ledger'), ('public', 'feature_flags'),
                   ('public', 'migration_settings'), ('public', 'seaql_migrations_digest'))
           UNION ALL
           SELECT format('constraint %s.%s %s', n.nspname, c.conname, pg_get_constraintdef(c.oid))
             FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
            WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND c.conrelid NOT IN (coalesce(to_regclass('public.seaql_migrations'), 0),
                                     coalesce(to_regclass('public.backfill_ledger'), 0),
                                     coalesce(to_regclass('public.feature_flags'), 0),
                                     coalesce(to_regclass('public.migration_settings'), 0),
                                     coalesce(to_regclass('public.seaql_migrations_digest'), 0))
           UNION ALL
           SELECT format('index %s', indexdef) FROM pg_indexes
            WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
              AND (schemaname, tablename) NOT IN
                  (('public', 'seaql_migrations'), ('public', 'backfill_ledger'), ('public', 'feature_flags'),
                   ('public', 'migration_settings'), ('public', 'seaql_migrations_digest'))
         ) lines",
    )
    .await
}

pub async fn history_names(db: &DatabaseConnection) -> Vec<String> {
    texts(
        db,
        "SELECT version FROM public.seaql_migrations ORDER BY version",
    )
    .await
}

/// Runs the release binary in a scratch directory (no `.env` around), with
/// `DATABASE_URL` set to `url` when given.
pub fn runner_binary(
    url: Option<&str>,
    args: &[&str],
    env: &[(&str, &str)],
) -> std::process::Output {
    runner_binary_in(&std::env::temp_dir(), url, args, env)
}

/// The release binary under test: this build's, or `MIGRATION_RUNNER_BIN`
/// (a release build, or an older version to show a test fails before a fix).
pub fn runner_binary_path() -> std::ffi::OsString {
    std::env::var_os("MIGRATION_RUNNER_BIN")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_migration-runner").into())
}

pub fn runner_binary_in(
    cwd: &std::path::Path,
    url: Option<&str>,
    args: &[&str],
    env: &[(&str, &str)],
) -> std::process::Output {
    runner_command_in(cwd, url, args, env)
        .output()
        .expect("run the release binary")
}

/// The command [`runner_binary`] runs, for a test that starts it and does
/// something while it runs (its output is captured).
pub fn runner_command(
    url: Option<&str>,
    args: &[&str],
    env: &[(&str, &str)],
) -> std::process::Command {
    runner_command_in(&std::env::temp_dir(), url, args, env)
}

fn runner_command_in(
    cwd: &std::path::Path,
    url: Option<&str>,
    args: &[&str],
    env: &[(&str, &str)],
) -> std::process::Command {
    let mut command = std::process::Command::new(runner_binary_path());
    command
        .args(args)
        .current_dir(cwd)
        .stdin(std::process::Stdio::null())
        .env_remove("DATABASE_URL")
        .env_remove("APP_ENV")
        .env_remove("MIGRATION_LOCK_TIMEOUT");
    if let Some(url) = url {
        command.env("DATABASE_URL", url);
    }
    for (key, value) in env {
        command.env(key, value);
    }
    command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    command
}

/// Polls `sql` (a count) on `conn` until it is above zero; fails naming
/// `what` after 30 s.
pub async fn wait_until(conn: &DatabaseConnection, sql: &str, what: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while scalar_i64(conn, sql).await == 0 {
        assert!(std::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

pub fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Both streams, for "never prints X" checks.
pub fn all_output(output: &std::process::Output) -> String {
    format!("{}{}", stdout(output), stderr(output))
}

/// The port of a test database's URL.
pub fn port_of(url: &str) -> String {
    url.rsplit_once(':')
        .unwrap()
        .1
        .split('/')
        .next()
        .unwrap()
        .to_owned()
}

/// A directory for one test's archives.
pub struct Dir(pub std::path::PathBuf);

impl Dir {
    pub fn new(label: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("ops-{label}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    pub fn file(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The engine's target for `db`, as a command parses its URL.
pub fn target_of(db: &TestDatabase) -> migration_runner::DatabaseTarget {
    migration_runner::DatabaseTarget::parse(&db.url, migration_runner::connect::UrlSource::Given)
        .unwrap()
}

/// `check --base main` of the branch checked out in `workspace`, whose code
/// is `sources` (called once for the catalog, once for the replay), on
/// `server`: the report, or a panic naming the error.
pub async fn check_against_main(
    workspace: &std::path::Path,
    sources: impl Fn() -> Vec<SchemaSource>,
    server: &TestDatabase,
) -> migration_runner::gate::check::CheckReport {
    use migration_runner::gate::check;
    let catalog = Catalog::new(sources()).unwrap();
    let sides = check::read_sides(workspace, "main").unwrap();
    let admin = migration_runner::connect(&server.url, "check-test")
        .await
        .unwrap();
    check::run(
        check::Branch {
            workspace,
            catalog: &catalog,
            sources: sources(),
            entities: schema_registry::entity_sources(),
        },
        &sides,
        admin.connection(),
        &target_of(server),
    )
    .await
    .unwrap_or_else(|err| panic!("check ran into an error instead of a report: {err}"))
}
