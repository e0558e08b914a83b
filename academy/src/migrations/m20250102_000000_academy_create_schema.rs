//! Creates the `academy` schema so its tables stay out of `public`.
use schema_core::migration_kit::{create_schema, drop_schema};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_schema(manager, Academy).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_schema(manager, Academy).await
    }
}

#[derive(DeriveIden)]
#[sea_orm(iden = "academy")]
struct Academy;
