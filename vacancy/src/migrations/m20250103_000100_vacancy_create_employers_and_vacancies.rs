//! Creates employers, the vacancies they post and the applications users
//! send to them.
use schema_core::migration_kit::{
    check_in, created_at, id_column, unique_key, updated_at, user_fk,
};
use sea_orm_migration::{
    prelude::*,
    schema::{text, uuid},
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table((Vacancy, Employers::Table))
                    .col(id_column())
                    .col(text(Employers::Slug))
                    .col(text(Employers::Name))
                    .col(uuid(Employers::OwnerId))
                    .col(created_at())
                    .col(updated_at())
                    .index(&mut unique_key("employers_slug_key", Employers::Slug))
                    // Restrict: an employer must be handed over before its owner goes.
                    .foreign_key(&mut user_fk(
                        "employers_owner_id_fkey",
                        (Vacancy, Employers::Table),
                        Employers::OwnerId,
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table((Vacancy, Vacancies::Table))
                    .col(id_column())
                    .col(text(Vacancies::Slug))
                    .col(uuid(Vacancies::EmployerId))
                    .col(uuid(Vacancies::PostedBy))
                    .col(text(Vacancies::Title))
                    .col(text(Vacancies::Status).default("draft"))
                    .col(created_at())
                    .col(updated_at())
                    .index(&mut unique_key("vacancies_slug_key", Vacancies::Slug))
                    .foreign_key(
                        ForeignKey::create()
                            .name("vacancies_employer_id_fkey")
                            .from((Vacancy, Vacancies::Table), Vacancies::EmployerId)
                            .to((Vacancy, Employers::Table), Employers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(&mut user_fk(
                        "vacancies_posted_by_fkey",
                        (Vacancy, Vacancies::Table),
                        Vacancies::PostedBy,
                        ForeignKeyAction::Restrict,
                    ))
                    .check(check_in(
                        "vacancies_status_check",
                        Vacancies::Status,
                        &["draft", "open", "closed"],
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table((Vacancy, Applications::Table))
                    .col(id_column())
                    .col(uuid(Applications::VacancyId))
                    .col(uuid(Applications::ApplicantId))
                    .col(text(Applications::Status).default("submitted"))
                    .col(created_at())
                    .col(updated_at())
                    .index(&mut unique_key(
                        "applications_vacancy_id_applicant_id_key",
                        (Applications::VacancyId, Applications::ApplicantId),
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("applications_vacancy_id_fkey")
                            .from((Vacancy, Applications::Table), Applications::VacancyId)
                            .to((Vacancy, Vacancies::Table), Vacancies::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(&mut user_fk(
                        "applications_applicant_id_fkey",
                        (Vacancy, Applications::Table),
                        Applications::ApplicantId,
                        ForeignKeyAction::Cascade,
                    ))
                    .check(check_in(
                        "applications_status_check",
                        Applications::Status,
                        &["submitted", "reviewing", "rejected", "hired"],
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Applications::Table.into_iden(),
            Vacancies::Table.into_iden(),
            Employers::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table((Vacancy, table)).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
#[sea_orm(iden = "vacancy")]
struct Vacancy;

#[derive(DeriveIden)]
enum Employers {
    Table,
    Id,
    Slug,
    Name,
    OwnerId,
}

#[derive(DeriveIden)]
enum Vacancies {
    Table,
    Id,
    Slug,
    EmployerId,
    PostedBy,
    Title,
    Status,
}

#[derive(DeriveIden)]
enum Applications {
    Table,
    VacancyId,
    ApplicantId,
    Status,
}
