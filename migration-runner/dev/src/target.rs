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
}

/// `DATABASE_URL` if set; otherwise the local cluster's application
/// database, initialised, started and created on demand.
pub async fn resolve_or_start_local() -> Result<DatabaseTarget, TargetError> {
    if let Some(target) = connect::configured_target()? {
        return Ok(target);
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
