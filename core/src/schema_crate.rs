//! The descriptor every schema crate exposes: what the runner, the seeder and
//! xtask need to know of it, in one value. The workspace's list of these
//! (`migration_runner::registry`) is the single source of which schema crates
//! exist.

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
