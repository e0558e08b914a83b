//! The runtime roles' grants: what the applied migrations declare (their
//! `GRANT`, `REVOKE` and `ALTER DEFAULT PRIVILEGES` statements, read with
//! the parser of `sql_objects` and folded in order) against what the database's
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

use schema_core::migration_kit::{RoleTemplates, RolesBlock};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};
use serde::Serialize;
use squawk_syntax::{SyntaxKind as K, SyntaxNode};

use sql_objects::syntax::{self, child, first_name, name_of};

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

/// What a privilege statement is about, as PostgreSQL's grammar classes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ObjectKind {
    Schema,
    Sequence,
    /// Tables, and everything else (functions, types...), whose privileges
    /// the catalog comparison reads as table privileges.
    Other,
}

/// One `GRANT` or `REVOKE` (of privileges, not of roles), or the action of
/// an `ALTER DEFAULT PRIVILEGES`.
#[derive(Debug)]
struct PrivilegeStatement {
    is_grant: bool,
    kind: ObjectKind,
    /// Upper case; empty for `ALL [PRIVILEGES]`.
    privileges: Vec<String>,
    /// `ON ALL TABLES IN SCHEMA` (or sequences, functions...).
    all_in_schema: bool,
    /// The schemas named (`ON SCHEMA s`, `IN SCHEMA s`).
    schemas: Vec<String>,
    /// The tables or sequences named, as `(schema, name)`.
    relations: Vec<(String, String)>,
    /// Named roles (not `PUBLIC`, `CURRENT_USER`...).
    grantees: Vec<String>,
}

impl PrivilegeStatement {
    /// Reads a `GRANT`/`REVOKE` or a default-privileges action; `None` for
    /// anything else (a grant of a role included).
    fn read(node: &SyntaxNode) -> Option<Self> {
        let is_grant = match node.kind() {
            K::GRANT | K::GRANT_DEFAULT_PRIVILEGES => true,
            K::REVOKE | K::REVOKE_DEFAULT_PRIVILEGES => false,
            _ => return None,
        };
        let target = match node.kind() {
            K::GRANT | K::REVOKE => child(node, K::ON_PRIVILEGE_OBJECTS_CLAUSE)?
                .children()
                .next()?,
            _ => node.children().find(|c| {
                matches!(
                    c.kind(),
                    K::PRIVILEGE_TARGET_TABLES
                        | K::PRIVILEGE_TARGET_SEQUENCES
                        | K::PRIVILEGE_TARGET_SCHEMAS
                        | K::PRIVILEGE_TARGET_FUNCTIONS
                        | K::PRIVILEGE_TARGET_ROUTINES
                        | K::PRIVILEGE_TARGET_TYPES
                        | K::PRIVILEGE_TARGET_LARGE_OBJECTS
                )
            })?,
        };
        let kind = match target.kind() {
            K::PRIVILEGE_SCHEMA | K::PRIVILEGE_TARGET_SCHEMAS => ObjectKind::Schema,
            K::PRIVILEGE_SEQUENCE
            | K::PRIVILEGE_ALL_SEQUENCES_IN_SCHEMA
            | K::PRIVILEGE_TARGET_SEQUENCES => ObjectKind::Sequence,
            _ => ObjectKind::Other,
        };
        let all_in_schema = matches!(
            target.kind(),
            K::PRIVILEGE_ALL_TABLES_IN_SCHEMA
                | K::PRIVILEGE_ALL_SEQUENCES_IN_SCHEMA
                | K::PRIVILEGE_ALL_FUNCTIONS_IN_SCHEMA
                | K::PRIVILEGE_ALL_PROCEDURES_IN_SCHEMA
                | K::PRIVILEGE_ALL_ROUTINES_IN_SCHEMA
        );
        let schemas = target
            .children()
            .filter(|c| c.kind() == K::SCHEMA_REF)
            .filter_map(|schema| name_of(&schema).pop())
            .collect();
        let relations = match target.kind() {
            K::PRIVILEGE_DEFAULT | K::PRIVILEGE_TABLE | K::PRIVILEGE_SEQUENCE => target
                .children()
                .filter_map(|relation| match &name_of(&relation)[..] {
                    [.., schema, name] => Some((schema.clone(), name.clone())),
                    [name] => Some(("public".to_owned(), name.clone())),
                    [] => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        let privileges = child(node, K::REVOKE_COMMAND_LIST)
            .map(|list| {
                list.children()
                    .filter(|c| c.kind() == K::REVOKE_COMMAND)
                    .filter_map(|command| first_name(&command))
                    .map(|privilege| privilege.to_ascii_uppercase())
                    .collect()
            })
            .unwrap_or_default();
        let grantees = child(node, K::ROLE_REF_LIST)
            .map(|list| {
                list.children()
                    .filter_map(|role| child(&role, K::ROLE_NAME_REF))
                    .filter_map(|role| first_name(&role))
                    // `PUBLIC` is every role, not one of the runtime roles.
                    .filter(|role| role != "public")
                    .collect()
            })
            .unwrap_or_default();
        Some(Self {
            is_grant,
            kind,
            privileges,
            all_in_schema,
            schemas,
            relations,
            grantees,
        })
    }

    /// The privileges granted or revoked, `ALL` spelled out.
    fn privileges(&self, all: &[&str]) -> Vec<String> {
        if self.privileges.is_empty() {
            return all.iter().map(|p| (*p).to_owned()).collect();
        }
        self.privileges.clone()
    }
}

impl Declared {
    fn apply(&mut self, statement: &PrivilegeStatement, default_schemas: Option<&[String]>) {
        let sequence = statement.kind == ObjectKind::Sequence;
        let on_schema = statement.kind == ObjectKind::Schema;
        let all = if on_schema {
            &SCHEMA_PRIVILEGES[..]
        } else if sequence {
            &SEQUENCE_PRIVILEGES[..]
        } else {
            &TABLE_PRIVILEGES[..]
        };
        let privileges = statement.privileges(all);
        for role in &statement.grantees {
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
            } else if statement.all_in_schema {
                for schema in &statement.schemas {
                    for privilege in &privileges {
                        rules.push((role.clone(), schema.clone(), sequence, privilege.clone()));
                    }
                }
            } else {
                if on_schema {
                    for schema in &statement.schemas {
                        for privilege in &privileges {
                            changes.push(Fact::Schema {
                                schema: schema.clone(),
                                privilege: privilege.clone(),
                            });
                        }
                    }
                }
                for (schema, name) in &statement.relations {
                    for privilege in &privileges {
                        changes.push(Fact::Relation {
                            schema: schema.clone(),
                            name: name.clone(),
                            sequence,
                            privilege: privilege.clone(),
                        });
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
        // Text the parser refuses declares nothing (the linter reports it).
        let Ok(statements) = syntax::statements(text) else {
            continue;
        };
        for statement in &statements {
            match statement.kind() {
                K::GRANT | K::REVOKE => {
                    if let Some(privileges) = PrivilegeStatement::read(statement) {
                        declared.apply(&privileges, None);
                    }
                }
                K::ALTER_DEFAULT_PRIVILEGES => {
                    let schemas: Vec<String> = child(statement, K::IN_SCHEMAS)
                        .map(|list| {
                            list.children()
                                .filter(|c| c.kind() == K::SCHEMA_REF)
                                .filter_map(|schema| name_of(&schema).pop())
                                .collect()
                        })
                        .unwrap_or_default();
                    let action = statement
                        .descendants()
                        .find_map(|node| PrivilegeStatement::read(&node));
                    if let Some(action) = action
                        && !schemas.is_empty()
                    {
                        declared.apply(&action, Some(&schemas));
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
