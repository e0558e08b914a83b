//! `vacancy.employers`: an organisation that posts vacancies, owned by one
//! user and addressed by slug.

use schema_core::entities::user;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(schema_name = "vacancy", table_name = "employers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(column_type = "Text", unique)]
    pub slug: String,
    #[sea_orm(column_type = "Text")]
    pub name: String,
    pub owner_id: Uuid,
    #[sea_orm(default_expr = "Expr::cust(\"now()\")")]
    pub created_at: DateTimeWithTimeZone,
    #[sea_orm(default_expr = "Expr::cust(\"now()\")")]
    pub updated_at: DateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "schema_core::entities::user::Entity",
        from = "Column::OwnerId",
        to = "schema_core::entities::user::Column::Id",
        on_update = "NoAction",
        on_delete = "Restrict"
    )]
    Owner,
    #[sea_orm(has_many = "super::vacancy::Entity")]
    Vacancy,
}

impl Related<user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Owner.def()
    }
}

impl Related<super::vacancy::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Vacancy.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
