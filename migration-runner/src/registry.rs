//! The workspace's schema crates: the ONE list the runner, the seeder and
//! xtask read (the `schema_crates!` invocation at the bottom).
//! `cargo xtask schema new <name>` adds a line to it; nothing else lists
//! schema crates.
//!
//! The list is projected two ways: [`schema_crates`] gives each crate's whole
//! descriptor (the seeder, xtask), [`migration_sources`] only what the engine
//! runs, so the release binary links no seed code or fake-data generators.

use schema_core::schema_crate::SchemaCrate;
use sea_orm_migration::MigrationTrait;

/// One schema crate's backfills, as the engine sees them.
pub struct BackfillSource {
    pub schema: &'static str,
    pub backfills: Vec<Box<dyn schema_core::backfill::Backfill>>,
}

/// One schema crate's migrations, as the engine sees it.
pub struct MigrationSource {
    pub schema: &'static str,
    pub crate_dir: &'static str,
    pub migrations: Vec<Box<dyn MigrationTrait>>,
}

macro_rules! schema_crates {
    ($($krate:ident),* $(,)?) => {
        /// Every schema crate's descriptor, in no particular order: the runner
        /// orders migrations by their names and the seeder orders seeds by
        /// their declared dependencies.
        pub fn schema_crates() -> Vec<SchemaCrate> {
            vec![$($krate::schema_crate()),*]
        }

        /// Every schema crate's entities, by schema.
        pub fn entity_sources() -> Vec<(&'static str, Vec<schema_core::schema_crate::EntityTable>)> {
            vec![$(($krate::SCHEMA, $krate::entities::tables())),*]
        }

        /// Every schema crate's migrations, and nothing else of it.
        pub fn migration_sources() -> Vec<MigrationSource> {
            vec![$(MigrationSource {
                schema: $krate::SCHEMA,
                crate_dir: $krate::CRATE_DIR,
                migrations: $krate::migrations(),
            }),*]
        }

        /// Every schema crate's backfills, and nothing else of it.
        pub fn backfill_sources() -> Vec<BackfillSource> {
            vec![$(BackfillSource {
                schema: $krate::SCHEMA,
                backfills: $krate::backfills(),
            }),*]
        }
    };
}

schema_crates! {
    schema_core,
    schema_academy,
    schema_talent,
    schema_vacancy,
}
