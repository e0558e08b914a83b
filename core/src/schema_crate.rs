//! The descriptor every schema crate exposes: what the runner, the seeder and
//! xtask need to know of it, in one value. The workspace's list of these
//! (`migration_runner::registry`) is the single source of which schema crates
//! exist.

use sea_orm_migration::MigrationTrait;

use crate::seeding::SchemaSeed;

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
}

impl std::fmt::Debug for SchemaCrate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaCrate")
            .field("schema", &self.schema)
            .field("crate_dir", &self.crate_dir)
            .finish_non_exhaustive()
    }
}
