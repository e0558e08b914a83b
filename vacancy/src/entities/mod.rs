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

/// Every table's entity, as the statements SeaORM derives from it (`migrate
/// check` compares them with what the migrations build).
pub fn tables() -> Vec<schema_core::schema_crate::EntityTable> {
    use schema_core::schema_crate::entity_table;
    vec![
        entity_table(application::Entity),
        entity_table(employer::Entity),
        entity_table(vacancy::Entity),
    ]
}
