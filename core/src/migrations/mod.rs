//! The `core` schema's migration history, oldest first.
use sea_orm_migration::MigrationTrait;

mod m20250101_000000_core_create_schema;
mod m20250101_000100_core_create_identity_tables;
mod m20250301_100000_core_add_user_last_seen_at;
mod m20261201_072147_core_create_runtime_roles;

/// This crate's migrations; the runner merges them into the global history.
pub fn migrations() -> Vec<Box<dyn MigrationTrait>> {
    vec![
        Box::new(m20250101_000000_core_create_schema::Migration),
        Box::new(m20250101_000100_core_create_identity_tables::Migration),
        Box::new(m20250301_100000_core_add_user_last_seen_at::Migration),
        Box::new(m20261201_072147_core_create_runtime_roles::Migration),
    ]
}
