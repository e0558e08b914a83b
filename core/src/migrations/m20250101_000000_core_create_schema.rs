//! Creates the `core` schema, which every other schema's tables reference.
use sea_orm_migration::prelude::*;

use crate::migration_kit::{Core, create_schema, drop_schema};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_schema(manager, Core).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_schema(manager, Core).await
    }
}
