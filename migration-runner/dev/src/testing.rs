//! Fresh databases for tests: each test gets its own database in the test
//! cluster (`target/postgres-test`, started on first use), so tests run in
//! parallel and never see each other's data. Used by every crate's tests.

use std::sync::OnceLock;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

use migration_runner::UpOptions;

use crate::local_pg::LocalCluster;

/// A database that exists for one test and is dropped with it.
#[derive(Debug)]
pub struct TestDatabase {
    pub name: String,
    pub url: String,
    cluster: &'static LocalCluster,
}

fn cluster() -> &'static LocalCluster {
    static CLUSTER: OnceLock<LocalCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let cluster = LocalCluster::for_tests().unwrap_or_else(|err| panic!("test cluster: {err}"));
        cluster
            .ensure_running()
            .unwrap_or_else(|err| panic!("starting the test cluster: {err}"));
        cluster
    })
}

impl TestDatabase {
    /// Creates an empty database named after the test (`label`) and a random suffix.
    pub fn create(label: &str) -> Self {
        let cluster = cluster();
        let name = database_name(label);
        cluster
            .create_database(&name)
            .unwrap_or_else(|err| panic!("creating test database {name}: {err}"));
        let url = cluster
            .url(&name)
            .unwrap_or_else(|err| panic!("test database url: {err}"));
        Self { name, url, cluster }
    }

    /// A URL for the same database as another role.
    pub fn url_as(&self, user: &str, password: &str) -> String {
        let rest = self.url.split_once('@').map_or("", |(_, rest)| rest);
        format!("postgres://{user}:{password}@{rest}")
    }

    /// Applies the workspace's migrations, all of them or up to and including `to`.
    pub async fn migrate(&self, to: Option<String>) {
        let options = UpOptions {
            to,
            ..UpOptions::default()
        };
        migration_runner::migrate_workspace(
            &self.url,
            "test-migrate",
            &options,
            &schema_registry::workspace(),
        )
        .await
        .unwrap_or_else(|err| panic!("migrating {}: {err}", self.name));
    }

    /// A fresh database with every workspace migration applied.
    pub async fn migrated(label: &str) -> Self {
        let db = Self::create(label);
        db.migrate(None).await;
        db
    }

    /// The test cluster, for tests that need `psql` or the server binaries.
    pub fn cluster(&self) -> &'static LocalCluster {
        self.cluster
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // `--force` ends the test's own connections that are still open.
        if let Err(err) = self.cluster.drop_database(&self.name) {
            eprintln!("warning: could not drop test database {}: {err}", self.name);
        }
    }
}

/// A database on the local Citus test cluster (`target/citus-test`, a
/// coordinator and two workers started on first use), dropped with it.
/// Creating one panics with how to install Citus when it is missing: the
/// Citus tests fail, they never pass without it.
#[derive(Debug)]
pub struct CitusTestDatabase {
    pub name: String,
    /// The coordinator's URL for this database.
    pub url: String,
    cluster: &'static crate::local_citus::CitusCluster,
}

fn citus_cluster() -> &'static crate::local_citus::CitusCluster {
    static CLUSTER: OnceLock<crate::local_citus::CitusCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        crate::local_citus::CitusCluster::for_tests()
            .and_then(|cluster| cluster.ensure_running().map(|()| cluster))
            .unwrap_or_else(|err| panic!("the Citus test cluster: {err}"))
    })
}

impl CitusTestDatabase {
    pub fn create(label: &str) -> Self {
        let cluster = citus_cluster();
        let name = database_name(label);
        cluster
            .create_database(&name)
            .unwrap_or_else(|err| panic!("creating Citus test database {name}: {err}"));
        let url = cluster
            .url(&name)
            .unwrap_or_else(|err| panic!("Citus test database url: {err}"));
        Self { name, url, cluster }
    }

    pub fn cluster(&self) -> &'static crate::local_citus::CitusCluster {
        self.cluster
    }

    /// The URL of `worker` (0 or 1) for this database.
    pub fn worker_url(&self, worker: usize) -> String {
        self.cluster.workers()[worker]
            .url(&self.name)
            .unwrap_or_else(|err| panic!("worker url: {err}"))
    }
}

impl Drop for CitusTestDatabase {
    fn drop(&mut self) {
        if let Err(err) = self.cluster.drop_database(&self.name) {
            eprintln!(
                "warning: could not drop Citus test database {}: {err}",
                self.name
            );
        }
    }
}

fn database_name(label: &str) -> String {
    let clean: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(30)
        .collect();
    format!(
        "t_{clean}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

/// The first column of the one row `sql` returns, as an integer.
pub async fn scalar_i64(db: &DatabaseConnection, sql: &str) -> i64 {
    db.query_one_raw(Statement::from_string(DbBackend::Postgres, sql.to_owned()))
        .await
        .unwrap_or_else(|err| panic!("{sql}: {err}"))
        .expect("one row")
        .try_get_by_index::<i64>(0)
        .expect("an integer")
}

/// The first column of the one row `sql` returns, as text (NULL reads as "").
pub async fn scalar_text(db: &DatabaseConnection, sql: &str) -> String {
    db.query_one_raw(Statement::from_string(DbBackend::Postgres, sql.to_owned()))
        .await
        .unwrap_or_else(|err| panic!("{sql}: {err}"))
        .expect("one row")
        .try_get_by_index::<Option<String>>(0)
        .expect("text")
        .unwrap_or_default()
}

/// The first column of every row `sql` returns, as text.
pub async fn texts(db: &DatabaseConnection, sql: &str) -> Vec<String> {
    db.query_all_raw(Statement::from_string(DbBackend::Postgres, sql.to_owned()))
        .await
        .unwrap_or_else(|err| panic!("{sql}: {err}"))
        .into_iter()
        .map(|row| row.try_get_by_index::<String>(0).expect("text"))
        .collect()
}
