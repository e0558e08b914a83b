//! `vacancy.vacancies`: a job an employer advertises, addressed by slug.

use schema_core::entities::user;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(schema_name = "vacancy", table_name = "vacancies")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(column_type = "Text", unique)]
    pub slug: String,
    pub employer_id: Uuid,
    pub posted_by: Uuid,
    #[sea_orm(column_type = "Text")]
    pub title: String,
    /// One of `draft` (the default), `open` or `closed`; enforced by
    /// `vacancies_status_check`.
    #[sea_orm(column_type = "Text", default_value = "draft")]
    pub status: String,
    #[sea_orm(default_expr = "Expr::cust(\"now()\")")]
    pub created_at: DateTimeWithTimeZone,
    #[sea_orm(default_expr = "Expr::cust(\"now()\")")]
    pub updated_at: DateTimeWithTimeZone,
    /// Either bound may be missing; when both are set `salary_min <=
    /// salary_max` (`vacancies_salary_range_check`).
    pub salary_min: Option<i32>,
    pub salary_max: Option<i32>,
    #[sea_orm(column_type = "Text", nullable)]
    pub salary_currency: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::employer::Entity",
        from = "Column::EmployerId",
        to = "super::employer::Column::Id",
        on_update = "NoAction",
        on_delete = "Cascade"
    )]
    Employer,
    #[sea_orm(
        belongs_to = "schema_core::entities::user::Entity",
        from = "Column::PostedBy",
        to = "schema_core::entities::user::Column::Id",
        on_update = "NoAction",
        on_delete = "Restrict"
    )]
    PostedBy,
    #[sea_orm(has_many = "super::application::Entity")]
    Application,
}

impl Related<super::employer::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Employer.def()
    }
}

impl Related<user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::PostedBy.def()
    }
}

impl Related<super::application::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Application.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
