//! The runtime roles' grants: what the applied migrations declare (their
//! `GRANT`, `REVOKE` and `ALTER DEFAULT PRIVILEGES` statements, read with
//! PostgreSQL's own parser and folded in order) against what the database's
//! catalog says those roles hold. `preflight` reports every privilege missing
//! and every one extra, each with the statement that fixes it, and the roles'
//! own attributes (a group that can log in, a superuser, a member of another
//! role) as extra.
//!
//! A grant `ON ALL TABLES IN SCHEMA s` is read as "every table of `s`": the
//! migrations pair it with default privileges, so tables created later are
//! covered too, and one that is not (created by another role) is reported.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use pg_query::NodeEnum;
use pg_query::protobuf::{GrantStmt, GrantTargetType, ObjectType};
use schema_core::migration_kit::{RoleTemplates, RolesBlock};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};
use serde::Serialize;

/// One privilege a runtime role lacks or holds beyond what migrations declare.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct GrantMismatch {
    pub role: String,
    /// `missing` or `extra`.
    pub kind: &'static str,
    pub what: String,
    pub fix: String,
}

impl fmt::Display for GrantMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` {} {}: {}",
            self.role,
            if self.kind == "missing" {
                "lacks"
            } else {
                "has"
            },
            self.what,
            self.fix
        )
    }
}

/// A privilege on an object, as a comparable fact.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Fact {
    /// `USAGE`/`CREATE` on a schema.
    Schema { schema: String, privilege: String },
    /// A privilege on a table, view or sequence.
    Relation {
        schema: String,
        name: String,
        sequence: bool,
        privilege: String,
    },
    /// Default privileges in a schema, for tables (`sequence: false`) or sequences.
    Default {
        schema: String,
        sequence: bool,
        privilege: String,
    },
}

impl Fact {
    fn describe(&self) -> String {
        match self {
            Fact::Schema { schema, privilege } => format!("{privilege} on schema {schema}"),
            Fact::Relation {
                schema,
                name,
                sequence,
                privilege,
            } => format!(
                "{privilege} on {} {schema}.{name}",
                if *sequence { "sequence" } else { "table" }
            ),
            Fact::Default {
                schema,
                sequence,
                privilege,
            } => format!(
                "default {privilege} on new {} in schema {schema}",
                if *sequence { "sequences" } else { "tables" }
            ),
        }
    }

    fn statement(&self, grant: bool, role: &str) -> String {
        let (verb, direction) = if grant {
            ("GRANT", "TO")
        } else {
            ("REVOKE", "FROM")
        };
        match self {
            Fact::Schema { schema, privilege } => {
                format!("{verb} {privilege} ON SCHEMA {schema} {direction} {role};")
            }
            Fact::Relation {
                schema,
                name,
                sequence,
                privilege,
            } => format!(
                "{verb} {privilege} ON {}{schema}.{name} {direction} {role};",
                if *sequence { "SEQUENCE " } else { "" }
            ),
            Fact::Default {
                schema,
                sequence,
                privilege,
            } => format!(
                "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} {verb} {privilege} ON {} {direction} {role};",
                if *sequence { "SEQUENCES" } else { "TABLES" }
            ),
        }
    }
}

/// What the migrations declare, per role.
#[derive(Debug, Default)]
struct Declared {
    facts: BTreeMap<String, BTreeSet<Fact>>,
    /// `(role, schema, sequence?, privilege)`: every table (or sequence) of the schema.
    all_in_schema: BTreeSet<(String, String, bool, String)>,
}

const TABLE_PRIVILEGES: [&str; 7] = [
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "TRUNCATE",
    "REFERENCES",
    "TRIGGER",
];
const SEQUENCE_PRIVILEGES: [&str; 3] = ["USAGE", "SELECT", "UPDATE"];
const SCHEMA_PRIVILEGES: [&str; 2] = ["USAGE", "CREATE"];

fn privileges(statement: &GrantStmt, all: &[&str]) -> Vec<String> {
    if statement.privileges.is_empty() {
        return all.iter().map(|p| (*p).to_owned()).collect();
    }
    statement
        .privileges
        .iter()
        .filter_map(|node| match &node.node {
            Some(NodeEnum::AccessPriv(p)) => Some(p.priv_name.to_ascii_uppercase()),
            _ => None,
        })
        .collect()
}

fn grantees(statement: &GrantStmt) -> Vec<String> {
    statement
        .grantees
        .iter()
        .filter_map(|node| match &node.node {
            Some(NodeEnum::RoleSpec(role)) if !role.rolename.is_empty() => {
                Some(role.rolename.clone())
            }
            _ => None,
        })
        .collect()
}

impl Declared {
    fn apply(&mut self, statement: &GrantStmt, default_schemas: Option<&[String]>) {
        let sequence = statement.objtype == ObjectType::ObjectSequence as i32;
        let on_schema = statement.objtype == ObjectType::ObjectSchema as i32;
        let all = if on_schema {
            &SCHEMA_PRIVILEGES[..]
        } else if sequence {
            &SEQUENCE_PRIVILEGES[..]
        } else {
            &TABLE_PRIVILEGES[..]
        };
        let privileges = privileges(statement, all);
        for role in grantees(statement) {
            let mut changes: Vec<Fact> = Vec::new();
            let mut rules: Vec<(String, String, bool, String)> = Vec::new();
            if let Some(schemas) = default_schemas {
                for schema in schemas {
                    for privilege in &privileges {
                        changes.push(Fact::Default {
                            schema: schema.clone(),
                            sequence,
                            privilege: privilege.clone(),
                        });
                    }
                }
            } else if statement.targtype == GrantTargetType::AclTargetAllInSchema as i32 {
                for object in &statement.objects {
                    if let Some(NodeEnum::String(schema)) = &object.node {
                        for privilege in &privileges {
                            rules.push((
                                role.clone(),
                                schema.sval.clone(),
                                sequence,
                                privilege.clone(),
                            ));
                        }
                    }
                }
            } else {
                for object in &statement.objects {
                    match &object.node {
                        Some(NodeEnum::String(schema)) if on_schema => {
                            for privilege in &privileges {
                                changes.push(Fact::Schema {
                                    schema: schema.sval.clone(),
                                    privilege: privilege.clone(),
                                });
                            }
                        }
                        Some(NodeEnum::RangeVar(relation)) => {
                            let schema = if relation.schemaname.is_empty() {
                                "public".to_owned()
                            } else {
                                relation.schemaname.clone()
                            };
                            for privilege in &privileges {
                                changes.push(Fact::Relation {
                                    schema: schema.clone(),
                                    name: relation.relname.clone(),
                                    sequence,
                                    privilege: privilege.clone(),
                                });
                            }
                        }
                        _ => {}
                    }
                }
            }
            let facts = self.facts.entry(role.clone()).or_default();
            for fact in changes {
                if statement.is_grant {
                    facts.insert(fact);
                } else {
                    facts.remove(&fact);
                }
            }
            for rule in rules {
                if statement.is_grant {
                    self.all_in_schema.insert(rule);
                } else {
                    self.all_in_schema.remove(&rule);
                }
            }
        }
    }
}

/// Folds the statements of the applied migrations, in order.
fn declared(sql: &[String]) -> Declared {
    let mut declared = Declared::default();
    for text in sql {
        let Ok(Ok(parsed)) =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pg_query::parse(text, 0)))
        else {
            continue;
        };
        for raw in &parsed.protobuf.stmts {
            match raw.stmt.as_ref().and_then(|s| s.node.as_ref()) {
                Some(NodeEnum::GrantStmt(statement)) => declared.apply(statement, None),
                Some(NodeEnum::AlterDefaultPrivilegesStmt(statement)) => {
                    let mut schemas = Vec::new();
                    for option in &statement.options {
                        if let Some(NodeEnum::DefElem(option)) = &option.node
                            && option.defname == "schemas"
                            && let Some(NodeEnum::List(list)) =
                                option.arg.as_deref().and_then(|a| a.node.as_ref())
                        {
                            for item in &list.items {
                                if let Some(NodeEnum::String(s)) = &item.node {
                                    schemas.push(s.sval.clone());
                                }
                            }
                        }
                    }
                    if let Some(action) = &statement.action
                        && !schemas.is_empty()
                    {
                        declared.apply(action, Some(&schemas));
                    }
                }
                _ => {}
            }
        }
    }
    declared
}

/// What `sql` declares, one line per fact and per "every table of the
/// schema" rule, sorted: the grants as the parser corpus pins them.
#[cfg(test)]
pub(crate) fn declared_lines(sql: &[String]) -> Vec<String> {
    let declared = declared(sql);
    let facts = declared.facts.iter().flat_map(|(role, facts)| {
        facts
            .iter()
            .map(move |fact| format!("{role}: {}", fact.describe()))
    });
    let rules = declared
        .all_in_schema
        .iter()
        .map(|(role, schema, sequence, privilege)| {
            format!(
                "{role}: {privilege} on every {} of schema {schema}",
                if *sequence { "sequence" } else { "table" }
            )
        });
    facts.chain(rules).collect()
}

/// Compares the runtime roles (every role the applied migrations grant
/// something to) with the catalog. `sql`: the applied migrations' statements,
/// in order; `templates`: the role names in force, which the runtime-roles
/// migrations' `DO` blocks are read with.
pub async fn check<C: ConnectionTrait>(
    db: &C,
    sql: &[String],
    templates: &RoleTemplates,
) -> Result<Vec<GrantMismatch>, DbErr> {
    let sql: Vec<String> = sql
        .iter()
        .flat_map(|text| match RolesBlock::read(text) {
            Some(block) => block.statements(templates),
            None => vec![text.clone()],
        })
        .collect();
    let declared = declared(&sql);
    let roles: Vec<String> = declared
        .facts
        .keys()
        .cloned()
        .chain(declared.all_in_schema.iter().map(|(role, ..)| role.clone()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut out = Vec::new();
    if roles.is_empty() {
        return Ok(out);
    }
    let query = |sql: &str| {
        Statement::from_sql_and_values(DbBackend::Postgres, sql, [Value::from(roles.clone())])
    };

    // Attributes and memberships.
    let present = db
        .query_all_raw(query(
            "SELECT r.rolname::text AS role, r.rolcanlogin AS login, r.rolsuper AS superuser, \
                    r.rolcreaterole AS createrole, r.rolcreatedb AS createdb, r.rolbypassrls AS bypassrls, \
                    coalesce((SELECT array_agg(g.rolname::text ORDER BY g.rolname) FROM pg_auth_members m \
                               JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid), '{}') AS member_of \
               FROM pg_roles r WHERE r.rolname = ANY($1::text[])",
        ))
        .await?;
    let mut existing = BTreeSet::new();
    for row in present {
        let role: String = row.try_get("", "role")?;
        for (column, attribute, undo) in [
            (
                "login",
                "LOGIN (it is a group: grant it to login roles instead)",
                "NOLOGIN",
            ),
            ("superuser", "SUPERUSER", "NOSUPERUSER"),
            ("createrole", "CREATEROLE", "NOCREATEROLE"),
            ("createdb", "CREATEDB", "NOCREATEDB"),
            ("bypassrls", "BYPASSRLS", "NOBYPASSRLS"),
        ] {
            if row.try_get::<bool>("", column)? {
                out.push(GrantMismatch {
                    role: role.clone(),
                    kind: "extra",
                    what: format!("the attribute {attribute}"),
                    fix: format!("ALTER ROLE {role} {undo};"),
                });
            }
        }
        for group in row.try_get::<Vec<String>>("", "member_of")? {
            out.push(GrantMismatch {
                role: role.clone(),
                kind: "extra",
                what: format!("membership in role {group}, which no migration grants"),
                fix: format!("REVOKE {group} FROM {role};"),
            });
        }
        existing.insert(role);
    }
    for role in &roles {
        if !existing.contains(role) {
            out.push(GrantMismatch {
                role: role.clone(),
                kind: "missing",
                what: "the role itself (the server has no such role)".to_owned(),
                fix: format!(
                    "CREATE ROLE {role} NOLOGIN;  -- then re-grant what its migration grants"
                ),
            });
        }
    }

    // What the catalog says each role holds: schema, relation and default
    // privileges, in one query.
    let mut actual: BTreeMap<String, BTreeSet<Fact>> = BTreeMap::new();
    for row in db
        .query_all_raw(query(
            "SELECT 'schema' AS kind, r.rolname::text AS role, n.nspname::text AS schema, '' AS name, \
                    false AS sequence, a.privilege_type AS privilege \
               FROM pg_namespace n CROSS JOIN LATERAL aclexplode(n.nspacl) a JOIN pg_roles r ON r.oid = a.grantee \
              WHERE r.rolname = ANY($1::text[]) \
             UNION ALL \
             SELECT 'relation', r.rolname::text, n.nspname::text, c.relname::text, c.relkind = 'S', a.privilege_type \
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
               CROSS JOIN LATERAL aclexplode(c.relacl) a JOIN pg_roles r ON r.oid = a.grantee \
              WHERE r.rolname = ANY($1::text[]) AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') \
             UNION ALL \
             SELECT 'default', r.rolname::text, coalesce(n.nspname::text, ''), '', d.defaclobjtype = 'S', a.privilege_type \
               FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace \
               CROSS JOIN LATERAL aclexplode(d.defaclacl) a JOIN pg_roles r ON r.oid = a.grantee \
              WHERE r.rolname = ANY($1::text[]) AND d.defaclobjtype IN ('r', 'S')",
        ))
        .await?
    {
        let schema: String = row.try_get("", "schema")?;
        let privilege: String = row.try_get("", "privilege")?;
        let sequence: bool = row.try_get("", "sequence")?;
        let fact = match row.try_get::<String>("", "kind")?.as_str() {
            "schema" => Fact::Schema { schema, privilege },
            "relation" => Fact::Relation {
                schema,
                name: row.try_get("", "name")?,
                sequence,
                privilege,
            },
            _ => Fact::Default {
                schema,
                sequence,
                privilege,
            },
        };
        actual.entry(row.try_get("", "role")?).or_default().insert(fact);
    }

    // "Every table of the schema" rules, expanded over what the schema holds now.
    let schemas: Vec<String> = declared
        .all_in_schema
        .iter()
        .map(|(_, schema, ..)| schema.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let relations = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT n.nspname::text AS schema, c.relname::text AS name, c.relkind = 'S' AS sequence \
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
              WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')",
            [Value::from(schemas)],
        ))
        .await?;
    let mut expected = declared.facts.clone();
    for row in relations {
        let schema: String = row.try_get("", "schema")?;
        let name: String = row.try_get("", "name")?;
        let sequence: bool = row.try_get("", "sequence")?;
        for (role, rule_schema, rule_sequence, privilege) in &declared.all_in_schema {
            if *rule_schema == schema && *rule_sequence == sequence {
                expected
                    .entry(role.clone())
                    .or_default()
                    .insert(Fact::Relation {
                        schema: schema.clone(),
                        name: name.clone(),
                        sequence,
                        privilege: privilege.clone(),
                    });
            }
        }
    }
    for role in existing {
        let want = expected.get(&role).cloned().unwrap_or_default();
        let have = actual.get(&role).cloned().unwrap_or_default();
        for fact in want.difference(&have) {
            out.push(GrantMismatch {
                role: role.clone(),
                kind: "missing",
                what: fact.describe(),
                fix: fact.statement(true, &role),
            });
        }
        for fact in have.difference(&want) {
            out.push(GrantMismatch {
                role: role.clone(),
                kind: "extra",
                what: format!("{}, which no migration grants", fact.describe()),
                fix: fact.statement(false, &role),
            });
        }
    }
    out.sort();
    Ok(out)
}
