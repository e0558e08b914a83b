//! Links applications to the applicant's talent profile, and lets profiles
//! say they are open to work.
//!
//! This one step changes two schemas, `vacancy` and `talent`; `down` undoes
//! the `vacancy` half first because its foreign key points into `talent`.
//! The `talent` identifiers are restated here: this crate must not depend on
//! `schema-talent`.
// migrate: touches talent
// lint: allow adding-foreign-key-constraint -- applied everywhere before the linter existed, when applications was small; a new migration would add it NOT VALID then VALIDATE
use sea_orm_migration::{
    prelude::*,
    schema::{boolean, uuid_null},
};

#[derive(DeriveMigrationName)]
pub struct Migration;

const PROFILE_FK: &str = "applications_profile_id_fkey";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table((Talent, Profiles::Table))
                    .add_column(boolean(Profiles::OpenToWork).default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table((Vacancy, Applications::Table))
                    .add_column(uuid_null(Applications::ProfileId))
                    .to_owned(),
            )
            .await?;
        // SET NULL: deleting a profile must not withdraw the applications made with it.
        manager
            .create_foreign_key(
                ForeignKey::create()
                    .name(PROFILE_FK)
                    .from((Vacancy, Applications::Table), Applications::ProfileId)
                    .to((Talent, Profiles::Table), Profiles::Id)
                    .on_delete(ForeignKeyAction::SetNull)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table((Vacancy, Applications::Table))
                    .drop_foreign_key(PROFILE_FK)
                    .drop_column(Applications::ProfileId)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table((Talent, Profiles::Table))
                    .drop_column(Profiles::OpenToWork)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
#[sea_orm(iden = "vacancy")]
struct Vacancy;

#[derive(DeriveIden)]
enum Applications {
    Table,
    ProfileId,
}

#[derive(DeriveIden)]
#[sea_orm(iden = "talent")]
struct Talent;

#[derive(DeriveIden)]
enum Profiles {
    Table,
    Id,
    OpenToWork,
}
