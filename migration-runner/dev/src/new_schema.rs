//! `cargo xtask schema new <name>`: writes a new schema crate (manifest,
//! `lib.rs` with its doc, the migration that creates the schema, empty
//! entities and seeds) and registers it in the workspace manifest and the
//! registry crate (its manifest and its one list), so the workspace builds,
//! migrates and seeds with no hand edit; the engine's manifest is never
//! touched. Everything it writes is `cargo fmt`-clean.

use std::fs;
use std::path::{Path, PathBuf};

use chrono::Utc;

use crate::scaffold::ScaffoldError;

/// Names PostgreSQL or this workspace already uses.
const RESERVED: &[&str] = &[
    "public",
    "information_schema",
    "core",
    "migration",
    "seeder",
    "xtask",
    "target",
    "docs",
];

/// What was written.
#[derive(Debug, Clone)]
pub struct NewSchema {
    pub crate_dir: PathBuf,
    pub migration: String,
    pub edited: Vec<PathBuf>,
}

/// Refuses names that are not plain lowercase identifiers or already taken.
pub fn validate_name(workspace: &Path, name: &str) -> Result<(), ScaffoldError> {
    let plain = name.len() <= 40
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    let invalid = |message: String| ScaffoldError::File {
        path: workspace.join(name),
        message,
    };
    if !plain {
        return Err(invalid(format!(
            "`{name}` is not a valid schema name: use lowercase letters, digits and `_`, starting with a letter \
             (at most 40 characters)"
        )));
    }
    if RESERVED.contains(&name) || name.starts_with("pg_") {
        return Err(invalid(format!(
            "`{name}` is reserved; pick another schema name"
        )));
    }
    if workspace.join(name).exists() {
        return Err(invalid(format!(
            "`{name}/` already exists in the workspace; pick another schema name"
        )));
    }
    Ok(())
}

/// Writes and registers the crate for schema `name` in `workspace`, and adds
/// its first migration to the sum file.
pub async fn new_schema(
    workspace: &Path,
    name: &str,
    owners: &[String],
) -> Result<NewSchema, ScaffoldError> {
    validate_name(workspace, name)?;
    if owners.is_empty() {
        return Err(ScaffoldError::File {
            path: workspace.join(name).join("Cargo.toml"),
            message: "a schema needs an owning team: pass `--owner @org/team` (CODEOWNERS asks that team to review its changes)".to_owned(),
        });
    }
    let io = |path: &Path| {
        let path = path.to_owned();
        move |err: std::io::Error| ScaffoldError::File {
            path,
            message: err.to_string(),
        }
    };
    // Edit the registrations in memory first: if one cannot be edited,
    // nothing is written.
    let workspace_manifest = workspace.join("Cargo.toml");
    let registry_manifest = workspace.join("migration-runner/registry/Cargo.toml");
    let registry = workspace.join("migration-runner/registry/src/lib.rs");
    let edits = [
        (
            workspace_manifest.clone(),
            register_in_workspace(
                &fs::read_to_string(&workspace_manifest).map_err(io(&workspace_manifest))?,
                name,
            ),
        ),
        (
            registry_manifest.clone(),
            register_in_registry_manifest(
                &fs::read_to_string(&registry_manifest).map_err(io(&registry_manifest))?,
                name,
            ),
        ),
        (
            registry.clone(),
            register_in_registry(&fs::read_to_string(&registry).map_err(io(&registry))?, name),
        ),
    ];
    let mut edited = Vec::new();
    let mut contents = Vec::new();
    for (path, edit) in edits {
        let text = edit.map_err(|message| ScaffoldError::File {
            path: path.clone(),
            message,
        })?;
        contents.push((path.clone(), text));
        edited.push(path);
    }

    let stamp = Utc::now().format("%Y%m%d_%H%M%S");
    let migration = format!("m{stamp}_{name}_create_schema");
    let dir = workspace.join(name);
    let files = [
        (dir.join("Cargo.toml"), manifest(name, owners)),
        (dir.join("src/lib.rs"), lib_rs(name)),
        (dir.join("src/entities/mod.rs"), entities_rs(name)),
        (dir.join("src/seeds.rs"), seeds_rs(name)),
        (
            dir.join("src/migrations/mod.rs"),
            migrations_mod_rs(name, &migration),
        ),
        (
            dir.join(format!("src/migrations/{migration}.rs")),
            create_schema_rs(name),
        ),
    ];
    for (path, text) in &files {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(io(parent))?;
        }
        fs::write(path, text).map_err(io(path))?;
    }
    for (path, text) in contents {
        fs::write(&path, text).map_err(io(&path))?;
    }
    crate::sum_file::add_created_schema(workspace, name, &migration)
        .await
        .map_err(|err| ScaffoldError::File {
            path: workspace.join(migration_runner::source::sum::PATH),
            message: err.to_string(),
        })?;
    edited.push(workspace.join(migration_runner::source::sum::PATH));
    Ok(NewSchema {
        crate_dir: dir,
        migration,
        edited,
    })
}

fn package(name: &str) -> String {
    format!("schema-{}", name.replace('_', "-"))
}

fn register_in_workspace(manifest: &str, name: &str) -> Result<String, String> {
    let package = package(name);
    let mut out = String::with_capacity(manifest.len() + 128);
    let mut members = 0;
    let mut dependency = false;
    for line in manifest.lines() {
        let trimmed = line.trim_start();
        if (trimmed.starts_with("members = [") || trimmed.starts_with("default-members = ["))
            && line.trim_end().ends_with(']')
        {
            let (head, _) = line.trim_end().rsplit_once(']').expect("ends with ]");
            out.push_str(&format!("{head}, \"{name}\"]\n"));
            members += 1;
            continue;
        }
        out.push_str(line);
        out.push('\n');
        if trimmed.starts_with("schema-core = { path = \"core\" }") {
            out.push_str(&format!("{package} = {{ path = \"{name}\" }}\n"));
            dependency = true;
        }
    }
    if members != 2 || !dependency {
        return Err(
            "expected one-line `members = [...]` and `default-members = [...]` and a \
             `schema-core = { path = \"core\" }` line under [workspace.dependencies]"
                .to_owned(),
        );
    }
    Ok(out)
}

/// The registry crate depends on every schema crate (the engine on none).
fn register_in_registry_manifest(manifest: &str, name: &str) -> Result<String, String> {
    let anchor = "schema-core.workspace = true\n";
    if !manifest.contains(anchor) {
        return Err("expected `schema-core.workspace = true` under [dependencies]".to_owned());
    }
    Ok(manifest.replacen(
        anchor,
        &format!("{anchor}{}.workspace = true\n", package(name)),
        1,
    ))
}

fn register_in_registry(registry: &str, name: &str) -> Result<String, String> {
    let start = registry
        .find("\nschema_crates! {\n")
        .ok_or("expected the `schema_crates! { ... }` list in the registry")?;
    let close = registry[start..]
        .find("\n}")
        .map(|at| start + at + 1)
        .ok_or("no `}` closing the registry's list found")?;
    let mut out = registry.to_owned();
    out.insert_str(close, &format!("    schema_{name},\n"));
    Ok(out)
}

fn manifest(name: &str, owners: &[String]) -> String {
    let owners = owners
        .iter()
        .map(|o| format!("{o:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        r#"[package]
name = "{package}"
description = "The `{name}` PostgreSQL schema: entities, migrations, seeds and backfills."
version.workspace = true
edition.workspace = true
rust-version.workspace = true
license.workspace = true
publish.workspace = true

[package.metadata.schema]
# The team(s) that own this schema: CODEOWNERS asks them to review every change to it.
owners = [{owners}]

[lints]
workspace = true

[dependencies]
schema-core.workspace = true
sea-orm.workspace = true
sea-orm-migration.workspace = true
async-trait.workspace = true
"#,
        package = package(name)
    )
}

fn lib_rs(name: &str) -> String {
    format!(
        r#"//! The `{name}` PostgreSQL schema.
//!
//! This crate owns everything about that schema: its SeaORM entities, its
//! migrations and its seeds.
//!
//! It depends only on `sea-orm`, `sea-orm-migration`, `async-trait` and
//! `schema-core` (whose users it may reference). It must never depend on the
//! migration runner, the seeder or another app schema crate.

/// The PostgreSQL schema this crate owns.
pub const SCHEMA: &str = "{name}";

/// This crate's directory in the workspace.
pub const CRATE_DIR: &str = "{name}";

pub mod entities;
pub mod seeds;
// `#[async_trait]` only accepts `up`/`down` with `&SchemaManager` spelled
// exactly as `MigrationTrait` declares it, elided lifetime included.
#[allow(elided_lifetimes_in_paths)]
mod migrations;

pub use migrations::migrations;
// None yet: write `src/backfills.rs` (see `schema_core::backfill`) and export its `backfills`.
pub use schema_core::backfill::no_backfills as backfills;
pub use seeds::seeds;

/// This crate as the workspace's registry lists it.
pub fn schema_crate() -> schema_core::schema_crate::SchemaCrate {{
    schema_core::schema_crate::SchemaCrate {{
        schema: SCHEMA,
        crate_dir: CRATE_DIR,
        migrations,
        seeds,
        entities: entities::tables,
        backfills,
    }}
}}
"#
    )
}

fn entities_rs(name: &str) -> String {
    format!(
        r#"//! SeaORM entities for the `{name}` schema, as of its latest migration
//! (none yet: add one module per table, and list it in `tables`).

use schema_core::schema_crate::EntityTable;

/// Every table's entity, as the statements SeaORM derives from it (`migrate
/// check` compares them with what the migrations build).
pub fn tables() -> Vec<EntityTable> {{
    Vec::new()
}}
"#
    )
}

fn seeds_rs(name: &str) -> String {
    format!(
        r#"//! The `{name}` schema's seeds (none yet: add a `TableSeed` per table).

use schema_core::seeding::{{Profile, SchemaSeed, TableSeed}};

/// `{name}`'s seeds, for the seeder.
pub fn seeds() -> Box<dyn SchemaSeed> {{
    Box::new(Seeds)
}}

struct Seeds;

impl SchemaSeed for Seeds {{
    fn schema(&self) -> &'static str {{
        crate::SCHEMA
    }}

    fn depends_on(&self) -> &'static [&'static str] {{
        &[schema_core::SCHEMA]
    }}

    fn tables(&self, _profile: &Profile) -> Vec<TableSeed> {{
        Vec::new()
    }}
}}
"#
    )
}

fn migrations_mod_rs(name: &str, migration: &str) -> String {
    format!(
        r#"//! The `{name}` schema's migration history, oldest first.
use sea_orm_migration::MigrationTrait;

mod {migration};

/// This crate's migrations; the runner merges them into the global history.
pub fn migrations() -> Vec<Box<dyn MigrationTrait>> {{
    vec![
        // Oldest first: `cargo xtask migrate new {name} ...` appends here.
        Box::new({migration}::Migration),
    ]
}}
"#
    )
}

fn create_schema_rs(name: &str) -> String {
    format!(
        r#"//! Creates the `{name}` schema so its tables stay out of `public`.
use schema_core::migration_kit::{{create_schema, drop_schema}};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {{
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {{
        create_schema(manager, Schema).await
    }}

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {{
        drop_schema(manager, Schema).await
    }}
}}

#[derive(DeriveIden)]
#[sea_orm(iden = "{name}")]
struct Schema;
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrations_are_inserted_where_they_belong() {
        let manifest = "[workspace]\nmembers = [\"core\", \"xtask\"]\ndefault-members = [\"core\", \"xtask\"]\n\n[workspace.dependencies]\nschema-core = { path = \"core\" }\n";
        assert_eq!(
            register_in_workspace(manifest, "billing").unwrap(),
            "[workspace]\nmembers = [\"core\", \"xtask\", \"billing\"]\ndefault-members = [\"core\", \"xtask\", \"billing\"]\n\n[workspace.dependencies]\nschema-core = { path = \"core\" }\nschema-billing = { path = \"billing\" }\n"
        );
        let registry = "macro_rules! schema_crates {}\n\nschema_crates! {\n    schema_core,\n}\n";
        assert_eq!(
            register_in_registry(registry, "billing").unwrap(),
            "macro_rules! schema_crates {}\n\nschema_crates! {\n    schema_core,\n    schema_billing,\n}\n"
        );
        assert!(register_in_workspace("[workspace]\n", "x").is_err());
    }

    #[test]
    fn names_are_validated() {
        let workspace = std::env::temp_dir();
        for bad in ["Billing", "1abc", "pg_x", "public", "core", "a-b", ""] {
            assert!(validate_name(&workspace, bad).is_err(), "{bad}");
        }
        assert!(validate_name(&workspace, "billing_v2_never_exists_here").is_ok());
    }

    #[test]
    fn generated_sources_are_rustfmt_clean() {
        for source in [
            lib_rs("billing"),
            entities_rs("billing"),
            seeds_rs("billing"),
            migrations_mod_rs("billing", "m20260101_000000_billing_create_schema"),
            create_schema_rs("billing"),
        ] {
            crate::scaffold::assert_rustfmt_clean(&source);
        }
    }
}
