//! Creates courses and the enrollments that tie users to them.
use schema_core::migration_kit::{
    check_in, created_at, id_column, unique_key, updated_at, user_fk,
};
use sea_orm_migration::{
    prelude::*,
    schema::{text, text_null, timestamp_with_time_zone, uuid},
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table((Academy, Courses::Table))
                    .col(id_column())
                    .col(text(Courses::Slug))
                    .col(text(Courses::Title))
                    .col(text_null(Courses::Summary))
                    .col(uuid(Courses::InstructorId))
                    .col(text(Courses::Status).default("draft"))
                    .col(created_at())
                    .col(updated_at())
                    .index(&mut unique_key("courses_slug_key", Courses::Slug))
                    // Restrict: removing an instructor must not silently delete their courses.
                    .foreign_key(&mut user_fk(
                        "courses_instructor_id_fkey",
                        (Academy, Courses::Table),
                        Courses::InstructorId,
                        ForeignKeyAction::Restrict,
                    ))
                    .check(check_in(
                        "courses_status_check",
                        Courses::Status,
                        &["draft", "published", "archived"],
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table((Academy, Enrollments::Table))
                    .col(id_column())
                    .col(uuid(Enrollments::CourseId))
                    .col(uuid(Enrollments::UserId))
                    .col(text(Enrollments::Status).default("active"))
                    .col(timestamp_with_time_zone(Enrollments::EnrolledAt))
                    .col(created_at())
                    .col(updated_at())
                    .index(&mut unique_key(
                        "enrollments_course_id_user_id_key",
                        (Enrollments::CourseId, Enrollments::UserId),
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("enrollments_course_id_fkey")
                            .from((Academy, Enrollments::Table), Enrollments::CourseId)
                            .to((Academy, Courses::Table), Courses::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(&mut user_fk(
                        "enrollments_user_id_fkey",
                        (Academy, Enrollments::Table),
                        Enrollments::UserId,
                        ForeignKeyAction::Cascade,
                    ))
                    .check(check_in(
                        "enrollments_status_check",
                        Enrollments::Status,
                        &["active", "completed", "dropped"],
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table((Academy, Enrollments::Table))
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table((Academy, Courses::Table)).to_owned())
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
    Slug,
    Title,
    Summary,
    InstructorId,
    Status,
}

#[derive(DeriveIden)]
enum Enrollments {
    Table,
    CourseId,
    UserId,
    Status,
    EnrolledAt,
}
