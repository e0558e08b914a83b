//! `migrate diff`: the statements that would bring the migrations to what
//! the entities describe (what `migrate dev` writes), or one database to
//! another (`--from-url`, `--to-url`), planned on the schema model.
//!
//! Between the history and the entities only what an entity can say is
//! planned: tables, columns, primary, unique and foreign keys and indexes.
//! Check constraints, triggers, views, routines, sequences, types and
//! comments that migrations wrote by hand are kept as they are, never
//! dropped because an entity cannot name them.

use crate::model::ddl::{self, Change, Rename};
use crate::model::{ConstraintKind, SchemaModel};

/// What the entities can describe of `model`.
pub fn entity_scope(model: &SchemaModel) -> SchemaModel {
    let mut scoped = SchemaModel {
        schemas: model.schemas.clone(),
        tables: model.tables.clone(),
        ..SchemaModel::default()
    };
    for table in scoped.tables.values_mut() {
        table.comment = None;
        table.triggers.clear();
        table
            .constraints
            .retain(|c| !matches!(c.kind, ConstraintKind::Check | ConstraintKind::Exclusion));
        for column in &mut table.columns {
            column.comment = None;
        }
    }
    scoped
}

/// The plan from the migrations (`history`, replayed) to the entities,
/// within what entities can say; a foreign key from an app schema to another
/// app schema that no entity declares is kept (entities name keys to `core`
/// only).
pub fn history_to_entities(
    history: &SchemaModel,
    entities: &SchemaModel,
    renames: &[Rename],
) -> Vec<Change> {
    let (history, entities) = comparable(history, entities);
    ddl::plan(&history, &entities, renames)
}

/// [`history_to_entities`] and the plan back (what `down` runs), the
/// renames reversed.
pub fn both_ways(
    history: &SchemaModel,
    entities: &SchemaModel,
    renames: &[Rename],
) -> (Vec<Change>, Vec<Change>) {
    let (history, entities) = comparable(history, entities);
    let back: Vec<Rename> = renames
        .iter()
        .rev()
        .map(|rename| match rename {
            Rename::Table { from, to } => Rename::Table {
                from: to.clone(),
                to: from.clone(),
            },
            Rename::Column { table, from, to } => Rename::Column {
                table: renamed_table(table, renames),
                from: to.clone(),
                to: from.clone(),
            },
        })
        .collect();
    (
        ddl::plan(&history, &entities, renames),
        ddl::plan(&entities, &history, &back),
    )
}

/// A table's name after the table renames among `renames`.
fn renamed_table(table: &str, renames: &[Rename]) -> String {
    renames
        .iter()
        .find_map(|rename| match rename {
            Rename::Table { from, to } if from == table => Some(to.clone()),
            _ => None,
        })
        .unwrap_or_else(|| table.to_owned())
}

/// Both models within what entities say, the entities' unique keys in the
/// form the migrations gave them.
fn comparable(history: &SchemaModel, entities: &SchemaModel) -> (SchemaModel, SchemaModel) {
    let mut entities = entity_scope(entities);
    let history = entity_scope(history);
    for (name, table) in &history.tables {
        let own = table.schema().to_owned();
        let Some(target) = entities.tables.get_mut(name) else {
            continue;
        };
        for key in table.constraints.iter().filter(|c| {
            c.kind == ConstraintKind::ForeignKey
                && c.references.as_deref().is_some_and(|to| {
                    let schema = to.split('.').next().unwrap_or_default();
                    schema != own && schema != "core" && schema != "public"
                })
        }) {
            if !target
                .constraints
                .iter()
                .any(|c| c.definition == key.definition)
            {
                target.constraints.push(key.clone());
            }
        }
    }
    for (name, table) in &history.tables {
        if let Some(target) = entities.tables.get_mut(name) {
            adopt_unique_forms(table, target);
        }
    }
    (history, entities)
}

/// The columns a plain unique index covers (no expression, no predicate,
/// no INCLUDE, default order), if it is one.
fn plain_unique_columns(index: &crate::model::Index) -> Option<Vec<String>> {
    let plain = index.unique
        && index.method == "btree"
        && index.predicate.is_none()
        && index.include.is_empty()
        && index.keys.iter().all(|k| {
            k.column.is_some() && k.opclass.is_none() && k.collation.is_none() && !k.descending
        });
    plain.then(|| index.keys.iter().filter_map(|k| k.column.clone()).collect())
}

/// A unique key the entities declare as an index where the migrations made
/// a constraint on the same columns (or the other way round) is the same
/// key: the entity side takes the migrations' form, so nothing is planned.
fn adopt_unique_forms(history: &crate::model::Table, entities: &mut crate::model::Table) {
    let unique_constraint = |t: &crate::model::Table, columns: &[String]| {
        t.constraints
            .iter()
            .find(|c| c.kind == ConstraintKind::Unique && c.columns == columns)
            .cloned()
    };
    let unique_index = |t: &crate::model::Table, columns: &[String]| {
        t.indexes
            .iter()
            .find(|i| !i.backs_constraint && plain_unique_columns(i).as_deref() == Some(columns))
            .cloned()
    };
    let entity_indexes: Vec<crate::model::Index> = entities.indexes.clone();
    for index in entity_indexes.iter().filter(|i| !i.backs_constraint) {
        let Some(columns) = plain_unique_columns(index) else {
            continue;
        };
        if let Some(constraint) = unique_constraint(history, &columns) {
            entities.indexes.retain(|i| i.name != index.name);
            entities.constraints.push(constraint);
            entities.indexes.extend(
                history
                    .indexes
                    .iter()
                    .filter(|i| i.backs_constraint && i.name == index.name)
                    .cloned(),
            );
        }
    }
    let entity_constraints: Vec<crate::model::Constraint> = entities.constraints.clone();
    for constraint in entity_constraints
        .iter()
        .filter(|c| c.kind == ConstraintKind::Unique)
    {
        if unique_constraint(history, &constraint.columns).is_some() {
            continue;
        }
        if let Some(index) = unique_index(history, &constraint.columns) {
            entities.constraints.retain(|c| c.name != constraint.name);
            entities.indexes.retain(|i| i.name != constraint.name);
            entities.indexes.push(index);
        }
    }
}

/// The plan from one database's model to another's, everything included.
pub fn between(from: &SchemaModel, to: &SchemaModel, renames: &[Rename]) -> Vec<Change> {
    ddl::plan(from, to, renames)
}

/// Reads a rename as the command line gives it: `schema.table.column=new`
/// (a column; `new` may be written `schema.table.new` too) or
/// `schema.table=schema.other` (a table, moved when the schema differs).
pub fn parse_rename(text: &str) -> Result<Rename, String> {
    let (from, to) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` has no `=`: write `schema.table.column=new_name` or `schema.table=schema.new_name`"))?;
    let from_parts: Vec<&str> = from.split('.').collect();
    let to_parts: Vec<&str> = to.split('.').collect();
    let named = |parts: &[&str]| parts.iter().all(|p| !p.is_empty());
    match (from_parts.as_slice(), to_parts.as_slice()) {
        ([schema, table, column], [new]) if named(&from_parts) && named(&to_parts) => {
            Ok(Rename::Column {
                table: format!("{schema}.{table}"),
                from: (*column).to_owned(),
                to: (*new).to_owned(),
            })
        }
        ([schema, table, column], [s2, t2, new])
            if named(&from_parts) && named(&to_parts) && s2 == schema && t2 == table =>
        {
            Ok(Rename::Column {
                table: format!("{schema}.{table}"),
                from: (*column).to_owned(),
                to: (*new).to_owned(),
            })
        }
        ([_, _], [_, _]) if named(&from_parts) && named(&to_parts) => Ok(Rename::Table {
            from: from.to_owned(),
            to: to.to_owned(),
        }),
        _ => Err(format!(
            "`{text}` is not a rename: write `schema.table.column=new_name` for a column or \
             `schema.table=schema.new_name` for a table (another schema moves it)"
        )),
    }
}

/// How a rename is written on the command line.
pub fn rename_flag(rename: &Rename) -> String {
    match rename {
        Rename::Column { table, from, to } => format!("--rename {table}.{from}={to}"),
        Rename::Table { from, to } => format!("--rename {from}={to}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renames_read_as_written_and_refuse_the_rest() {
        assert_eq!(
            parse_rename("academy.courses.title=name"),
            Ok(Rename::Column {
                table: "academy.courses".into(),
                from: "title".into(),
                to: "name".into()
            })
        );
        assert_eq!(
            parse_rename("academy.courses=talent.courses"),
            Ok(Rename::Table {
                from: "academy.courses".into(),
                to: "talent.courses".into()
            })
        );
        for bad in [
            "academy.courses.title",
            "title=name",
            "academy..title=name",
            "a.b.c=d.e.f",
        ] {
            assert!(parse_rename(bad).is_err(), "{bad}");
        }
        let rename = parse_rename("academy.courses.title=name").unwrap();
        assert_eq!(
            parse_rename(rename_flag(&rename).trim_start_matches("--rename ")),
            Ok(rename)
        );
    }
}
