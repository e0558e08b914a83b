//! Do the SeaORM entities describe what the migrations build? The history is
//! replayed into one throwaway database, the entities' own `CREATE TABLE`s
//! (as SeaORM derives them) run in another, and the two are compared as
//! [`SchemaModel`]s: tables, columns, types, nullability, defaults, primary,
//! unique and foreign keys, indexes (check constraints are beyond what an
//! entity can say). Each difference reads "entity says X, migrations give Y".

use sea_orm::sea_query::PostgresQueryBuilder;
use sea_orm::{ConnectionTrait, DatabaseConnection};

use crate::connect::DatabaseTarget;
use crate::connect::db_error;
use crate::exit::Exit;
use crate::gate::scratch::{Scratch, ScratchError};
use crate::model::{Detail, Difference, Key, SchemaModel};
use crate::source::catalog::{Catalog, SchemaSource};
use schema_core::schema_crate::{EntitySource, EntityTable};

/// Every difference between the entities and the migrations, per schema.
pub async fn compare(
    admin: &DatabaseConnection,
    target: &DatabaseTarget,
    sources: Vec<SchemaSource>,
    entities: Vec<EntitySource>,
) -> Result<Vec<Difference>, EntityCheckError> {
    let (from_migrations, from_entities) = models(admin, target, sources, entities).await?;
    Ok(differences(&from_migrations, &from_entities))
}

/// What the entities say differently from the migrations, within what an
/// entity can say.
pub fn differences(from_migrations: &SchemaModel, from_entities: &SchemaModel) -> Vec<Difference> {
    SchemaModel::diff(from_entities, from_migrations, Detail::Entities)
        .into_iter()
        .filter(|difference| !beyond_entities(difference))
        .collect()
}

/// The schemas as the migrations build them (the history replayed) and as
/// the entities describe them (their `CREATE TABLE`s run), each in its own
/// throwaway database on `target`'s server, built at once.
pub async fn models(
    admin: &DatabaseConnection,
    target: &DatabaseTarget,
    sources: Vec<SchemaSource>,
    entities: Vec<EntitySource>,
) -> Result<(SchemaModel, SchemaModel), EntityCheckError> {
    let schemas: Vec<&str> = sources.iter().map(|s| s.schema).collect();
    let migrations = async {
        let migrated = Scratch::create(admin, target, "check_migrations").await?;
        let model = replay(&migrated, sources, &schemas).await;
        migrated.dispose().await;
        model
    };
    let entities = async {
        let materialised = Scratch::create(admin, target, "check_entities").await?;
        let model = materialise(materialised.session.connection(), &entities, &schemas).await;
        materialised.dispose().await;
        model
    };
    let (from_migrations, from_entities) = tokio::join!(migrations, entities);
    Ok((from_migrations?, from_entities?))
}

fn beyond_entities(difference: &Difference) -> bool {
    let Key::ForeignKey { table, .. } = &difference.key else {
        return false;
    };
    let (None, Some(definition)) = (&difference.expected, &difference.actual) else {
        return false;
    };
    let own = table.split('.').next().unwrap_or_default();
    let referenced = definition
        .strip_prefix("REFERENCES ")
        .and_then(|rest| rest.split('.').next())
        .unwrap_or_default();
    referenced != own && referenced != "core" && referenced != "public"
}

async fn replay(
    scratch: &Scratch,
    sources: Vec<SchemaSource>,
    schemas: &[&str],
) -> Result<SchemaModel, EntityCheckError> {
    scratch
        .replay(&Catalog::new(sources).map_err(ScratchError::from)?)
        .await?;
    SchemaModel::read(scratch.session.connection(), schemas)
        .await
        .map_err(|source| EntityCheckError::Database {
            context: "reading the schemas the migrations build",
            source,
        })
}

/// Runs the entities' statements: tables whose foreign keys point at tables
/// not created yet wait for a later round.
async fn materialise(
    db: &DatabaseConnection,
    entities: &[EntitySource],
    schemas: &[&str],
) -> Result<SchemaModel, EntityCheckError> {
    let failed = |source| EntityCheckError::Database {
        context: "creating the tables the entities describe",
        source,
    };
    for schema in schemas {
        db.execute_unprepared(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
            .await
            .map_err(failed)?;
    }
    let mut waiting: Vec<&EntityTable> =
        entities.iter().flat_map(|source| &source.tables).collect();
    while !waiting.is_empty() {
        let mut next = Vec::new();
        let mut last_error = None;
        for table in &waiting {
            match db
                .execute_unprepared(&table.table.to_string(PostgresQueryBuilder))
                .await
            {
                Ok(_) => {
                    for index in &table.indexes {
                        db.execute_unprepared(&index.to_string(PostgresQueryBuilder))
                            .await
                            .map_err(failed)?;
                    }
                }
                Err(err) => {
                    last_error = Some(err);
                    next.push(*table);
                }
            }
        }
        if next.len() == waiting.len() {
            return Err(failed(last_error.expect("a table failed")));
        }
        waiting = next;
    }
    SchemaModel::read(db, schemas).await.map_err(failed)
}

/// Why the entities could not be compared with the migrations.
#[derive(Debug, thiserror::Error)]
pub enum EntityCheckError {
    #[error(transparent)]
    Scratch(#[from] ScratchError),

    #[error("{context}: {}", db_error::describe(.source))]
    Database {
        context: &'static str,
        #[source]
        source: sea_orm::DbErr,
    },
}

impl EntityCheckError {
    /// The process exit code, as the cause says.
    pub fn exit(&self) -> Exit {
        match self {
            EntityCheckError::Scratch(err) => err.exit(),
            EntityCheckError::Database { source, .. } => db_error::exit(source),
        }
    }
}
