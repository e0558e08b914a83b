//! Caps profile headlines at 160 characters. PostgreSQL validates existing
//! rows when the constraint is added, so longer headlines must be fixed first.
// lint: allow constraint-missing-not-valid -- applied everywhere before the linter existed, when profiles was small; a new migration would use NOT VALID then VALIDATE
use schema_core::migration_kit::add_check;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const CHECK: &str = "profiles_headline_length_check";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_check(
            manager,
            (Talent, Profiles::Table),
            (
                CHECK,
                Func::char_length(Expr::col(Profiles::Headline)).lte(160),
            ),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table((Talent, Profiles::Table))
                    .drop_constraint(CHECK)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
#[sea_orm(iden = "talent")]
struct Talent;

#[derive(DeriveIden)]
enum Profiles {
    Table,
    Headline,
}
