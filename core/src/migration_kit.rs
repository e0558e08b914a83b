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

/// The custom setting (GUC) through which the runner tells the runtime-roles
/// migrations the deployment's name template for the read-write roles.
pub const APP_ROLE_TEMPLATE_SETTING: &str = "migration_runner.app_role_template";
/// The same for the read-only reporting roles.
pub const REPORTING_ROLE_TEMPLATE_SETTING: &str = "migration_runner.reporting_role_template";
/// What a role name template writes for the schema's name.
pub const SCHEMA_PLACEHOLDER: &str = "{schema}";
/// The read-write roles' names when the deployment chooses none.
pub const DEFAULT_APP_ROLE_TEMPLATE: &str = "{schema}_app";
/// The reporting roles' names when the deployment chooses none.
pub const DEFAULT_REPORTING_ROLE_TEMPLATE: &str = "{schema}_reporting";

/// The names of every schema's runtime roles, as templates in which
/// [`SCHEMA_PLACEHOLDER`] stands for the schema (`acme_{schema}_rw`).
/// Validating them is the runner's business (`migration_runner::roles::role_names`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleTemplates {
    pub app: String,
    pub reporting: String,
}

impl Default for RoleTemplates {
    fn default() -> Self {
        Self {
            app: DEFAULT_APP_ROLE_TEMPLATE.to_owned(),
            reporting: DEFAULT_REPORTING_ROLE_TEMPLATE.to_owned(),
        }
    }
}

impl RoleTemplates {
    /// The read-write role of `schema` (`academy_app` by default).
    pub fn app_role(&self, schema: &str) -> String {
        self.app.replace(SCHEMA_PLACEHOLDER, schema)
    }

    /// The reporting role of `schema` (`academy_reporting` by default).
    pub fn reporting_role(&self, schema: &str) -> String {
        self.reporting.replace(SCHEMA_PLACEHOLDER, schema)
    }

    /// The two `SET` statements that put these templates on a session, as the
    /// runner does before the runtime-roles blocks run (for SQL applied by
    /// hand: `plan`).
    pub fn set_statements(&self) -> [String; 2] {
        [
            (APP_ROLE_TEMPLATE_SETTING, &self.app),
            (REPORTING_ROLE_TEMPLATE_SETTING, &self.reporting),
        ]
        .map(|(setting, template)| format!("SET {setting} = {};", quoted_literal(template)))
    }
}

/// The runtime roles of one schema (see [`create_runtime_roles`]).
///
/// Append-only like everything here: what these helpers emit is part of the
/// checksum of every migration that calls them. The role names are not in
/// that SQL: one `DO` block computes them from the deployment's templates
/// (the settings [`APP_ROLE_TEMPLATE_SETTING`] and
/// [`REPORTING_ROLE_TEMPLATE_SETTING`], which the runner sets on its session;
/// the defaults when unset, as in a plain `psql` replay), so every
/// deployment runs the same SQL with the same checksum.
#[derive(Debug, Clone, Copy)]
pub struct RuntimeRoles<'a> {
    /// The schema the roles are for (`academy`).
    pub schema: &'a str,
    /// Tables of other schemas both roles may read (`("core", "users")`).
    pub reads: &'a [(&'a str, &'a str)],
}

/// How many times a runtime-roles block tries to create its roles and grant
/// to them when another database drops one in between.
const ROLE_ATTEMPTS: u32 = 5;

/// Opens and closes every runtime-roles `DO` block ([`RolesBlock::read`]).
const BLOCK_TAG: &str = "$runtime_roles$";
/// Where the block's statements are listed, one quoted literal per line.
const STATEMENTS_START: &str = "  FOREACH statement IN ARRAY ARRAY[";
const STATEMENTS_END: &str = "  ] LOOP";
const SCHEMA_LINE: &str = "  schema_name constant text := ";
/// In a block's statements, where the roles' quoted names go.
const APP: &str = "{app}";
const REPORTING: &str = "{reporting}";

impl RuntimeRoles<'_> {
    /// The statements of [`create_runtime_roles`], in order: one `DO` block
    /// that creates each role only when the server has none of that name (a
    /// DBA may have created them: then no `CREATEROLE` is needed) and runs
    /// the grants.
    pub fn up_statements(&self) -> Vec<String> {
        let schema = quoted_name(self.schema);
        let mut grants = vec![
            format!("GRANT USAGE ON SCHEMA {schema} TO {APP}, {REPORTING}"),
            format!(
                "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {APP}"
            ),
            format!("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {APP}"),
            format!("GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {REPORTING}"),
            format!(
                "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP}"
            ),
            format!(
                "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE, SELECT ON SEQUENCES TO {APP}"
            ),
            format!(
                "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT ON TABLES TO {REPORTING}"
            ),
        ];
        for (other, table) in self.reads {
            grants.push(format!(
                "GRANT USAGE ON SCHEMA {} TO {APP}, {REPORTING}",
                quoted_name(other)
            ));
            grants.push(format!(
                "GRANT SELECT ON {}.{} TO {APP}, {REPORTING}",
                quoted_name(other),
                quoted_name(table)
            ));
        }
        // Roles belong to the server, not the database: another database on
        // it may have created them already (or be creating them now), or its
        // `down` may drop one between the check below and the first grant
        // (`undefined_object`, "role … was concurrently dropped"): then the
        // attempt is rolled back and made again, creating the role anew. Once
        // granted something here, a role can no longer be dropped elsewhere.
        let create = format!(
            "  FOR attempt IN 1..{ROLE_ATTEMPTS} LOOP\n\
             \x20 BEGIN\n\
             \x20 FOREACH role_name IN ARRAY ARRAY[app, reporting] LOOP\n\
             \x20   IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = role_name) THEN\n\
             \x20     BEGIN\n\
             \x20       EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);\n\
             \x20     EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;\n\
             \x20     END;\n\
             \x20   END IF;\n\
             \x20 END LOOP;\n"
        );
        let retried = format!(
            "  EXIT;\n\
             \x20 EXCEPTION WHEN undefined_object THEN\n\
             \x20   IF attempt = {ROLE_ATTEMPTS} THEN RAISE; END IF;\n\
             \x20 END;\n\
             \x20 END LOOP;\n"
        );
        vec![self.block(&create, &grants, &retried)]
    }

    /// The statements of [`drop_runtime_roles`], in order.
    pub fn down_statements(&self) -> Vec<String> {
        let schema = quoted_name(self.schema);
        let mut revokes = Vec::new();
        for (other, table) in self.reads.iter().rev() {
            revokes.push(format!(
                "REVOKE ALL ON {}.{} FROM {APP}, {REPORTING}",
                quoted_name(other),
                quoted_name(table)
            ));
            revokes.push(format!(
                "REVOKE ALL ON SCHEMA {} FROM {APP}, {REPORTING}",
                quoted_name(other)
            ));
        }
        revokes.extend([
            format!(
                "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} REVOKE ALL ON TABLES FROM {APP}, {REPORTING}"
            ),
            format!("ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} REVOKE ALL ON SEQUENCES FROM {APP}"),
            format!("REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {APP}, {REPORTING}"),
            format!("REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {APP}"),
            format!("REVOKE ALL ON SCHEMA {schema} FROM {APP}, {REPORTING}"),
        ]);
        // Kept while another database on the server still grants it something,
        // or when the role running `down` may not drop roles (a DBA made them).
        // In the order `up` grants to them: a concurrent deploy in another
        // database locks the two roles in the same order, so never deadlocks.
        let drop = "  FOREACH role_name IN ARRAY ARRAY[app, reporting] LOOP\n\
                    \x20   BEGIN\n\
                    \x20     EXECUTE format('DROP ROLE IF EXISTS %I', role_name);\n\
                    \x20   EXCEPTION WHEN dependent_objects_still_exist OR insufficient_privilege THEN NULL;\n\
                    \x20   END;\n\
                    \x20 END LOOP;\n";
        vec![self.block("", &revokes, drop)]
    }

    /// One `DO` block: the roles' names from the templates in force, `before`,
    /// each of `statements` with the names in place of `{app}` and
    /// `{reporting}`, then `after`.
    fn block(&self, before: &str, statements: &[String], after: &str) -> String {
        let template = |setting: &str, default: &str| {
            format!(
                "replace(coalesce(nullif(current_setting('{setting}', true), ''), '{default}'), '{SCHEMA_PLACEHOLDER}', schema_name)"
            )
        };
        let listed: Vec<String> = statements
            .iter()
            .map(|statement| format!("    {}", quoted_literal(statement)))
            .collect();
        format!(
            "DO {BLOCK_TAG}\n\
             DECLARE\n\
             {SCHEMA_LINE}{schema};\n\
             \x20 app constant text := {app};\n\
             \x20 reporting constant text := {reporting};\n\
             \x20 role_name text;\n\
             \x20 statement text;\n\
             BEGIN\n\
             \x20 IF octet_length(app) > 63 OR octet_length(reporting) > 63 THEN\n\
             \x20   RAISE EXCEPTION 'runtime role name % or % is longer than 63 bytes: shorten the role name templates', app, reporting;\n\
             \x20 END IF;\n\
             {before}\
             {STATEMENTS_START}\n\
             {listed}\n\
             {STATEMENTS_END}\n\
             \x20   EXECUTE replace(replace(statement, '{APP}', format('%I', app)), '{REPORTING}', format('%I', reporting));\n\
             \x20 END LOOP;\n\
             {after}\
             END\n\
             {BLOCK_TAG}",
            schema = quoted_literal(self.schema),
            app = template(APP_ROLE_TEMPLATE_SETTING, DEFAULT_APP_ROLE_TEMPLATE),
            reporting = template(
                REPORTING_ROLE_TEMPLATE_SETTING,
                DEFAULT_REPORTING_ROLE_TEMPLATE
            ),
            listed = listed.join(",\n"),
        )
    }
}

/// A runtime-roles `DO` block read back from a migration's SQL, so tools can
/// say what it grants to which names (`preflight`'s grants check) without
/// running it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolesBlock {
    /// The schema whose roles it is about.
    pub schema: String,
    /// Whether it creates the roles ([`create_runtime_roles`]) or drops them.
    pub creates: bool,
    /// Its statements, with `{app}` and `{reporting}` for the roles' names.
    statements: Vec<String>,
}

impl RolesBlock {
    /// Reads a statement [`RuntimeRoles`] emitted; `None` for any other SQL.
    pub fn read(sql: &str) -> Option<Self> {
        let body = sql
            .strip_prefix("DO ")?
            .strip_prefix(BLOCK_TAG)?
            .strip_suffix(BLOCK_TAG)?;
        let schema = body
            .lines()
            .find_map(|line| line.strip_prefix(SCHEMA_LINE))?
            .strip_suffix(';')
            .and_then(unquoted_literal)?;
        let (_, rest) = body.split_once(&format!("{STATEMENTS_START}\n"))?;
        let (listed, _) = rest.split_once(&format!("\n{STATEMENTS_END}\n"))?;
        let statements = listed
            .lines()
            .map(|line| {
                let line = line.trim();
                unquoted_literal(line.strip_suffix(',').unwrap_or(line))
            })
            .collect::<Option<Vec<String>>>()?;
        Some(Self {
            schema,
            creates: body.contains("CREATE ROLE %I"),
            statements,
        })
    }

    /// The roles' names under `templates`: `[app, reporting]`.
    pub fn roles(&self, templates: &RoleTemplates) -> [String; 2] {
        [
            templates.app_role(&self.schema),
            templates.reporting_role(&self.schema),
        ]
    }

    /// The statements as PostgreSQL runs them under `templates`.
    pub fn statements(&self, templates: &RoleTemplates) -> Vec<String> {
        let [app, reporting] = self.roles(templates);
        let (app, reporting) = (quoted_name(&app), quoted_name(&reporting));
        self.statements
            .iter()
            .map(|statement| statement.replace(APP, &app).replace(REPORTING, &reporting))
            .collect()
    }
}

/// Creates the schema's runtime roles, named by the deployment's templates
/// ([`RoleTemplates`]; `<schema>_app` and `<schema>_reporting` by default):
/// one reads and writes the schema's tables, the other reads them, both
/// `NOLOGIN` groups without passwords, each also reading `reads`; default
/// privileges extend the grants to tables and sequences later migrations
/// create (as the role that runs migrations). A role the server already has
/// is used as it is (no `CREATEROLE` needed). Deployments grant the groups to
/// their own login roles (`GRANT academy_app TO academy_login`).
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

/// An identifier quoted as sea-query quotes one (and as `format('%I')` quotes
/// a name that needs it).
fn quoted_name(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A SQL string literal.
fn quoted_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The text of a literal [`quoted_literal`] wrote.
fn unquoted_literal(literal: &str) -> Option<String> {
    let inner = literal.strip_prefix('\'')?.strip_suffix('\'')?;
    if inner.replace("''", "").contains('\'') {
        return None;
    }
    Some(inner.replace("''", "'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACADEMY: RuntimeRoles<'static> = RuntimeRoles {
        schema: "academy",
        reads: &[("core", "users")],
    };

    #[test]
    fn the_roles_sql_names_no_role_and_reads_back_under_any_templates() {
        let up = ACADEMY.up_statements();
        let down = ACADEMY.down_statements();
        assert_eq!((up.len(), down.len()), (1, 1));
        for sql in up.iter().chain(&down) {
            assert!(!sql.contains("academy_app"), "{sql}");
            assert!(sql.contains(APP_ROLE_TEMPLATE_SETTING), "{sql}");
        }
        let block = RolesBlock::read(&up[0]).expect("a runtime-roles block");
        assert_eq!(block.schema, "academy");
        assert!(block.creates);
        assert!(!RolesBlock::read(&down[0]).unwrap().creates);
        assert_eq!(RolesBlock::read("GRANT SELECT ON core.users TO x"), None);

        let custom = RoleTemplates {
            app: "acme_{schema}_rw".to_owned(),
            reporting: "acme_{schema}_ro".to_owned(),
        };
        assert_eq!(block.roles(&custom), ["acme_academy_rw", "acme_academy_ro"]);
        let statements = block.statements(&custom);
        assert_eq!(
            statements[0],
            r#"GRANT USAGE ON SCHEMA "academy" TO "acme_academy_rw", "acme_academy_ro""#
        );
        assert_eq!(
            statements.last().unwrap(),
            r#"GRANT SELECT ON "core"."users" TO "acme_academy_rw", "acme_academy_ro""#
        );
        assert_eq!(
            block.statements(&RoleTemplates::default())[1],
            r#"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "academy" TO "academy_app""#
        );
    }
}
