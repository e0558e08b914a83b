//! The workspace's schema crates: the ONE list the release binary, the
//! seeder, xtask and the tests read (the `schema_crates!` invocation at the
//! bottom). `cargo xtask schema new <name>` adds a line to it and a
//! dependency to this crate's manifest; nothing else lists schema crates.
//!
//! It owns that list and its projections: [`schema_crates`] gives each
//! crate's whole descriptor (the seeder, xtask), [`workspace`] only what the
//! engine runs (migrations, backfills, entities and the sum file), so the
//! release binary links no seed code or fake-data generators.
//!
//! It depends on `schema-core` (the contracts) and the schema crates, and
//! never on the engine (`migration-runner`), the seeder or xtask: the engine
//! knows the workspace only through [`schema_core::schema_crate::Workspace`],
//! which its callers hand it.

use schema_core::schema_crate::{
    BackfillSource, EntitySource, MigrationSource, SchemaCrate, Workspace,
};

/// The sum file (`migration-runner/migrations.sum`) the workspace was built
/// with: the code must agree with it.
pub const SUM_FILE: &str = include_str!("../../migrations.sum");

/// The workspace as the engine sees it.
pub fn workspace() -> Workspace {
    Workspace {
        migrations: migration_sources,
        backfills: backfill_sources,
        entities: entity_sources,
        sum_file: SUM_FILE,
    }
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
        pub fn entity_sources() -> Vec<EntitySource> {
            vec![$(EntitySource {
                schema: $krate::SCHEMA,
                tables: $krate::entities::tables(),
            }),*]
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
