//! `vacancy.applications`: a user's application to a vacancy; at most one
//! per (vacancy, applicant).

use schema_core::entities::user;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(schema_name = "vacancy", table_name = "applications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique_key = "applications_key")]
    pub vacancy_id: Uuid,
    #[sea_orm(unique_key = "applications_key")]
    pub applicant_id: Uuid,
    /// One of `submitted` (the default), `reviewing`, `rejected` or `hired`;
    /// enforced by `applications_status_check`.
    #[sea_orm(column_type = "Text", default_value = "submitted")]
    pub status: String,
    #[sea_orm(default_expr = "Expr::cust(\"now()\")")]
    pub created_at: DateTimeWithTimeZone,
    #[sea_orm(default_expr = "Expr::cust(\"now()\")")]
    pub updated_at: DateTimeWithTimeZone,
    /// The applicant's `talent.profiles` row. No foreign key (so `vacancy`
    /// and `talent` can live on different Citus nodes) and no [`Relation`]
    /// variant (this crate must not depend on `schema-talent`): join on the
    /// column, and read an id whose profile is gone as no profile.
    pub profile_id: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::vacancy::Entity",
        from = "Column::VacancyId",
        to = "super::vacancy::Column::Id",
        on_update = "NoAction",
        on_delete = "Cascade"
    )]
    Vacancy,
    #[sea_orm(
        belongs_to = "schema_core::entities::user::Entity",
        from = "Column::ApplicantId",
        to = "schema_core::entities::user::Column::Id",
        on_update = "NoAction",
        on_delete = "Cascade"
    )]
    Applicant,
}

impl Related<super::vacancy::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Vacancy.def()
    }
}

impl Related<user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Applicant.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
