//! Creates profiles (one per user), the skill catalogue, and the rated
//! skills each profile lists.
use schema_core::migration_kit::{created_at, id_column, unique_key, updated_at, user_fk};
use sea_orm_migration::{
    prelude::*,
    schema::{small_integer, text, text_null, uuid},
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table((Talent, Profiles::Table))
                    .col(id_column())
                    .col(uuid(Profiles::UserId))
                    .col(text(Profiles::Headline))
                    .col(text_null(Profiles::Bio))
                    .col(created_at())
                    .col(updated_at())
                    .index(&mut unique_key("profiles_user_id_key", Profiles::UserId))
                    .foreign_key(&mut user_fk(
                        "profiles_user_id_fkey",
                        (Talent, Profiles::Table),
                        Profiles::UserId,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table((Talent, Skills::Table))
                    .col(id_column())
                    .col(text(Skills::Slug))
                    .col(text(Skills::Name))
                    .col(created_at())
                    .col(updated_at())
                    .index(&mut unique_key("skills_slug_key", Skills::Slug))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table((Talent, ProfileSkills::Table))
                    .col(id_column())
                    .col(uuid(ProfileSkills::ProfileId))
                    .col(uuid(ProfileSkills::SkillId))
                    .col(small_integer(ProfileSkills::Level))
                    .col(created_at())
                    .col(updated_at())
                    .index(&mut unique_key(
                        "profile_skills_profile_id_skill_id_key",
                        (ProfileSkills::ProfileId, ProfileSkills::SkillId),
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("profile_skills_profile_id_fkey")
                            .from((Talent, ProfileSkills::Table), ProfileSkills::ProfileId)
                            .to((Talent, Profiles::Table), Profiles::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("profile_skills_skill_id_fkey")
                            .from((Talent, ProfileSkills::Table), ProfileSkills::SkillId)
                            .to((Talent, Skills::Table), Skills::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .check((
                        "profile_skills_level_check",
                        Expr::col(ProfileSkills::Level).between(1, 5),
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ProfileSkills::Table.into_iden(),
            Skills::Table.into_iden(),
            Profiles::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table((Talent, table)).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
#[sea_orm(iden = "talent")]
struct Talent;

#[derive(DeriveIden)]
enum Profiles {
    Table,
    Id,
    UserId,
    Headline,
    Bio,
}

#[derive(DeriveIden)]
enum Skills {
    Table,
    Id,
    Slug,
    Name,
}

#[derive(DeriveIden)]
enum ProfileSkills {
    Table,
    ProfileId,
    SkillId,
    Level,
}
