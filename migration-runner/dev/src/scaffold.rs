//! `migrate new <schema> <description>`: writes a migration file in the
//! schema's crate and registers it in that crate's `migrations/mod.rs`.
//!
//! The file is `cargo fmt`-clean and harmless until written: its `up` emits
//! nothing, so `status` lists it as pending with a warning and `up` refuses
//! it (exit 2) until it has content; nothing else turns red.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::{NaiveDateTime, Utc};
use migration_runner::name::slugify;
use migration_runner::source::catalog::Catalog;

/// Why a source file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error("unknown schema `{schema}`; known schemas: {known}")]
    UnknownSchema { schema: String, known: String },
    #[error(
        "the description has no letters or digits; describe the change in words, e.g. `add webinar capacity`"
    )]
    EmptyDescription,
    #[error("cannot edit `{}`: {message}", path.display())]
    File { path: PathBuf, message: String },
}

type Result<T, E = ScaffoldError> = std::result::Result<T, E>;

fn file_error(path: &Path) -> impl FnOnce(std::io::Error) -> ScaffoldError + '_ {
    move |err| ScaffoldError::File {
        path: path.to_owned(),
        message: err.to_string(),
    }
}

/// The workspace root this binary was built from.
pub fn workspace_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// Writes the file and returns its path. The timestamp is the current UTC
/// time, moved past the newest migration in the code or on disk (two calls in
/// the same second get two seconds), so names are unique and in order.
pub fn new_migration(
    catalog: &Catalog,
    workspace: &Path,
    schema: &str,
    description: &str,
) -> Result<PathBuf> {
    write_migration(
        catalog,
        workspace,
        schema,
        description,
        &template(&one_line(description)),
    )
}

/// [`new_migration`] with the file's text given (`migrate dev` writes the
/// statements it planned).
pub fn write_migration(
    catalog: &Catalog,
    workspace: &Path,
    schema: &str,
    description: &str,
    source: &str,
) -> Result<PathBuf> {
    let crate_dir = catalog
        .crate_dir(schema)
        .ok_or_else(|| ScaffoldError::UnknownSchema {
            schema: schema.to_owned(),
            known: catalog.schemas().join(", "),
        })?;
    let description = one_line(description);
    let slug = slugify(&description);
    if slug.is_empty() {
        return Err(ScaffoldError::EmptyDescription);
    }
    let migrations_dir = workspace.join(crate_dir).join("src/migrations");
    let mod_path = migrations_dir.join("mod.rs");
    let mut stamps: BTreeSet<NaiveDateTime> = catalog
        .migrations()
        .iter()
        .filter_map(|m| NaiveDateTime::parse_from_str(&m.timestamp, "%Y%m%d_%H%M%S").ok())
        .collect();
    for schema in catalog.schemas() {
        if let Some(dir) = catalog.crate_dir(schema) {
            stamps.extend(stamps_on_disk(&workspace.join(dir).join("src/migrations")));
        }
    }
    let now = Utc::now().naive_utc().with_nanosecond_zero();
    let stamp = match stamps.last() {
        Some(newest) if *newest >= now => *newest + chrono::Duration::seconds(1),
        _ => now,
    };
    let name = format!("m{}_{schema}_{slug}", stamp.format("%Y%m%d_%H%M%S"));
    let file = migrations_dir.join(format!("{name}.rs"));
    let registry = fs::read_to_string(&mod_path).map_err(file_error(&mod_path))?;
    let registry = register(&registry, &name).map_err(|message| ScaffoldError::File {
        path: mod_path.clone(),
        message,
    })?;
    // `create_new`: never overwrite a file, whatever the clock says.
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&file)
        .and_then(|mut out| out.write_all(source.as_bytes()))
        .map_err(file_error(&file))?;
    fs::write(&mod_path, registry).map_err(file_error(&mod_path))?;
    Ok(file)
}

trait WithoutNanos {
    fn with_nanosecond_zero(self) -> Self;
}

impl WithoutNanos for NaiveDateTime {
    fn with_nanosecond_zero(self) -> Self {
        use chrono::Timelike as _;
        self.with_nanosecond(0).unwrap_or(self)
    }
}

/// Timestamps of the migration files in `dir`.
fn stamps_on_disk(dir: &Path) -> Vec<NaiveDateTime> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().to_string_lossy().into_owned();
            NaiveDateTime::parse_from_str(name.get(1..16)?, "%Y%m%d_%H%M%S").ok()
        })
        .collect()
}

/// The description as one line of plain text: newlines, tabs and other
/// control characters become spaces, runs of spaces one space.
fn one_line(description: &str) -> String {
    description
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(200)
        .collect()
}

/// Adds `mod <name>;` after the last migration module and
/// `Box::new(<name>::Migration),` as the vec's last element.
pub(crate) fn register(registry: &str, name: &str) -> Result<String, String> {
    let lines: Vec<&str> = registry.lines().collect();
    if lines
        .iter()
        .any(|line| line.trim() == format!("mod {name};"))
    {
        return Err(format!("`{name}` is registered already"));
    }
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

/// Removes a migration's two lines from a registry.
pub(crate) fn unregister(registry: &str, name: &str) -> String {
    registry
        .lines()
        .filter(|line| {
            line.trim() != format!("mod {name};")
                && line.trim() != format!("Box::new({name}::Migration),")
        })
        .map(|line| format!("{line}\n"))
        .collect()
}

fn template(description: &str) -> String {
    format!(
        r#"//! {description}
//!
//! Structural changes only: emit the same SQL on every run and never read the
//! database; data work belongs in a backfill. Until `up` emits a statement,
//! `migrate status` warns about this migration and `migrate up` refuses it.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {{
    async fn up(&self, _manager: &SchemaManager) -> Result<(), DbErr> {{
        // Write the change with `_manager` (renamed `manager`), for example
        // `manager.alter_table(Table::alter().table(...).to_owned()).await`.
        Ok(())
    }}

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {{
        // Undo exactly what `up` does.
        Ok(())
    }}
}}
"#
    )
}

/// Fails the test when `rustfmt` would change `source`.
#[cfg(test)]
pub(crate) fn assert_rustfmt_clean(source: &str) {
    {
        let mut child = std::process::Command::new("rustfmt")
            .args(["--edition", "2024", "--check"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("rustfmt is installed (rustup component add rustfmt)");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(source.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "rustfmt would change this source:\n{source}\n{}",
            String::from_utf8_lossy(&output.stdout)
        );
    }
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
        assert!(
            register(&after, "m3")
                .unwrap_err()
                .contains("registered already")
        );
    }

    /// A scratch workspace with a copy of the `academy` crate's registry.
    fn scratch_workspace() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("scaffold-{}", uuid::Uuid::new_v4().simple()));
        let migrations = dir.join("academy/src/migrations");
        fs::create_dir_all(&migrations).unwrap();
        fs::copy(
            workspace_root().join("academy/src/migrations/mod.rs"),
            migrations.join("mod.rs"),
        )
        .unwrap();
        dir
    }

    #[test]
    fn two_migrations_in_the_same_second_get_distinct_ordered_names() {
        let workspace = scratch_workspace();
        let catalog = Catalog::workspace(&schema_registry::workspace()).unwrap();
        let first = new_migration(&catalog, &workspace, "academy", "add rooms").unwrap();
        let second = new_migration(&catalog, &workspace, "academy", "add rooms").unwrap();
        let third = new_migration(&catalog, &workspace, "academy", "add\nrooms\tagain").unwrap();
        let names: Vec<String> = [&first, &second, &third]
            .iter()
            .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
            .collect();
        assert!(names[0] < names[1] && names[1] < names[2], "{names:?}");
        let registry = fs::read_to_string(workspace.join("academy/src/migrations/mod.rs")).unwrap();
        for name in &names {
            assert_eq!(
                registry.matches(&format!("mod {name};")).count(),
                1,
                "{registry}"
            );
            assert_eq!(
                registry
                    .matches(&format!("Box::new({name}::Migration),"))
                    .count(),
                1
            );
        }
        let text = fs::read_to_string(&third).unwrap();
        assert!(text.starts_with("//! add rooms again\n//!\n"), "{text}");
        assert_rustfmt_clean(&registry);
        assert_rustfmt_clean(&text);
        fs::remove_dir_all(&workspace).unwrap();
    }

    #[test]
    fn an_unknown_schema_or_an_empty_description_is_refused() {
        let workspace = scratch_workspace();
        let catalog = Catalog::workspace(&schema_registry::workspace()).unwrap();
        let unknown = new_migration(&catalog, &workspace, "billing", "x").unwrap_err();
        assert!(
            unknown.to_string().contains("unknown schema `billing`"),
            "{unknown}"
        );
        let empty = new_migration(&catalog, &workspace, "academy", "\n --- ").unwrap_err();
        assert!(
            empty.to_string().contains("no letters or digits"),
            "{empty}"
        );
        fs::remove_dir_all(&workspace).unwrap();
    }

    #[test]
    fn a_description_becomes_one_line() {
        assert_eq!(
            one_line("add\ncapacity\r\n\tto webinars \u{1b}[31m"),
            "add capacity to webinars [31m"
        );
    }

    #[test]
    fn the_template_is_rustfmt_clean() {
        assert_rustfmt_clean(&template(&one_line("add webinar capacity\nwith a newline")));
    }
}
