//! `migrate drift`: does the live database still match its migrations? The
//! owned schemas of the live database are compared with a throwaway database
//! built by replaying exactly the migrations the live history records as
//! applied. Objects outside the owned schemas are never read, reported or
//! touched.

use serde::Serialize;

use crate::citus::CitusError;
use crate::connect::DatabaseTarget;
use crate::connect::db_error;
use crate::deploy::error::MigrateError;
use crate::deploy::runner::{Runner, RunnerOptions, UpOptions, Verification};
use crate::deploy::status::State;
use crate::exit::Exit;
use crate::gate::scratch::{Scratch, ScratchError};
use crate::model::{Detail, Difference, SchemaModel};
use crate::source::catalog::{Catalog, SchemaSource};

/// Where to replay history.
#[derive(Debug, Clone)]
pub enum Shadow {
    /// A throwaway database created on the live server.
    Create,
    /// An existing, empty database (`--shadow-url`).
    Url(Box<DatabaseTarget>),
}

/// What `drift` found.
#[derive(Debug, Clone, Serialize)]
pub struct DriftReport {
    pub schemas: Vec<String>,
    pub applied: usize,
    /// Migrations of the code not applied yet: not compared.
    pub pending: usize,
    pub differences: Vec<Difference>,
    /// On Citus: how the placement differs from the runner's intent
    /// (reference tables, distributed schemas, its recorded steps).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placement: Option<Vec<String>>,
}

impl DriftReport {
    /// One line per difference: what the migrations give, what the database
    /// has; then how the Citus placement differs.
    pub fn lines(&self) -> Vec<String> {
        self.differences
            .iter()
            .map(|d| d.describe("migrations give", "the database has"))
            .chain(self.placement.iter().flatten().cloned())
            .collect()
    }

    /// What is said of the pending migrations, which are not compared: empty
    /// when there are none.
    pub fn pending_note(&self) -> String {
        if self.pending == 0 {
            String::new()
        } else {
            format!(
                "; {} pending migration(s) are not applied yet, so not compared (`migrate up` applies them)",
                self.pending
            )
        }
    }

    /// Whether the database matches its migrations (and, on Citus, its placement).
    pub fn is_clean(&self) -> bool {
        self.differences.is_empty() && self.placement.as_ref().is_none_or(Vec::is_empty)
    }
}

/// Compares the live database's owned schemas (where `runner` is
/// connected) with its replayed history, after verifying that history as
/// every command does; the throwaway database is made on `target`'s server.
pub async fn run(
    runner: &Runner,
    target: &DatabaseTarget,
    shadow: Shadow,
    sources: Vec<SchemaSource>,
) -> Result<DriftReport, DriftError> {
    let compared = runner.verified(Verification::Strict).await?;
    let applied: Vec<String> = compared
        .inspection
        .migrations
        .iter()
        .filter(|e| e.state == State::Applied)
        .map(|e| e.name.clone())
        .collect();
    let pending = compared.inspection.pending().count();
    let schemas: Vec<&str> = runner.catalog().schemas().to_vec();
    let live = SchemaModel::read(runner.connection(), &schemas)
        .await
        .map_err(|source| DriftError::Database {
            context: "reading the live database's schemas",
            source,
        })?;
    let scratch = match shadow {
        Shadow::Create => Scratch::create(runner.connection(), target, "drift_shadow").await?,
        Shadow::Url(url) => Scratch::given(*url, &schemas).await?,
    };
    // The same role names as the live database: the replay then finds
    // its roles on the server and creates none.
    let in_force = runner.role_templates().await?;
    let options = RunnerOptions {
        role_templates: crate::roles::role_names::ConfiguredTemplates {
            app: Some(in_force.app.clone()),
            reporting: Some(in_force.reporting.clone()),
        },
        ..RunnerOptions::default()
    };
    let replayed = replay(&scratch, sources, &applied, &schemas, options).await;
    let disposed = scratch.finish().await;
    let replayed = replayed?;
    disposed?;
    let placement = crate::citus::placement_drift(runner.connection(), &schemas).await?;
    Ok(DriftReport {
        schemas: schemas.iter().map(|s| (*s).to_owned()).collect(),
        applied: applied.len(),
        pending,
        differences: SchemaModel::diff(&replayed, &live, Detail::Full),
        placement,
    })
}

/// Applies exactly `applied` (in global order) to the scratch database and
/// reads its model.
async fn replay(
    scratch: &Scratch,
    sources: Vec<SchemaSource>,
    applied: &[String],
    schemas: &[&str],
    options: RunnerOptions,
) -> Result<SchemaModel, DriftError> {
    let sources = sources
        .into_iter()
        .map(|mut source| {
            source
                .migrations
                .retain(|m| applied.iter().any(|name| name == m.name()));
            source
        })
        .collect();
    let catalog = Catalog::new(sources).map_err(MigrateError::from)?;
    let runner = Runner::new(scratch.session.clone(), catalog, options).await?;
    runner.up(&UpOptions::default()).await?;
    SchemaModel::read(scratch.session.connection(), schemas)
        .await
        .map_err(|source| DriftError::Database {
            context: "reading the replayed history",
            source,
        })
}

/// Why `drift` could not compare.
#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    /// Verifying the live history, or replaying it.
    #[error(transparent)]
    Migrate(#[from] MigrateError),

    #[error(transparent)]
    Scratch(#[from] ScratchError),

    #[error(transparent)]
    Citus(#[from] CitusError),

    #[error("{context}: {}", db_error::describe(.source))]
    Database {
        context: &'static str,
        #[source]
        source: sea_orm::DbErr,
    },
}

impl DriftError {
    /// The process exit code, as the cause says.
    pub fn exit(&self) -> Exit {
        match self {
            DriftError::Migrate(err) => err.exit(),
            DriftError::Scratch(err) => err.exit(),
            DriftError::Citus(err) => err.exit(),
            DriftError::Database { source, .. } => db_error::exit(source),
        }
    }
}
