//! add course levels
//!
//! Written by `cargo xtask migrate dev` from the entities; review it like any
//! migration.
// migrate: touches core

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table((Alias::new("academy"), Alias::new("courses")))
                    .add_column(
                        ColumnDef::new(Alias::new("level"))
                            .text()
                            .not_null()
                            .default("intro"),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .alter_table(
                Table::alter()
                    .table((Alias::new("academy"), Alias::new("webinars")))
                    .add_column(
                        ColumnDef::new(Alias::new("seats"))
                            .integer()
                            .not_null()
                            .default(50),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .alter_table(
                Table::alter()
                    .table((Alias::new("academy"), Alias::new("webinars")))
                    .rename_column(Alias::new("title"), Alias::new("headline"))
                    .to_owned(),
            )
            .await?;

        // The schema builder cannot say this; the SQL as PostgreSQL takes it.
        manager
            .get_connection()
            .execute_unprepared(
                r#"CREATE INDEX courses_level_idx ON academy.courses USING btree (level)"#,
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The schema builder cannot say this; the SQL as PostgreSQL takes it.
        manager
            .get_connection()
            .execute_unprepared(r#"DROP INDEX academy.courses_level_idx"#)
            .await?;

        manager
            .alter_table(
                Table::alter()
                    .table((Alias::new("academy"), Alias::new("webinars")))
                    .rename_column(Alias::new("headline"), Alias::new("title"))
                    .to_owned(),
            )
            .await?;

        manager
            .alter_table(
                Table::alter()
                    .table((Alias::new("academy"), Alias::new("webinars")))
                    .drop_column(Alias::new("seats"))
                    .to_owned(),
            )
            .await?;

        manager
            .alter_table(
                Table::alter()
                    .table((Alias::new("academy"), Alias::new("courses")))
                    .drop_column(Alias::new("level"))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
