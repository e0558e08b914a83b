//! SeaORM entities for the `core` schema, as of its latest migration.

pub mod permission;
pub mod role;
pub mod role_permission;
pub mod user;
pub mod user_role;

/// The entity types under their table-derived names.
pub mod prelude {
    pub use super::permission::Entity as Permission;
    pub use super::role::Entity as Role;
    pub use super::role_permission::Entity as RolePermission;
    pub use super::user::Entity as User;
    pub use super::user_role::Entity as UserRole;
}

/// Every table's entity, as the statements SeaORM derives from it (`migrate
/// check` compares them with what the migrations build).
pub fn tables() -> Vec<crate::schema_crate::EntityTable> {
    use crate::schema_crate::entity_table;
    vec![
        entity_table(permission::Entity),
        entity_table(role::Entity),
        entity_table(role_permission::Entity),
        entity_table(user::Entity),
        entity_table(user_role::Entity),
    ]
}
