//! Building blocks shared by every schema crate's migrations.
//!
//! Each helper fixes one project-wide convention (uuid ids supplied by the
//! caller, timestamptz bookkeeping columns, explicitly named constraints,
//! schema-qualified tables) in a single place. Everything here only builds
//! statements: nothing reads the database, so migrations stay deterministic.

use sea_orm_migration::{
    prelude::*,
    schema::{timestamp_with_time_zone, uuid},
};

/// The `core` schema, for qualifying references to its tables.
#[derive(DeriveIden)]
#[sea_orm(iden = "core")]
pub struct Core;

/// `core.users`, as other schemas reference it (see [`user_fk`]).
#[derive(DeriveIden)]
pub enum Users {
    Table,
    Id,
}

/// Columns every table carries.
#[derive(DeriveIden)]
enum Common {
    Id,
    CreatedAt,
    UpdatedAt,
}

/// `id uuid NOT NULL PRIMARY KEY` (PostgreSQL names the constraint
/// `<table>_pkey`).
///
/// No default: seeds and applications supply ids themselves, which keeps
/// seeds reproducible and lets rows be referenced before they are inserted.
pub fn id_column() -> ColumnDef {
    uuid(Common::Id).primary_key().take()
}

/// `created_at timestamptz NOT NULL DEFAULT now()`.
pub fn created_at() -> ColumnDef {
    timestamp_now(Common::CreatedAt)
}

/// `updated_at timestamptz NOT NULL DEFAULT now()`.
///
/// Only the insert default lives in the database: whoever updates a row is
/// responsible for setting it.
pub fn updated_at() -> ColumnDef {
    timestamp_now(Common::UpdatedAt)
}

fn timestamp_now(column: impl IntoIden) -> ColumnDef {
    timestamp_with_time_zone(column)
        .default(Expr::cust("now()"))
        .take()
}

/// A named `UNIQUE (columns...)` table constraint, for use with
/// [`TableCreateStatement::index`].
///
/// Declared as a constraint rather than a bare unique index so it shows up in
/// `pg_constraint` and `information_schema.table_constraints` under `name`.
pub fn unique_key(name: &str, columns: impl IdenList) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).unique();
    for column in IdenList::into_iter(columns) {
        index.col(column);
    }
    index
}

/// A named `CHECK (column IN (allowed...))`: how status-like `text` columns
/// are constrained instead of PostgreSQL enums, which are painful to evolve.
pub fn check_in(name: &str, column: impl IntoIden, allowed: &[&str]) -> Check {
    let allowed = allowed.iter().map(|value| (*value).to_owned());
    Check::named(
        name.to_owned(),
        Expr::col(column.into_iden()).is_in(allowed),
    )
}

/// A named foreign key from `from_table.from_column` to `core.users(id)`.
///
/// App schemas all record who owns or did something; this keeps those
/// cross-schema references uniform. Use it with
/// [`TableCreateStatement::foreign_key`] or
/// [`SchemaManager::create_foreign_key`].
pub fn user_fk(
    name: &str,
    from_table: impl IntoTableRef,
    from_column: impl IntoIden,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from_table, from_column)
        .to((Core, Users::Table), Users::Id)
        .on_delete(on_delete)
        .take()
}

/// `CREATE SCHEMA IF NOT EXISTS <schema>`.
///
/// Raw SQL because sea-query has no schema statements; the name is still
/// quoted by sea-query.
pub async fn create_schema(
    manager: &SchemaManager<'_>,
    schema: impl IntoIden,
) -> Result<(), DbErr> {
    execute(
        manager,
        format!("CREATE SCHEMA IF NOT EXISTS {}", quoted(schema)),
    )
    .await
}

/// `DROP SCHEMA <schema> RESTRICT`: refuses to drop a schema that still holds
/// objects, so a down migration that left something behind fails loudly
/// instead of silently destroying it.
pub async fn drop_schema(manager: &SchemaManager<'_>, schema: impl IntoIden) -> Result<(), DbErr> {
    execute(manager, format!("DROP SCHEMA {} RESTRICT", quoted(schema))).await
}

/// `ALTER TABLE <table> ADD CONSTRAINT <name> CHECK (<expr>)`.
///
/// sea-query's `ALTER TABLE` builder cannot add a table-level check, so the
/// statement is assembled here from sea-query-rendered parts; undo it with
/// [`TableAlterStatement::drop_constraint`].
pub async fn add_check(
    manager: &SchemaManager<'_>,
    table: impl IntoTableRef,
    check: impl Into<Check>,
) -> Result<(), DbErr> {
    let mut sql = String::from("ALTER TABLE ");
    PostgresQueryBuilder.prepare_table_ref_iden(&table.into_table_ref(), &mut sql);
    sql.push_str(" ADD ");
    PostgresQueryBuilder.prepare_check_constraint(&check.into(), &mut sql);
    execute(manager, sql).await
}

fn quoted(iden: impl IntoIden) -> String {
    let mut sql = String::new();
    PostgresQueryBuilder.prepare_iden(&iden.into_iden(), &mut sql);
    sql
}

async fn execute(manager: &SchemaManager<'_>, sql: String) -> Result<(), DbErr> {
    manager.get_connection().execute_unprepared(&sql).await?;
    Ok(())
}
