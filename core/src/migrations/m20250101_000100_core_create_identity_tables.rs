//! Creates users and the role/permission tables that grant them access.
use sea_orm_migration::{
    prelude::*,
    schema::{text, text_null, uuid},
};

use crate::migration_kit::{Core, created_at, id_column, unique_key, updated_at, user_fk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table((Core, Users::Table))
                    .col(id_column())
                    .col(text(Users::Email))
                    .col(text(Users::DisplayName))
                    .col(created_at())
                    .col(updated_at())
                    .index(&mut unique_key("users_email_key", Users::Email))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table((Core, Roles::Table))
                    .col(id_column())
                    .col(text(Roles::Key))
                    .col(text(Roles::Name))
                    .col(text_null(Roles::Description))
                    .col(created_at())
                    .col(updated_at())
                    .index(&mut unique_key("roles_key_key", Roles::Key))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table((Core, Permissions::Table))
                    .col(id_column())
                    .col(text(Permissions::Key))
                    .col(text_null(Permissions::Description))
                    .col(created_at())
                    .col(updated_at())
                    .index(&mut unique_key("permissions_key_key", Permissions::Key))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table((Core, RolePermissions::Table))
                    .col(id_column())
                    .col(uuid(RolePermissions::RoleId))
                    .col(uuid(RolePermissions::PermissionId))
                    .col(created_at())
                    .col(updated_at())
                    .index(&mut unique_key(
                        "role_permissions_role_id_permission_id_key",
                        (RolePermissions::RoleId, RolePermissions::PermissionId),
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("role_permissions_role_id_fkey")
                            .from((Core, RolePermissions::Table), RolePermissions::RoleId)
                            .to((Core, Roles::Table), Roles::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("role_permissions_permission_id_fkey")
                            .from(
                                (Core, RolePermissions::Table),
                                RolePermissions::PermissionId,
                            )
                            .to((Core, Permissions::Table), Permissions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table((Core, UserRoles::Table))
                    .col(id_column())
                    .col(uuid(UserRoles::UserId))
                    .col(uuid(UserRoles::RoleId))
                    .col(created_at())
                    .col(updated_at())
                    .index(&mut unique_key(
                        "user_roles_user_id_role_id_key",
                        (UserRoles::UserId, UserRoles::RoleId),
                    ))
                    .foreign_key(&mut user_fk(
                        "user_roles_user_id_fkey",
                        (Core, UserRoles::Table),
                        UserRoles::UserId,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("user_roles_role_id_fkey")
                            .from((Core, UserRoles::Table), UserRoles::RoleId)
                            .to((Core, Roles::Table), Roles::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Dependents first, so no drop needs CASCADE.
        for table in [
            UserRoles::Table.into_iden(),
            RolePermissions::Table.into_iden(),
            Permissions::Table.into_iden(),
            Roles::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table((Core, table)).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Email,
    DisplayName,
}

#[derive(DeriveIden)]
enum Roles {
    Table,
    Id,
    Key,
    Name,
    Description,
}

#[derive(DeriveIden)]
enum Permissions {
    Table,
    Id,
    Key,
    Description,
}

#[derive(DeriveIden)]
enum RolePermissions {
    Table,
    RoleId,
    PermissionId,
}

#[derive(DeriveIden)]
enum UserRoles {
    Table,
    UserId,
    RoleId,
}
