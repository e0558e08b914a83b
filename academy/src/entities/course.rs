//! `academy.courses`: a course taught by one instructor, addressed by slug.

use schema_core::entities::user;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(schema_name = "academy", table_name = "courses")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(column_type = "Text", unique)]
    pub slug: String,
    #[sea_orm(column_type = "Text")]
    pub title: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub summary: Option<String>,
    pub instructor_id: Uuid,
    /// One of `draft` (the default), `published` or `archived`; enforced by
    /// `courses_status_check`.
    #[sea_orm(column_type = "Text", default_value = "draft")]
    pub status: String,
    #[sea_orm(default_expr = "Expr::cust(\"now()\")")]
    pub created_at: DateTimeWithTimeZone,
    #[sea_orm(default_expr = "Expr::cust(\"now()\")")]
    pub updated_at: DateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "schema_core::entities::user::Entity",
        from = "Column::InstructorId",
        to = "schema_core::entities::user::Column::Id",
        on_update = "NoAction",
        on_delete = "Restrict"
    )]
    Instructor,
    #[sea_orm(has_many = "super::enrollment::Entity")]
    Enrollment,
    #[sea_orm(has_many = "super::webinar::Entity")]
    Webinar,
}

impl Related<user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Instructor.def()
    }
}

impl Related<super::enrollment::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Enrollment.def()
    }
}

impl Related<super::webinar::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Webinar.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
