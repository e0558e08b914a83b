//! Choosing the database for `cargo xtask`: `DATABASE_URL` (environment or
//! `.env`) when set, otherwise the local cluster, started on demand.

use migration_runner::connect::{self, ConfigError, DatabaseTarget, UrlSource};

use crate::local_pg::{self, LocalCluster, LocalPgError};

/// Why no database could be chosen.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Local(#[from] LocalPgError),
    #[error(transparent)]
    Citus(#[from] crate::local_citus::CitusError),
}

/// Which local cluster commands use when `DATABASE_URL` is unset: plain
/// PostgreSQL (`target/postgres`), or the Citus cluster (`target/citus`)
/// once `cargo xtask db start --citus` chose it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalKind {
    Postgres,
    Citus,
}

fn choice_file() -> std::path::PathBuf {
    local_pg::target_dir().join("local-cluster")
}

/// The local cluster chosen last (`db start` or `db start --citus`).
pub fn chosen_local() -> LocalKind {
    match std::fs::read_to_string(choice_file()) {
        Ok(text) if text.trim() == "citus" => LocalKind::Citus,
        _ => LocalKind::Postgres,
    }
}

/// Makes `kind` the local cluster commands use.
pub fn choose_local(kind: LocalKind) -> std::io::Result<()> {
    std::fs::write(
        choice_file(),
        match kind {
            LocalKind::Postgres => "postgres\n",
            LocalKind::Citus => "citus\n",
        },
    )
}

/// `DATABASE_URL` if set; otherwise the local cluster's application
/// database, initialised, started and created on demand.
pub async fn resolve_or_start_local() -> Result<DatabaseTarget, TargetError> {
    if let Some(target) = connect::configured_target()? {
        return Ok(target);
    }
    if chosen_local() == LocalKind::Citus {
        let cluster = crate::local_citus::CitusCluster::for_project()?;
        let url = tokio::task::spawn_blocking(move || {
            cluster.ensure_running()?;
            cluster.url(local_pg::APP_DATABASE)
        })
        .await
        .map_err(|join| LocalPgError::Io {
            path: local_pg::target_dir(),
            source: std::io::Error::other(join.to_string()),
        })??;
        return Ok(DatabaseTarget::parse(&url, UrlSource::LocalCitus)?);
    }
    let cluster = LocalCluster::for_project()?;
    let cluster = tokio::task::spawn_blocking(move || cluster.ensure_running().map(|()| cluster))
        .await
        .map_err(|join| LocalPgError::Io {
            path: local_pg::target_dir(),
            source: std::io::Error::other(join.to_string()),
        })??;
    let url = cluster.url(local_pg::APP_DATABASE)?;
    Ok(DatabaseTarget::parse(&url, UrlSource::LocalCluster)?)
}
