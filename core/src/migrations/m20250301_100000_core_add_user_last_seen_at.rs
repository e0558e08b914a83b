//! Adds `users.last_seen_at`, nullable because existing users have never
//! been seen since it started being tracked.
use sea_orm_migration::{prelude::*, schema::timestamp_with_time_zone_null};

use crate::migration_kit::Core;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table((Core, Users::Table))
                    .add_column(timestamp_with_time_zone_null(Users::LastSeenAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table((Core, Users::Table))
                    .drop_column(Users::LastSeenAt)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    LastSeenAt,
}
