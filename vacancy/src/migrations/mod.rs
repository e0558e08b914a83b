//! The `vacancy` schema's migration history, oldest first.
use sea_orm_migration::MigrationTrait;

mod m20250103_000000_vacancy_create_schema;
mod m20250103_000100_vacancy_create_employers_and_vacancies;
mod m20250410_120000_vacancy_add_salary_range;
mod m20251101_090000_vacancy_link_applications_to_talent_profiles;
mod m20261201_072208_vacancy_create_runtime_roles;
mod m20261201_102900_vacancy_unlink_applications_from_talent_profiles;

/// This crate's migrations; the runner merges them into the global history.
pub fn migrations() -> Vec<Box<dyn MigrationTrait>> {
    vec![
        Box::new(m20250103_000000_vacancy_create_schema::Migration),
        Box::new(m20250103_000100_vacancy_create_employers_and_vacancies::Migration),
        Box::new(m20250410_120000_vacancy_add_salary_range::Migration),
        Box::new(m20251101_090000_vacancy_link_applications_to_talent_profiles::Migration),
        Box::new(m20261201_072208_vacancy_create_runtime_roles::Migration),
        Box::new(m20261201_102900_vacancy_unlink_applications_from_talent_profiles::Migration),
    ]
}
