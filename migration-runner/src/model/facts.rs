//! Two models compared fact by fact, for people: what `drift` (the live
//! database against its replayed history) and `check` (the entities against
//! the migrations) report. Each fact has a key (what it is about) and a value
//! (its definition, as PostgreSQL renders it), and each difference reads
//! "expected X, actual Y".
//!
//! [`Detail::Full`] keys constraints and indexes by name, so a renamed
//! constraint, a second index on the same columns, a trigger, a function, a
//! view or a sequence added by hand are all seen. [`Detail::Entities`] keys
//! them by their columns: SeaORM's entities cannot name them, so only their
//! shape is compared, and check constraints and the objects beyond tables
//! are left out.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::{ConstraintKind, SchemaModel, Table};

/// What a fact is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Key {
    Table {
        table: String,
    },
    Column {
        table: String,
        column: String,
    },
    /// A constraint by name (primary, unique, foreign, check, exclusion).
    Constraint {
        table: String,
        name: String,
    },
    /// An index by name (one that backs no constraint).
    Index {
        table: String,
        name: String,
    },
    Trigger {
        table: String,
        name: String,
    },
    /// The primary key by its columns (entities).
    PrimaryKey {
        table: String,
    },
    /// A unique key or index by its columns (entities).
    Unique {
        table: String,
        columns: String,
    },
    /// A non-unique index by its columns (entities).
    IndexOn {
        table: String,
        columns: String,
    },
    /// A foreign key by its columns (entities).
    ForeignKey {
        table: String,
        columns: String,
    },
    View {
        table: String,
    },
    MaterializedView {
        table: String,
    },
    Sequence {
        table: String,
    },
    Enum {
        table: String,
    },
    Domain {
        table: String,
    },
    Function {
        table: String,
    },
    Procedure {
        table: String,
    },
    Comment {
        table: String,
        on: String,
    },
}

impl Key {
    /// The table (or, for other objects, the qualified object) it is about.
    pub fn table(&self) -> &str {
        match self {
            Key::Table { table }
            | Key::Column { table, .. }
            | Key::Constraint { table, .. }
            | Key::Index { table, .. }
            | Key::Trigger { table, .. }
            | Key::PrimaryKey { table }
            | Key::Unique { table, .. }
            | Key::IndexOn { table, .. }
            | Key::ForeignKey { table, .. }
            | Key::View { table }
            | Key::MaterializedView { table }
            | Key::Sequence { table }
            | Key::Enum { table }
            | Key::Domain { table }
            | Key::Function { table }
            | Key::Procedure { table }
            | Key::Comment { table, .. } => table,
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Table { table } => write!(f, "table {table}"),
            Key::Column { table, column } => write!(f, "column {table}.{column}"),
            Key::Constraint { table, name } => write!(f, "constraint {name} on {table}"),
            Key::Index { table, name } => write!(f, "index {name} on {table}"),
            Key::Trigger { table, name } => write!(f, "trigger {name} on {table}"),
            Key::PrimaryKey { table } => write!(f, "primary key of {table}"),
            Key::Unique { table, columns } => write!(f, "unique key {table} ({columns})"),
            Key::IndexOn { table, columns } => write!(f, "index {table} ({columns})"),
            Key::ForeignKey { table, columns } => write!(f, "foreign key {table} ({columns})"),
            Key::View { table } => write!(f, "view {table}"),
            Key::MaterializedView { table } => write!(f, "materialized view {table}"),
            Key::Sequence { table } => write!(f, "sequence {table}"),
            Key::Enum { table } => write!(f, "enum {table}"),
            Key::Domain { table } => write!(f, "domain {table}"),
            Key::Function { table } => write!(f, "function {table}"),
            Key::Procedure { table } => write!(f, "procedure {table}"),
            Key::Comment { table, on } => write!(f, "comment on {on} {table}"),
        }
    }
}

/// Which facts to compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Everything PostgreSQL has, constraints and indexes by name (drift).
    Full,
    /// What SeaORM entities can describe: tables, columns, and keys and
    /// indexes by their columns (check).
    Entities,
}

/// One difference between an expected and an actual model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    pub key: Key,
    /// The definition on the expected side (`None`: absent there).
    pub expected: Option<String>,
    /// The definition on the actual side (`None`: absent there).
    pub actual: Option<String>,
}

impl Difference {
    /// "entity says X, migrations give Y" with the sides named by the caller.
    pub fn describe(&self, expected_side: &str, actual_side: &str) -> String {
        let side = |value: &Option<String>| match value {
            Some(value) => format!("`{value}`"),
            None => "nothing".to_owned(),
        };
        format!(
            "{}: {expected_side} {}, {actual_side} {}",
            self.key,
            side(&self.expected),
            side(&self.actual)
        )
    }
}

impl SchemaModel {
    /// The model as keyed facts, at `detail`.
    pub fn facts(&self, detail: Detail) -> BTreeMap<Key, String> {
        let mut facts = BTreeMap::new();
        for table in self.tables.values() {
            table_facts(table, detail, &mut facts);
        }
        if detail == Detail::Entities {
            return facts;
        }
        for view in self.views.values() {
            let key = if view.materialized {
                Key::MaterializedView {
                    table: view.name.clone(),
                }
            } else {
                Key::View {
                    table: view.name.clone(),
                }
            };
            facts.insert(key, one_line(&view.definition));
            comment(&mut facts, &view.name, "view", view.comment.as_deref());
        }
        for sequence in self.sequences.values() {
            let mut value = format!(
                "{} start {} increment {} min {} max {} cache {}",
                sequence.data_type,
                sequence.start,
                sequence.increment,
                sequence.min,
                sequence.max,
                sequence.cache
            );
            if sequence.cycle {
                value.push_str(" cycle");
            }
            if let Some(owner) = &sequence.owned_by {
                value.push_str(&format!(" owned by {owner}"));
            }
            facts.insert(
                Key::Sequence {
                    table: sequence.name.clone(),
                },
                value,
            );
        }
        for enumeration in self.enums.values() {
            facts.insert(
                Key::Enum {
                    table: enumeration.name.clone(),
                },
                enumeration
                    .labels
                    .iter()
                    .map(|l| format!("'{l}'"))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            comment(
                &mut facts,
                &enumeration.name,
                "type",
                enumeration.comment.as_deref(),
            );
        }
        for domain in self.domains.values() {
            let mut value = domain.base.clone();
            if domain.not_null {
                value.push_str(" not null");
            }
            if let Some(default) = &domain.default {
                value.push_str(&format!(" default {default}"));
            }
            for (name, check) in &domain.checks {
                value.push_str(&format!(" constraint {name} {check}"));
            }
            facts.insert(
                Key::Domain {
                    table: domain.name.clone(),
                },
                value,
            );
            comment(
                &mut facts,
                &domain.name,
                "domain",
                domain.comment.as_deref(),
            );
        }
        for routine in self.routines.values() {
            let key = if routine.procedure {
                Key::Procedure {
                    table: routine.signature(),
                }
            } else {
                Key::Function {
                    table: routine.signature(),
                }
            };
            facts.insert(key, one_line(&routine.definition));
            let on = if routine.procedure {
                "procedure"
            } else {
                "function"
            };
            comment(
                &mut facts,
                &routine.signature(),
                on,
                routine.comment.as_deref(),
            );
        }
        facts
    }

    /// Every fact of `expected` missing from or different in `actual`, and
    /// every fact `actual` has beyond it, in key order. At [`Detail::Full`],
    /// a constraint or index that differs only by its name is one
    /// difference (renamed), and an index the same as another is named as
    /// its duplicate.
    pub fn diff(expected: &SchemaModel, actual: &SchemaModel, detail: Detail) -> Vec<Difference> {
        let expected_facts = expected.facts(detail);
        let actual_facts = actual.facts(detail);
        let mut differences = Vec::new();
        for (key, value) in &expected_facts {
            match actual_facts.get(key) {
                Some(other) if other == value => {}
                other => differences.push(Difference {
                    key: key.clone(),
                    expected: Some(value.clone()),
                    actual: other.cloned(),
                }),
            }
        }
        for (key, value) in &actual_facts {
            if !expected_facts.contains_key(key) {
                differences.push(Difference {
                    key: key.clone(),
                    expected: None,
                    actual: Some(value.clone()),
                });
            }
        }
        if detail == Detail::Full {
            differences = renamed(differences);
            name_duplicates(&mut differences, actual);
        }
        differences.sort_by(|a, b| a.key.cmp(&b.key));
        differences
    }
}

/// A definition PostgreSQL renders over several lines, on one.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn comment(facts: &mut BTreeMap<Key, String>, object: &str, on: &str, text: Option<&str>) {
    if let Some(text) = text {
        facts.insert(
            Key::Comment {
                table: object.to_owned(),
                on: on.to_owned(),
            },
            text.to_owned(),
        );
    }
}

fn table_facts(table: &Table, detail: Detail, facts: &mut BTreeMap<Key, String>) {
    let name = || table.name.clone();
    facts.insert(
        Key::Table { table: name() },
        if table.partitioned {
            "exists (partitioned)"
        } else {
            "exists"
        }
        .to_owned(),
    );
    for column in &table.columns {
        let mut value = format!(
            "{} {}",
            column.data_type,
            if column.not_null { "not null" } else { "null" }
        );
        if let Some(default) = &column.default {
            value.push_str(&format!(" default {default}"));
        }
        if let Some(identity) = &column.identity {
            value.push_str(&format!(" generated {identity} as identity"));
        }
        if let Some(generated) = &column.generated {
            value.push_str(&format!(" generated always as ({generated}) stored"));
        }
        if let Some(collation) = &column.collation {
            value.push_str(&format!(" collate {collation}"));
        }
        facts.insert(
            Key::Column {
                table: name(),
                column: column.name.clone(),
            },
            value,
        );
        if detail == Detail::Full {
            comment(
                facts,
                &format!("{}.{}", table.name, column.name),
                "column",
                column.comment.as_deref(),
            );
        }
    }
    match detail {
        Detail::Full => {
            comment(facts, &table.name, "table", table.comment.as_deref());
            for constraint in &table.constraints {
                facts.insert(
                    Key::Constraint {
                        table: name(),
                        name: constraint.name.clone(),
                    },
                    constraint.definition.clone(),
                );
            }
            for index in table.indexes.iter().filter(|i| !i.backs_constraint) {
                facts.insert(
                    Key::Index {
                        table: name(),
                        name: index.name.clone(),
                    },
                    index.shape(),
                );
            }
            for trigger in &table.triggers {
                facts.insert(
                    Key::Trigger {
                        table: name(),
                        name: trigger.name.clone(),
                    },
                    trigger
                        .definition
                        .split_once(&format!("TRIGGER {} ", trigger.name))
                        .map_or_else(|| trigger.definition.clone(), |(_, rest)| rest.to_owned()),
                );
            }
        }
        Detail::Entities => {
            let primary = table.primary_key();
            if let Some(primary) = primary {
                facts.insert(
                    Key::PrimaryKey { table: name() },
                    format!("({})", primary.columns.join(", ")),
                );
            }
            for index in &table.indexes {
                if primary.is_some_and(|p| p.name == index.name) {
                    continue;
                }
                let columns = index
                    .keys
                    .iter()
                    .map(super::IndexKey::term)
                    .collect::<Vec<_>>()
                    .join(", ");
                let mut value = index.method.clone();
                if let Some(predicate) = &index.predicate {
                    value.push_str(&format!(" where {predicate}"));
                }
                let key = if index.unique {
                    Key::Unique {
                        table: name(),
                        columns,
                    }
                } else {
                    Key::IndexOn {
                        table: name(),
                        columns,
                    }
                };
                facts.insert(key, value);
            }
            for key in table
                .constraints
                .iter()
                .filter(|c| c.kind == ConstraintKind::ForeignKey)
            {
                let references = key
                    .definition
                    .split_once(") ")
                    .map_or(key.definition.as_str(), |(_, rest)| rest);
                facts.insert(
                    Key::ForeignKey {
                        table: name(),
                        columns: key.columns.join(", "),
                    },
                    references.to_owned(),
                );
            }
        }
    }
}

/// A constraint or index only expected under one name and only actual
/// under another, with the same definition on one table, is one rename.
fn renamed(differences: Vec<Difference>) -> Vec<Difference> {
    let (mut gone, rest): (Vec<Difference>, Vec<Difference>) =
        differences.into_iter().partition(|d| {
            d.actual.is_none() && matches!(d.key, Key::Constraint { .. } | Key::Index { .. })
        });
    let mut kept = Vec::new();
    for difference in rest {
        let new_name = match &difference.key {
            Key::Constraint { name, .. } | Key::Index { name, .. }
                if difference.expected.is_none() =>
            {
                Some(name.clone())
            }
            _ => None,
        };
        let partner = new_name.as_ref().and_then(|_| {
            gone.iter().position(|old| {
                std::mem::discriminant(&old.key) == std::mem::discriminant(&difference.key)
                    && old.key.table() == difference.key.table()
                    && old.expected == difference.actual
            })
        });
        match (new_name, partner) {
            (Some(new_name), Some(at)) => {
                let mut old = gone.remove(at);
                old.actual = Some(format!(
                    "renamed to {new_name}: {}",
                    old.expected.clone().unwrap_or_default()
                ));
                kept.push(old);
            }
            _ => kept.push(difference),
        }
    }
    kept.extend(gone);
    kept
}

/// An index found only on the actual side that is the same as another
/// index of its table there (one a constraint brings included) says which.
fn name_duplicates(differences: &mut [Difference], actual: &SchemaModel) {
    for difference in differences.iter_mut() {
        let (Key::Index { table, name }, None, Some(value)) =
            (&difference.key, &difference.expected, &difference.actual)
        else {
            continue;
        };
        let Some(model_table) = actual.tables.get(table) else {
            continue;
        };
        let twin = model_table
            .indexes
            .iter()
            .find(|other| &other.name != name && &other.shape() == value);
        if let Some(twin) = twin {
            difference.actual = Some(format!("{value}, a duplicate of index {}", twin.name));
        }
    }
}
