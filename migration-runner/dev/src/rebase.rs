//! `migrate rebase [--onto <ref>]`: brings a branch's migrations onto the
//! base's moved history in one command. It rebases (or finishes a rebase or
//! merge the user started), resolving the conflicts that adding migrations
//! makes by design — the sum file, each crate's `migrations/mod.rs`,
//! CODEOWNERS — from both sides; renumbers the branch's migrations that now
//! sort before the base's newest; has the rebuilt code rewrite the sum file
//! and CODEOWNERS; and commits that. Any other conflict stops it with the
//! branch as it was. The pairs of migrations both sides added on a same table
//! are reported: the rebase makes them linear, not compatible.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use migration_runner::Exit;
use migration_runner::gate::check::{self, CheckProblem};
use migration_runner::gate::owners::CODEOWNERS;
use migration_runner::source::catalog::{Catalog, registered_modules};
use migration_runner::source::sum::{self, SumEntry, SumFile};

use crate::scaffold::{ScaffoldError, unregister};

/// `cargo xtask migrate rebase` flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RebaseArgs {
    /// The base to bring the branch onto (default: `origin/main` when it
    /// exists, else `main`; a rebase or merge already under way keeps its own).
    #[arg(long, value_name = "REF")]
    pub onto: Option<String>,
}

/// Migrations both sides added since they parted that change a same table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SameTables {
    /// The branch's migration, by its name after renumbering.
    pub branch: String,
    /// The base's migration.
    pub base: String,
    pub tables: Vec<String>,
}

/// What `rebase` did.
#[derive(Debug, Clone, Default)]
pub struct Rebased {
    /// The base, as given or found.
    pub onto: String,
    /// Whether the branch was already on top of it (nothing replayed).
    pub up_to_date: bool,
    /// Files whose conflicts it resolved, each once.
    pub resolved: Vec<String>,
    /// `(old, new)` names of renumbered migrations.
    pub renamed: Vec<(String, String)>,
    /// Pairs to read before merging.
    pub same_tables: Vec<SameTables>,
    /// The commit it made (renumbering, rewritten sum file, CODEOWNERS), if any.
    pub committed: Option<String>,
}

/// Why `rebase` stopped.
#[derive(Debug, thiserror::Error)]
pub enum RebaseError {
    #[error(
        "`{onto}` is not a commit in this repository: name the base with `--onto <ref>` \
         (`git fetch` first for `origin/main`); nothing was changed"
    )]
    UnknownRef { onto: String },
    #[error(
        "the working tree has uncommitted changes ({files}): commit or stash them, then run \
         `cargo xtask migrate rebase` again; nothing was changed"
    )]
    Dirty { files: String },
    #[error(
        "the rebase onto `{onto}` stopped on conflicts in {files}, which are not the sum file or \
         migration names; it was aborted and the branch is as it was. Rebase by hand \
         (`git rebase {onto}`), resolve those files and `git add` them, then run \
         `cargo xtask migrate rebase` to finish the rest"
    )]
    Aborted { onto: String, files: String },
    #[error(
        "conflicts in {files} are not the sum file or migration names: resolve them and `git add` \
         them, then run `cargo xtask migrate rebase` again; nothing was changed"
    )]
    Unresolvable { files: String },
    #[error("git {args} failed in `{}`: {message}", dir.display())]
    Git {
        args: String,
        dir: PathBuf,
        message: String,
    },
    #[error(transparent)]
    Renumber(#[from] ScaffoldError),
    #[error(
        "the rebuilt code could not rewrite the sum file and CODEOWNERS: {message}; the rebase \
         itself is done: fix that, then run `cargo xtask migrate rebase` again"
    )]
    Rehash { message: String },
}

impl RebaseError {
    /// The process exit code, as the cause says.
    pub fn exit(&self) -> Exit {
        match self {
            RebaseError::UnknownRef { .. } => Exit::Usage,
            RebaseError::Dirty { .. }
            | RebaseError::Aborted { .. }
            | RebaseError::Unresolvable { .. } => Exit::Refused,
            RebaseError::Git { .. } | RebaseError::Renumber(_) | RebaseError::Rehash { .. } => {
                Exit::Failed
            }
        }
    }
}

/// Runs `rebase` in the git checkout `workspace`. `rehash` rewrites the sum
/// file and CODEOWNERS from the code as it now stands, built again (the
/// running binary still holds the code from before the rebase).
pub fn rebase(
    workspace: &Path,
    catalog: &Catalog,
    args: &RebaseArgs,
    rehash: &mut dyn FnMut(&Path) -> Result<(), String>,
) -> Result<Rebased, RebaseError> {
    let git = Git(workspace);
    let under_way = git.under_way();
    let onto = match (&args.onto, &under_way) {
        (Some(onto), _) => onto.clone(),
        (None, Some(under_way)) => under_way.onto.clone(),
        (None, None) if git.is_commit("origin/main") => "origin/main".to_owned(),
        (None, None) => "main".to_owned(),
    };
    if !git.is_commit(&onto) {
        return Err(RebaseError::UnknownRef { onto });
    }
    let mut rebased = Rebased {
        onto: onto.clone(),
        ..Rebased::default()
    };
    let (branch_tip, base_tip) = match &under_way {
        Some(under_way) => (under_way.branch_tip.clone(), under_way.onto.clone()),
        None => (git.run(&["rev-parse", "HEAD"])?, onto.clone()),
    };
    let same_tables = same_tables(workspace, &branch_tip, &base_tip);
    match under_way {
        Some(_) => {
            // The user's own rebase or merge: finish it, or leave it as it is.
            git.resolve_all(&mut rebased.resolved, None)?;
        }
        None => {
            let status = git.output(&["status", "--porcelain", "--untracked-files=no"])?;
            let dirty = String::from_utf8_lossy(&status.stdout);
            if !dirty.trim().is_empty() {
                return Err(RebaseError::Dirty {
                    files: dirty
                        .lines()
                        .map(|line| format!("`{}`", line.get(3..).unwrap_or(line)))
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
            // A branch that has the base already (rebased, or merged it in)
            // is left as it is: rebasing a merge would replay it all again.
            rebased.up_to_date = git
                .output(&["merge-base", "--is-ancestor", &onto, "HEAD"])?
                .status
                .success();
            if !rebased.up_to_date {
                let started = git.output(&["rebase", &onto])?;
                if !started.status.success() {
                    if git.under_way().is_none() {
                        return Err(git.failure(&["rebase", &onto], &started));
                    }
                    git.resolve_all(&mut rebased.resolved, Some(&onto))?;
                }
            }
        }
    }
    rebased.renamed = crate::renumber::renumber(workspace, catalog, &onto)?;
    rehash(workspace).map_err(|message| RebaseError::Rehash { message })?;
    rebased.same_tables = same_tables
        .into_iter()
        .map(|mut pair| {
            if let Some((_, new)) = rebased.renamed.iter().find(|(old, _)| *old == pair.branch) {
                pair.branch = new.clone();
            }
            pair
        })
        .collect();
    rebased.committed = git.commit_generated(catalog, &rebased)?;
    Ok(rebased)
}

/// What the user left under way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Rebase,
    Merge,
}

struct UnderWay {
    kind: Kind,
    /// The branch's own tip before the rebase or merge.
    branch_tip: String,
    /// What it is rebased onto or merges.
    onto: String,
}

/// The checkout's git.
struct Git<'a>(&'a Path);

impl Git<'_> {
    fn output(&self, args: &[&str]) -> Result<std::process::Output, RebaseError> {
        Command::new("git")
            .args(args)
            .current_dir(self.0)
            // Never open an editor: `rebase --continue` keeps each commit's message.
            .env("GIT_EDITOR", "true")
            .output()
            .map_err(|err| RebaseError::Git {
                args: args.join(" "),
                dir: self.0.to_owned(),
                message: err.to_string(),
            })
    }

    fn failure(&self, args: &[&str], output: &std::process::Output) -> RebaseError {
        let mut message = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        if message.is_empty() {
            message = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        }
        RebaseError::Git {
            args: args.join(" "),
            dir: self.0.to_owned(),
            message,
        }
    }

    /// Stdout, trimmed, of a command that must succeed.
    fn run(&self, args: &[&str]) -> Result<String, RebaseError> {
        let output = self.output(args)?;
        if !output.status.success() {
            return Err(self.failure(args, &output));
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    fn is_commit(&self, rev: &str) -> bool {
        self.output(&[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ])
        .is_ok_and(|output| output.status.success())
    }

    fn git_path(&self, name: &str) -> Option<PathBuf> {
        let path = self.run(&["rev-parse", "--git-path", name]).ok()?;
        Some(self.0.join(path))
    }

    fn read_git_file(&self, name: &str) -> Option<String> {
        let text = std::fs::read_to_string(self.git_path(name)?).ok()?;
        Some(text.trim().to_owned())
    }

    fn under_way(&self) -> Option<UnderWay> {
        for dir in ["rebase-merge", "rebase-apply"] {
            if let (Some(branch_tip), Some(onto)) = (
                self.read_git_file(&format!("{dir}/orig-head")),
                self.read_git_file(&format!("{dir}/onto")),
            ) {
                return Some(UnderWay {
                    kind: Kind::Rebase,
                    branch_tip,
                    onto,
                });
            }
        }
        let onto = self.read_git_file("MERGE_HEAD")?;
        Some(UnderWay {
            kind: Kind::Merge,
            branch_tip: self.run(&["rev-parse", "HEAD"]).ok()?,
            onto: onto.lines().next()?.to_owned(),
        })
    }

    fn text_at(&self, spec: &str) -> Option<String> {
        let output = self.output(&["show", spec]).ok()?;
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Resolves every stop of the rebase or merge under way until it is
    /// done. `started` names the base when this command started it: an
    /// unresolvable conflict then aborts it, so the branch is as it was.
    fn resolve_all(
        &self,
        resolved: &mut Vec<String>,
        started: Option<&str>,
    ) -> Result<(), RebaseError> {
        while let Some(under_way) = self.under_way() {
            let conflicted = self.run(&["diff", "--name-only", "--diff-filter=U"])?;
            let (resolutions, refused): (Vec<_>, Vec<_>) = conflicted
                .lines()
                .map(|path| (path.to_owned(), self.resolution(path)))
                .partition(|(_, text)| text.is_some());
            if !refused.is_empty() {
                let files = refused
                    .iter()
                    .map(|(file, _)| format!("`{file}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(match started {
                    Some(onto) => {
                        self.run(&["rebase", "--abort"])?;
                        RebaseError::Aborted {
                            onto: onto.to_owned(),
                            files,
                        }
                    }
                    None => RebaseError::Unresolvable { files },
                });
            }
            for (path, text) in resolutions {
                let text = text.unwrap_or_default();
                let file = self.0.join(&path);
                std::fs::write(&file, text).map_err(|err| RebaseError::Git {
                    args: format!("(writing the resolved `{path}`)"),
                    dir: self.0.to_owned(),
                    message: err.to_string(),
                })?;
                self.run(&["add", "--", &path])?;
                if !resolved.contains(&path) {
                    resolved.push(path);
                }
            }
            match under_way.kind {
                Kind::Rebase => {
                    let continued = self.output(&["rebase", "--continue"])?;
                    // Stopping again (the next commit's conflicts) is the loop's business.
                    if !continued.status.success() && self.under_way().is_none() {
                        return Err(self.failure(&["rebase", "--continue"], &continued));
                    }
                }
                Kind::Merge => {
                    self.run(&["commit", "--no-edit", "--quiet"])?;
                }
            }
        }
        Ok(())
    }

    /// The resolved text of a conflicted file, when it is one whose
    /// conflicts adding migrations makes (and nothing else conflicts in it).
    fn resolution(&self, path: &str) -> Option<String> {
        let stage = |n: u8| self.text_at(&format!(":{n}:{path}"));
        if path == sum::PATH {
            let parse = |text: Option<String>| SumFile::parse(&text?).ok();
            let merged = merge_sum(
                parse(stage(1)).as_ref(),
                &parse(stage(2))?,
                &parse(stage(3))?,
            )
            .ok()?;
            return Some(merged.render());
        }
        if path == CODEOWNERS {
            // Rewritten from the code once the rebase is done.
            return stage(2);
        }
        if path.ends_with("src/migrations/mod.rs") {
            return merge_registry(stage(1).as_deref(), &stage(2)?, &stage(3)?).ok();
        }
        None
    }

    /// Commits what renumbering and the rehash changed, if anything.
    fn commit_generated(
        &self,
        catalog: &Catalog,
        rebased: &Rebased,
    ) -> Result<Option<String>, RebaseError> {
        let mut paths: Vec<String> = vec![sum::PATH.to_owned(), CODEOWNERS.to_owned()];
        paths.extend(
            catalog
                .schemas()
                .iter()
                .filter_map(|schema| catalog.crate_dir(schema))
                .map(|dir| format!("{dir}/src/migrations")),
        );
        let mut add = vec!["add", "-A", "--"];
        add.extend(
            paths
                .iter()
                .filter(|path| self.0.join(path).exists() || *path == CODEOWNERS)
                .map(String::as_str),
        );
        self.run(&add)?;
        let staged = self.output(&["diff", "--cached", "--quiet"])?;
        if staged.status.success() {
            return Ok(None);
        }
        let mut message = format!("migrate rebase onto {}", rebased.onto);
        if !rebased.renamed.is_empty() {
            message.push_str("\n\nRenumbered past the base's newest migration:\n");
            for (old, new) in &rebased.renamed {
                message.push_str(&format!("- {old} -> {new}\n"));
            }
        }
        if !rebased.same_tables.is_empty() {
            message.push_str("\nTo read before merging (both sides changed the same tables):\n");
            for pair in &rebased.same_tables {
                message.push_str(&format!("- {}\n", pair.describe(&rebased.onto)));
            }
        }
        self.run(&["commit", "--quiet", "-m", &message])?;
        Ok(Some(self.run(&["rev-parse", "--short", "HEAD"])?))
    }
}

impl Rebased {
    /// What it did, one line each, for the user.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![if self.up_to_date {
            format!("already on {}: nothing to replay", self.onto)
        } else {
            format!("rebased onto {}", self.onto)
        }];
        for file in &self.resolved {
            lines.push(format!("resolved {file} from both sides"));
        }
        for (old, new) in &self.renamed {
            lines.push(format!("renamed {old} -> {new}"));
        }
        for pair in &self.same_tables {
            lines.push(format!("to look at: {}", pair.describe(&self.onto)));
        }
        lines.push(match &self.committed {
            Some(commit) => format!("committed {commit}: the renumbering, sum file and CODEOWNERS"),
            None => "nothing to commit: the sum file and CODEOWNERS were current".to_owned(),
        });
        lines
    }
}

impl SameTables {
    /// One line for the user.
    pub fn describe(&self, onto: &str) -> String {
        format!(
            "`{}` and `{}` (on {onto}) both change {}: the rebase made them linear, not \
             compatible; read the other before merging",
            self.branch,
            self.base,
            self.tables.join(", ")
        )
    }
}

/// The pairs of migrations the branch (at `branch_tip`) and the base each
/// added since they parted that change a same table: `check`'s parallel
/// tables, read before the rebase moves the merge-base.
fn same_tables(workspace: &Path, branch_tip: &str, base_tip: &str) -> Vec<SameTables> {
    let (Ok(sides), Ok(branch)) = (
        check::read_sides_of(workspace, base_tip, branch_tip),
        check::sum_at(workspace, branch_tip, base_tip),
    ) else {
        return Vec::new();
    };
    let added: Vec<&SumEntry> = branch
        .entries
        .iter()
        .filter(|entry| sides.base.get(&entry.name).is_none())
        .collect();
    check::parallel_tables(&sides, &added)
        .into_iter()
        .filter_map(|problem| match problem {
            CheckProblem::ParallelTables {
                name,
                base_migration,
                tables,
                ..
            } => Some(SameTables {
                branch: name,
                base: base_migration,
                tables,
            }),
            _ => None,
        })
        .collect()
}

/// The three-way merge of a sum file: each migration as the side that
/// changed it since the merge-base (`base`, absent when both sides created
/// the file) has it, in global order. A migration both sides changed
/// differently is a real conflict.
pub fn merge_sum(
    base: Option<&SumFile>,
    ours: &SumFile,
    theirs: &SumFile,
) -> Result<SumFile, String> {
    let names: BTreeSet<&str> = ours
        .entries
        .iter()
        .chain(&theirs.entries)
        .chain(base.into_iter().flat_map(|file| &file.entries))
        .map(|entry| entry.name.as_str())
        .collect();
    let mut merged = Vec::new();
    for name in names {
        let before = base.and_then(|file| file.get(name));
        let (mine, other) = (ours.get(name), theirs.get(name));
        let kept = if mine == other || other == before {
            mine
        } else if mine == before {
            other
        } else {
            return Err(format!("migration `{name}` was changed on both sides"));
        };
        merged.extend(kept.cloned());
    }
    merged.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    Ok(SumFile::new(merged))
}

/// The migration modules a crate's `migrations/mod.rs` registers (as the
/// catalog reads them).
fn registered(registry: &str) -> BTreeSet<String> {
    registered_modules(registry).into_iter().flatten().collect()
}

/// A registry without its migrations' lines: what must agree on every side.
fn frame(registry: &str) -> String {
    registered(registry)
        .iter()
        .fold(registry.to_owned(), |text, name| unregister(&text, name))
}

/// The three-way merge of a crate's `migrations/mod.rs` when the sides only
/// registered (or unregistered) migrations: `ours` with what `theirs` added
/// or removed since `base`. Any other edit on either side is a real conflict.
pub fn merge_registry(base: Option<&str>, ours: &str, theirs: &str) -> Result<String, String> {
    let base_frame = base.map(frame);
    let (ours_frame, theirs_frame) = (frame(ours), frame(theirs));
    let frame_agrees = match &base_frame {
        Some(base_frame) => *base_frame == ours_frame && *base_frame == theirs_frame,
        None => ours_frame == theirs_frame,
    };
    if !frame_agrees {
        return Err("lines other than migration registrations differ".to_owned());
    }
    let before = base.map(registered).unwrap_or_default();
    let (mine, other) = (registered(ours), registered(theirs));
    let mut merged = ours.to_owned();
    for gone in before.iter().filter(|name| !other.contains(*name)) {
        merged = unregister(&merged, gone);
    }
    let mut added: Vec<&String> = other
        .iter()
        .filter(|name| !before.contains(*name) && !mine.contains(*name))
        .collect();
    added.sort();
    for name in added {
        merged = crate::scaffold::register(&merged, name)?;
    }
    Ok(merged)
}

/// The rehash step of `cargo xtask migrate rebase`: `cargo xtask migrate
/// hash` run again, so cargo rebuilds the code the rebase brought.
pub fn rehash_with_cargo(workspace: &Path) -> Result<(), String> {
    let status = cargo_xtask(workspace, &["migrate", "hash"])
        .status()
        .map_err(|err| format!("cannot run cargo: {err}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo xtask migrate hash` exited with {status}"))
    }
}

/// The check step of `cargo xtask migrate rebase`: `cargo xtask migrate
/// check --base <onto>` on the rebuilt code; its exit code.
pub fn check_with_cargo(workspace: &Path, onto: &str) -> Result<u8, String> {
    let status = cargo_xtask(workspace, &["migrate", "check", "--base", onto])
        .status()
        .map_err(|err| format!("cannot run cargo: {err}"))?;
    Ok(status
        .code()
        .and_then(|code| u8::try_from(code).ok())
        .unwrap_or(Exit::Failed.code()))
}

/// `cargo xtask <args>` in `workspace`, through the cargo that runs this one.
pub fn cargo_xtask(workspace: &Path, args: &[&str]) -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args(["run", "--quiet", "--package", "xtask", "--"])
        .args(args)
        .current_dir(workspace);
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, schema: &str, checksum: &str) -> SumEntry {
        SumEntry {
            name: name.to_owned(),
            schema: schema.to_owned(),
            checksum: checksum.to_owned(),
            tables: Vec::new(),
        }
    }

    #[test]
    fn the_sum_file_keeps_what_each_side_added_or_removed() {
        let base = SumFile::new(vec![
            entry("m20250101_000000_core_a", "core", "1"),
            entry("m20250102_000000_academy_b", "academy", "2"),
        ]);
        let mut ours = base.clone();
        ours.push(entry("m20260101_000000_talent_ours", "talent", "3"));
        let mut theirs = base.clone();
        theirs.entries.remove(1);
        theirs.push(entry("m20250301_000000_vacancy_theirs", "vacancy", "4"));
        let merged = merge_sum(Some(&base), &ours, &theirs).unwrap();
        let names: Vec<&str> = merged.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "m20250101_000000_core_a",
                "m20250301_000000_vacancy_theirs",
                "m20260101_000000_talent_ours"
            ]
        );
        // Its total adds up: it parses back.
        assert_eq!(SumFile::parse(&merged.render()).unwrap(), merged);
    }

    #[test]
    fn a_migration_changed_differently_on_both_sides_is_a_real_conflict() {
        let base = SumFile::new(vec![entry("m20250101_000000_core_a", "core", "1")]);
        let ours = SumFile::new(vec![entry("m20250101_000000_core_a", "core", "2")]);
        let theirs = SumFile::new(vec![entry("m20250101_000000_core_a", "core", "3")]);
        let err = merge_sum(Some(&base), &ours, &theirs).unwrap_err();
        assert!(err.contains("m20250101_000000_core_a"), "{err}");
        // The same change on both sides is no conflict.
        assert_eq!(merge_sum(Some(&base), &ours, &ours).unwrap(), ours);
    }

    const REGISTRY: &str = "mod m20250101_000000_academy_a;\nmod m20250102_000000_academy_b;\n\npub fn migrations() -> Vec<Box<dyn MigrationTrait>> {\n    vec![\n        Box::new(m20250101_000000_academy_a::Migration),\n        Box::new(m20250102_000000_academy_b::Migration),\n    ]\n}\n";

    #[test]
    fn the_registry_gets_both_sides_migrations() {
        let ours = crate::scaffold::register(REGISTRY, "m20260101_000000_academy_ours").unwrap();
        let theirs =
            crate::scaffold::register(REGISTRY, "m20250301_000000_academy_theirs").unwrap();
        let merged = merge_registry(Some(REGISTRY), &ours, &theirs).unwrap();
        assert_eq!(
            registered(&merged).into_iter().collect::<Vec<_>>(),
            [
                "m20250101_000000_academy_a",
                "m20250102_000000_academy_b",
                "m20250301_000000_academy_theirs",
                "m20260101_000000_academy_ours"
            ]
        );
        assert!(merged.contains("        Box::new(m20250301_000000_academy_theirs::Migration),\n"));
        // A side that removed one (renumbered it) removes it.
        let renamed = crate::scaffold::register(
            &unregister(REGISTRY, "m20250102_000000_academy_b"),
            "m20260202_000000_academy_b",
        )
        .unwrap();
        let merged = merge_registry(Some(REGISTRY), &ours, &renamed).unwrap();
        assert!(!registered(&merged).contains("m20250102_000000_academy_b"));
        assert!(registered(&merged).contains("m20260202_000000_academy_b"));
        assert!(!merged.contains("m20250102_000000_academy_b::Migration"));
    }

    #[test]
    fn a_registry_edited_beyond_registrations_is_a_real_conflict() {
        let ours = REGISTRY.replace("pub fn migrations", "pub fn all_migrations");
        let theirs =
            crate::scaffold::register(REGISTRY, "m20250301_000000_academy_theirs").unwrap();
        assert!(merge_registry(Some(REGISTRY), &ours, &theirs).is_err());
    }
}
