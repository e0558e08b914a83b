//! Who owns each schema, and the CODEOWNERS file made from it. Each schema
//! crate names its owning team(s) in its manifest:
//!
//! ```toml
//! [package.metadata.schema]
//! owners = ["@acme/academy"]
//! ```
//!
//! `.github/CODEOWNERS` is written from those lists (`cargo xtask migrate
//! hash`): each crate's directory to its owners, then one line per migration
//! that declares other schemas (`// migrate: touches`), naming the owners of
//! every schema it touches, so the host asks each of those teams to review
//! it. `check` refuses a crate without owners and a CODEOWNERS file that is
//! not what the registry gives.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::source::catalog::Catalog;

/// Where the file lives, from the workspace's root.
pub const CODEOWNERS: &str = ".github/CODEOWNERS";

/// Each schema's owning teams, in catalog order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Owners {
    pub by_schema: BTreeMap<String, Vec<String>>,
    /// Schemas whose crate names no owner, with its manifest.
    pub missing: Vec<(String, PathBuf)>,
}

/// Reading a crate's manifest failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the owners in `{}`: {problem}", path.display())]
pub struct OwnersError {
    pub path: PathBuf,
    pub problem: String,
}

/// The owners a manifest's text names (`[package.metadata.schema] owners`).
pub fn owners_in(manifest: &str) -> Result<Vec<String>, String> {
    let document: toml_edit::DocumentMut = manifest
        .parse()
        .map_err(|e: toml_edit::TomlError| e.to_string())?;
    let Some(owners) = document
        .get("package")
        .and_then(|p| p.get("metadata"))
        .and_then(|m| m.get("schema"))
        .and_then(|s| s.get("owners"))
    else {
        return Ok(Vec::new());
    };
    let array = owners
        .as_array()
        .ok_or("`owners` is not a list of teams: write `owners = [\"@org/team\"]`")?;
    array
        .iter()
        .map(|value| {
            value
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| "`owners` holds something other than a team name".to_owned())
        })
        .collect()
}

impl Owners {
    /// The owners of `schemas`, each once, in the order met.
    pub fn teams<'a>(&'a self, schemas: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
        let mut teams: Vec<&str> = Vec::new();
        for schema in schemas {
            for team in self.by_schema.get(schema).into_iter().flatten() {
                if !teams.contains(&team.as_str()) {
                    teams.push(team);
                }
            }
        }
        teams
    }

    /// Reads each schema crate's owners from its manifest under `workspace`.
    pub fn read(workspace: &Path, catalog: &Catalog) -> Result<Self, OwnersError> {
        let mut owners = Owners::default();
        for schema in catalog.schemas() {
            let Some(dir) = catalog.crate_dir(schema) else {
                continue;
            };
            let path = workspace.join(dir).join("Cargo.toml");
            let text = std::fs::read_to_string(&path).map_err(|e| OwnersError {
                path: path.clone(),
                problem: e.to_string(),
            })?;
            let named = owners_in(&text).map_err(|problem| OwnersError {
                path: path.clone(),
                problem,
            })?;
            if named.is_empty() {
                owners.missing.push(((*schema).to_owned(), path));
            }
            owners.by_schema.insert((*schema).to_owned(), named);
        }
        Ok(owners)
    }

    /// The CODEOWNERS file the registry gives: each crate's directory to its
    /// owners, then each migration that declares other schemas to the
    /// owners of every schema it touches (later lines win, so these come last).
    pub fn codeowners(&self, workspace: &Path, catalog: &Catalog) -> String {
        let mut lines = vec![
            "# Written by `cargo xtask migrate hash` from each schema crate's".to_owned(),
            "# `[package.metadata.schema] owners`; `migrate check` refuses it edited by hand."
                .to_owned(),
            String::new(),
        ];
        let teams = |schemas: &[&str]| self.teams(schemas.iter().copied()).join(" ");
        for schema in catalog.schemas() {
            if let Some(dir) = catalog.crate_dir(schema) {
                lines.push(format!("/{dir}/ {}", teams(&[schema])));
            }
        }
        for migration in catalog.migrations() {
            let Some(file) = catalog.source_file(workspace, migration) else {
                continue;
            };
            let Ok(source) = std::fs::read_to_string(workspace.join(&file)) else {
                continue;
            };
            let declared = migration_lint::declared_schemas(&source);
            if declared.is_empty() {
                continue;
            }
            let mut schemas: Vec<&str> = vec![migration.schema];
            schemas.extend(declared.iter().map(String::as_str));
            lines.push(format!("/{} {}", file.display(), teams(&schemas)));
        }
        lines.join("\n") + "\n"
    }
}
