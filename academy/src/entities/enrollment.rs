//! `academy.enrollments`: a user's place in a course; at most one per
//! (course, user).

use schema_core::entities::user;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(schema_name = "academy", table_name = "enrollments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique_key = "enrollments_course_user_key")]
    pub course_id: Uuid,
    #[sea_orm(unique_key = "enrollments_course_user_key")]
    pub user_id: Uuid,
    /// One of `active` (the default), `completed` or `dropped`; enforced by
    /// `enrollments_status_check`.
    #[sea_orm(column_type = "Text", default_value = "active")]
    pub status: String,
    pub enrolled_at: DateTimeWithTimeZone,
    #[sea_orm(default_expr = "Expr::cust(\"now()\")")]
    pub created_at: DateTimeWithTimeZone,
    #[sea_orm(default_expr = "Expr::cust(\"now()\")")]
    pub updated_at: DateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::course::Entity",
        from = "Column::CourseId",
        to = "super::course::Column::Id",
        on_update = "NoAction",
        on_delete = "Cascade"
    )]
    Course,
    #[sea_orm(
        belongs_to = "schema_core::entities::user::Entity",
        from = "Column::UserId",
        to = "schema_core::entities::user::Column::Id",
        on_update = "NoAction",
        on_delete = "Cascade"
    )]
    User,
}

impl Related<super::course::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Course.def()
    }
}

impl Related<user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
