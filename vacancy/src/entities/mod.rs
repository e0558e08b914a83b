//! SeaORM entities for the `vacancy` schema, as of its latest migration.

pub mod application;
pub mod employer;
pub mod vacancy;

/// The entity types under their table-derived names.
pub mod prelude {
    pub use super::application::Entity as Application;
    pub use super::employer::Entity as Employer;
    pub use super::vacancy::Entity as Vacancy;
}
