//! The `talent` schema's migration history, oldest first.
use sea_orm_migration::MigrationTrait;

mod m20250102_000000_talent_create_schema;
mod m20250102_000100_talent_create_profiles_and_skills;
mod m20250520_080000_talent_add_profile_headline_length_check;
mod m20261201_072202_talent_create_runtime_roles;

/// This crate's migrations; the runner merges them into the global history.
pub fn migrations() -> Vec<Box<dyn MigrationTrait>> {
    vec![
        Box::new(m20250102_000000_talent_create_schema::Migration),
        Box::new(m20250102_000100_talent_create_profiles_and_skills::Migration),
        Box::new(m20250520_080000_talent_add_profile_headline_length_check::Migration),
        Box::new(m20261201_072202_talent_create_runtime_roles::Migration),
    ]
}
