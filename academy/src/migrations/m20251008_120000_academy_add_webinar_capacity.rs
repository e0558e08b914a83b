//! Adds `webinars.capacity`, nullable so the column can land before the
//! backfill that fills it for existing webinars.
use sea_orm_migration::{prelude::*, schema::integer_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table((Academy, Webinars::Table))
                    .add_column(
                        integer_null(Webinars::Capacity).check((
                            "webinars_capacity_check",
                            Expr::col(Webinars::Capacity)
                                .is_null()
                                .or(Expr::col(Webinars::Capacity).gt(0)),
                        )),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table((Academy, Webinars::Table))
                    .drop_constraint("webinars_capacity_check")
                    .drop_column(Webinars::Capacity)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
#[sea_orm(iden = "academy")]
struct Academy;

#[derive(DeriveIden)]
enum Webinars {
    Table,
    Capacity,
}
