//! Keeps `applications.profile_id` but drops its foreign key into
//! `talent.profiles`, so `vacancy` and `talent` can each be placed whole on
//! their own Citus node (Citus cannot keep a key between two distributed
//! schemas). The applicant stays tied to the shared identity by the key to
//! `core.users`; the profile id is now checked by the application, and an id
//! whose profile was deleted reads as "no profile" (what `ON DELETE SET NULL`
//! did before).
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: [&str; 2] = [
    "ALTER TABLE vacancy.applications DROP CONSTRAINT IF EXISTS applications_profile_id_fkey",
    "COMMENT ON COLUMN vacancy.applications.profile_id IS \
     'talent.profiles.id of the applicant''s profile; no foreign key (app schemas may live on \
     different Citus nodes): checked by the application, a deleted profile reads as none'",
];

const DOWN: [&str; 2] = [
    "COMMENT ON COLUMN vacancy.applications.profile_id IS NULL",
    "ALTER TABLE vacancy.applications ADD CONSTRAINT applications_profile_id_fkey \
     FOREIGN KEY (profile_id) REFERENCES talent.profiles (id) ON DELETE SET NULL",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for sql in UP {
            manager.get_connection().execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for sql in DOWN {
            manager.get_connection().execute_unprepared(sql).await?;
        }
        Ok(())
    }
}
