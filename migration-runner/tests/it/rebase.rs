//! `migrate rebase` in a real git repository: four team branches, each
//! adding a migration, merged into main one after another. After each merge
//! every remaining branch goes green (`check --base main` on a real server)
//! with exactly one `rebase`, a second one changes nothing, the pair of
//! migrations on the same table is reported, and CODEOWNERS names both
//! teams of the cross-schema migration. A conflict beyond the sum file and
//! the registries stops it with the branch as it was.
//!
//! The running test binary holds the workspace's compiled migrations; the
//! branches' own migrations are SQL in their files, which this test reads
//! back as the code (`tree_sources`): what a rebuild would compile.

use std::path::Path;

use migration_dev::rebase::{self, RebaseArgs, RebaseError};
use migration_dev::testing::TestDatabase;
use migration_runner::SchemaSource;
use migration_runner::gate::check::{self, CheckProblem};
use migration_runner::gate::owners::CODEOWNERS;
use migration_runner::source::catalog::{Catalog, registered_modules, workspace_sources};
use migration_runner::source::sum::{self, SumFile};

use crate::check::{Repo, workspace_checkout};
use crate::support::*;

/// A team's branch: the crate it writes in, its migration and its SQL.
struct Team {
    branch: &'static str,
    krate: &'static str,
    migration: &'static str,
    touches: Option<&'static str>,
    up: &'static [&'static str],
}

/// In merge order; each sorts before the ones merged before it, so rebases
/// have to renumber. `talent` and `vacancy` both change
/// `talent.profiles`; `vacancy`'s migration changes talent's schema.
const TEAMS: [Team; 4] = [
    Team {
        branch: "core-team",
        krate: "core",
        migration: "m20990104_000000_core_check_user_email",
        touches: None,
        up: &[
            "ALTER TABLE core.users ADD CONSTRAINT users_email_has_at CHECK (position('@' in email) > 1) NOT VALID",
        ],
    },
    Team {
        branch: "talent-team",
        krate: "talent",
        migration: "m20990103_000000_talent_check_profile_bio",
        touches: None,
        up: &[
            "ALTER TABLE talent.profiles ADD CONSTRAINT profiles_bio_length CHECK (char_length(bio) <= 4000) NOT VALID",
        ],
    },
    Team {
        branch: "academy-team",
        krate: "academy",
        migration: "m20990102_000000_academy_check_course_title",
        touches: None,
        up: &[
            "ALTER TABLE academy.courses ADD CONSTRAINT courses_title_not_blank CHECK (btrim(title) <> '') NOT VALID",
        ],
    },
    Team {
        branch: "vacancy-team",
        krate: "vacancy",
        migration: "m20990101_000000_vacancy_check_headlines_for_applications",
        touches: Some("talent"),
        up: &[
            "ALTER TABLE vacancy.employers ADD CONSTRAINT employers_name_not_blank CHECK (btrim(name) <> '') NOT VALID",
            "ALTER TABLE talent.profiles ADD CONSTRAINT profiles_headline_not_blank CHECK (btrim(headline) <> '') NOT VALID",
        ],
    },
];

/// The migration's source file: its SQL as raw strings the test reads back.
fn source(team: &Team) -> String {
    let mut text = format!("//! {}'s change.\n", team.branch);
    if let Some(other) = team.touches {
        text.push_str(&format!("// migrate: touches {other}\n"));
    }
    for (n, sql) in team.up.iter().enumerate() {
        text.push_str(&format!("pub const UP_{n}: &str = r#\"{sql}\"#;\n"));
    }
    text
}

/// The code as a rebuild of the working tree would compile it: the
/// workspace's migrations, then each further one its crate's `mod.rs`
/// registers, its SQL read from its file.
fn tree_sources(workspace: &Path) -> Vec<SchemaSource> {
    let mut sources = workspace_sources(&schema_registry::workspace());
    for source in &mut sources {
        let compiled: Vec<String> = source
            .migrations
            .iter()
            .map(|m| m.name().to_owned())
            .collect();
        let dir = workspace.join(source.schema).join("src/migrations");
        let registry = std::fs::read_to_string(dir.join("mod.rs")).unwrap();
        // In the order the crate registers them, as the catalog counts them.
        for name in registered_modules(&registry).into_iter().flatten() {
            if compiled.contains(&name) {
                continue;
            }
            let text = std::fs::read_to_string(dir.join(format!("{name}.rs"))).unwrap();
            let up: Vec<&str> = text
                .split("r#\"")
                .skip(1)
                .map(|rest| rest.split("\"#").next().unwrap())
                .collect();
            source
                .migrations
                .push(Box::new(SqlMigration::new(&name, &up, &[])));
        }
    }
    sources
}

/// `migrate hash` on that code: the sum file and CODEOWNERS rewritten.
fn rehash(runtime: &tokio::runtime::Runtime, workspace: &Path) -> Result<(), String> {
    let catalog = Catalog::new(tree_sources(workspace)).map_err(|e| e.to_string())?;
    let file = runtime
        .block_on(migration_runner::source::capture::sum_file(&catalog))
        .map_err(|e| e.to_string())?;
    std::fs::write(workspace.join(sum::PATH), file.render()).map_err(|e| e.to_string())?;
    migration_dev::codeowners::write(workspace, &catalog).map_err(|e| e.to_string())?;
    Ok(())
}

/// `check --base main` on that code, against a real server.
fn check_on_main(
    runtime: &tokio::runtime::Runtime,
    repo: &Repo,
    server: &TestDatabase,
) -> check::CheckReport {
    runtime.block_on(check_against_main(
        repo.path(),
        || tree_sources(repo.path()),
        server,
    ))
}

fn main_sum(repo: &Repo) -> SumFile {
    SumFile::parse(&git_ok(repo, &["show", &format!("main:{}", sum::PATH)])).unwrap()
}

fn branch_entry(repo: &Repo, name: &str) -> migration_runner::source::sum::SumEntry {
    let text = std::fs::read_to_string(repo.path().join(sum::PATH)).unwrap();
    // Mid-merge the file holds conflict markers: read the branch's side.
    let text = if text.contains("<<<<<<<") {
        git_ok(repo, &["show", &format!("HEAD:{}", sum::PATH)])
    } else {
        text
    };
    SumFile::parse(&text).unwrap().get(name).unwrap().clone()
}

fn git_ok(repo: &Repo, args: &[&str]) -> String {
    let out = repo.git(args);
    assert!(
        out.status.success(),
        "git {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn onto_main() -> RebaseArgs {
    RebaseArgs {
        onto: Some("main".to_owned()),
    }
}

/// Each team's branch off the same main, its migration written as `migrate
/// new` would, hashed and committed.
fn team_branches(runtime: &tokio::runtime::Runtime, repo: &Repo) {
    for team in &TEAMS {
        git_ok(repo, &["checkout", "-q", "-b", team.branch, "main"]);
        crate::check::write_migration(repo.path(), team.krate, team.migration, &source(team));
        rehash(runtime, repo.path()).unwrap();
        git_ok(repo, &["add", "-A"]);
        git_ok(repo, &["commit", "-q", "-m", team.branch]);
    }
    git_ok(repo, &["checkout", "-q", "main"]);
}

#[test]
fn four_teams_merge_one_after_another_each_branch_green_after_one_rebase() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = TestDatabase::create("rebase_four_teams");
    let repo = workspace_checkout("rebase-teams");
    let catalog = Catalog::workspace(&schema_registry::workspace()).unwrap();
    team_branches(&runtime, &repo);

    // The migration's name on its branch, as renumbering leaves it.
    let mut names: Vec<String> = TEAMS.iter().map(|t| t.migration.to_owned()).collect();
    let mut reported_pairs = Vec::new();
    for (merged, merging) in TEAMS.iter().enumerate() {
        // The branch merged next went green on its own; main takes it as is.
        git_ok(&repo, &["checkout", "-q", "main"]);
        git_ok(
            &repo,
            &["merge", "-q", "--no-ff", "-m", "merge", merging.branch],
        );
        let on_main = check_on_main(&runtime, &repo, &server);
        assert!(
            on_main.problems.is_empty(),
            "main after merging {}: {:#?}",
            merging.branch,
            on_main.problems
        );

        for (index, team) in TEAMS.iter().enumerate().skip(merged + 1) {
            git_ok(&repo, &["checkout", "-q", team.branch]);
            // Before: the sum files conflict and the branch is behind.
            let before = check_on_main(&runtime, &repo, &server);
            // Its advice is the command this test then runs once.
            assert!(
                before
                    .problems
                    .iter()
                    .any(|p| matches!(p, CheckProblem::BaseMovedOn { .. })
                        && p.to_string()
                            .contains("`cargo xtask migrate rebase --onto <base>`")),
                "{} before its rebase: {:#?}",
                team.branch,
                before.problems
            );
            // The second-to-last team merges main in by hand and leaves the
            // sum file conflicted; `rebase` finishes that merge instead.
            if index == 2 && merged == 1 {
                let merge = repo.git(&["merge", "-q", "main"]);
                assert!(!merge.status.success(), "the sum files conflict");
                let conflicted = git_ok(&repo, &["diff", "--name-only", "--diff-filter=U"]);
                assert_eq!(conflicted, sum::PATH);
            }
            let newest_on_main = main_sum(&repo).entries.last().unwrap().clone();
            let behind = branch_entry(&repo, &names[index]).sort_key() < newest_on_main.sort_key();
            let rebased = rebase::rebase(repo.path(), &catalog, &onto_main(), &mut |w| {
                rehash(&runtime, w)
            })
            .unwrap_or_else(|err| panic!("{}: {err}", team.branch));
            assert!(
                rebased.resolved.contains(&sum::PATH.to_owned()),
                "{:?}",
                rebased
            );
            // Renumbered exactly when it sorts before main's newest.
            assert_eq!(rebased.renamed.len(), usize::from(behind), "{rebased:?}");
            if behind {
                assert_eq!(rebased.renamed[0].0, names[index]);
                names[index] = rebased.renamed[0].1.clone();
            }
            if behind {
                assert!(rebased.committed.is_some(), "{rebased:?}");
            }
            reported_pairs.extend(rebased.same_tables.iter().cloned());

            let after = check_on_main(&runtime, &repo, &server);
            assert!(
                after.problems.is_empty(),
                "{} after one rebase: {:#?}",
                team.branch,
                after.problems
            );
            assert_eq!(after.added, 1);
            // Committed, nothing left over; and a second rebase changes nothing.
            assert_eq!(
                git_ok(&repo, &["status", "--porcelain", "--untracked-files=no"]),
                ""
            );
            let head = git_ok(&repo, &["rev-parse", "HEAD"]);
            let again = rebase::rebase(repo.path(), &catalog, &onto_main(), &mut |w| {
                rehash(&runtime, w)
            })
            .unwrap();
            assert!(
                again.up_to_date && again.renamed.is_empty() && again.committed.is_none(),
                "{again:?}"
            );
            assert!(again.resolved.is_empty());
            assert_eq!(git_ok(&repo, &["rev-parse", "HEAD"]), head);
        }
    }

    // The pair on the same table was reported when vacancy met talent's
    // migration on main (once per later merge it was rebased over, at most).
    let (talent, vacancy) = (&names[1], &names[3]);
    assert!(
        reported_pairs
            .iter()
            .any(|pair| pair.base == *talent && pair.tables == ["talent.profiles"]),
        "{reported_pairs:?}"
    );
    assert!(
        reported_pairs
            .iter()
            .all(|pair| pair.tables == ["talent.profiles"]),
        "{reported_pairs:?}"
    );
    let described = reported_pairs[0].describe("main");
    assert!(
        described.contains("both change talent.profiles"),
        "{described}"
    );

    // Every team's migration is on main, in the order merged, each once.
    git_ok(&repo, &["checkout", "-q", "main"]);
    let on_main =
        SumFile::parse(&std::fs::read_to_string(repo.path().join(sum::PATH)).unwrap()).unwrap();
    let tail: Vec<&str> = on_main
        .entries
        .iter()
        .rev()
        .take(4)
        .rev()
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(tail, names.iter().map(String::as_str).collect::<Vec<_>>());

    // CODEOWNERS names both teams on the cross-schema migration.
    let codeowners = std::fs::read_to_string(repo.path().join(CODEOWNERS)).unwrap();
    let line = format!("/vacancy/src/migrations/{vacancy}.rs @acme/vacancy @acme/talent");
    assert!(
        codeowners.lines().any(|l| l == line),
        "{line} not in:\n{codeowners}"
    );

    // Edited by hand, it is reported stale.
    std::fs::write(
        repo.path().join(CODEOWNERS),
        codeowners.replace(" @acme/talent\n", "\n"),
    )
    .unwrap();
    let stale = check_on_main(&runtime, &repo, &server);
    assert!(
        stale
            .problems
            .iter()
            .any(|p| matches!(p, CheckProblem::CodeownersStale { .. })),
        "{:#?}",
        stale.problems
    );
}

/// Any other conflict (here in the migration helpers both sides edited)
/// stops it: the rebase it started is aborted, the branch and the tree are
/// as they were; uncommitted changes are refused before anything starts;
/// a conflict the user left that is not the sum file is left to them.
#[test]
fn a_conflict_beyond_the_sum_file_changes_nothing() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let repo = workspace_checkout("rebase-refused");
    let catalog = Catalog::workspace(&schema_registry::workspace()).unwrap();
    team_branches(&runtime, &repo);
    let kit = repo.path().join("core/src/migration_kit.rs");
    let original = std::fs::read_to_string(&kit).unwrap();
    std::fs::write(&kit, format!("// main's edit\n{original}")).unwrap();
    git_ok(&repo, &["commit", "-q", "-am", "main edits the kit"]);
    git_ok(
        &repo,
        &["merge", "-q", "--no-ff", "-m", "merge", "core-team"],
    );
    git_ok(&repo, &["checkout", "-q", "talent-team"]);
    std::fs::write(&kit, format!("// talent's edit\n{original}")).unwrap();
    // In the same commit as its migration: one stop with both conflicts.
    git_ok(&repo, &["commit", "-q", "-a", "--amend", "--no-edit"]);
    let head = git_ok(&repo, &["rev-parse", "HEAD"]);

    let err = rebase::rebase(repo.path(), &catalog, &onto_main(), &mut |w| {
        rehash(&runtime, w)
    })
    .unwrap_err();
    assert!(matches!(err, RebaseError::Aborted { .. }), "{err}");
    assert_eq!(err.exit(), migration_runner::Exit::Refused);
    let message = err.to_string();
    assert!(message.contains("`core/src/migration_kit.rs`"), "{message}");
    assert!(message.contains("the branch is as it was"), "{message}");
    assert_eq!(git_ok(&repo, &["rev-parse", "HEAD"]), head);
    assert_eq!(git_ok(&repo, &["status", "--porcelain"]), "");
    assert!(!repo.path().join(".git/rebase-merge").exists());

    // Its advice holds: rebase by hand, resolve the kit, and `rebase` finishes the rest.
    assert!(!repo.git(&["rebase", "main"]).status.success());
    std::fs::write(
        &kit,
        format!("// main's edit\n// talent's edit\n{original}"),
    )
    .unwrap();
    git_ok(&repo, &["add", "core/src/migration_kit.rs"]);
    let finished = rebase::rebase(repo.path(), &catalog, &onto_main(), &mut |w| {
        rehash(&runtime, w)
    })
    .unwrap();
    assert!(
        finished.resolved.contains(&sum::PATH.to_owned()),
        "{finished:?}"
    );
    assert_eq!(finished.renamed.len(), 1);
    assert!(!repo.path().join(".git/rebase-merge").exists());
    assert_eq!(
        git_ok(&repo, &["status", "--porcelain", "--untracked-files=no"]),
        ""
    );

    // Uncommitted changes: refused, nothing touched.
    std::fs::write(&kit, "// half-done work\n").unwrap();
    let head = git_ok(&repo, &["rev-parse", "HEAD"]);
    let err = rebase::rebase(repo.path(), &catalog, &onto_main(), &mut |w| {
        rehash(&runtime, w)
    })
    .unwrap_err();
    assert!(matches!(err, RebaseError::Dirty { .. }), "{err}");
    assert!(
        err.to_string().contains("`core/src/migration_kit.rs`"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&kit).unwrap(),
        "// half-done work\n"
    );
    assert_eq!(git_ok(&repo, &["rev-parse", "HEAD"]), head);

    // A ref that is not there: bad arguments.
    git_ok(&repo, &["checkout", "-q", "--", "."]);
    let err = rebase::rebase(
        repo.path(),
        &catalog,
        &RebaseArgs {
            onto: Some("origin/nope".to_owned()),
        },
        &mut |w| rehash(&runtime, w),
    )
    .unwrap_err();
    assert_eq!(err.exit(), migration_runner::Exit::Usage, "{err}");
}
