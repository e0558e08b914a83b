//! Adds an optional salary range to vacancies. Either bound may be missing,
//! but a complete range must not be inverted.
// lint: allow constraint-missing-not-valid -- applied everywhere before the linter existed, when vacancies was new and small; a new migration would use NOT VALID then VALIDATE
use schema_core::migration_kit::add_check;
use sea_orm_migration::{
    prelude::*,
    schema::{integer_null, text_null},
};

#[derive(DeriveMigrationName)]
pub struct Migration;

const CHECK: &str = "vacancies_salary_range_check";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table((Vacancy, Vacancies::Table))
                    .add_column(integer_null(Vacancies::SalaryMin))
                    .add_column(integer_null(Vacancies::SalaryMax))
                    .add_column(text_null(Vacancies::SalaryCurrency))
                    .to_owned(),
            )
            .await?;
        // A table-level check: it spans two columns.
        add_check(
            manager,
            (Vacancy, Vacancies::Table),
            (
                CHECK,
                Expr::col(Vacancies::SalaryMin)
                    .is_null()
                    .or(Expr::col(Vacancies::SalaryMax).is_null())
                    .or(Expr::col(Vacancies::SalaryMin).lte(Expr::col(Vacancies::SalaryMax))),
            ),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table((Vacancy, Vacancies::Table))
                    .drop_constraint(CHECK)
                    .drop_column(Vacancies::SalaryCurrency)
                    .drop_column(Vacancies::SalaryMax)
                    .drop_column(Vacancies::SalaryMin)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
#[sea_orm(iden = "vacancy")]
struct Vacancy;

#[derive(DeriveIden)]
enum Vacancies {
    Table,
    SalaryMin,
    SalaryMax,
    SalaryCurrency,
}
