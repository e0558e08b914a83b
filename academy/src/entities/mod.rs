//! SeaORM entities for the `academy` schema, as of its latest migration.

pub mod course;
pub mod enrollment;
pub mod webinar;

/// The entity types under their table-derived names.
pub mod prelude {
    pub use super::course::Entity as Course;
    pub use super::enrollment::Entity as Enrollment;
    pub use super::webinar::Entity as Webinar;
}

/// Every table's entity, as the statements SeaORM derives from it (`migrate
/// check` compares them with what the migrations build).
pub fn tables() -> Vec<schema_core::schema_crate::EntityTable> {
    use schema_core::schema_crate::entity_table;
    vec![
        entity_table(course::Entity),
        entity_table(enrollment::Entity),
        entity_table(webinar::Entity),
    ]
}
