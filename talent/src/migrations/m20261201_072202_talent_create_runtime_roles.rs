//! The `talent` schema's runtime roles: `talent_app` reads and writes
//! `talent` and reads `core.users`; `talent_reporting` only reads them. Both
//! are `NOLOGIN` groups without passwords: each deployment grants them to
//! its own login roles (README, "Runtime roles"). Default privileges cover
//! the tables later migrations create.
// migrate: touches core

use schema_core::migration_kit::{RuntimeRoles, create_runtime_roles, drop_runtime_roles};
use sea_orm_migration::prelude::*;

const ROLES: RuntimeRoles<'static> = RuntimeRoles {
    schema: "talent",
    reads: &[("core", "users")],
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_runtime_roles(manager, ROLES).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_runtime_roles(manager, ROLES).await
    }
}
