//! `cargo xtask migrate dev --name <change>`: the next migration written
//! from the entity changes. The committed history is replayed into one
//! throwaway database and the entities materialised in another; the
//! difference, planned on the schema model (`migrate diff`), becomes one new
//! migration in the crate of the schema it changes most, declaring the
//! others (`// migrate: touches`), with the sum file's line; then it is
//! applied to the local database (unless `--create-only`).
//!
//! Renames are asked, never guessed: a dropped and an added column (or
//! table) that look alike are a question on a terminal, `--rename` answers
//! it in scripts, and without either the command stops and explains.
//! Changes that lose data or fail on rows a table may hold stop with the
//! safe path unless `--allow-destructive`.

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

use migration_runner::connect::{self, ConnectSettings, DatabaseTarget};
use migration_runner::gate::diff::{both_ways, entity_scope, parse_rename, rename_flag};
use migration_runner::model::Column;
use migration_runner::model::ddl::{self, Change, Rename, Risk, What};
use migration_runner::source::catalog::{Catalog, SchemaSource, workspace_sources};
use migration_runner::source::script::Script;
use migration_runner::source::sum::SumEntry;
use migration_runner::{Exit, Runner, RunnerOptions, UpOptions, Workspace};
use sea_orm::sea_query::{Alias, ColumnDef, Expr, PostgresQueryBuilder, Table};
use sea_orm::{ConnectionTrait as _, DbBackend, Statement};

use crate::scaffold;

/// The flags of `migrate dev`.
#[derive(Debug, Clone, clap::Args)]
pub struct DevArgs {
    /// What the change does, in words: the new migration's name (`add webinar notes`).
    #[arg(long)]
    pub name: String,
    /// A rename, answered ahead of the question: `schema.table.column=new_name`
    /// or `schema.table=schema.new_name` (another schema moves it, rows kept).
    #[arg(long, value_name = "FROM=TO", value_parser = parse_rename)]
    pub rename: Vec<Rename>,
    /// Every look-alike is a drop and an add, not a rename: ask nothing.
    #[arg(long)]
    pub no_renames: bool,
    /// Write a change that drops data or may fail on existing rows.
    #[arg(long)]
    pub allow_destructive: bool,
    /// Write the migration and do not apply it.
    #[arg(long)]
    pub create_only: bool,
}

/// Why `dev` wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum DevError {
    #[error(
        "these look like renames, and renames are never guessed:\n{}\n  answer each with the flag shown \
         (or run on a terminal to be asked), or pass `--no-renames` if each is a drop and an add; \
         nothing was written",
        .0.iter().map(|r| format!("  - {}  ({})", describe(r), rename_flag(r))).collect::<Vec<_>>().join("\n")
    )]
    RenameUnanswered(Vec<Rename>),
    #[error(
        "the change is unsafe for a table that may hold rows; nothing was written:\n{}\n  the safe path: \
         expand first (add the new column nullable or with a default, keep the old one), move the data \
         with a backfill (`schema_core::backfill::Backfill`, docs/RUNBOOK.md), then contract in a later \
         migration; or pass `--allow-destructive` if the tables are empty or the loss is intended",
        .0.iter().map(|line| format!("  - {line}")).collect::<Vec<_>>().join("\n")
    )]
    Dangerous(Vec<String>),
    #[error(
        "`--name` is empty: say what the change does, for example `--name \"add webinar notes\"`"
    )]
    EmptyName,
    #[error("{0}")]
    Engine(String),
    #[error("cannot write `{}`: {message}", path.display())]
    File { path: PathBuf, message: String },
}

impl DevError {
    pub fn exit(&self) -> Exit {
        match self {
            DevError::RenameUnanswered(_) | DevError::Dangerous(_) => Exit::Refused,
            DevError::EmptyName => Exit::Usage,
            DevError::Engine(_) | DevError::File { .. } => Exit::Failed,
        }
    }
}

fn describe(rename: &Rename) -> String {
    match rename {
        Rename::Column { table, from, to } => format!("column {table}.{from} renamed to {to}?"),
        Rename::Table { from, to } => format!("table {from} renamed to {to}?"),
    }
}

/// One migration `dev` wrote: its file, name, crate and the SQL it emits
/// both ways, statement by statement.
#[derive(Debug)]
pub struct WrittenMigration {
    pub path: PathBuf,
    pub name: String,
    /// The crate's schema, where the migration was written.
    pub schema: String,
    pub up: Vec<String>,
    pub down: Vec<String>,
    /// Whether `dev` applied it to the local database.
    pub applied: bool,
}

impl WrittenMigration {
    /// The migration as the runner will run it once compiled in: the same
    /// statements, so the same checksum.
    pub fn as_migration(&self) -> Box<dyn sea_orm_migration::MigrationTrait> {
        Box::new(Statements {
            name: self.name.clone(),
            up: self.up.clone(),
            down: self.down.clone(),
        })
    }
}

/// What `dev` did.
#[derive(Debug)]
pub enum Outcome {
    /// The entities describe what the migrations build.
    NothingToWrite,
    Written(WrittenMigration),
    /// A change unsafe for rows a table may hold, split: the expand
    /// migration, the backfills that fill what it added (`backfills`, their
    /// names) and the contract migration that waits for them (`contract`).
    Scaffolded {
        expand: WrittenMigration,
        contract: PathBuf,
        backfills: Vec<String>,
    },
}

impl Outcome {
    /// The migration to apply now: the one written, or the expand.
    fn migration_to_apply(&mut self) -> Option<&mut WrittenMigration> {
        match self {
            Outcome::NothingToWrite => None,
            Outcome::Written(migration)
            | Outcome::Scaffolded {
                expand: migration, ..
            } => Some(migration),
        }
    }
}

/// Runs `migrate dev` against `target` (the local database), writing into
/// the checkout at `workspace`.
pub async fn run(
    args: &DevArgs,
    target: &DatabaseTarget,
    registry: &Workspace,
    workspace: &Path,
) -> Result<Outcome, DevError> {
    let engine = |err: &dyn std::fmt::Display| DevError::Engine(err.to_string());
    if args.name.trim().is_empty() {
        return Err(DevError::EmptyName);
    }
    let catalog = Catalog::workspace(registry).map_err(|e| engine(&e))?;
    let admin = connect::open(target, &ConnectSettings::new("migrate dev"))
        .await
        .map_err(|e| engine(&e))?;
    let models = migration_runner::gate::entity_check::models(
        admin.connection(),
        target,
        workspace_sources(registry),
        (registry.entities)(),
    )
    .await;
    let _ = admin.close().await;
    let (history, entities) = models.map_err(|e| engine(&e))?;

    let mut outcome = write(
        args,
        &history,
        &entities,
        &catalog,
        workspace,
        Questions::Terminal,
    )?;
    if !args.create_only
        && let Some(migration) = outcome.migration_to_apply()
    {
        apply(target, registry, migration).await?;
        migration.applied = true;
    }
    Ok(outcome)
}

/// Whether unanswered look-alikes may be asked, and how.
pub enum Questions<'a> {
    /// On a terminal (stdin and stderr), ask; elsewhere stop and explain.
    Terminal,
    /// Never ask: stop and explain (scripts).
    Never,
    /// Ask this function each question (`true`: yes, it is a rename).
    Answer(&'a mut dyn FnMut(&str) -> bool),
}

/// Plans the migration from `history` to `entities` (both read from
/// databases) and writes it into the checkout at `workspace`: the file, its
/// line in the crate's `mod.rs` and in the sum file. Nothing is applied.
pub fn write(
    args: &DevArgs,
    history: &migration_runner::model::SchemaModel,
    entities: &migration_runner::model::SchemaModel,
    catalog: &Catalog,
    workspace: &Path,
    questions: Questions<'_>,
) -> Result<Outcome, DevError> {
    if args.name.trim().is_empty() {
        return Err(DevError::EmptyName);
    }
    let renames = answer_renames(args, history, entities, questions)?;
    let (up, down) = both_ways(history, entities, &renames);
    if up.is_empty() {
        return Ok(Outcome::NothingToWrite);
    }
    let dangerous: Vec<&Change> = up.iter().filter(|c| c.risk != Risk::Safe).collect();
    if !dangerous.is_empty() && !args.allow_destructive {
        let steps: Vec<Unsafe> = dangerous.iter().filter_map(|c| unsafe_step(c)).collect();
        if steps.len() < dangerous.len() {
            return Err(DevError::Dangerous(
                dangerous
                    .iter()
                    .map(|c| match &c.risk {
                        Risk::Destroys(why) | Risk::NeedsBackfill(why) => why.clone(),
                        Risk::Safe => String::new(),
                    })
                    .collect(),
            ));
        }
        return scaffold_contract(
            args, history, entities, &renames, &steps, catalog, workspace,
        );
    }
    write_changes(&args.name, &up, &down, catalog, workspace).map(Outcome::Written)
}

/// Writes `up` (and `down`) as one migration named from `description` in
/// the crate of the schema it changes most, declaring the others: the file
/// (rustfmt-clean), its line in the crate's `mod.rs` and in the sum file.
fn write_changes(
    description: &str,
    up: &[Change],
    down: &[Change],
    catalog: &Catalog,
    workspace: &Path,
) -> Result<WrittenMigration, DevError> {
    let schema = main_schema(up, catalog);
    let touches: Vec<String> = up
        .iter()
        .map(|c| c.schema.clone())
        .filter(|s| *s != schema)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let up_steps: Vec<Step> = up.iter().map(step).collect();
    let down_steps: Vec<Step> = down.iter().map(step).collect();
    let mut source = render(description, &touches, &up_steps, &down_steps);
    if up.iter().any(|c| matches!(c.what, What::Retype { .. })) {
        // Only a widening the server does without rewriting gets here safe.
        source = source.replacen(
            "\nuse sea_orm_migration",
            "// lint: allow changing-column-type -- a longer varchar, or text from varchar: PostgreSQL changes the type without rewriting the table\n\nuse sea_orm_migration",
            1,
        );
    }
    let up: Vec<String> = up_steps.into_iter().map(|s| s.sql).collect();
    let down: Vec<String> = down_steps.into_iter().map(|s| s.sql).collect();
    let (path, name) = write_file(catalog, workspace, &schema, description, &source, &up)?;
    Ok(WrittenMigration {
        path,
        name,
        schema,
        up,
        down,
        applied: false,
    })
}

/// Writes one migration file (registered, rustfmt-clean) and its sum-file
/// line, for SQL `up` emits; returns its path and name.
fn write_file(
    catalog: &Catalog,
    workspace: &Path,
    schema: &str,
    description: &str,
    source: &str,
    up: &[String],
) -> Result<(PathBuf, String), DevError> {
    let path = scaffold::write_migration(catalog, workspace, schema, description, source)
        .map_err(|e| DevError::Engine(e.to_string()))?;
    let name = path
        .file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    rustfmt(&path);
    let script = Script {
        statements: up
            .iter()
            .map(|sql| Statement::from_string(DbBackend::Postgres, sql.clone()))
            .collect(),
    };
    crate::sum_file::add(workspace, [SumEntry::of(&name, schema, &script)])
        .map_err(|e| DevError::Engine(e.to_string()))?;
    Ok((path, name))
}

/// What makes a change unsafe for rows a table may hold, when the expand,
/// backfill, contract path can take it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Unsafe {
    NotNull {
        table: String,
        column: String,
    },
    DropColumn {
        table: String,
        column: String,
    },
    DropTable {
        table: String,
    },
    Retype {
        table: String,
        column: String,
        to: String,
    },
}

fn unsafe_step(change: &Change) -> Option<Unsafe> {
    match &change.what {
        What::SetNotNull { table, column } => Some(Unsafe::NotNull {
            table: table.clone(),
            column: column.clone(),
        }),
        What::AddColumn { table, column } if matches!(change.risk, Risk::NeedsBackfill(_)) => {
            Some(Unsafe::NotNull {
                table: table.clone(),
                column: column.name.clone(),
            })
        }
        What::DropColumn { table, column } => Some(Unsafe::DropColumn {
            table: table.clone(),
            column: column.clone(),
        }),
        What::DropTable { table } => Some(Unsafe::DropTable {
            table: table.clone(),
        }),
        What::Retype { table, column, to } if change.risk != Risk::Safe => Some(Unsafe::Retype {
            table: table.clone(),
            column: column.clone(),
            to: to.clone(),
        }),
        _ => None,
    }
}

/// Expand, backfill, contract. The expand migration writes the change
/// with nothing lost or refused: a column made NOT NULL stays nullable, a
/// dropped column or table stays, a column whose type narrows gets a
/// `<column>_new` of the new type beside it. A backfill per column that
/// needs filling is scaffolded in the crate's `backfills.rs` (a narrowed
/// column's copies the converted value; a NOT NULL column's value is left
/// for the developer to write, and until then it fills nothing). The
/// contract migration, after it, finishes the change: `NOT NULL` with a
/// `NOT VALID` check validated first, the drops, the new column renamed
/// over the old, once the backfills finished (`migrate up` waits).
fn scaffold_contract(
    args: &DevArgs,
    history: &migration_runner::model::SchemaModel,
    entities: &migration_runner::model::SchemaModel,
    renames: &[Rename],
    steps: &[Unsafe],
    catalog: &Catalog,
    workspace: &Path,
) -> Result<Outcome, DevError> {
    let mut expanded = entities.clone();
    for unsafe_step in steps {
        match unsafe_step {
            Unsafe::NotNull { table, column } => {
                if let Some(found) = expanded
                    .tables
                    .get_mut(table)
                    .and_then(|t| t.columns.iter_mut().find(|c| &c.name == column))
                {
                    found.not_null = false;
                }
            }
            Unsafe::DropColumn { table, column } => {
                let old = history
                    .tables
                    .get(table)
                    .and_then(|t| t.column(column))
                    .cloned();
                if let (Some(old), Some(target)) = (old, expanded.tables.get_mut(table)) {
                    target.columns.push(old);
                }
            }
            Unsafe::DropTable { table } => {
                if let Some(old) = history.tables.get(table) {
                    expanded.tables.insert(table.clone(), old.clone());
                }
            }
            Unsafe::Retype { table, column, to } => {
                let old = history
                    .tables
                    .get(table)
                    .and_then(|t| t.column(column))
                    .cloned();
                if let (Some(old), Some(target)) = (old, expanded.tables.get_mut(table))
                    && let Some(at) = target.columns.iter().position(|c| &c.name == column)
                {
                    target.columns[at] = old;
                    target.columns.push(Column {
                        name: format!("{column}_new"),
                        data_type: to.clone(),
                        not_null: false,
                        default: None,
                        identity: None,
                        generated: None,
                        collation: None,
                        comment: None,
                    });
                }
            }
        }
    }
    let (up, down) = both_ways(history, &expanded, renames);
    let expand = write_changes(&args.name, &up, &down, catalog, workspace)?;
    let schema = expand.schema.clone();

    // The contract, outside a transaction: one short lock per statement.
    let not_null = |table: &str, column: &str| -> Vec<String> {
        let check = format!(
            "{}_{column}_not_null",
            table.split('.').nth(1).unwrap_or(table)
        );
        let (table_sql, column_sql, check_sql) = (
            ddl::qualified(table),
            ddl::ident(column),
            ddl::ident(&check),
        );
        vec![
            format!("ALTER TABLE {table_sql} DROP CONSTRAINT IF EXISTS {check_sql}"),
            format!(
                "ALTER TABLE {table_sql} ADD CONSTRAINT {check_sql} CHECK ({column_sql} IS NOT NULL) NOT VALID"
            ),
            format!("ALTER TABLE {table_sql} VALIDATE CONSTRAINT {check_sql}"),
            format!("ALTER TABLE {table_sql} ALTER COLUMN {column_sql} SET NOT NULL"),
            format!("ALTER TABLE {table_sql} DROP CONSTRAINT {check_sql}"),
        ]
    };
    let mut contract_up = Vec::new();
    let mut fills: Vec<(String, String, Option<String>)> = Vec::new();
    for unsafe_step in steps {
        match unsafe_step {
            Unsafe::NotNull { table, column } => {
                contract_up.extend(not_null(table, column));
                fills.push((table.clone(), column.clone(), None));
            }
            Unsafe::DropColumn { table, column } => contract_up.push(format!(
                "ALTER TABLE {} DROP COLUMN {}",
                ddl::qualified(table),
                ddl::ident(column)
            )),
            Unsafe::DropTable { table } => {
                contract_up.push(format!("DROP TABLE {}", ddl::qualified(table)));
            }
            Unsafe::Retype { table, column, to } => {
                let new = format!("{column}_new");
                contract_up.push(format!(
                    "ALTER TABLE {} DROP COLUMN {}",
                    ddl::qualified(table),
                    ddl::ident(column)
                ));
                contract_up.push(format!(
                    "ALTER TABLE {} RENAME COLUMN {} TO {}",
                    ddl::qualified(table),
                    ddl::ident(&new),
                    ddl::ident(column)
                ));
                let wanted = entities.tables.get(table).and_then(|t| t.column(column));
                if let Some(default) = wanted.and_then(|c| c.default.as_ref()) {
                    contract_up.push(format!(
                        "ALTER TABLE {} ALTER COLUMN {} SET DEFAULT {}",
                        ddl::qualified(table),
                        ddl::ident(column),
                        ddl::plain_default(default, to)
                    ));
                }
                if wanted.is_some_and(|c| c.not_null) {
                    contract_up.extend(not_null(table, column));
                }
                fills.push((
                    table.clone(),
                    new.clone(),
                    Some(format!("{}::{to}", ddl::ident(column))),
                ));
            }
        }
    }
    let (_, contract_down_changes) = both_ways(&expanded, entities, &[]);
    let contract_down: Vec<String> = contract_down_changes
        .iter()
        .map(|c| c.sql.clone())
        .collect();
    let contract_description = format!("{} contract", args.name.trim());
    let contract_source =
        render_contract(&contract_description, steps, &contract_up, &contract_down);
    let (contract, contract_name) = write_file(
        catalog,
        workspace,
        &schema,
        &contract_description,
        &contract_source,
        &contract_up,
    )?;

    let crate_dir = catalog.crate_dir(&schema).unwrap_or(&schema).to_owned();
    let mut backfills = Vec::new();
    for (table, column, value) in &fills {
        let key = entities
            .tables
            .get(table)
            .and_then(|t| t.column(t.primary_key()?.columns.first()?))
            .map(|c| (c.name.clone(), c.data_type.clone()))
            .unwrap_or_else(|| ("id".to_owned(), "uuid".to_owned()));
        backfills.push(add_backfill(
            workspace,
            &crate_dir,
            table,
            column,
            value.as_deref(),
            &key,
            &contract_name,
        )?);
    }
    Ok(Outcome::Scaffolded {
        expand,
        contract,
        backfills,
    })
}

fn render_contract(description: &str, steps: &[Unsafe], up: &[String], down: &[String]) -> String {
    let list = |statements: &[String]| {
        statements
            .iter()
            .map(|sql| format!("    {},", raw_string(sql)))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let named: Vec<String> = steps
        .iter()
        .map(|step| match step {
            Unsafe::NotNull { table, column } => format!("makes `{table}.{column}` NOT NULL"),
            Unsafe::DropColumn { table, column } => format!("drops `{table}.{column}`"),
            Unsafe::DropTable { table } => format!("drops `{table}`"),
            Unsafe::Retype { table, column, to } => {
                format!("gives `{table}.{column}` the type {to} (from `{column}_new`)")
            }
        })
        .collect();
    let drops = steps.iter().any(|s| {
        matches!(
            s,
            Unsafe::DropColumn { .. } | Unsafe::DropTable { .. } | Unsafe::Retype { .. }
        )
    });
    let allow = if drops {
        "// lint: allow ban-drop-column, ban-drop-table, renaming-column -- the contract step `migrate dev` wrote: ship the code that no longer reads what it drops or renames first\n"
    } else {
        ""
    };
    format!(
        "//! {description}\n//!\n//! {}, once the expand migration's backfills finished\n//! (`migrate up` refuses this migration until then).\n//!\n//! Written by `cargo xtask migrate dev`. Outside a transaction, one short\n//! lock per statement: a NOT VALID check is validated while readers and\n//! writers go on, and lets `SET NOT NULL` skip its own scan.\n{allow}\nuse sea_orm_migration::prelude::*;\n\n#[derive(DeriveMigrationName)]\npub struct Migration;\n\nconst UP: [&str; {}] = [\n{}\n];\n\nconst DOWN: [&str; {}] = [\n{}\n];\n\n#[async_trait::async_trait]\nimpl MigrationTrait for Migration {{\nasync fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {{\nfor sql in UP {{\nmanager.get_connection().execute_unprepared(sql).await?;\n}}\nOk(())\n}}\n\nasync fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {{\nfor sql in DOWN {{\nmanager.get_connection().execute_unprepared(sql).await?;\n}}\nOk(())\n}}\n\nfn use_transaction(&self) -> Option<bool> {{\nSome(false)\n}}\n}}\n",
        named.join("; "),
        up.len(),
        list(up),
        down.len(),
        list(down)
    )
}

/// Adds a backfill for `table.column` to the crate's `backfills.rs` (made,
/// and wired into its `lib.rs`, when the crate has none yet); returns its name.
fn add_backfill(
    workspace: &Path,
    crate_dir: &str,
    table: &str,
    column: &str,
    value: Option<&str>,
    (key, key_type): &(String, String),
    contract: &str,
) -> Result<String, DevError> {
    let src = workspace.join(crate_dir).join("src");
    let file = src.join("backfills.rs");
    let lib = src.join("lib.rs");
    let file_error = |path: &Path, message: String| DevError::File {
        path: path.to_owned(),
        message,
    };
    let name = format!("{}_{column}", table.replace('.', "_"));
    let type_name: String = name
        .split('_')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars
                .next()
                .map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
        })
        .collect();
    let mut text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(_) => {
            let lib_text =
                std::fs::read_to_string(&lib).map_err(|e| file_error(&lib, e.to_string()))?;
            let wired = "pub use schema_core::backfill::no_backfills as backfills;";
            if !lib_text.contains(wired) {
                return Err(file_error(
                    &lib,
                    format!("expected `{wired}` to replace with the crate's own backfills"),
                ));
            }
            std::fs::write(
                &lib,
                lib_text.replace(wired, "pub mod backfills;\npub use backfills::backfills;"),
            )
            .map_err(|e| file_error(&lib, e.to_string()))?;
            "//! This schema's backfills: data changes run after deploy, in batches, by\n//! `migration-runner backfill run <name>` (see the README's Backfills section).\n\nuse schema_core::backfill::Backfill;\n\n/// This crate's backfills, for the registry.\npub fn backfills() -> Vec<Box<dyn Backfill>> {\n    vec![]\n}\n".to_owned()
        }
    };
    let registered = text.find("vec![").ok_or_else(|| {
        file_error(
            &file,
            "no `vec![` in `pub fn backfills()` to register the backfill in".to_owned(),
        )
    })?;
    text.insert_str(
        registered + "vec![".len(),
        &format!("Box::new({type_name}), "),
    );
    let table_sql = ddl::qualified(table);
    let column_sql = ddl::ident(column);
    let key_sql = ddl::ident(key);
    let (value_sql, value_doc) = match value {
        Some(value) => (value.to_owned(), "copies the old column's value, converted".to_owned()),
        None => (
            "NULL".to_owned(),
            "write the value in `batch_sql` (it sets NULL until you do, so nothing\n/// is filled and the contract waits)".to_owned(),
        ),
    };
    text.push_str(&format!(
        "\n/// Fills `{table}.{column}` for rows written before it was required, so\n/// `{contract}` can finish the change. Written by `migrate dev`: it\n/// {value_doc}.\npub struct {type_name};\n\nimpl Backfill for {type_name} {{\n    fn name(&self) -> &'static str {{\n        {name:?}\n    }}\n\n    fn description(&self) -> &'static str {{\n        \"fills {table}.{column} for rows written before it was required\"\n    }}\n\n    fn table(&self) -> &'static str {{\n        {table:?}\n    }}\n\n    fn key(&self) -> &'static str {{\n        {key:?}\n    }}\n\n    fn batch_sql(&self) -> &'static str {{\n        \"UPDATE {table_sql} SET {column_sql} = {value_sql} WHERE {key_sql} BETWEEN $1::{key_type} AND $2::{key_type} AND {column_sql} IS NULL\"\n    }}\n\n    fn has_work_sql(&self) -> &'static str {{\n        \"SELECT EXISTS (SELECT 1 FROM {table_sql} WHERE {column_sql} IS NULL)\"\n    }}\n\n    fn required_by(&self) -> &'static [&'static str] {{\n        &[{contract:?}]\n    }}\n}}\n"
    ));
    std::fs::write(&file, text).map_err(|e| file_error(&file, e.to_string()))?;
    rustfmt(&file);
    Ok(name)
}

/// Every look-alike answered: by a flag, on a terminal, or `--no-renames`.
fn answer_renames(
    args: &DevArgs,
    history: &migration_runner::model::SchemaModel,
    entities: &migration_runner::model::SchemaModel,
    questions: Questions<'_>,
) -> Result<Vec<Rename>, DevError> {
    let mut renames = args.rename.clone();
    if args.no_renames {
        return Ok(renames);
    }
    let answered = |candidate: &Rename, renames: &[Rename]| {
        renames.iter().any(|r| match (r, candidate) {
            (
                Rename::Column { table, from, .. },
                Rename::Column {
                    table: t, from: f, ..
                },
            ) => table == t && from == f,
            (Rename::Table { from, .. }, Rename::Table { from: f, .. }) => from == f,
            _ => false,
        })
    };
    let candidates: Vec<Rename> =
        ddl::rename_candidates(&entity_scope(history), &entity_scope(entities))
            .into_iter()
            .filter(|c| !answered(c, &renames))
            .collect();
    if candidates.is_empty() {
        return Ok(renames);
    }
    let mut on_terminal = |question: &str| {
        eprint!("{question} [y/N] ");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
        matches!(line.trim(), "y" | "Y" | "yes")
    };
    let ask: &mut dyn FnMut(&str) -> bool = match questions {
        Questions::Answer(answer) => answer,
        Questions::Terminal
            if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() =>
        {
            &mut on_terminal
        }
        Questions::Terminal | Questions::Never => {
            return Err(DevError::RenameUnanswered(candidates));
        }
    };
    for candidate in candidates {
        // A column of a table already renamed, or a second guess for one
        // already answered, is not asked again.
        if answered(&candidate, &renames) {
            continue;
        }
        if ask(&describe(&candidate)) {
            renames.push(candidate);
        }
    }
    Ok(renames)
}

/// The schema most statements change (the first in global order on a tie).
fn main_schema(changes: &[Change], catalog: &Catalog) -> String {
    let count = |schema: &str| changes.iter().filter(|c| c.schema == schema).count();
    catalog
        .schemas()
        .iter()
        .max_by_key(|schema| {
            (
                count(schema),
                std::cmp::Reverse(catalog.schemas().iter().position(|s| s == *schema)),
            )
        })
        .map_or_else(|| changes[0].schema.clone(), |s| (*s).to_owned())
}

/// One statement of the migration: its Rust, and the SQL it emits (what
/// history's checksum and the sum file cover).
struct Step {
    rust: String,
    sql: String,
}

fn table_ref(table: &str) -> (String, (Alias, Alias)) {
    let (schema, name) = table.split_once('.').unwrap_or(("public", table));
    (
        format!("(Alias::new({schema:?}), Alias::new({name:?}))"),
        (Alias::new(schema), Alias::new(name)),
    )
}

/// A column type the schema builder says, as code and as a call.
/// A builder call that sets a column's type.
type SetType = fn(&mut ColumnDef) -> &mut ColumnDef;

fn column_type(data_type: &str) -> Option<(String, SetType)> {
    let simple: &[(&str, &str, SetType)] = &[
        ("text", "text()", ColumnDef::text),
        ("uuid", "uuid()", ColumnDef::uuid),
        ("integer", "integer()", ColumnDef::integer),
        ("bigint", "big_integer()", ColumnDef::big_integer),
        ("smallint", "small_integer()", ColumnDef::small_integer),
        ("boolean", "boolean()", ColumnDef::boolean),
        ("date", "date()", ColumnDef::date),
        ("jsonb", "json_binary()", ColumnDef::json_binary),
        ("double precision", "double()", ColumnDef::double),
        (
            "timestamp with time zone",
            "timestamp_with_time_zone()",
            ColumnDef::timestamp_with_time_zone,
        ),
    ];
    simple
        .iter()
        .find(|(name, _, _)| *name == data_type)
        .map(|(_, code, call)| ((*code).to_owned(), *call))
}

fn add_column(table: &str, column: &Column) -> Option<Step> {
    if column.identity.is_some() || column.generated.is_some() || column.collation.is_some() {
        return None;
    }
    let (code_type, set_type) = column_type(&column.data_type)?;
    let (table_code, table_iden) = table_ref(table);
    let mut definition = ColumnDef::new(Alias::new(&column.name));
    set_type(&mut definition);
    let mut code = format!("ColumnDef::new(Alias::new({:?})).{code_type}", column.name);
    if column.not_null {
        definition.not_null();
        code.push_str(".not_null()");
    }
    if let Some(default) = &column.default {
        let default = ddl::plain_default(default, &column.data_type);
        // A literal goes in as a value (`DEFAULT 'x'`, `DEFAULT 60`); anything
        // else as an expression, which the builder wraps in parentheses.
        let text = default
            .strip_prefix('\'')
            .and_then(|d| d.strip_suffix('\''))
            .filter(|d| !d.contains('\''));
        if let Some(text) = text {
            definition.default(text.to_owned());
            code.push_str(&format!(".default({text:?})"));
        } else if let Ok(number) = default.parse::<i64>() {
            definition.default(number);
            code.push_str(&format!(".default({number})"));
        } else if let Ok(flag) = default.parse::<bool>() {
            definition.default(flag);
            code.push_str(&format!(".default({flag})"));
        } else {
            definition.default(Expr::cust(default.clone()));
            code.push_str(&format!(".default(Expr::cust({default:?}))"));
        }
    }
    let sql = Table::alter()
        .table(table_iden)
        .add_column(&mut definition)
        .to_owned()
        .to_string(PostgresQueryBuilder);
    Some(Step {
        rust: format!(
            "manager\n.alter_table(\nTable::alter()\n.table({table_code})\n.add_column({code})\n.to_owned(),\n)\n.await?;"
        ),
        sql,
    })
}

fn step(change: &Change) -> Step {
    let built = match &change.what {
        What::AddColumn { table, column } => add_column(table, column),
        What::DropColumn { table, column } => {
            let (table_code, table_iden) = table_ref(table);
            Some(Step {
                rust: format!(
                    "manager\n.alter_table(\nTable::alter()\n.table({table_code})\n.drop_column(Alias::new({column:?}))\n.to_owned(),\n)\n.await?;"
                ),
                sql: Table::alter()
                    .table(table_iden)
                    .drop_column(Alias::new(column))
                    .to_owned()
                    .to_string(PostgresQueryBuilder),
            })
        }
        What::RenameColumn { table, from, to } => {
            let (table_code, table_iden) = table_ref(table);
            Some(Step {
                rust: format!(
                    "manager\n.alter_table(\nTable::alter()\n.table({table_code})\n.rename_column(Alias::new({from:?}), Alias::new({to:?}))\n.to_owned(),\n)\n.await?;"
                ),
                sql: Table::alter()
                    .table(table_iden)
                    .rename_column(Alias::new(from), Alias::new(to))
                    .to_owned()
                    .to_string(PostgresQueryBuilder),
            })
        }
        What::DropTable { table } => {
            let (table_code, table_iden) = table_ref(table);
            Some(Step {
                rust: format!(
                    "manager\n.drop_table(Table::drop().table({table_code}).to_owned())\n.await?;"
                ),
                sql: Table::drop()
                    .table(table_iden)
                    .to_owned()
                    .to_string(PostgresQueryBuilder),
            })
        }
        What::RenameTable { .. } | What::SetNotNull { .. } | What::Retype { .. } | What::Other => {
            None
        }
    };
    built.unwrap_or_else(|| Step {
        rust: format!(
            "// The schema builder cannot say this; the SQL as PostgreSQL takes it.\nmanager\n.get_connection()\n.execute_unprepared({})\n.await?;",
            raw_string(&change.sql)
        ),
        sql: change.sql.clone(),
    })
}

/// `sql` as a Rust raw string literal.
fn raw_string(sql: &str) -> String {
    let mut hashes = String::from("#");
    while sql.contains(&format!("\"{hashes}")) {
        hashes.push('#');
    }
    format!("r{hashes}\"{sql}\"{hashes}")
}

fn render(description: &str, touches: &[String], up: &[Step], down: &[Step]) -> String {
    let body = |steps: &[Step]| {
        steps
            .iter()
            .map(|s| s.rust.clone())
            .collect::<Vec<_>>()
            .join("\n\n")
    };
    let touches = if touches.is_empty() {
        String::new()
    } else {
        format!("// migrate: touches {}\n", touches.join(", "))
    };
    format!(
        "//! {description}\n//!\n//! Written by `cargo xtask migrate dev` from the entities; review it like any\n//! migration.\n{touches}\nuse sea_orm_migration::prelude::*;\n\n#[derive(DeriveMigrationName)]\npub struct Migration;\n\n#[async_trait::async_trait]\nimpl MigrationTrait for Migration {{\nasync fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {{\n{}\nOk(())\n}}\n\nasync fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {{\n{}\nOk(())\n}}\n}}\n",
        body(up),
        body(down)
    )
}

/// Formats the written file with rustfmt when the toolchain has it.
fn rustfmt(path: &Path) {
    let _ = std::process::Command::new("rustfmt")
        .args(["--edition", "2024"])
        .arg(path)
        .status();
}

/// A written migration before it is compiled in: its statements, run
/// as the compiled one runs them.
struct Statements {
    name: String,
    up: Vec<String>,
    down: Vec<String>,
}

impl sea_orm_migration::MigrationName for Statements {
    fn name(&self) -> &str {
        &self.name
    }
}

// `#[async_trait]` needs `&SchemaManager` spelled exactly as the trait does.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl sea_orm_migration::MigrationTrait for Statements {
    async fn up(&self, manager: &sea_orm_migration::SchemaManager) -> Result<(), sea_orm::DbErr> {
        for sql in &self.up {
            manager.get_connection().execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &sea_orm_migration::SchemaManager) -> Result<(), sea_orm::DbErr> {
        for sql in &self.down {
            manager.get_connection().execute_unprepared(sql).await?;
        }
        Ok(())
    }
}

/// Applies the written migration to `target` (before it is compiled in, as
/// the same statements), after every migration of the workspace.
pub async fn apply(
    target: &DatabaseTarget,
    registry: &Workspace,
    migration: &WrittenMigration,
) -> Result<(), DevError> {
    let engine = |err: &dyn std::fmt::Display| DevError::Engine(err.to_string());
    let mut sources: Vec<SchemaSource> = workspace_sources(registry);
    if let Some(source) = sources.iter_mut().find(|s| s.schema == migration.schema) {
        source.migrations.push(migration.as_migration());
    }
    let catalog = Catalog::new(sources).map_err(|e| engine(&e))?;
    let session = connect::open(target, &ConnectSettings::new("migrate dev"))
        .await
        .map_err(|e| engine(&e))?;
    let runner = Runner::new(session, catalog, RunnerOptions::default())
        .await
        .map_err(|e| engine(&e))?;
    let outcome = runner
        .up(&UpOptions::default())
        .await
        .map_err(|e| engine(&e));
    runner.close().await;
    outcome.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, data_type: &str, not_null: bool, default: Option<&str>) -> Column {
        Column {
            name: name.to_owned(),
            data_type: data_type.to_owned(),
            not_null,
            default: default.map(str::to_owned),
            identity: None,
            generated: None,
            collation: None,
            comment: None,
        }
    }

    fn change(what: What, sql: &str) -> Change {
        Change {
            sql: sql.to_owned(),
            what,
            schema: "academy".to_owned(),
            risk: Risk::Safe,
            table: None,
        }
    }

    /// rustfmt's rendering of `source`, as `dev` leaves the file.
    fn formatted(source: &str) -> String {
        let mut child = std::process::Command::new("rustfmt")
            .args(["--edition", "2024", "--emit", "stdout"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("rustfmt runs");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(source.as_bytes())
            .expect("written");
        let output = child.wait_with_output().expect("rustfmt finishes");
        assert!(
            output.status.success(),
            "rustfmt refused the generated code:\n{source}"
        );
        String::from_utf8(output.stdout).expect("utf-8")
    }

    /// The generated text equals the golden file, which `lib.rs` compiles
    /// (so clippy `--all-targets` holds generated code to the lints);
    /// `UPDATE_GOLDEN=1` rewrites it.
    fn same_as_golden(generated: &str, file: &str) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden")
            .join(file);
        if std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1") {
            std::fs::write(&path, generated).expect("golden written");
            return;
        }
        let golden = std::fs::read_to_string(&path).expect("the golden file");
        assert_eq!(
            generated,
            golden,
            "{}: `UPDATE_GOLDEN=1` rewrites it, and the diff is the review",
            path.display()
        );
    }

    #[test]
    fn a_generated_migration_is_the_golden_one() {
        let up = [
            change(
                What::AddColumn {
                    table: "academy.courses".into(),
                    column: column("level", "text", true, Some("'intro'::text")),
                },
                "",
            ),
            change(
                What::AddColumn {
                    table: "academy.webinars".into(),
                    column: column("seats", "integer", true, Some("50")),
                },
                "",
            ),
            change(
                What::RenameColumn {
                    table: "academy.webinars".into(),
                    from: "title".into(),
                    to: "headline".into(),
                },
                "",
            ),
            change(
                What::Other,
                "CREATE INDEX courses_level_idx ON academy.courses USING btree (level)",
            ),
        ];
        let down = [
            change(What::Other, "DROP INDEX academy.courses_level_idx"),
            change(
                What::RenameColumn {
                    table: "academy.webinars".into(),
                    from: "headline".into(),
                    to: "title".into(),
                },
                "",
            ),
            change(
                What::DropColumn {
                    table: "academy.webinars".into(),
                    column: "seats".into(),
                },
                "",
            ),
            change(
                What::DropColumn {
                    table: "academy.courses".into(),
                    column: "level".into(),
                },
                "",
            ),
        ];
        let up: Vec<Step> = up.iter().map(step).collect();
        let down: Vec<Step> = down.iter().map(step).collect();
        assert_eq!(
            up[0].sql,
            "ALTER TABLE \"academy\".\"courses\" ADD COLUMN \"level\" text NOT NULL DEFAULT 'intro'"
        );
        let source = render("add course levels", &["core".to_owned()], &up, &down);
        same_as_golden(&formatted(&source), "dev_migration.rs");
        assert_eq!(
            sea_orm_migration::MigrationName::name(&crate::golden_dev_migration::Migration),
            "dev_migration"
        );
    }

    #[test]
    fn a_generated_contract_is_the_golden_one() {
        let steps = [
            Unsafe::NotNull {
                table: "academy.courses".into(),
                column: "code".into(),
            },
            Unsafe::DropColumn {
                table: "academy.webinars".into(),
                column: "capacity".into(),
            },
        ];
        let up = [
            "ALTER TABLE academy.courses ALTER COLUMN code SET NOT NULL".to_owned(),
            "ALTER TABLE academy.webinars DROP COLUMN capacity".to_owned(),
        ];
        let down = [
            "ALTER TABLE academy.webinars ADD COLUMN capacity integer".to_owned(),
            "ALTER TABLE academy.courses ALTER COLUMN code DROP NOT NULL".to_owned(),
        ];
        let source = render_contract("add course codes contract", &steps, &up, &down);
        same_as_golden(&formatted(&source), "dev_contract.rs");
        assert_eq!(
            sea_orm_migration::MigrationName::name(&crate::golden_dev_contract::Migration),
            "dev_contract"
        );
    }
}
