//! The seeder: runs every schema crate's seeds, core first, as idempotent
//! upserts that are safe to run any number of times (`cargo xtask seed`).
//!
//! It owns running seeds: the order (derived from each schema's declared
//! dependencies), the upsert statements, one transaction per schema under an
//! advisory lock, the refusal to run with pending migrations, and the report.
//! The seed data itself belongs to the schema crates (`seeds()`, on the
//! contract in `schema_core::seeding`). It never issues DDL: schemas and
//! tables come from the migration runner only.
//!
//! It depends on the schema crates and the migration runner, never on xtask,
//! which only parses flags ([`cli::SeedArgs`]) and calls [`cli::run`].

pub mod cli;
pub mod error;
pub mod foreign_keys;
pub mod migrations;
pub mod order;
pub mod privileges;
pub mod report;
pub mod run;
pub mod upsert;

pub use cli::{SeedArgs, run as run_cli};
pub use error::SeedError;
pub use report::{Counts, SeedReport, TableReport};
pub use run::{SeedOptions, Seeder};
pub use schema_core::seeding::{Profile, SchemaSeed, TableSeed};

/// Every schema crate's seeds, from the workspace's one list of schema
/// crates (`migration_runner::registry`, which `cargo xtask schema new`
/// extends). The order they run in comes from their `depends_on` (ties by
/// name), never from that list.
pub fn workspace_seeds() -> Vec<Box<dyn SchemaSeed>> {
    schema_registry::schema_crates()
        .into_iter()
        .map(|krate| (krate.seeds)())
        .collect()
}
