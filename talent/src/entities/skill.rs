//! `talent.skills`: the shared catalogue of skills profiles can list,
//! addressed by slug.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(schema_name = "talent", table_name = "skills")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(column_type = "Text", unique)]
    pub slug: String,
    #[sea_orm(column_type = "Text")]
    pub name: String,
    #[sea_orm(default_expr = "Expr::cust(\"now()\")")]
    pub created_at: DateTimeWithTimeZone,
    #[sea_orm(default_expr = "Expr::cust(\"now()\")")]
    pub updated_at: DateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::profile_skill::Entity")]
    ProfileSkill,
}

impl Related<super::profile_skill::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ProfileSkill.def()
    }
}

impl Related<super::profile::Entity> for Entity {
    fn to() -> RelationDef {
        super::profile_skill::Relation::Profile.def()
    }

    fn via() -> Option<RelationDef> {
        Some(super::profile_skill::Relation::Skill.def().rev())
    }
}

impl ActiveModelBehavior for ActiveModel {}
