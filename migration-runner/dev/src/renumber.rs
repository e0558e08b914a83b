//! `migrate renumber --base <ref>`: after a rebase, gives the branch's new
//! migrations that sort before the base's newest migration fresh timestamps,
//! so history stays linear. A migration's name is its file's name, and its
//! checksum covers only its SQL, so renaming the file, its two lines in the
//! crate's `migrations/mod.rs` and its line in the sum file is the whole job.

use std::fs;
use std::path::Path;

use chrono::{NaiveDateTime, Utc};
use migration_runner::gate::check;
use migration_runner::source::catalog::Catalog;
use migration_runner::source::sum::{self, SumEntry, SumFile};

use crate::scaffold::ScaffoldError;

fn error(path: &Path, message: impl Into<String>) -> ScaffoldError {
    ScaffoldError::File {
        path: path.to_owned(),
        message: message.into(),
    }
}

fn stamp_of(name: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(name.get(1..16)?, "%Y%m%d_%H%M%S").ok()
}

/// Renames the branch's out-of-order migrations in `workspace`; returns
/// `(old, new)` names, oldest first.
pub fn renumber(
    workspace: &Path,
    catalog: &Catalog,
    base: &str,
) -> Result<Vec<(String, String)>, ScaffoldError> {
    let sides =
        check::read_sides(workspace, base).map_err(|err| error(workspace, err.to_string()))?;
    let sum_path = workspace.join(sum::PATH);
    let text = fs::read_to_string(&sum_path).map_err(|err| error(&sum_path, err.to_string()))?;
    let mut file = SumFile::parse(&text).map_err(|err| error(&sum_path, err.to_string()))?;
    let Some(newest_on_base) = sides
        .base
        .entries
        .iter()
        .max_by(|a, b| a.sort_key().cmp(&b.sort_key()))
        .cloned()
    else {
        return Ok(Vec::new());
    };
    let mut late: Vec<SumEntry> = file
        .entries
        .iter()
        .filter(|e| sides.base.get(&e.name).is_none() && e.sort_key() < newest_on_base.sort_key())
        .cloned()
        .collect();
    late.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    let newest_anywhere = file
        .entries
        .iter()
        .chain(&sides.base.entries)
        .filter_map(|e| stamp_of(&e.name))
        .max();
    let mut stamp = Utc::now().naive_utc();
    if let Some(newest) = newest_anywhere.filter(|newest| *newest >= stamp) {
        stamp = newest + chrono::Duration::seconds(1);
    }
    let mut renamed = Vec::new();
    for entry in late {
        let rest = entry.name.get(17..).unwrap_or_default();
        let new_name = format!("m{}_{rest}", stamp.format("%Y%m%d_%H%M%S"));
        stamp += chrono::Duration::seconds(1);
        let dir = catalog
            .crate_dir(&entry.schema)
            .ok_or_else(|| error(workspace, format!("unknown schema `{}`", entry.schema)))?;
        let migrations = workspace.join(dir).join("src/migrations");
        let old_file = migrations.join(format!("{}.rs", entry.name));
        let new_file = migrations.join(format!("{new_name}.rs"));
        fs::rename(&old_file, &new_file).map_err(|err| error(&old_file, err.to_string()))?;
        let mod_path = migrations.join("mod.rs");
        let registry =
            fs::read_to_string(&mod_path).map_err(|err| error(&mod_path, err.to_string()))?;
        let without = crate::scaffold::unregister(&registry, &entry.name);
        let registry = crate::scaffold::register(&without, &new_name)
            .map_err(|message| error(&mod_path, message))?;
        fs::write(&mod_path, registry).map_err(|err| error(&mod_path, err.to_string()))?;
        for line in &mut file.entries {
            if line.name == entry.name {
                line.name = new_name.clone();
            }
        }
        renamed.push((entry.name, new_name));
    }
    file.entries.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    fs::write(&sum_path, file.render()).map_err(|err| error(&sum_path, err.to_string()))?;
    Ok(renamed)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::process::Command;

    use super::*;

    fn git(dir: &Path, args: &[&str]) {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn entry(name: &str, schema: &str) -> SumEntry {
        SumEntry {
            name: name.to_owned(),
            schema: schema.to_owned(),
            checksum: format!("sum-of-{name}"),
            tables: Vec::new(),
        }
    }

    /// A checkout whose branch `feature` (checked out) adds
    /// `m20250103_000000_academy_add_rooms`, while `main` gained
    /// `m20260101_000000_core_newer_on_main` since: not rebased.
    fn unrebased_checkout() -> (PathBuf, PathBuf, &'static str) {
        let dir = std::env::temp_dir().join(format!("renumber-{}", uuid::Uuid::new_v4().simple()));
        let migrations = dir.join("academy/src/migrations");
        fs::create_dir_all(&migrations).unwrap();
        fs::create_dir_all(dir.join("migration-runner")).unwrap();
        git(&dir, &["init", "-q", "-b", "main"]);
        git(&dir, &["config", "user.email", "ci@example.com"]);
        git(&dir, &["config", "user.name", "ci"]);
        fs::write(
            migrations.join("mod.rs"),
            "mod m20250102_000000_academy_create_schema;\n\npub fn migrations() -> Vec<Box<dyn MigrationTrait>> {\n    vec![\n        Box::new(m20250102_000000_academy_create_schema::Migration),\n    ]\n}\n",
        )
        .unwrap();
        let base = vec![
            entry("m20250101_000000_core_create_schema", "core"),
            entry("m20250102_000000_academy_create_schema", "academy"),
        ];
        fs::write(dir.join(sum::PATH), SumFile::new(base.clone()).render()).unwrap();
        git(&dir, &["add", "-A"]);
        git(&dir, &["commit", "-q", "-m", "base"]);

        git(&dir, &["checkout", "-q", "-b", "feature"]);
        let old = "m20250103_000000_academy_add_rooms";
        fs::write(
            migrations.join(format!("{old}.rs")),
            "// the branch's migration\n",
        )
        .unwrap();
        let registry =
            crate::scaffold::register(&fs::read_to_string(migrations.join("mod.rs")).unwrap(), old)
                .unwrap();
        fs::write(migrations.join("mod.rs"), registry).unwrap();
        let mut branch = base.clone();
        branch.push(entry(old, "academy"));
        fs::write(dir.join(sum::PATH), SumFile::new(branch).render()).unwrap();
        git(&dir, &["add", "-A"]);
        git(&dir, &["commit", "-q", "-m", "feature"]);

        git(&dir, &["checkout", "-q", "main"]);
        let mut moved_on = base.clone();
        moved_on.push(entry("m20260101_000000_core_newer_on_main", "core"));
        fs::write(dir.join(sum::PATH), SumFile::new(moved_on).render()).unwrap();
        git(&dir, &["commit", "-q", "-am", "main moves on"]);
        git(&dir, &["checkout", "-q", "feature"]);
        (dir, migrations, old)
    }

    #[test]
    fn out_of_order_branch_migrations_get_fresh_names_everywhere() {
        let (dir, migrations, old) = unrebased_checkout();
        let catalog = Catalog::workspace(&schema_registry::workspace()).unwrap();
        let renamed = renumber(&dir, &catalog, "main").unwrap();
        assert_eq!(renamed.len(), 1);
        let (from, to) = &renamed[0];
        assert_eq!(from, old);
        assert!(
            to.as_str() > "m20260101_000000" && to.ends_with("_academy_add_rooms"),
            "{to}"
        );
        assert!(!migrations.join(format!("{old}.rs")).exists());
        assert!(migrations.join(format!("{to}.rs")).exists());
        let registry = fs::read_to_string(migrations.join("mod.rs")).unwrap();
        assert!(!registry.contains(old), "{registry}");
        assert_eq!(
            registry.matches(&format!("mod {to};")).count(),
            1,
            "{registry}"
        );
        let file = SumFile::parse(&fs::read_to_string(dir.join(sum::PATH)).unwrap()).unwrap();
        assert_eq!(
            file.get(to).map(|e| e.checksum.as_str()),
            Some("sum-of-m20250103_000000_academy_add_rooms")
        );
        let sides = check::read_sides(&dir, "main").unwrap();
        let linear = check::compare(&sides, &file, &file)
            .iter()
            .all(|p| !matches!(p, check::CheckProblem::NotLinear { .. }));
        assert!(linear);
        crate::scaffold::assert_rustfmt_clean(&registry);
        // Nothing left to do the second time.
        assert!(renumber(&dir, &catalog, "main").unwrap().is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }

    /// Renumbering a branch that was not rebased works; what `check` says
    /// then of main's newer migration is that the base moved on (rebase),
    /// never that it was deleted here and must be undone.
    #[test]
    fn a_branch_renumbered_without_a_rebase_is_told_to_rebase_not_to_undo() {
        let (dir, _, _) = unrebased_checkout();
        let catalog = Catalog::workspace(&schema_registry::workspace()).unwrap();
        assert_eq!(renumber(&dir, &catalog, "main").unwrap().len(), 1);
        let file = SumFile::parse(&fs::read_to_string(dir.join(sum::PATH)).unwrap()).unwrap();
        let sides = check::read_sides(&dir, "main").unwrap();
        let said: Vec<String> = check::compare(&sides, &file, &file)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            said,
            vec![
                "migration `m20260101_000000_core_newer_on_main` (crate `core`) was added on the base after \
                 this branch left it, and this branch does not have it yet: the base moved on; rebase onto the \
                 base (`cargo xtask migrate rebase --onto <base>` rebases, merges the sum file and renumbers), \
                 nothing here needs restoring or undoing"
                    .to_owned()
            ]
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
