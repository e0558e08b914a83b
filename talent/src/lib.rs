//! The `talent` PostgreSQL schema: user profiles and the skills they list.
//!
//! This crate owns everything about that schema: its SeaORM entities, its
//! migrations, its seeds and its backfills.
//!
//! It depends only on `sea-orm`, `sea-orm-migration`, `schema-core` (whose
//! users it references) and the small libraries its migrations, entities and
//! seeds use (`async-trait`, `uuid`, `chrono`, `fake`, `rand`). It must never depend on the migration runner, the
//! seeder or another app schema crate, so app schemas stay independently
//! deployable and the runner alone decides how histories interleave.

/// The PostgreSQL schema this crate owns.
pub const SCHEMA: &str = "talent";

/// This crate's directory in the workspace.
pub const CRATE_DIR: &str = "talent";

pub mod entities;
pub mod seeds;
// `#[async_trait]` only accepts `up`/`down` with `&SchemaManager` spelled
// exactly as `MigrationTrait` declares it, elided lifetime included.
#[allow(elided_lifetimes_in_paths)]
mod migrations;

pub use migrations::migrations;
pub use schema_core::backfill::no_backfills as backfills;
pub use seeds::seeds;

/// This crate as the workspace's registry lists it.
pub fn schema_crate() -> schema_core::schema_crate::SchemaCrate {
    schema_core::schema_crate::SchemaCrate {
        schema: SCHEMA,
        crate_dir: CRATE_DIR,
        migrations,
        seeds,
        entities: entities::tables,
        backfills,
    }
}
