//! Before deploying: can the connected role do what the pending migrations
//! need? Every missing privilege is reported at once, each with the statement
//! that grants it.

use std::collections::BTreeSet;
use std::fmt;

use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};
use serde::Serialize;

use crate::source::plan::Planned;
use sql_objects::{self, Objects};

/// The kinds of privilege a deploy needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Privilege {
    /// `CREATE` on the database, to create a schema.
    CreateSchema,
    /// `USAGE` and/or `CREATE` on a schema the plan writes into.
    Schema,
    /// Reading and writing `public.seaql_migrations`.
    HistoryAccess,
    /// Owning a table the plan alters, indexes or drops.
    TableOwnership,
    /// `REFERENCES` on a table a new foreign key points at.
    References,
    /// `CREATEROLE`, for a migration that creates the runtime roles.
    CreateRole,
    /// `SELECT` on a backfill's table, read to see whether a pending
    /// contract migration may apply.
    BackfillTable,
}

/// One privilege the role lacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MissingPrivilege {
    pub kind: Privilege,
    /// What is missing, in words.
    pub what: String,
    /// The statement (run by an owner or a superuser) that fixes it.
    pub fix: String,
}

impl MissingPrivilege {
    pub fn is_history_access(&self) -> bool {
        self.kind == Privilege::HistoryAccess
    }
}

impl fmt::Display for MissingPrivilege {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.fix)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PreflightReport {
    pub role: String,
    pub database: String,
    pub superuser: bool,
    pub pending: usize,
    /// False when the role cannot read history: then every migration in the
    /// code was checked, since which are pending cannot be known.
    pub history_readable: bool,
    pub missing: Vec<MissingPrivilege>,
    /// The runtime roles' grants against what the applied migrations declare
    /// (filled by the `preflight` command; `up` leaves it empty).
    pub grants: Vec<crate::roles::grants::GrantMismatch>,
    /// On a Citus cluster: what the run will place, and the foreign keys Citus
    /// would refuse (each one fails the preflight).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub citus: Option<crate::citus::PlannedPlacement>,
}

/// Checks the role against what the pending migrations' statements need.
pub async fn check<C: ConnectionTrait>(
    db: &C,
    plan: &[Planned],
) -> Result<PreflightReport, PreflightError> {
    check_queries(db, plan)
        .await
        .map_err(|source| PreflightError {
            context: "checking the connected role's privileges (preflight)",
            source,
        })
}

async fn check_queries<C: ConnectionTrait>(
    db: &C,
    plan: &[Planned],
) -> Result<PreflightReport, sea_orm::DbErr> {
    let who = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT current_user::text AS role, current_database()::text AS db, \
                    (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser",
        ))
        .await?
        .ok_or_else(|| sea_orm::DbErr::Custom("no answer to the role query".into()))?;
    let role: String = who.try_get("", "role")?;
    let database: String = who.try_get("", "db")?;
    let superuser: bool = who.try_get("", "superuser")?;
    let mut report = PreflightReport {
        role: role.clone(),
        database: database.clone(),
        superuser,
        pending: plan.len(),
        history_readable: true,
        missing: Vec::new(),
        grants: Vec::new(),
        citus: None,
    };
    if superuser {
        return Ok(report);
    }
    // What the pending SQL creates, alters and points at: only its structure
    // (a superuser, above, needs none of it).
    let mut objects = Objects::default();
    for planned in plan {
        for statement in &planned.script.statements {
            sql_objects::collect_structure(&statement.sql, &mut objects);
        }
    }
    let grantee = quote(&role);

    // Schemas: those the plan creates or writes into (nothing when nothing
    // is pending), and `public` for the history table.
    let mut schemas: BTreeSet<String> = objects.created_schemas.iter().cloned().collect();
    schemas.extend(
        objects
            .created_tables
            .iter()
            .chain(&objects.altered_tables)
            .map(|(schema, _)| schema.clone()),
    );
    schemas.insert("public".to_owned());
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT s.name, n.oid IS NOT NULL AS present, \
                    CASE WHEN n.oid IS NULL THEN false ELSE has_schema_privilege(n.oid, 'USAGE') END AS can_use, \
                    CASE WHEN n.oid IS NULL THEN false ELSE has_schema_privilege(n.oid, 'CREATE') END AS can_create, \
                    has_database_privilege(current_database(), 'CREATE') AS can_create_schema \
             FROM unnest($1::text[]) AS s(name) LEFT JOIN pg_namespace n ON n.nspname = s.name ORDER BY s.name",
            [Value::from(schemas.into_iter().collect::<Vec<String>>())],
        ))
        .await?;
    let history_present = table_exists(db, "public", crate::history::TABLE_NAME).await?;
    let mut schemas_to_create = Vec::new();
    for row in rows {
        let schema: String = row.try_get("", "name")?;
        let present: bool = row.try_get("", "present")?;
        if !present {
            if !row.try_get::<bool>("", "can_create_schema")? {
                schemas_to_create.push(format!("`{schema}`"));
            }
            continue;
        }
        // `public` only matters for creating the history table.
        if schema == "public" && history_present {
            continue;
        }
        let mut lacking = Vec::new();
        if !row.try_get::<bool>("", "can_use")? {
            lacking.push("USAGE");
        }
        if !row.try_get::<bool>("", "can_create")? {
            lacking.push("CREATE");
        }
        if !lacking.is_empty() {
            let what = if schema == "public" {
                format!(
                    "{} on schema `public` (the history table must be created)",
                    lacking.join(" and ")
                )
            } else {
                format!("{} on schema `{schema}`", lacking.join(" and "))
            };
            report.missing.push(MissingPrivilege {
                kind: Privilege::Schema,
                what,
                fix: format!(
                    "GRANT {} ON SCHEMA {} TO {grantee};",
                    lacking.join(", "),
                    quote(&schema)
                ),
            });
        }
    }
    if !schemas_to_create.is_empty() {
        report.missing.insert(
            0,
            MissingPrivilege {
                kind: Privilege::CreateSchema,
                what: format!(
                    "CREATE on database `{database}` (schema {} must be created)",
                    schemas_to_create.join(", ")
                ),
                fix: format!(
                    "GRANT CREATE ON DATABASE {} TO {grantee};",
                    quote(&database)
                ),
            },
        );
    }

    if history_present {
        let row = db
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                // A list of privileges means "any of them": check each one.
                "SELECT has_table_privilege($1, 'SELECT') AND has_table_privilege($1, 'INSERT') \
                    AND has_table_privilege($1, 'UPDATE') AND has_table_privilege($1, 'DELETE') AS ok",
                [Value::from(crate::history::TABLE)],
            ))
            .await?;
        if !row
            .map(|r| r.try_get::<bool>("", "ok"))
            .transpose()?
            .unwrap_or(false)
        {
            report.missing.push(history_access(&role));
        }
    }

    // Tables the plan alters or drops must be owned by the role (or a role it
    // is a member of); tables its foreign keys point at need REFERENCES. One
    // query for all of them; tables the plan itself creates are the role's.
    let created: BTreeSet<&(String, String)> = objects.created_tables.iter().collect();
    let checks: Vec<(&str, &(String, String))> = objects
        .altered_tables
        .iter()
        .map(|table| ("alter", table))
        .chain(
            objects
                .referenced_tables
                .iter()
                .map(|table| ("reference", table)),
        )
        .filter(|(_, table)| !created.contains(table))
        .collect();
    let column = |pick: fn(&(&str, &(String, String))) -> String| -> Value {
        Value::from(checks.iter().map(pick).collect::<Vec<String>>())
    };
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT t.kind, t.schema, t.name, pg_get_userbyid(c.relowner)::text AS owner, \
                    pg_has_role(current_user, c.relowner, 'USAGE') AS owns, \
                    (SELECT rolsuper FROM pg_roles WHERE oid = c.relowner) AS owner_is_superuser, \
                    has_table_privilege(c.oid, 'REFERENCES') AS can_reference \
             FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS t(kind, schema, name, ord) \
             JOIN pg_namespace n ON n.nspname = t.schema \
             JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.name \
             ORDER BY t.ord",
            [
                column(|(kind, _)| (*kind).to_owned()),
                column(|(_, (schema, _))| schema.clone()),
                column(|(_, (_, table))| table.clone()),
            ],
        ))
        .await?;
    for row in rows {
        let kind: String = row.try_get("", "kind")?;
        let schema: String = row.try_get("", "schema")?;
        let table: String = row.try_get("", "name")?;
        if kind == "alter" && !row.try_get::<bool>("", "owns")? {
            let owner: String = row.try_get("", "owner")?;
            let owner_is_superuser: bool = row.try_get("", "owner_is_superuser")?;
            let transfer = format!(
                "ALTER TABLE {}.{} OWNER TO {grantee};",
                quote(&schema),
                quote(&table)
            );
            // Membership in a superuser role would hand over superuser: never suggest it.
            let fix = if owner_is_superuser {
                transfer
            } else {
                format!("{transfer}  -- or: GRANT {} TO {grantee};", quote(&owner))
            };
            report.missing.push(MissingPrivilege {
                kind: Privilege::TableOwnership,
                what: format!(
                    "ownership of table `{schema}.{table}` (owned by `{owner}`), which a pending migration alters"
                ),
                fix,
            });
        } else if kind == "reference" && !row.try_get::<bool>("", "can_reference")? {
            report.missing.push(MissingPrivilege {
                kind: Privilege::References,
                what: format!(
                    "REFERENCES on table `{schema}.{table}` (a pending migration adds a foreign key to it)"
                ),
                fix: format!(
                    "GRANT REFERENCES ON {}.{} TO {grantee};",
                    quote(&schema),
                    quote(&table)
                ),
            });
        }
    }
    // The runtime roles' migrations create the roles the server lacks
    // (inside `DO` blocks, named by the templates set on this session).
    let roles_to_create = crate::roles::role_names::to_create(db, plan).await?;
    if !roles_to_create.is_empty() {
        let row = db
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT rolcreaterole AS ok FROM pg_roles WHERE rolname = current_user",
            ))
            .await?;
        if !row
            .map(|r| r.try_get::<bool>("", "ok"))
            .transpose()?
            .unwrap_or(false)
        {
            report.missing.push(MissingPrivilege {
                kind: Privilege::CreateRole,
                what: format!(
                    "CREATEROLE (a pending migration creates the runtime roles {}, which the server does not have; or have them created first as NOLOGIN roles)",
                    roles_to_create
                        .iter()
                        .map(|role| format!("`{role}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                fix: format!("ALTER ROLE {grantee} CREATEROLE;"),
            });
        }
    }
    Ok(report)
}

/// `SELECT` on each table whose backfill a pending contract migration waits
/// for (`up` reads it to decide whether the migration may apply), where the
/// table exists and the role cannot read it. Added to `report` in one round
/// with everything else.
pub async fn backfill_tables<C: ConnectionTrait>(
    db: &C,
    plan: &[Planned],
    backfills: &crate::backfill::Backfills,
    report: &mut PreflightReport,
) -> Result<(), PreflightError> {
    if report.superuser {
        return Ok(());
    }
    let mut seen = BTreeSet::new();
    for planned in plan {
        let Some(backfill) = backfills.required_by(&planned.name) else {
            continue;
        };
        let table = backfill.inner.table();
        if !seen.insert(table) {
            continue;
        }
        let row = db
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT to_regclass($1) IS NULL OR has_table_privilege(to_regclass($1), 'SELECT') AS readable",
                [Value::from(crate::backfill::driver::quote_qualified(table))],
            ))
            .await
            .map_err(database_error)?;
        let readable = row
            .map(|r| r.try_get::<bool>("", "readable"))
            .transpose()
            .map_err(database_error)?
            .unwrap_or(true);
        if !readable {
            report.missing.push(MissingPrivilege {
                kind: Privilege::BackfillTable,
                what: format!(
                    "SELECT on table `{table}` (`up` reads it to see whether backfill `{}` has work left \
                     before `{}` applies)",
                    backfill.inner.name(),
                    planned.name
                ),
                fix: format!(
                    "GRANT SELECT ON {} TO {};",
                    table.split('.').map(quote).collect::<Vec<_>>().join("."),
                    quote(&report.role)
                ),
            });
        }
    }
    Ok(())
}

fn database_error(source: sea_orm::DbErr) -> PreflightError {
    PreflightError {
        context: "checking the privileges of the pending migrations",
        source,
    }
}

/// Reading what the connected role may do failed.
#[derive(Debug, thiserror::Error)]
#[error("{context}: {}", crate::connect::db_error::describe(.source))]
pub struct PreflightError {
    pub context: &'static str,
    #[source]
    pub source: sea_orm::DbErr,
}

impl PreflightError {
    /// The process exit code, as the database error says.
    pub fn exit(&self) -> crate::exit::Exit {
        crate::connect::db_error::exit(&self.source)
    }
}

/// Reading and writing `public.seaql_migrations`.
pub fn history_access(role: &str) -> MissingPrivilege {
    MissingPrivilege {
        kind: Privilege::HistoryAccess,
        what: format!(
            "read and write access to the history table `{}`",
            crate::history::TABLE
        ),
        fix: format!(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON {} TO {};",
            crate::history::TABLE,
            quote(role)
        ),
    }
}

async fn table_exists<C: ConnectionTrait>(
    db: &C,
    schema: &str,
    table: &str,
) -> Result<bool, sea_orm::DbErr> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT to_regclass(format('%I.%I', $1::text, $2::text)) IS NOT NULL AS present",
            [Value::from(schema), Value::from(table)],
        ))
        .await?;
    Ok(row
        .map(|r| r.try_get::<bool>("", "present"))
        .transpose()?
        .unwrap_or(false))
}

/// Quotes an identifier for a printed GRANT: as is when PostgreSQL reads it
/// unquoted the same, else double-quoted (the seeder's GRANTs use it too).
pub fn quote(identifier: &str) -> String {
    let plain = identifier
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !identifier.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        identifier.to_owned()
    } else {
        format!("\"{}\"", identifier.replace('"', "\"\""))
    }
}
