//! Makes `webinars.capacity` NOT NULL: the contract step after the
//! `academy_webinar_capacity` backfill, which declares that it needs this
//! migration (`migrate up` refuses it until the backfill finished, or checks
//! that no row needs one).
//!
//! Outside a transaction, one short lock per statement: the NOT VALID check
//! is added under a brief lock, validated while readers and writers go on,
//! and then lets `SET NOT NULL` skip its own scan under the exclusive lock.
//! Every statement can run again after a failure (`resolve --rolled-back`).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: [&str; 5] = [
    "ALTER TABLE academy.webinars DROP CONSTRAINT IF EXISTS webinars_capacity_not_null",
    "ALTER TABLE academy.webinars ADD CONSTRAINT webinars_capacity_not_null \
     CHECK (capacity IS NOT NULL) NOT VALID",
    "ALTER TABLE academy.webinars VALIDATE CONSTRAINT webinars_capacity_not_null",
    "ALTER TABLE academy.webinars ALTER COLUMN capacity SET NOT NULL",
    "ALTER TABLE academy.webinars DROP CONSTRAINT webinars_capacity_not_null",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for sql in UP {
            manager.get_connection().execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE academy.webinars ALTER COLUMN capacity DROP NOT NULL")
            .await
            .map(drop)
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(false)
    }
}
