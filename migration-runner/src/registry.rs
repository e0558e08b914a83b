//! The workspace's schema crates: the ONE list the runner, the seeder and
//! xtask read. `cargo xtask schema new <name>` adds a line here; nothing else
//! lists schema crates.

use schema_core::schema_crate::SchemaCrate;

/// Every schema crate, in no particular order: the runner orders migrations
/// by their names and the seeder orders seeds by their declared dependencies.
pub fn schema_crates() -> Vec<SchemaCrate> {
    vec![
        schema_core::schema_crate(),
        schema_academy::schema_crate(),
        schema_talent::schema_crate(),
        schema_vacancy::schema_crate(),
    ]
}
