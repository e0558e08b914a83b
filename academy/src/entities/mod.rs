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
