//! The `academy` schema's runtime roles: the read-write role (`academy_app`
//! unless the deployment chose other names) reads and writes `academy` and reads `core.users`;
//! the reporting role (`academy_reporting`) only reads them. Both are
//! `NOLOGIN` groups without passwords: each deployment grants them to its own
//! login roles. The names come from the deployment's templates, which the
//! runner sets on its session, so this SQL (and its checksum) is the same
//! everywhere (README, "Runtime roles"). Default privileges cover the tables
//! later migrations create.
// migrate: touches core

use schema_core::migration_kit::{RuntimeRoles, create_runtime_roles, drop_runtime_roles};
use sea_orm_migration::prelude::*;

const ROLES: RuntimeRoles<'static> = RuntimeRoles {
    schema: "academy",
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
