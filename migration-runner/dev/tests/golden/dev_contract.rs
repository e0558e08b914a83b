//! add course codes contract
//!
//! makes `academy.courses.code` NOT NULL; drops `academy.webinars.capacity`, once the expand migration's backfills finished
//! (`migrate up` refuses this migration until then).
//!
//! Written by `cargo xtask migrate dev`. Outside a transaction, one short
//! lock per statement: a NOT VALID check is validated while readers and
//! writers go on, and lets `SET NOT NULL` skip its own scan.
// lint: allow ban-drop-column, ban-drop-table, renaming-column -- the contract step `migrate dev` wrote: ship the code that no longer reads what it drops or renames first

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: [&str; 2] = [
    r#"ALTER TABLE academy.courses ALTER COLUMN code SET NOT NULL"#,
    r#"ALTER TABLE academy.webinars DROP COLUMN capacity"#,
];

const DOWN: [&str; 2] = [
    r#"ALTER TABLE academy.webinars ADD COLUMN capacity integer"#,
    r#"ALTER TABLE academy.courses ALTER COLUMN code DROP NOT NULL"#,
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
        for sql in DOWN {
            manager.get_connection().execute_unprepared(sql).await?;
        }
        Ok(())
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(false)
    }
}
