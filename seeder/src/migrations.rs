//! The seeder writes into tables the migrations create, so it refuses to run
//! while any migration is pending (or the history is inconsistent). With
//! `--migrate` the pending migrations are applied first, by the migration
//! runner: the seeder itself never issues DDL.

use migration_runner::{Catalog, Runner, RunnerOptions, Session, UpOptions};

use crate::error::SeedError;

/// Refuses when the database's migration history is not fully applied.
pub async fn ensure_applied(session: &Session) -> Result<(), SeedError> {
    let runner = Runner::new(
        session.clone(),
        Catalog::workspace(&schema_registry::workspace())
            .map_err(|err| SeedError::history(err.into()))?,
        RunnerOptions::default(),
    )
    .await
    .map_err(SeedError::history)?;
    let inspection = runner.inspect().await.map_err(SeedError::history)?;
    if !inspection.problems.is_empty() {
        return Err(SeedError::MigrationHistory {
            problems: inspection
                .problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        });
    }
    let pending: Vec<&str> = inspection
        .pending()
        .map(|entry| entry.name.as_str())
        .collect();
    if pending.is_empty() {
        return Ok(());
    }
    const SHOWN: usize = 3;
    let mut names = pending
        .iter()
        .take(SHOWN)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if pending.len() > SHOWN {
        names.push_str(&format!(" and {} more", pending.len() - SHOWN));
    }
    Err(SeedError::PendingMigrations {
        count: pending.len(),
        names,
    })
}

/// Applies every pending migration through the migration runner (its own
/// one-connection session, as the runner's lock requires) and returns how
/// many it applied.
pub async fn apply_pending(database_url: &str) -> Result<usize, SeedError> {
    let report = migration_runner::migrate_workspace(
        database_url,
        "seeder --migrate",
        &UpOptions::default(),
        &schema_registry::workspace(),
    )
    .await
    .map_err(SeedError::migrate)?;
    Ok(report.applied.len())
}
