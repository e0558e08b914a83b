//! Fresh databases for tests: each test gets its own database in the test
//! cluster (`target/postgres-test`, started on first use), so tests run in
//! parallel and never see each other's data. Used by every crate's tests.

use std::sync::OnceLock;

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
        let name = format!(
            "t_{clean}_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..10]
        );
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
