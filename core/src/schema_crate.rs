//! The descriptor every schema crate exposes: what the runner, the seeder and
//! xtask need to know of it, in one value. The workspace's list of these
//! (the `schema-registry` crate) is the single source of which schema crates
//! exist; the engine sees it as a [`Workspace`], the projections it runs.

use sea_orm::sea_query::{IndexCreateStatement, TableCreateStatement};
use sea_orm::{DbBackend, EntityTrait, Schema};
use sea_orm_migration::MigrationTrait;

use crate::backfill::Backfill;
use crate::seeding::SchemaSeed;

/// One entity's table as SeaORM derives it: what the entity says the table is.
#[derive(Debug, Clone)]
pub struct EntityTable {
    pub table: TableCreateStatement,
    pub indexes: Vec<IndexCreateStatement>,
}

/// The table `entity` describes, for PostgreSQL.
pub fn entity_table<E: EntityTrait>(entity: E) -> EntityTable {
    let schema = Schema::new(DbBackend::Postgres);
    EntityTable {
        table: schema.create_table_from_entity(entity),
        indexes: schema.create_index_from_entity(entity),
    }
}

/// One schema crate: its schema, where it lives, its migrations and its seeds.
#[derive(Clone, Copy)]
pub struct SchemaCrate {
    /// The PostgreSQL schema the crate owns, which is also its migrations' name prefix.
    pub schema: &'static str,
    /// The crate's directory in the workspace (where `migrate new` writes files).
    pub crate_dir: &'static str,
    /// Its migrations, oldest first.
    pub migrations: fn() -> Vec<Box<dyn MigrationTrait>>,
    /// Its seed data.
    pub seeds: fn() -> Box<dyn SchemaSeed>,
    /// Its entities' tables.
    pub entities: fn() -> Vec<EntityTable>,
    /// Its backfills (data changes the engine runs after deploy, in batches);
    /// `crate::backfill::no_backfills` when it has none.
    pub backfills: fn() -> Vec<Box<dyn Backfill>>,
}

impl std::fmt::Debug for SchemaCrate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaCrate")
            .field("schema", &self.schema)
            .field("crate_dir", &self.crate_dir)
            .finish_non_exhaustive()
    }
}

/// One schema crate's migrations, as the engine sees it.
pub struct MigrationSource {
    pub schema: &'static str,
    pub crate_dir: &'static str,
    pub migrations: Vec<Box<dyn MigrationTrait>>,
}

/// One schema crate's backfills, as the engine sees them.
pub struct BackfillSource {
    pub schema: &'static str,
    pub backfills: Vec<Box<dyn Backfill>>,
}

/// One schema crate's entities' tables, as the engine sees them.
#[derive(Debug, Clone)]
pub struct EntitySource {
    pub schema: &'static str,
    pub tables: Vec<EntityTable>,
}

/// The workspace as the engine knows it (as sqlx's migrator knows its
/// `MigrationSource`): what the registry projects of every schema crate, so
/// the engine depends on no schema crate and the release binary links no
/// seed code.
#[derive(Clone, Copy)]
pub struct Workspace {
    pub migrations: fn() -> Vec<MigrationSource>,
    pub backfills: fn() -> Vec<BackfillSource>,
    pub entities: fn() -> Vec<EntitySource>,
    /// The sum file the workspace was built with.
    pub sum_file: &'static str,
}

impl std::fmt::Debug for Workspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workspace").finish_non_exhaustive()
    }
}
