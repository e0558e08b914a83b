//! The `core` PostgreSQL schema: the identity and access-control tables
//! (users, roles, permissions) that every app schema builds on.
//!
//! This crate owns everything about that schema: its SeaORM entities, its
//! migrations and its seeds. It also owns the contracts every schema crate
//! shares: [`migration_kit`] (the helpers their migrations use, so the app
//! crates do not repeat one another), [`seeding`], [`backfill`], [`flags`]
//! and [`schema_crate`](mod@schema_crate).
//!
//! It depends only on `sea-orm`, `sea-orm-migration` and the small libraries
//! its migrations, entities and seeds use (`async-trait`, `uuid`, `chrono`,
//! `fake`, `rand`). It must never depend on the migration runner, the seeder
//! or an app schema crate: they all depend on it, and `core` has to stay at
//! the bottom of that graph.

/// The PostgreSQL schema this crate owns.
pub const SCHEMA: &str = "core";

/// This crate's directory in the workspace.
pub const CRATE_DIR: &str = "core";

pub mod backfill;
pub mod entities;
pub mod flags;
pub mod migration_kit;
pub mod schema_crate;
pub mod seeding;
pub mod seeds;
// `#[async_trait]` only accepts `up`/`down` with `&SchemaManager` spelled
// exactly as `MigrationTrait` declares it, elided lifetime included.
#[allow(elided_lifetimes_in_paths)]
mod migrations;

pub use backfill::no_backfills as backfills;
pub use migrations::migrations;
pub use seeds::seeds;

/// This crate as the workspace's registry lists it.
pub fn schema_crate() -> schema_crate::SchemaCrate {
    schema_crate::SchemaCrate {
        schema: SCHEMA,
        crate_dir: CRATE_DIR,
        migrations,
        seeds,
        entities: entities::tables,
        backfills,
    }
}
