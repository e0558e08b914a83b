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

/// The runtime roles of one schema (see [`create_runtime_roles`]).
///
/// Append-only like everything here: what these helpers emit is part of the
/// checksum of every migration that calls them.
#[derive(Debug, Clone, Copy)]
pub struct RuntimeRoles<'a> {
    /// The schema the roles are for (`academy`).
    pub schema: &'a str,
    /// Tables of other schemas both roles may read (`("core", "users")`).
    pub reads: &'a [(&'a str, &'a str)],
}

impl RuntimeRoles<'_> {
    /// `<schema>_app`: reads and writes the schema's tables.
    pub fn app(&self) -> String {
        format!("{}_app", self.schema)
    }

    /// `<schema>_reporting`: reads the schema's tables, writes nothing.
    pub fn reporting(&self) -> String {
        format!("{}_reporting", self.schema)
    }

    /// The statements of [`create_runtime_roles`], in order.
    pub fn up_statements(&self) -> Vec<String> {
        let schema = quoted_name(self.schema);
        let app = quoted_name(&self.app());
        let reporting = quoted_name(&self.reporting());
        let mut sql = Vec::new();
        for role in [&app, &reporting] {
            // Roles belong to the server, not the database: another database
            // on it may have created them already (or be creating them now).
            sql.push(format!(
                "DO $$ BEGIN CREATE ROLE {role} NOLOGIN; \
                 EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
            ));
        }
        sql.push(format!(
            "GRANT USAGE ON SCHEMA {schema} TO {app}, {reporting}"
        ));
        sql.push(format!(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {app}"
        ));
        sql.push(format!(
            "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {app}"
        ));
        sql.push(format!(
            "GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {reporting}"
        ));
        sql.push(format!(
            "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app}"
        ));
        sql.push(format!(
            "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE, SELECT ON SEQUENCES TO {app}"
        ));
        sql.push(format!(
            "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT ON TABLES TO {reporting}"
        ));
        for (other, table) in self.reads {
            sql.push(format!(
                "GRANT USAGE ON SCHEMA {} TO {app}, {reporting}",
                quoted_name(other)
            ));
            sql.push(format!(
                "GRANT SELECT ON {}.{} TO {app}, {reporting}",
                quoted_name(other),
                quoted_name(table)
            ));
        }
        sql
    }

    /// The statements of [`drop_runtime_roles`], in order.
    pub fn down_statements(&self) -> Vec<String> {
        let schema = quoted_name(self.schema);
        let app = quoted_name(&self.app());
        let reporting = quoted_name(&self.reporting());
        let mut sql = Vec::new();
        for (other, table) in self.reads.iter().rev() {
            sql.push(format!(
                "REVOKE ALL ON {}.{} FROM {app}, {reporting}",
                quoted_name(other),
                quoted_name(table)
            ));
            sql.push(format!(
                "REVOKE ALL ON SCHEMA {} FROM {app}, {reporting}",
                quoted_name(other)
            ));
        }
        sql.push(format!(
            "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} REVOKE ALL ON TABLES FROM {app}, {reporting}"
        ));
        sql.push(format!(
            "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} REVOKE ALL ON SEQUENCES FROM {app}"
        ));
        sql.push(format!(
            "REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {app}, {reporting}"
        ));
        sql.push(format!(
            "REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {app}"
        ));
        sql.push(format!(
            "REVOKE ALL ON SCHEMA {schema} FROM {app}, {reporting}"
        ));
        for role in [&reporting, &app] {
            // Kept while another database on the server still grants it something.
            sql.push(format!(
                "DO $$ BEGIN DROP ROLE IF EXISTS {role}; \
                 EXCEPTION WHEN dependent_objects_still_exist THEN NULL; END $$"
            ));
        }
        sql
    }
}

/// Creates the schema's runtime roles, `<schema>_app` (read and write the
/// schema's tables) and `<schema>_reporting` (read them), both `NOLOGIN`
/// groups without passwords, each also reading `reads`; default privileges
/// extend the grants to tables and sequences later migrations create (as the
/// role that runs migrations). Deployments grant the groups to their own
/// login roles (`GRANT academy_app TO academy_login`).
pub async fn create_runtime_roles(
    manager: &SchemaManager<'_>,
    roles: RuntimeRoles<'_>,
) -> Result<(), DbErr> {
    for sql in roles.up_statements() {
        execute(manager, sql).await?;
    }
    Ok(())
}

/// Undoes [`create_runtime_roles`]: revokes every grant in this database and
/// drops the roles unless another database on the server still uses them.
pub async fn drop_runtime_roles(
    manager: &SchemaManager<'_>,
    roles: RuntimeRoles<'_>,
) -> Result<(), DbErr> {
    for sql in roles.down_statements() {
        execute(manager, sql).await?;
    }
    Ok(())
}

/// An identifier quoted as sea-query quotes one.
fn quoted_name(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
