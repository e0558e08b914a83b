//! Creates webinars: scheduled live sessions, optionally attached to a course.
use schema_core::migration_kit::{created_at, id_column, unique_key, updated_at, user_fk};
use sea_orm_migration::{
    prelude::*,
    schema::{integer, text, timestamp_with_time_zone, uuid, uuid_null},
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table((Academy, Webinars::Table))
                    .col(id_column())
                    .col(text(Webinars::Slug))
                    .col(text(Webinars::Title))
                    .col(uuid_null(Webinars::CourseId))
                    .col(uuid(Webinars::HostId))
                    .col(timestamp_with_time_zone(Webinars::StartsAt))
                    .col(integer(Webinars::DurationMinutes).default(60))
                    .col(created_at())
                    .col(updated_at())
                    .index(&mut unique_key("webinars_slug_key", Webinars::Slug))
                    // SET NULL: a webinar outlives the course it was announced for.
                    .foreign_key(
                        ForeignKey::create()
                            .name("webinars_course_id_fkey")
                            .from((Academy, Webinars::Table), Webinars::CourseId)
                            .to((Academy, Courses::Table), Courses::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .foreign_key(&mut user_fk(
                        "webinars_host_id_fkey",
                        (Academy, Webinars::Table),
                        Webinars::HostId,
                        ForeignKeyAction::Restrict,
                    ))
                    .check((
                        "webinars_duration_minutes_check",
                        Expr::col(Webinars::DurationMinutes).gt(0),
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table((Academy, Webinars::Table)).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
#[sea_orm(iden = "academy")]
struct Academy;

#[derive(DeriveIden)]
enum Courses {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Webinars {
    Table,
    Slug,
    Title,
    CourseId,
    HostId,
    StartsAt,
    DurationMinutes,
}
