//! The `academy` schema's migration history, oldest first.
use sea_orm_migration::MigrationTrait;

mod m20250102_000000_academy_create_schema;
mod m20250102_000100_academy_create_courses_and_enrollments;
mod m20250215_090000_academy_create_webinars;
mod m20251008_120000_academy_add_webinar_capacity;
mod m20261201_070049_academy_make_webinar_capacity_not_null;
mod m20261201_072156_academy_create_runtime_roles;

/// This crate's migrations; the runner merges them into the global history.
pub fn migrations() -> Vec<Box<dyn MigrationTrait>> {
    vec![
        Box::new(m20250102_000000_academy_create_schema::Migration),
        Box::new(m20250102_000100_academy_create_courses_and_enrollments::Migration),
        Box::new(m20250215_090000_academy_create_webinars::Migration),
        Box::new(m20251008_120000_academy_add_webinar_capacity::Migration),
        Box::new(m20261201_070049_academy_make_webinar_capacity_not_null::Migration),
        Box::new(m20261201_072156_academy_create_runtime_roles::Migration),
    ]
}
