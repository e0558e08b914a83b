//! The statements that turn one model into another, in an order PostgreSQL
//! accepts: schemas, types and sequences first, then tables, columns,
//! constraints and indexes, foreign keys once every table they join exists,
//! then routines, views and triggers; drops last, dependents first (views
//! and triggers that change or go are dropped before anything else).
//!
//! Constraints and indexes are matched by what they are before their names
//! (SeaORM's entities cannot name them, migrations do), so two equivalent
//! schemas give no statement. Renames are never guessed: the caller answers
//! them ([`Rename`]) and they come first, as `RENAME` or `SET SCHEMA`,
//! keeping the rows. Each change says whether it can lose data or fail on
//! rows a table may hold ([`Risk`]), for `migrate dev` to stop on.

use std::collections::{BTreeMap, BTreeSet};

use super::{Column, Constraint, ConstraintKind, SchemaModel, Table};

/// A rename the caller decided (never inferred).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rename {
    /// `schema.table` to `schema.table` (another schema: `SET SCHEMA`).
    Table { from: String, to: String },
    /// A column of `table` (named as in the target model).
    Column {
        table: String,
        from: String,
        to: String,
    },
}

/// What a change may do to the rows already there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Risk {
    /// Nothing lost, nothing refused.
    Safe,
    /// Drops data (a column, a table).
    Destroys(String),
    /// Fails or blocks on existing rows (a narrowed type, a new `NOT NULL`
    /// without a default).
    NeedsBackfill(String),
}

/// What a change is, for a generator that writes it with the schema
/// builder rather than as SQL text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum What {
    /// A column's type changed (its risk says whether rows may be
    /// refused or the table rewritten).
    Retype {
        table: String,
        column: String,
        to: String,
    },
    /// A column made NOT NULL.
    SetNotNull {
        table: String,
        column: String,
    },
    AddColumn {
        table: String,
        column: Column,
    },
    DropColumn {
        table: String,
        column: String,
    },
    RenameColumn {
        table: String,
        from: String,
        to: String,
    },
    /// Within one schema.
    RenameTable {
        from: String,
        to: String,
    },
    DropTable {
        table: String,
    },
    /// Anything else: its SQL says it.
    Other,
}

/// One statement of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub sql: String,
    pub what: What,
    /// The schemas it changes.
    pub schema: String,
    pub risk: Risk,
    /// The table it is about, when it is about one.
    pub table: Option<String>,
}

/// Phases, in the order the statements run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Rename,
    // A view or trigger that changes or goes is dropped before the tables
    // and functions under it change (PostgreSQL refuses to alter a column a
    // view reads), and created again once they have.
    DropTrigger,
    DropView,
    CreateSchema,
    CreateType,
    CreateSequence,
    CreateTable,
    AlterColumn,
    AddConstraint,
    CreateIndex,
    AddForeignKey,
    CreateRoutine,
    CreateView,
    CreateTrigger,
    DropForeignKey,
    DropIndex,
    DropConstraint,
    DropColumn,
    DropTable,
    DropRoutine,
    DropSequence,
    DropType,
}

/// `"name"` when the name needs quotes, `name` when it does not.
pub fn ident(name: &str) -> String {
    const RESERVED: &[&str] = &[
        "all",
        "analyse",
        "analyze",
        "and",
        "any",
        "array",
        "as",
        "asc",
        "both",
        "case",
        "cast",
        "check",
        "collate",
        "column",
        "constraint",
        "create",
        "current_date",
        "current_role",
        "current_time",
        "current_timestamp",
        "current_user",
        "default",
        "deferrable",
        "desc",
        "distinct",
        "do",
        "else",
        "end",
        "except",
        "false",
        "fetch",
        "for",
        "foreign",
        "from",
        "grant",
        "group",
        "having",
        "in",
        "initially",
        "intersect",
        "into",
        "lateral",
        "leading",
        "limit",
        "localtime",
        "localtimestamp",
        "not",
        "null",
        "offset",
        "on",
        "only",
        "or",
        "order",
        "placing",
        "primary",
        "references",
        "returning",
        "select",
        "session_user",
        "some",
        "symmetric",
        "table",
        "then",
        "to",
        "trailing",
        "true",
        "union",
        "unique",
        "user",
        "using",
        "variadic",
        "when",
        "where",
        "window",
        "with",
    ];
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !RESERVED.contains(&name);
    if plain {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// `schema.name`, each part quoted when it needs it.
pub fn qualified(name: &str) -> String {
    match name.split_once('.') {
        Some((schema, object)) => format!("{}.{}", ident(schema), ident(object)),
        None => ident(name),
    }
}

fn schema_of(name: &str) -> String {
    name.split_once('.').map_or("public", |(s, _)| s).to_owned()
}

/// A default as written: a quoted literal cast to the column's own type
/// (`'intro'::text`, how PostgreSQL renders `DEFAULT 'intro'`) loses the
/// cast, which linters read as an expression that might be volatile.
pub fn plain_default(default: &str, data_type: &str) -> String {
    match default.strip_suffix(&format!("::{data_type}")) {
        Some(literal)
            if literal.len() >= 2
                && literal.starts_with('\'')
                && literal.ends_with('\'')
                && !literal[1..literal.len() - 1]
                    .replace("''", "")
                    .contains('\'') =>
        {
            literal.to_owned()
        }
        _ => default.to_owned(),
    }
}

/// A column's definition inside `CREATE TABLE` or `ADD COLUMN`.
pub fn column_definition(column: &Column) -> String {
    let mut sql = format!("{} {}", ident(&column.name), column.data_type);
    if let Some(collation) = &column.collation {
        sql.push_str(&format!(" COLLATE {collation}"));
    }
    if let Some(generated) = &column.generated {
        sql.push_str(&format!(" GENERATED ALWAYS AS ({generated}) STORED"));
    }
    if let Some(identity) = &column.identity {
        sql.push_str(&format!(
            " GENERATED {} AS IDENTITY",
            identity.to_uppercase()
        ));
    }
    if column.not_null {
        sql.push_str(" NOT NULL");
    }
    if let Some(default) = &column.default {
        sql.push_str(&format!(
            " DEFAULT {}",
            plain_default(default, &column.data_type)
        ));
    }
    sql
}

/// Types a column may move to without rewriting the table or refusing a
/// row: a longer or unbounded `varchar`, or `text` from one. (`integer` to
/// `bigint` and the like keep every value but rewrite the table under an
/// exclusive lock: not safe.)
pub fn widens(from: &str, to: &str) -> bool {
    let varchar_len = |t: &str| {
        t.strip_prefix("character varying(")
            .and_then(|rest| rest.strip_suffix(')'))
            .and_then(|n| n.parse::<u32>().ok())
    };
    (to == "text" && from.starts_with("character varying"))
        || (from.starts_with("character varying") && to == "character varying")
        || matches!((varchar_len(from), varchar_len(to)), (Some(a), Some(b)) if b >= a)
}

/// What makes two constraints the same one, names aside.
fn constraint_shape(constraint: &Constraint) -> (ConstraintKind, String) {
    (constraint.kind, constraint.definition.clone())
}

/// The plan from `from` to `to`, renames first.
pub fn plan(from: &SchemaModel, to: &SchemaModel, renames: &[Rename]) -> Vec<Change> {
    let mut from = from.clone();
    let mut steps: Vec<(Phase, Change)> = Vec::new();
    for rename in renames {
        apply_rename(&mut from, rename, &mut steps);
    }
    let from_schemas: BTreeSet<&String> = from.schemas.iter().collect();
    for schema in to.schemas.iter().filter(|s| !from_schemas.contains(s)) {
        steps.push((
            Phase::CreateSchema,
            change(
                format!("CREATE SCHEMA IF NOT EXISTS {}", ident(schema)),
                schema,
                None,
            ),
        ));
    }
    types(&from, to, &mut steps);
    sequences(&from, to, &mut steps);
    for (name, table) in &to.tables {
        match from.tables.get(name) {
            None => create_table(table, &mut steps),
            Some(old) => alter_table(old, table, &mut steps),
        }
    }
    for (name, table) in &from.tables {
        if !to.tables.contains_key(name) {
            steps.push((
                Phase::DropTable,
                Change {
                    what: What::DropTable {
                        table: name.clone(),
                    },
                    risk: Risk::Destroys(format!("drops table {name} and its rows")),
                    ..change(format!("DROP TABLE {}", qualified(name)), name, Some(name))
                },
            ));
            for key in table
                .constraints
                .iter()
                .filter(|c| c.kind == ConstraintKind::ForeignKey)
            {
                steps.push((
                    Phase::DropForeignKey,
                    change(
                        format!(
                            "ALTER TABLE {} DROP CONSTRAINT {}",
                            qualified(name),
                            ident(&key.name)
                        ),
                        name,
                        Some(name),
                    ),
                ));
            }
        }
    }
    views(&from, to, &mut steps);
    routines(&from, to, &mut steps);
    steps.sort_by_key(|(phase, _)| *phase);
    steps.into_iter().map(|(_, change)| change).collect()
}

fn change(sql: String, object: &str, table: Option<&str>) -> Change {
    Change {
        sql,
        what: What::Other,
        schema: schema_of(object),
        risk: Risk::Safe,
        table: table.map(str::to_owned),
    }
}

fn apply_rename(model: &mut SchemaModel, rename: &Rename, steps: &mut Vec<(Phase, Change)>) {
    match rename {
        Rename::Table { from, to } => {
            let Some(mut table) = model.tables.remove(from) else {
                return;
            };
            let (from_schema, to_schema) = (schema_of(from), schema_of(to));
            let short = |n: &str| n.split_once('.').map_or(n, |(_, t)| t).to_owned();
            let mut current = from.clone();
            if from_schema != to_schema {
                steps.push((
                    Phase::Rename,
                    change(
                        format!(
                            "ALTER TABLE {} SET SCHEMA {}",
                            qualified(from),
                            ident(&to_schema)
                        ),
                        to,
                        Some(to),
                    ),
                ));
                current = format!("{to_schema}.{}", short(from));
            }
            if short(from) != short(to) {
                steps.push((
                    Phase::Rename,
                    Change {
                        what: What::RenameTable {
                            from: current.clone(),
                            to: to.clone(),
                        },
                        ..change(
                            format!(
                                "ALTER TABLE {} RENAME TO {}",
                                qualified(&current),
                                ident(&short(to))
                            ),
                            to,
                            Some(to),
                        )
                    },
                ));
            }
            table.name = to.clone();
            model.tables.insert(to.clone(), table);
        }
        Rename::Column { table, from, to } => {
            let Some(model_table) = model.tables.get_mut(table) else {
                return;
            };
            let Some(column) = model_table.columns.iter_mut().find(|c| &c.name == from) else {
                return;
            };
            column.name = to.clone();
            for constraint in &mut model_table.constraints {
                for name in &mut constraint.columns {
                    if name == from {
                        name.clone_from(to);
                    }
                }
            }
            steps.push((
                Phase::Rename,
                Change {
                    what: What::RenameColumn {
                        table: table.clone(),
                        from: from.clone(),
                        to: to.clone(),
                    },
                    ..change(
                        format!(
                            "ALTER TABLE {} RENAME COLUMN {} TO {}",
                            qualified(table),
                            ident(from),
                            ident(to)
                        ),
                        table,
                        Some(table),
                    )
                },
            ));
        }
    }
}

fn create_table(table: &Table, steps: &mut Vec<(Phase, Change)>) {
    let mut parts: Vec<String> = table.columns.iter().map(column_definition).collect();
    for constraint in table
        .constraints
        .iter()
        .filter(|c| c.kind != ConstraintKind::ForeignKey)
    {
        parts.push(format!(
            "CONSTRAINT {} {}",
            ident(&constraint.name),
            constraint.definition
        ));
    }
    steps.push((
        Phase::CreateTable,
        change(
            format!(
                "CREATE TABLE {} (\n    {}\n)",
                qualified(&table.name),
                parts.join(",\n    ")
            ),
            &table.name,
            Some(&table.name),
        ),
    ));
    for constraint in table
        .constraints
        .iter()
        .filter(|c| c.kind == ConstraintKind::ForeignKey)
    {
        steps.push((
            Phase::AddForeignKey,
            add_constraint(&table.name, constraint),
        ));
    }
    for index in table.indexes.iter().filter(|i| !i.backs_constraint) {
        steps.push((
            Phase::CreateIndex,
            change(index.definition.clone(), &table.name, Some(&table.name)),
        ));
    }
    for trigger in &table.triggers {
        steps.push((
            Phase::CreateTrigger,
            change(trigger.definition.clone(), &table.name, Some(&table.name)),
        ));
    }
}

fn add_constraint(table: &str, constraint: &Constraint) -> Change {
    change(
        format!(
            "ALTER TABLE {} ADD CONSTRAINT {} {}",
            qualified(table),
            ident(&constraint.name),
            constraint.definition
        ),
        table,
        Some(table),
    )
}

fn alter_table(old: &Table, new: &Table, steps: &mut Vec<(Phase, Change)>) {
    let name = &new.name;
    let table = qualified(name);
    for column in &new.columns {
        let Some(before) = old.column(&column.name) else {
            let risk = if column.not_null
                && column.default.is_none()
                && column.identity.is_none()
                && column.generated.is_none()
            {
                Risk::NeedsBackfill(format!(
                    "adds `{}` NOT NULL without a default to {name}, which fails on a table with rows",
                    column.name
                ))
            } else {
                Risk::Safe
            };
            steps.push((
                Phase::AlterColumn,
                Change {
                    risk,
                    what: What::AddColumn {
                        table: name.clone(),
                        column: column.clone(),
                    },
                    ..change(
                        format!(
                            "ALTER TABLE {table} ADD COLUMN {}",
                            column_definition(column)
                        ),
                        name,
                        Some(name),
                    )
                },
            ));
            continue;
        };
        let column_sql = |action: String| {
            format!(
                "ALTER TABLE {table} ALTER COLUMN {} {action}",
                ident(&column.name)
            )
        };
        if before.data_type != column.data_type {
            let risk = if widens(&before.data_type, &column.data_type) {
                Risk::Safe
            } else {
                Risk::NeedsBackfill(format!(
                    "changes {name}.{} from {} to {}, which rewrites the table under an exclusive lock and may refuse existing rows",
                    column.name, before.data_type, column.data_type
                ))
            };
            let what = What::Retype {
                table: name.clone(),
                column: column.name.clone(),
                to: column.data_type.clone(),
            };
            steps.push((
                Phase::AlterColumn,
                Change {
                    risk,
                    what,
                    ..change(
                        column_sql(format!(
                            "TYPE {} USING {}::{}",
                            column.data_type,
                            ident(&column.name),
                            column.data_type
                        )),
                        name,
                        Some(name),
                    )
                },
            ));
        }
        if before.default != column.default {
            let action = match &column.default {
                Some(default) => format!("SET DEFAULT {default}"),
                None => "DROP DEFAULT".to_owned(),
            };
            steps.push((
                Phase::AlterColumn,
                change(column_sql(action), name, Some(name)),
            ));
        }
        if before.not_null != column.not_null {
            let (action, risk) = if column.not_null {
                (
                    "SET NOT NULL".to_owned(),
                    Risk::NeedsBackfill(format!(
                        "makes {name}.{} NOT NULL, which fails while a row holds NULL there",
                        column.name
                    )),
                )
            } else {
                ("DROP NOT NULL".to_owned(), Risk::Safe)
            };
            let what = if column.not_null {
                What::SetNotNull {
                    table: name.clone(),
                    column: column.name.clone(),
                }
            } else {
                What::Other
            };
            steps.push((
                Phase::AlterColumn,
                Change {
                    risk,
                    what,
                    ..change(column_sql(action), name, Some(name))
                },
            ));
        }
    }
    for column in &old.columns {
        if new.column(&column.name).is_none() {
            steps.push((
                Phase::DropColumn,
                Change {
                    what: What::DropColumn {
                        table: name.clone(),
                        column: column.name.clone(),
                    },
                    risk: Risk::Destroys(format!(
                        "drops column {name}.{} and its values",
                        column.name
                    )),
                    ..change(
                        format!("ALTER TABLE {table} DROP COLUMN {}", ident(&column.name)),
                        name,
                        Some(name),
                    )
                },
            ));
        }
    }
    // Constraints: the same shape under any name is the same constraint.
    let old_shapes: BTreeSet<_> = old.constraints.iter().map(constraint_shape).collect();
    let new_shapes: BTreeSet<_> = new.constraints.iter().map(constraint_shape).collect();
    for constraint in &new.constraints {
        if !old_shapes.contains(&constraint_shape(constraint)) {
            let phase = if constraint.kind == ConstraintKind::ForeignKey {
                Phase::AddForeignKey
            } else {
                Phase::AddConstraint
            };
            steps.push((phase, add_constraint(name, constraint)));
        }
    }
    for constraint in &old.constraints {
        if !new_shapes.contains(&constraint_shape(constraint)) {
            let phase = if constraint.kind == ConstraintKind::ForeignKey {
                Phase::DropForeignKey
            } else {
                Phase::DropConstraint
            };
            steps.push((
                phase,
                change(
                    format!(
                        "ALTER TABLE {table} DROP CONSTRAINT {}",
                        ident(&constraint.name)
                    ),
                    name,
                    Some(name),
                ),
            ));
        }
    }
    // Indexes (those no constraint brings), by shape.
    let shapes = |t: &Table| -> BTreeMap<String, String> {
        t.indexes
            .iter()
            .filter(|i| !i.backs_constraint)
            .map(|i| (i.shape().replacen(&t.name, "", 1), i.definition.clone()))
            .collect()
    };
    let (old_indexes, new_indexes) = (shapes(old), shapes(new));
    for (shape, definition) in &new_indexes {
        if !old_indexes.contains_key(shape) {
            steps.push((
                Phase::CreateIndex,
                change(definition.clone(), name, Some(name)),
            ));
        }
    }
    for index in old.indexes.iter().filter(|i| !i.backs_constraint) {
        if !new_indexes.contains_key(&index.shape().replacen(&old.name, "", 1)) {
            steps.push((
                Phase::DropIndex,
                change(
                    format!(
                        "DROP INDEX {}",
                        qualified(&format!("{}.{}", old.schema(), index.name))
                    ),
                    name,
                    Some(name),
                ),
            ));
        }
    }
    let old_triggers: BTreeMap<_, _> = old
        .triggers
        .iter()
        .map(|t| (&t.name, &t.definition))
        .collect();
    let new_triggers: BTreeMap<_, _> = new
        .triggers
        .iter()
        .map(|t| (&t.name, &t.definition))
        .collect();
    for (trigger, definition) in &new_triggers {
        if old_triggers.get(trigger) != Some(definition) {
            if old_triggers.contains_key(trigger) {
                steps.push((
                    Phase::DropTrigger,
                    change(
                        format!("DROP TRIGGER {} ON {table}", ident(trigger)),
                        name,
                        Some(name),
                    ),
                ));
            }
            steps.push((
                Phase::CreateTrigger,
                change((*definition).clone(), name, Some(name)),
            ));
        }
    }
    for trigger in old_triggers.keys() {
        if !new_triggers.contains_key(trigger) {
            steps.push((
                Phase::DropTrigger,
                change(
                    format!("DROP TRIGGER {} ON {table}", ident(trigger)),
                    name,
                    Some(name),
                ),
            ));
        }
    }
}

fn types(from: &SchemaModel, to: &SchemaModel, steps: &mut Vec<(Phase, Change)>) {
    for (name, enumeration) in &to.enums {
        let labels = |l: &[String]| {
            l.iter()
                .map(|l| format!("'{}'", l.replace('\'', "''")))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match from.enums.get(name) {
            None => steps.push((
                Phase::CreateType,
                change(
                    format!(
                        "CREATE TYPE {} AS ENUM ({})",
                        qualified(name),
                        labels(&enumeration.labels)
                    ),
                    name,
                    None,
                ),
            )),
            Some(old) if old.labels != enumeration.labels => {
                if enumeration.labels.starts_with(&old.labels) {
                    for label in &enumeration.labels[old.labels.len()..] {
                        steps.push((
                            Phase::CreateType,
                            change(
                                format!(
                                    "ALTER TYPE {} ADD VALUE '{}'",
                                    qualified(name),
                                    label.replace('\'', "''")
                                ),
                                name,
                                None,
                            ),
                        ));
                    }
                } else {
                    steps.push((
                        Phase::CreateType,
                        Change {
                            risk: Risk::Destroys(format!(
                                "enum {name} loses or reorders values; PostgreSQL cannot say that in place"
                            )),
                            ..change(
                                format!(
                                    "-- enum {name}: from ({}) to ({}): write it by hand",
                                    labels(&old.labels),
                                    labels(&enumeration.labels)
                                ),
                                name,
                                None,
                            )
                        },
                    ));
                }
            }
            Some(_) => {}
        }
    }
    for name in from.enums.keys().filter(|n| !to.enums.contains_key(*n)) {
        steps.push((
            Phase::DropType,
            change(format!("DROP TYPE {}", qualified(name)), name, None),
        ));
    }
    for (name, domain) in &to.domains {
        if from.domains.get(name) == Some(domain) {
            continue;
        }
        if from.domains.contains_key(name) {
            steps.push((
                Phase::DropType,
                change(format!("DROP DOMAIN {}", qualified(name)), name, None),
            ));
        }
        let mut sql = format!("CREATE DOMAIN {} AS {}", qualified(name), domain.base);
        if let Some(default) = &domain.default {
            sql.push_str(&format!(" DEFAULT {default}"));
        }
        if domain.not_null {
            sql.push_str(" NOT NULL");
        }
        for (check, definition) in &domain.checks {
            sql.push_str(&format!(" CONSTRAINT {} {definition}", ident(check)));
        }
        steps.push((Phase::CreateType, change(sql, name, None)));
    }
    for name in from.domains.keys().filter(|n| !to.domains.contains_key(*n)) {
        steps.push((
            Phase::DropType,
            change(format!("DROP DOMAIN {}", qualified(name)), name, None),
        ));
    }
}

fn sequences(from: &SchemaModel, to: &SchemaModel, steps: &mut Vec<(Phase, Change)>) {
    for (name, sequence) in &to.sequences {
        if sequence.owned_by.is_some() || from.sequences.get(name) == Some(sequence) {
            continue; // a serial column's sequence comes with its column
        }
        let body = format!(
            "AS {} INCREMENT BY {} MINVALUE {} MAXVALUE {} START WITH {} CACHE {}{}",
            sequence.data_type,
            sequence.increment,
            sequence.min,
            sequence.max,
            sequence.start,
            sequence.cache,
            if sequence.cycle {
                " CYCLE"
            } else {
                " NO CYCLE"
            }
        );
        let sql = if from.sequences.contains_key(name) {
            format!("ALTER SEQUENCE {} {body}", qualified(name))
        } else {
            format!("CREATE SEQUENCE {} {body}", qualified(name))
        };
        steps.push((Phase::CreateSequence, change(sql, name, None)));
    }
    for (name, sequence) in &from.sequences {
        if sequence.owned_by.is_none() && !to.sequences.contains_key(name) {
            steps.push((
                Phase::DropSequence,
                change(format!("DROP SEQUENCE {}", qualified(name)), name, None),
            ));
        }
    }
}

fn views(from: &SchemaModel, to: &SchemaModel, steps: &mut Vec<(Phase, Change)>) {
    let keyword = |materialized: bool| {
        if materialized {
            "MATERIALIZED VIEW"
        } else {
            "VIEW"
        }
    };
    for (name, view) in &to.views {
        let old = from.views.get(name);
        if old == Some(view) {
            continue;
        }
        if let Some(old) = old {
            steps.push((
                Phase::DropView,
                change(
                    format!("DROP {} {}", keyword(old.materialized), qualified(name)),
                    name,
                    None,
                ),
            ));
        }
        steps.push((
            Phase::CreateView,
            change(
                format!(
                    "CREATE {} {} AS\n{}",
                    keyword(view.materialized),
                    qualified(name),
                    view.definition.trim().trim_end_matches(';')
                ),
                name,
                None,
            ),
        ));
    }
    for (name, view) in &from.views {
        if !to.views.contains_key(name) {
            steps.push((
                Phase::DropView,
                change(
                    format!("DROP {} {}", keyword(view.materialized), qualified(name)),
                    name,
                    None,
                ),
            ));
        }
    }
}

fn routines(from: &SchemaModel, to: &SchemaModel, steps: &mut Vec<(Phase, Change)>) {
    for (signature, routine) in &to.routines {
        if from.routines.get(signature).map(|r| &r.definition) != Some(&routine.definition) {
            steps.push((
                Phase::CreateRoutine,
                change(routine.definition.trim().to_owned(), &routine.name, None),
            ));
        }
    }
    for (signature, routine) in &from.routines {
        if !to.routines.contains_key(signature) {
            let kind = if routine.procedure {
                "PROCEDURE"
            } else {
                "FUNCTION"
            };
            steps.push((
                Phase::DropRoutine,
                change(
                    format!(
                        "DROP {kind} {}({})",
                        qualified(&routine.name),
                        routine.arguments
                    ),
                    &routine.name,
                    None,
                ),
            ));
        }
    }
}

/// Dropped and added columns of one table with the same type, and dropped
/// and added tables with the same columns: what looks like a rename, for the
/// caller to ask about (never to apply unasked).
pub fn rename_candidates(from: &SchemaModel, to: &SchemaModel) -> Vec<Rename> {
    let mut candidates = Vec::new();
    let columns_of = |t: &Table| -> Vec<(String, String)> {
        t.columns
            .iter()
            .map(|c| (c.name.clone(), c.data_type.clone()))
            .collect()
    };
    let dropped: Vec<&Table> = from
        .tables
        .values()
        .filter(|t| !to.tables.contains_key(&t.name))
        .collect();
    let added: Vec<&Table> = to
        .tables
        .values()
        .filter(|t| !from.tables.contains_key(&t.name))
        .collect();
    for old in &dropped {
        for new in &added {
            if columns_of(old) == columns_of(new) {
                candidates.push(Rename::Table {
                    from: old.name.clone(),
                    to: new.name.clone(),
                });
            }
        }
    }
    for (name, new) in &to.tables {
        let Some(old) = from.tables.get(name) else {
            continue;
        };
        for gone in old.columns.iter().filter(|c| new.column(&c.name).is_none()) {
            for came in new.columns.iter().filter(|c| old.column(&c.name).is_none()) {
                if gone.data_type == came.data_type {
                    candidates.push(Rename::Column {
                        table: name.clone(),
                        from: gone.name.clone(),
                        to: came.name.clone(),
                    });
                }
            }
        }
    }
    candidates
}
