//! `migrate check --base <ref>`: the pull-request gate. The base side is
//! read from git, as the sum file at the base ref and at the merge-base
//! (`git show <rev>:migration-runner/migrations.sum`), so the base is never
//! built and the working tree is never touched. The branch side is the code.
//!
//! It refuses, each problem naming the migration, its crate and the fix:
//! - a branch migration that sorts before a base migration (history must stay linear);
//! - a base migration edited, renamed or deleted on the branch (compared by checksum;
//!   one the base gained since the merge-base is not a deletion: the base moved on);
//! - branch and base both adding, since their merge-base, migrations that touch a same table;
//! - a sum file in the working tree that disagrees with the code;
//! - a migration that fails when the history is replayed (for the entity check);
//! - lint errors in the branch's new migrations, ownership included (see `lint`);
//!   their warnings are shown, never failing.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

use crate::connect::DatabaseTarget;
use crate::exit::Exit;
use crate::gate::entity_check::EntityCheckError;
use crate::gate::owners::Owners;
use crate::gate::scratch::ScratchError;
use crate::source::catalog::CatalogError;
use crate::source::catalog::{Catalog, SchemaSource};
use crate::source::sum::{self, SumEntry, SumFile};

/// One reason the branch may not merge as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum CheckProblem {
    /// A schema crate names no owning team.
    NoOwners { schema: String, manifest: String },
    /// `.github/CODEOWNERS` is not what the registry's owners give.
    CodeownersStale { path: String },
    /// `docs/SCHEMA.md` is not what the history gives.
    SchemaDocStale { path: String },
    /// A migration the branch adds sorts before the newest migration on the base.
    NotLinear {
        name: String,
        schema: String,
        newest_on_base: String,
    },
    /// A migration on the base emits other SQL on the branch.
    Edited {
        name: String,
        schema: String,
        /// Its source, relative to the workspace, when found.
        #[serde(skip_serializing_if = "Option::is_none")]
        file: Option<String>,
        /// The base ref, for the advice.
        #[serde(skip)]
        base: Option<String>,
        /// When its file is the base's: the files this branch changed (code
        /// it calls is among them).
        #[serde(skip_serializing_if = "Option::is_none")]
        calls_changed: Option<Vec<String>>,
    },
    /// A migration on the base is gone from the branch, its SQL now under another name.
    Renamed {
        name: String,
        schema: String,
        now: String,
    },
    /// A migration on the base is gone from the branch.
    Deleted { name: String, schema: String },
    /// A migration the base gained after the branch left it, which the
    /// branch (not rebased) does not have yet.
    BaseMovedOn { name: String, schema: String },
    /// Both sides added migrations touching the same tables since they parted.
    ParallelTables {
        name: String,
        schema: String,
        base_migration: String,
        tables: Vec<String>,
    },
    /// The working tree's sum file disagrees with the code.
    SumFile { detail: String },
    /// A migration's statement fails when history is replayed.
    ReplayFailed {
        name: String,
        schema: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        file: Option<String>,
        /// 1-based, in its recorded script.
        statement_number: usize,
        statement: String,
        reason: String,
    },
    /// An entity does not describe what the migrations build.
    Entity { table: String, detail: String },
    /// A lint error in a migration the branch adds.
    Lint { detail: String },
}

impl CheckProblem {
    pub fn migration(&self) -> Option<&str> {
        match self {
            CheckProblem::NotLinear { name, .. }
            | CheckProblem::Edited { name, .. }
            | CheckProblem::Renamed { name, .. }
            | CheckProblem::Deleted { name, .. }
            | CheckProblem::BaseMovedOn { name, .. }
            | CheckProblem::ParallelTables { name, .. }
            | CheckProblem::ReplayFailed { name, .. } => Some(name),
            CheckProblem::SumFile { .. }
            | CheckProblem::Entity { .. }
            | CheckProblem::Lint { .. }
            | CheckProblem::NoOwners { .. }
            | CheckProblem::CodeownersStale { .. }
            | CheckProblem::SchemaDocStale { .. } => None,
        }
    }
}

impl fmt::Display for CheckProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckProblem::NotLinear {
                name,
                schema,
                newest_on_base,
            } => write!(
                f,
                "migration `{name}` (crate `{schema}`) sorts before `{newest_on_base}`, which the base already has: \
                 a database that applied the base would refuse it as out of order; rebase onto the base and \
                 give it a newer timestamp (`cargo xtask migrate rebase --onto <ref>` does both)"
            ),
            CheckProblem::Edited {
                name,
                schema,
                file: Some(file),
                calls_changed: Some(changed),
                ..
            } => write!(
                f,
                "migration `{name}` (crate `{schema}`) exists on the base and emits other SQL here, though its \
                 file ({file}) is unchanged: code it calls changed (this branch changed {}); applied SQL must \
                 never change: undo the change to what it calls and add a new helper for new migrations instead",
                if changed.is_empty() {
                    "no file of this checkout: a dependency's new version may emit other SQL"
                        .to_owned()
                } else {
                    changed.join(", ")
                }
            ),
            CheckProblem::Edited {
                name,
                schema,
                file,
                base,
                ..
            } => write!(
                f,
                "migration `{name}` (crate `{schema}`) exists on the base but emits other SQL here: applied \
                 history never changes; restore it (`git checkout {} -- {}`) and put the change in a new \
                 migration (`cargo xtask migrate new {schema} <what>`)",
                base.as_deref().unwrap_or("<base>"),
                file.as_deref().unwrap_or("<its file>")
            ),
            CheckProblem::Renamed { name, schema, now } => write!(
                f,
                "migration `{name}` (crate `{schema}`) exists on the base but is called `{now}` here: \
                 databases record it by name; restore its original name"
            ),
            CheckProblem::Deleted { name, schema } => write!(
                f,
                "migration `{name}` (crate `{schema}`) exists on the base but was deleted here: databases \
                 that applied it would refuse every deploy; restore it (undo its effect with a new migration)"
            ),
            CheckProblem::BaseMovedOn { name, schema } => write!(
                f,
                "migration `{name}` (crate `{schema}`) was added on the base after this branch left it, and this \
                 branch does not have it yet: the base moved on; rebase onto the base (`cargo xtask migrate rebase \
                 --onto <base>` rebases, merges the sum file and renumbers), nothing here needs restoring or undoing"
            ),
            CheckProblem::ParallelTables {
                name,
                schema,
                base_migration,
                tables,
            } => write!(
                f,
                "migration `{name}` (crate `{schema}`) and `{base_migration}`, added on the base since this \
                 branch left it, both change {}: rebase onto the base, check the two still compose, and \
                 renumber this branch's migration after it",
                tables
                    .iter()
                    .map(|t| format!("`{t}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            CheckProblem::ReplayFailed {
                name,
                schema,
                file,
                statement_number,
                statement,
                reason,
            } => write!(
                f,
                "migration `{name}` (crate `{schema}`{}) fails when the history is replayed into a throwaway \
                 database, at statement {statement_number}: {reason}\n      statement: {statement}\n    fix \
                 the migration (a deploy would fail the same way); the entities could not be compared with the \
                 migrations until it replays",
                file.as_deref()
                    .map(|file| format!(", {file}"))
                    .unwrap_or_default()
            ),
            CheckProblem::SumFile { detail } => write!(f, "sum file: {detail}"),
            CheckProblem::Lint { detail } => write!(f, "lint: {detail}"),
            CheckProblem::NoOwners { schema, manifest } => write!(
                f,
                "schema `{schema}` has no owners: name its team(s) in {manifest} (`[package.metadata.schema] \
                 owners = [\"@org/team\"]`), then `cargo xtask migrate hash` writes CODEOWNERS"
            ),
            CheckProblem::CodeownersStale { path } => write!(
                f,
                "{path} is not what the schema crates' owners give (edited by hand, or a migration's \
                 `// migrate: touches` changed): run `cargo xtask migrate hash` and commit it"
            ),
            CheckProblem::SchemaDocStale { path } => write!(
                f,
                "{path} is not what the history gives (edited by hand, or a migration changed a table, \
                 column or key it shows): run `cargo xtask schema map --format markdown` and commit it"
            ),
            CheckProblem::Entity { table, detail } => write!(
                f,
                "entity of `{table}`: {detail}; make the entity (in its crate's src/entities/) say what the \
                 migrations build, or write the migration that builds what it says"
            ),
        }
    }
}

/// Why `check` could not run.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("`git {args}` failed in {}: {message}", dir.display())]
    Git {
        args: String,
        dir: PathBuf,
        message: String,
    },
    #[error(
        "the base `{base}` has no readable {}: {problem}; `check` reads the base's migrations from it: land the \
         sum file on the base first (`cargo xtask migrate hash` there)",
        sum::PATH
    )]
    BaseSum { base: String, problem: String },
    #[error("{}: {problem}", sum::PATH)]
    WorkingSum { problem: String },
    #[error(
        "cannot find where this branch left `{base}`: this checkout is a shallow clone (only the newest \
         commits were fetched), so git has no common ancestor of `{base}` and HEAD; fetch the whole history \
         (`git fetch --unshallow`, or `fetch-depth: 0` in the CI workflow's checkout step) and run the check \
         again"
    )]
    ShallowClone { base: String },
    #[error(
        "`{base}` and HEAD have no common ancestor: this branch does not come from `{base}`; pass the \
         branch it was made from as `--base`"
    )]
    Unrelated { base: String },
    #[error("cannot use `{}`: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    EntityCheck(#[from] EntityCheckError),
    #[error(transparent)]
    Owners(#[from] crate::gate::owners::OwnersError),
}

impl CheckError {
    /// The process exit code: a base or a checkout `check` cannot read is
    /// the caller's to fix; the rest as the cause says.
    pub fn exit(&self) -> Exit {
        match self {
            CheckError::Io { .. } => Exit::Failed,
            CheckError::Catalog(err) => err.exit(),
            CheckError::EntityCheck(err) => err.exit(),
            _ => Exit::Usage,
        }
    }
}

/// The sum files `check` compares.
#[derive(Debug, Clone)]
pub struct Sides {
    /// The base ref as given (`origin/main`).
    pub base_ref: String,
    /// The merge-base's commit.
    pub merge_base_rev: String,
    /// The base branch's tip.
    pub base: SumFile,
    /// Where the branch left the base.
    pub merge_base: SumFile,
}

/// Reads the base's and the merge-base's sum files from git in `repo`.
pub fn read_sides(repo: &Path, base: &str) -> Result<Sides, CheckError> {
    read_sides_of(repo, base, "HEAD")
}

/// [`read_sides`] for the branch at `head` (a commit other than HEAD: the
/// branch's tip before a rebase under way).
pub fn read_sides_of(repo: &Path, base: &str, head: &str) -> Result<Sides, CheckError> {
    let merge_base = merge_base(repo, base, head)?;
    Ok(Sides {
        base_ref: base.to_owned(),
        merge_base_rev: merge_base.trim().to_owned(),
        base: sum_at(repo, base, base)?,
        merge_base: sum_at(repo, merge_base.trim(), base)?,
    })
}

/// The sum file committed at `rev` (`base` names the side, for the message).
pub fn sum_at(repo: &Path, rev: &str, base: &str) -> Result<SumFile, CheckError> {
    let problem = |problem: String| CheckError::BaseSum {
        base: base.to_owned(),
        problem,
    };
    let text = git(repo, &["show", &format!("{rev}:{}", sum::PATH)])
        .map_err(|err| problem(err.to_string()))?;
    SumFile::parse(&text).map_err(|err| problem(err.to_string()))
}

/// Where `head` left `base`. `git merge-base` fails without a word when
/// there is none: on a shallow clone (the history is not fetched) or for
/// unrelated histories; each gets its own explanation.
fn merge_base(repo: &Path, base: &str, head: &str) -> Result<String, CheckError> {
    match git(repo, &["merge-base", base, head]) {
        Ok(found) => Ok(found),
        Err(CheckError::Git { message, .. }) if message.is_empty() => {
            let shallow = git(repo, &["rev-parse", "--is-shallow-repository"])?;
            Err(if shallow.trim() == "true" {
                CheckError::ShallowClone {
                    base: base.to_owned(),
                }
            } else {
                CheckError::Unrelated {
                    base: base.to_owned(),
                }
            })
        }
        Err(err) => Err(err),
    }
}

fn git(repo: &Path, args: &[&str]) -> Result<String, CheckError> {
    let output = Command::new("git")
        .args(args)
        .current_dir(repo)
        .output()
        .map_err(|err| CheckError::Git {
            args: args.join(" "),
            dir: repo.to_owned(),
            message: err.to_string(),
        })?;
    if !output.status.success() {
        return Err(CheckError::Git {
            args: args.join(" "),
            dir: repo.to_owned(),
            message: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Every problem of the branch (`code`, the sum of its code, and `working`,
/// its sum file as committed) against the base.
pub fn compare(sides: &Sides, code: &SumFile, working: &SumFile) -> Vec<CheckProblem> {
    let mut problems = Vec::new();
    for mismatch in sum::compare(code, working) {
        problems.push(CheckProblem::SumFile {
            detail: format!("{mismatch}; run `cargo xtask migrate hash` and commit it"),
        });
    }
    // Untouched history: every base migration is in the code, emitting the same SQL.
    for entry in &sides.base.entries {
        match code.get(&entry.name) {
            Some(now) if now.checksum == entry.checksum => {}
            Some(_) => problems.push(CheckProblem::Edited {
                name: entry.name.clone(),
                schema: entry.schema.clone(),
                file: None,
                base: None,
                calls_changed: None,
            }),
            // Not deleted here: the branch left the base before it was added.
            None if sides.merge_base.get(&entry.name).is_none() => {
                problems.push(CheckProblem::BaseMovedOn {
                    name: entry.name.clone(),
                    schema: entry.schema.clone(),
                })
            }
            None => match code
                .entries
                .iter()
                .find(|e| e.checksum == entry.checksum && sides.base.get(&e.name).is_none())
            {
                Some(renamed) => problems.push(CheckProblem::Renamed {
                    name: entry.name.clone(),
                    schema: entry.schema.clone(),
                    now: renamed.name.clone(),
                }),
                None => problems.push(CheckProblem::Deleted {
                    name: entry.name.clone(),
                    schema: entry.schema.clone(),
                }),
            },
        }
    }
    let renamed_to: Vec<&str> = problems
        .iter()
        .filter_map(|p| match p {
            CheckProblem::Renamed { now, .. } => Some(now.as_str()),
            _ => None,
        })
        .collect();
    let added: Vec<&SumEntry> = code
        .entries
        .iter()
        .filter(|e| sides.base.get(&e.name).is_none() && !renamed_to.contains(&e.name.as_str()))
        .collect();
    // Linear history: what the branch adds sorts after everything on the base.
    if let Some(newest) = sides
        .base
        .entries
        .iter()
        .max_by(|a, b| a.sort_key().cmp(&b.sort_key()))
    {
        for entry in &added {
            if entry.sort_key() < newest.sort_key() {
                problems.push(CheckProblem::NotLinear {
                    name: entry.name.clone(),
                    schema: entry.schema.clone(),
                    newest_on_base: newest.name.clone(),
                });
            }
        }
    }
    problems.extend(parallel_tables(sides, &added));
    problems
}

/// Parallel work: the migrations of `added` (the branch's) and of the base
/// that each side added since the merge-base and that touch a same table.
pub fn parallel_tables(sides: &Sides, added: &[&SumEntry]) -> Vec<CheckProblem> {
    let mut problems = Vec::new();
    let base_added: Vec<&SumEntry> = sides
        .base
        .entries
        .iter()
        .filter(|e| sides.merge_base.get(&e.name).is_none())
        .collect();
    for entry in added
        .iter()
        .filter(|e| sides.merge_base.get(&e.name).is_none())
    {
        for other in &base_added {
            let tables: Vec<String> = entry
                .tables
                .iter()
                .filter(|t| other.tables.contains(t))
                .cloned()
                .collect();
            if !tables.is_empty() {
                problems.push(CheckProblem::ParallelTables {
                    name: entry.name.clone(),
                    schema: entry.schema.clone(),
                    base_migration: other.name.clone(),
                    tables,
                });
            }
        }
    }
    problems
}

/// The names of the migrations the code adds over `base`, read from git
/// (what `lint --base` and `owners` look at).
pub async fn added_names(
    workspace: &Path,
    catalog: &Catalog,
    base: &str,
) -> Result<Vec<String>, CheckError> {
    let sides = read_sides(workspace, base)?;
    let code = crate::source::capture::sum_file(catalog).await?;
    Ok(added_over(&sides, &code)
        .iter()
        .map(|e| e.name.clone())
        .collect())
}

/// The migrations the branch adds over the base (what `lint` reads).
pub fn added_over<'a>(sides: &Sides, code: &'a SumFile) -> Vec<&'a SumEntry> {
    code.entries
        .iter()
        .filter(|e| sides.base.get(&e.name).is_none())
        .collect()
}

/// The workspace root: the nearest directory, from `start` up, holding the sum file.
pub fn find_workspace(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|dir| dir.join(sum::PATH).is_file())
        .map(Path::to_path_buf)
}

/// What `check` found.
#[derive(Debug, Clone)]
pub struct CheckReport {
    /// How many migrations the branch adds over the base.
    pub added: usize,
    /// Every reason the branch may not merge as it is.
    pub problems: Vec<CheckProblem>,
    /// Lint warnings of the migrations the branch adds: shown, never failing.
    pub warnings: Vec<migration_lint::Finding>,
    /// Each migration the branch adds: the schemas its SQL changes and the
    /// owners whose review it needs.
    pub reviews: Vec<Review>,
}

/// Who must review one added migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Review {
    pub migration: String,
    /// The crate's schema.
    pub schema: String,
    /// Every schema its SQL changes (its own among them when it does).
    pub changes: Vec<String>,
    /// The other schemas its source declares (`// migrate: touches`).
    pub declares: Vec<String>,
    /// The owners of its own schema and of every schema it changes or
    /// declares.
    pub owners: Vec<String>,
}

impl CheckReport {
    /// What `check` prints without `--json`, line by line.
    pub fn text(&self, base: &str) -> Vec<String> {
        let warned = self.warnings.len();
        let mut lines = if self.problems.is_empty() {
            vec![format!(
                "check passed against `{base}`: {} new migration(s), history linear and untouched{}",
                self.added,
                if warned == 0 {
                    String::new()
                } else {
                    format!("; {warned} lint warning(s):")
                }
            )]
        } else {
            let mut lines = vec![format!(
                "check failed against `{base}`: {} problem(s):",
                self.problems.len()
            )];
            lines.extend(self.problems.iter().map(|problem| format!("  - {problem}")));
            if warned > 0 {
                lines.push(format!(
                    "and {warned} lint warning(s), which do not fail the check:"
                ));
            }
            lines
        };
        lines.extend(self.warnings.iter().map(|finding| format!("  - {finding}")));
        lines
    }

    /// 0 when the branch may merge, 2 with any problem.
    pub fn exit(&self) -> Exit {
        if self.problems.is_empty() {
            Exit::Success
        } else {
            Exit::Refused
        }
    }
}

/// Everything `check` needs from the branch: its code (`catalog`, and the
/// same migrations again as `sources` for the replay), its entities, and the
/// checkout (`workspace`) whose git history holds the base.
pub struct Branch<'a> {
    pub workspace: &'a Path,
    pub catalog: &'a Catalog,
    pub sources: Vec<SchemaSource>,
    pub entities: Vec<schema_core::schema_crate::EntitySource>,
}

/// Runs every check of the branch against `base` (its `sides`, read first:
/// a base that cannot be read needs no database); the throwaway databases
/// are made on `target`'s server, through `admin`.
pub async fn run(
    branch: Branch<'_>,
    sides: &Sides,
    admin: &sea_orm::DatabaseConnection,
    target: &DatabaseTarget,
) -> Result<CheckReport, CheckError> {
    let workspace = branch.workspace;
    let catalog = branch.catalog;
    let code = crate::source::capture::sum_file(catalog).await?;
    let path = workspace.join(sum::PATH);
    let text = std::fs::read_to_string(&path).map_err(|source| CheckError::Io {
        path: path.clone(),
        source,
    })?;
    let mut problems = match SumFile::parse(&text) {
        Ok(working) => compare(sides, &code, &working),
        Err(err) => vec![CheckProblem::SumFile {
            detail: err.to_string(),
        }],
    };
    explain_edits(&mut problems, workspace, sides, catalog);
    let owners = crate::gate::owners::Owners::read(workspace, catalog)?;
    let source_file = |name: &str| {
        catalog
            .get(name)
            .and_then(|migration| catalog.source_file(workspace, migration))
            .map(|file| file.display().to_string())
    };
    match crate::gate::entity_check::models(admin, target, branch.sources, branch.entities).await {
        Ok((from_migrations, from_entities)) => {
            problems.extend(
                crate::gate::entity_check::differences(&from_migrations, &from_entities)
                    .into_iter()
                    .map(|difference| CheckProblem::Entity {
                        table: difference.key.table().to_owned(),
                        detail: difference.describe("entity says", "migrations give"),
                    }),
            );
            problems.extend(schema_doc_problem(
                workspace,
                &owners,
                catalog,
                &from_migrations,
            ));
        }
        // A migration that does not replay is the branch's problem, not
        // check's: reported with the rest.
        Err(EntityCheckError::Scratch(ScratchError::Replay(failed))) => {
            problems.push(CheckProblem::ReplayFailed {
                file: source_file(&failed.name),
                reason: crate::connect::db_error::describe(&failed.source),
                name: failed.name,
                schema: failed.schema,
                statement_number: failed.statement_index + 1,
                statement: failed.statement,
            })
        }
        Err(other) => return Err(other.into()),
    }
    let added_names: Vec<String> = added_over(sides, &code)
        .iter()
        .map(|e| e.name.clone())
        .collect();
    let findings = crate::gate::lint::lint_catalog(
        catalog,
        workspace,
        migration_lint::Target::Plain,
        |name| added_names.iter().any(|added| added == name),
    )
    .await?;
    problems.extend(
        findings
            .iter()
            .filter(|finding| finding.blocks())
            .map(|finding| CheckProblem::Lint {
                detail: finding.to_string(),
            }),
    );
    problems.extend(owner_problems(workspace, &owners, catalog));
    let reviews = reviews(workspace, catalog, &owners, &added_names).await?;
    let warnings = findings
        .into_iter()
        .filter(|finding| !finding.blocks() && finding.allowed.is_none())
        .collect();
    Ok(CheckReport {
        added: added_names.len(),
        problems,
        warnings,
        reviews,
    })
}

/// Says, for each edited migration, where its file is and whether the file
/// itself changed: when it is the base's, the SQL changed through code it
/// calls (a `migration_kit` helper), and restoring the file would not help.
fn explain_edits(
    problems: &mut [CheckProblem],
    workspace: &Path,
    sides: &Sides,
    catalog: &Catalog,
) {
    let mut branch_changed: Option<Vec<String>> = None;
    for problem in problems {
        let CheckProblem::Edited {
            name,
            file,
            base,
            calls_changed,
            ..
        } = problem
        else {
            continue;
        };
        *base = Some(sides.base_ref.clone());
        let Some(path) = catalog
            .get(name)
            .and_then(|migration| catalog.source_file(workspace, migration))
        else {
            continue;
        };
        let path = path.display().to_string();
        let as_on_base = git(
            workspace,
            &["cat-file", "-e", &format!("{}:{path}", sides.base_ref)],
        )
        .is_ok()
            && git(
                workspace,
                &["diff", "--quiet", &sides.base_ref, "--", &path],
            )
            .is_ok();
        if as_on_base {
            *calls_changed = Some(
                branch_changed
                    .get_or_insert_with(|| changed_files(workspace, &sides.merge_base_rev))
                    .clone(),
            );
        }
        *file = Some(path);
    }
}

/// The files this branch changed since it left the base, committed or not
/// (the sum file aside: it only follows the code).
fn changed_files(workspace: &Path, merge_base: &str) -> Vec<String> {
    let mut files: Vec<String> = [
        git(workspace, &["diff", "--name-only", merge_base]),
        git(workspace, &["ls-files", "--others", "--exclude-standard"]),
    ]
    .into_iter()
    .flat_map(|listed| {
        listed
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    })
    .filter(|file| file != sum::PATH)
    .collect();
    files.sort();
    files.dedup();
    files
}

/// `docs/SCHEMA.md` as the history (`from_migrations`) gives it, with the
/// schemas' owners: nothing in it depends on when or where it was made.
pub fn schema_doc(
    owners: &Owners,
    catalog: &Catalog,
    from_migrations: &crate::model::SchemaModel,
) -> String {
    let document = crate::gate::map::document(from_migrations, catalog.schemas(), owners);
    schema_map::markdown::schema_md(&document)
}

/// `docs/SCHEMA.md` is stale (edited by hand, or a migration changed what it shows).
fn schema_doc_problem(
    workspace: &Path,
    owners: &Owners,
    catalog: &Catalog,
    from_migrations: &crate::model::SchemaModel,
) -> Option<CheckProblem> {
    let expected = schema_doc(owners, catalog, from_migrations);
    let written =
        std::fs::read_to_string(workspace.join(schema_map::markdown::PATH)).unwrap_or_default();
    (written != expected).then(|| CheckProblem::SchemaDocStale {
        path: schema_map::markdown::PATH.to_owned(),
    })
}

/// Every schema crate names its owners, and CODEOWNERS is what they give.
pub fn owner_problems(workspace: &Path, owners: &Owners, catalog: &Catalog) -> Vec<CheckProblem> {
    let mut problems: Vec<CheckProblem> = owners
        .missing
        .iter()
        .map(|(schema, manifest)| CheckProblem::NoOwners {
            schema: schema.clone(),
            manifest: manifest
                .strip_prefix(workspace)
                .unwrap_or(manifest)
                .display()
                .to_string(),
        })
        .collect();
    let path = workspace.join(crate::gate::owners::CODEOWNERS);
    let written = std::fs::read_to_string(&path).unwrap_or_default();
    if written != owners.codeowners(workspace, catalog) {
        problems.push(CheckProblem::CodeownersStale {
            path: crate::gate::owners::CODEOWNERS.to_owned(),
        });
    }
    problems
}

/// For each added migration: the schemas its recorded SQL changes and the
/// owners of those and of its own schema.
pub async fn reviews(
    workspace: &Path,
    catalog: &Catalog,
    owners: &Owners,
    added: &[String],
) -> Result<Vec<Review>, CheckError> {
    let capturer = crate::source::capture::Capturer::new().await?;
    let mut reviews = Vec::new();
    for name in added {
        let Some(migration) = catalog.get(name) else {
            continue;
        };
        let script = capturer
            .record(migration, crate::source::capture::Direction::Up)
            .await?;
        let mut changes = std::collections::BTreeSet::new();
        for statement in &script.statements {
            changes.extend(sql_objects::objects(&statement.to_string()).changed_schemas);
        }
        let declares = catalog
            .source_file(workspace, migration)
            .and_then(|file| std::fs::read_to_string(workspace.join(file)).ok())
            .map(|source| migration_lint::declared_schemas(&source))
            .unwrap_or_default();
        let teams: Vec<String> = owners
            .teams(
                std::iter::once(migration.schema)
                    .chain(changes.iter().map(String::as_str))
                    .chain(declares.iter().map(String::as_str)),
            )
            .into_iter()
            .map(str::to_owned)
            .collect();
        reviews.push(Review {
            migration: name.clone(),
            schema: migration.schema.to_owned(),
            changes: changes.into_iter().collect(),
            declares,
            owners: teams,
        });
    }
    Ok(reviews)
}
