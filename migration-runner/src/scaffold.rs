//! `migrate new <schema> <description>`: writes a migration file in the
//! schema's crate and registers it in that crate's `migrations/mod.rs`.

use std::fs;
use std::path::{Path, PathBuf};

use chrono::{NaiveDateTime, Utc};

use crate::catalog::Catalog;
use crate::error::{MigrateError, Result};
use crate::name::slugify;

/// The workspace root this binary was built from.
pub fn workspace_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    root.canonicalize().unwrap_or(root)
}

/// Writes the file and returns its path. The timestamp is the current UTC
/// time, moved past the newest existing migration if the clock is behind it.
pub fn new_migration(
    catalog: &Catalog,
    workspace: &Path,
    schema: &str,
    description: &str,
) -> Result<PathBuf> {
    let crate_dir = catalog
        .crate_dir(schema)
        .ok_or_else(|| MigrateError::UnknownSchema {
            schema: schema.to_owned(),
            known: catalog.schemas().join(", "),
        })?;
    let slug = slugify(description);
    let mod_path = workspace.join(crate_dir).join("src/migrations/mod.rs");
    if slug.is_empty() {
        return Err(MigrateError::Scaffold {
            path: mod_path,
            message: "the description has no letters or digits; describe the change, e.g. `add webinar capacity`"
                .to_owned(),
        });
    }
    let newest = catalog
        .migrations()
        .iter()
        .filter_map(|m| NaiveDateTime::parse_from_str(&m.timestamp, "%Y%m%d_%H%M%S").ok())
        .max();
    let mut stamp = Utc::now().naive_utc();
    if let Some(newest) = newest.filter(|newest| *newest >= stamp) {
        stamp = newest + chrono::Duration::seconds(1);
    }
    let name = format!("m{}_{schema}_{slug}", stamp.format("%Y%m%d_%H%M%S"));
    let file = workspace
        .join(crate_dir)
        .join("src/migrations")
        .join(format!("{name}.rs"));
    let registry = fs::read_to_string(&mod_path).map_err(|err| MigrateError::Scaffold {
        path: mod_path.clone(),
        message: err.to_string(),
    })?;
    let registry = register(&registry, &name).map_err(|message| MigrateError::Scaffold {
        path: mod_path.clone(),
        message,
    })?;
    fs::write(&file, template(&name, description)).map_err(|err| MigrateError::Scaffold {
        path: file.clone(),
        message: err.to_string(),
    })?;
    fs::write(&mod_path, registry).map_err(|err| MigrateError::Scaffold {
        path: mod_path.clone(),
        message: err.to_string(),
    })?;
    Ok(file)
}

/// Adds `mod <name>;` after the last migration module and
/// `Box::new(<name>::Migration),` as the vec's last element.
fn register(registry: &str, name: &str) -> Result<String, String> {
    let lines: Vec<&str> = registry.lines().collect();
    let last_mod = lines
        .iter()
        .rposition(|line| line.starts_with("mod m"))
        .ok_or("no `mod m...;` line found; expected the layout `cargo xtask migrate new` writes")?;
    let close = lines
        .iter()
        .rposition(|line| line.trim() == "]")
        .ok_or("no `]` closing the `vec![...]` of migrations found")?;
    let mut out: Vec<String> = Vec::with_capacity(lines.len() + 2);
    for (index, line) in lines.iter().enumerate() {
        if index == close {
            out.push(format!("        Box::new({name}::Migration),"));
        }
        out.push((*line).to_owned());
        if index == last_mod {
            out.push(format!("mod {name};"));
        }
    }
    Ok(out.join("\n") + "\n")
}

fn template(name: &str, description: &str) -> String {
    format!(
        r#"//! {description}
//!
//! Structural changes only: emit the same SQL on every run and never read the
//! database. Data work belongs in a backfill.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {{
    async fn up(&self, _manager: &SchemaManager) -> Result<(), DbErr> {{
        Err(DbErr::Migration("`{name}` up is not written yet".to_owned()))
    }}

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {{
        Err(DbErr::Migration("`{name}` down is not written yet".to_owned()))
    }}
}}
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_after_the_last_module_and_in_the_vec() {
        let before = "use x;\n\nmod m1;\nmod m2;\n\npub fn migrations() -> Vec<Box<dyn MigrationTrait>> {\n    vec![\n        Box::new(m1::Migration),\n        Box::new(m2::Migration),\n    ]\n}\n";
        let after = register(before, "m3").unwrap();
        assert_eq!(
            after,
            "use x;\n\nmod m1;\nmod m2;\nmod m3;\n\npub fn migrations() -> Vec<Box<dyn MigrationTrait>> {\n    vec![\n        Box::new(m1::Migration),\n        Box::new(m2::Migration),\n        Box::new(m3::Migration),\n    ]\n}\n"
        );
    }
}
