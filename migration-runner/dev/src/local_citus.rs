//! A local Citus cluster, a coordinator and two workers, each a
//! [`LocalCluster`] under one directory of `target/` (`citus/coordinator`,
//! `citus/worker-1`, `citus/worker-2`), started from the installed PostgreSQL
//! binaries with the `citus` extension preloaded. A Citus cluster is per
//! database: [`CitusCluster::create_database`] creates the database on every
//! node, creates the extension in each, and registers the workers with the
//! coordinator. Commands and tests talk to the coordinator only.

use std::path::{Path, PathBuf};

use crate::local_pg::{self, LocalCluster, LocalPgError, target_dir};

/// Why the local Citus cluster could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CitusError {
    #[error(
        "the Citus extension is not installed for the PostgreSQL in {} (no {}); install it the \
         ordinary way (`apt-get install postgresql-<major>-citus-13.2` from Citus's package \
         repository, or build it from source: https://github.com/citusdata/citus#building-from-source), \
         or point DATABASE_URL at an existing Citus coordinator",
        bin_dir.display(), library.display()
    )]
    NotInstalled { bin_dir: PathBuf, library: PathBuf },
    #[error("citus {node}: {source}")]
    Node {
        node: String,
        #[source]
        source: LocalPgError,
    },
}

type Result<T, E = CitusError> = std::result::Result<T, E>;

/// Every node's `postgresql.conf` additions: Citus must be preloaded, and it
/// commits a transaction that spans nodes with two-phase commit.
const NODE_SETTINGS: &str = "shared_preload_libraries = 'citus'\n\
                             max_prepared_transactions = 300\n\
                             citus.log_distributed_deadlock_detection = off\n";

pub const WORKERS: usize = 2;

#[derive(Debug, Clone)]
pub struct CitusCluster {
    root: PathBuf,
    coordinator: LocalCluster,
    workers: Vec<LocalCluster>,
}

/// One node's line in `db status`.
#[derive(Debug, Clone)]
pub struct NodeStatus {
    pub name: String,
    pub status: local_pg::ClusterStatus,
}

impl CitusCluster {
    /// The developer cluster, `target/citus`.
    pub fn for_project() -> Result<Self> {
        Self::at(target_dir().join("citus"))
    }

    /// The cluster the Citus tests use, `target/citus-test`.
    pub fn for_tests() -> Result<Self> {
        Self::at(target_dir().join("citus-test"))
    }

    pub fn at(root: PathBuf) -> Result<Self> {
        let node = |name: &str| {
            LocalCluster::at(root.join(name))
                .map(|cluster| cluster.with_settings(NODE_SETTINGS))
                .map_err(|source| CitusError::Node {
                    node: name.to_owned(),
                    source,
                })
        };
        let coordinator = node("coordinator")?;
        let workers = (1..=WORKERS)
            .map(|i| node(&format!("worker-{i}")))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            root,
            coordinator,
            workers,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn coordinator(&self) -> &LocalCluster {
        &self.coordinator
    }

    pub fn workers(&self) -> &[LocalCluster] {
        &self.workers
    }

    fn nodes(&self) -> impl Iterator<Item = (String, &LocalCluster)> {
        std::iter::once(("coordinator".to_owned(), &self.coordinator)).chain(
            self.workers
                .iter()
                .enumerate()
                .map(|(i, worker)| (format!("worker-{}", i + 1), worker)),
        )
    }

    /// Whether `citus.so` is installed beside the server binaries.
    pub fn check_installed(&self) -> Result<()> {
        let library = citus_library(self.coordinator.bin_dir());
        if library.as_ref().is_some_and(|path| path.is_file()) {
            Ok(())
        } else {
            Err(CitusError::NotInstalled {
                bin_dir: self.coordinator.bin_dir().to_owned(),
                library: library.unwrap_or_else(|| PathBuf::from("citus.so")),
            })
        }
    }

    /// Initialises and starts every node that is not running, and the
    /// application database on first start. Safe from many processes at
    /// once: each node serialises on its own lock file.
    pub fn ensure_running(&self) -> Result<()> {
        self.check_installed()?;
        let fresh = !self.coordinator.is_initialised();
        let password = self.shared_password();
        for (name, node) in self.nodes() {
            let wrap = |source| CitusError::Node {
                node: name.clone(),
                source,
            };
            node.share_password(&password).map_err(wrap)?;
            node.ensure_running().map_err(wrap)?;
        }
        if fresh {
            self.drop_application_database_on_nodes(local_pg::APP_DATABASE)?;
            self.create_database(local_pg::APP_DATABASE)?;
        }
        Ok(())
    }

    /// The coordinator's password if it has one, else a new one for all.
    fn shared_password(&self) -> String {
        std::fs::read_to_string(self.coordinator.root().join("password"))
            .map(|p| p.trim().to_owned())
            .ok()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string())
    }

    /// `LocalCluster::ensure_running` creates `app` on each node as a plain
    /// database; a Citus one is made by [`Self::create_database`].
    fn drop_application_database_on_nodes(&self, name: &str) -> Result<()> {
        for (node, cluster) in self.nodes() {
            cluster
                .drop_database(name)
                .map_err(|source| CitusError::Node { node, source })?;
        }
        Ok(())
    }

    /// Creates `name` on every node with the extension, and makes it one
    /// Citus cluster: the coordinator knows its own address and both workers.
    pub fn create_database(&self, name: &str) -> Result<()> {
        // Registering nodes in two new databases at once makes Citus trip over
        // its own catalog updates ("tuple concurrently updated"): one at a time,
        // across the test threads and processes.
        let lock_path = self.root.join("create-database.lock");
        let io = |source| CitusError::Node {
            node: "coordinator".to_owned(),
            source: LocalPgError::Io {
                path: lock_path.clone(),
                source,
            },
        };
        std::fs::create_dir_all(&self.root).map_err(io)?;
        let lock = std::fs::File::create(&lock_path).map_err(io)?;
        lock.lock().map_err(io)?;
        for (node, cluster) in self.nodes() {
            let wrap = |source| CitusError::Node {
                node: node.clone(),
                source,
            };
            cluster.create_database(name).map_err(wrap)?;
            cluster
                .psql_command(name, "CREATE EXTENSION IF NOT EXISTS citus")
                .map_err(wrap)?;
        }
        let port = |cluster: &LocalCluster| cluster.port().unwrap_or_default();
        let mut sql = format!(
            "SELECT citus_set_coordinator_host('127.0.0.1', {});",
            port(&self.coordinator)
        );
        for worker in &self.workers {
            sql.push_str(&format!(
                "SELECT citus_add_node('127.0.0.1', {});",
                port(worker)
            ));
        }
        self.coordinator
            .psql_command(name, &sql)
            .map_err(|source| CitusError::Node {
                node: "coordinator".to_owned(),
                source,
            })
            .map(drop)
    }

    /// Drops `name` on every node (`--if-exists --force`).
    pub fn drop_database(&self, name: &str) -> Result<()> {
        self.drop_application_database_on_nodes(name)
    }

    /// The coordinator's URL for `database`: what every command connects to.
    pub fn url(&self, database: &str) -> Result<String> {
        self.coordinator
            .url(database)
            .map_err(|source| CitusError::Node {
                node: "coordinator".to_owned(),
                source,
            })
    }

    /// Stops every node; `Ok(true)` if any was running.
    pub fn stop(&self) -> Result<bool> {
        let mut any = false;
        for (node, cluster) in self.nodes() {
            any |= cluster
                .stop()
                .map_err(|source| CitusError::Node { node, source })?;
        }
        Ok(any)
    }

    pub fn is_running(&self) -> bool {
        self.nodes().all(|(_, node)| node.is_running())
    }

    pub fn status(&self) -> Vec<NodeStatus> {
        self.nodes()
            .map(|(name, node)| NodeStatus {
                name,
                status: node.status(),
            })
            .collect()
    }
}

/// Where `citus.so` would be for the PostgreSQL whose binaries are in
/// `bin_dir`: `pg_config --pkglibdir`, else `<bin_dir>/../lib`.
fn citus_library(bin_dir: &Path) -> Option<PathBuf> {
    let from_pg_config = std::process::Command::new(bin_dir.join("pg_config"))
        .arg("--pkglibdir")
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()));
    from_pg_config
        .or_else(|| bin_dir.parent().map(|dir| dir.join("lib")))
        .map(|dir| dir.join("citus.so"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without `citus.so` beside the server binaries, the Citus cluster (and
    /// so every Citus test) fails saying how to install it.
    #[test]
    fn a_missing_citus_says_how_to_install_it() {
        let bin_dir = std::env::temp_dir().join(format!("no-citus-{}", std::process::id()));
        std::fs::create_dir_all(&bin_dir).unwrap();
        let library = citus_library(&bin_dir).unwrap();
        assert!(!library.is_file(), "{}", library.display());
        let message = CitusError::NotInstalled {
            bin_dir: bin_dir.clone(),
            library,
        }
        .to_string();
        for needle in [
            "the Citus extension is not installed",
            "postgresql-<major>-citus-13.2",
            "building-from-source",
            "DATABASE_URL",
        ] {
            assert!(
                message.contains(needle),
                "`{needle}` missing from: {message}"
            );
        }
        std::fs::remove_dir_all(bin_dir).unwrap();
    }
}
