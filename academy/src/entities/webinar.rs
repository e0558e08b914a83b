//! `academy.webinars`: a scheduled live session, optionally part of a course.

use schema_core::entities::user;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(schema_name = "academy", table_name = "webinars")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(column_type = "Text", unique)]
    pub slug: String,
    #[sea_orm(column_type = "Text")]
    pub title: String,
    /// Cleared rather than cascaded when the course is deleted.
    pub course_id: Option<Uuid>,
    pub host_id: Uuid,
    pub starts_at: DateTimeWithTimeZone,
    /// Positive; defaults to 60.
    #[sea_orm(default_value = 60)]
    pub duration_minutes: i32,
    #[sea_orm(default_expr = "Expr::cust(\"now()\")")]
    pub created_at: DateTimeWithTimeZone,
    #[sea_orm(default_expr = "Expr::cust(\"now()\")")]
    pub updated_at: DateTimeWithTimeZone,
    /// Positive; filled for older webinars by the `academy_webinar_capacity` backfill.
    pub capacity: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::course::Entity",
        from = "Column::CourseId",
        to = "super::course::Column::Id",
        on_update = "NoAction",
        on_delete = "SetNull"
    )]
    Course,
    #[sea_orm(
        belongs_to = "schema_core::entities::user::Entity",
        from = "Column::HostId",
        to = "schema_core::entities::user::Column::Id",
        on_update = "NoAction",
        on_delete = "Restrict"
    )]
    Host,
}

impl Related<super::course::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Course.def()
    }
}

impl Related<user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Host.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
