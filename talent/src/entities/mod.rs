//! SeaORM entities for the `talent` schema, as of its latest migration
//! (including columns other schemas' migrations added to its tables).

pub mod profile;
pub mod profile_skill;
pub mod skill;

/// The entity types under their table-derived names.
pub mod prelude {
    pub use super::profile::Entity as Profile;
    pub use super::profile_skill::Entity as ProfileSkill;
    pub use super::skill::Entity as Skill;
}

/// Every table's entity, as the statements SeaORM derives from it (`migrate
/// check` compares them with what the migrations build).
pub fn tables() -> Vec<schema_core::schema_crate::EntityTable> {
    use schema_core::schema_crate::entity_table;
    vec![
        entity_table(profile::Entity),
        entity_table(profile_skill::Entity),
        entity_table(skill::Entity),
    ]
}
