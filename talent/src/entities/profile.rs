//! `talent.profiles`: a user's talent profile; at most one per user, so
//! `user_id` is its natural key.

use schema_core::entities::user;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(schema_name = "talent", table_name = "profiles")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub user_id: Uuid,
    /// At most 160 characters (`profiles_headline_length_check`).
    #[sea_orm(column_type = "Text")]
    pub headline: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub bio: Option<String>,
    #[sea_orm(default_expr = "Expr::cust(\"now()\")")]
    pub created_at: DateTimeWithTimeZone,
    #[sea_orm(default_expr = "Expr::cust(\"now()\")")]
    pub updated_at: DateTimeWithTimeZone,
    /// Added by the `vacancy` schema's migration that links job applications
    /// to profiles; defaults to `false`.
    #[sea_orm(default_value = false)]
    pub open_to_work: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "schema_core::entities::user::Entity",
        from = "Column::UserId",
        to = "schema_core::entities::user::Column::Id",
        on_update = "NoAction",
        on_delete = "Cascade"
    )]
    User,
    #[sea_orm(has_many = "super::profile_skill::Entity")]
    ProfileSkill,
}

impl Related<user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl Related<super::profile_skill::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ProfileSkill.def()
    }
}

impl Related<super::skill::Entity> for Entity {
    fn to() -> RelationDef {
        super::profile_skill::Relation::Skill.def()
    }

    fn via() -> Option<RelationDef> {
        Some(super::profile_skill::Relation::Profile.def().rev())
    }
}

impl ActiveModelBehavior for ActiveModel {}
