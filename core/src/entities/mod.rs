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
