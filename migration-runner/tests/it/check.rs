//! `migrate check --base`: real git repositories in temporary directories
//! (branches, merges, edits, renames, deletions), each check firing in the
//! situation it is for and silent on a clean branch; and two branches that
//! each add a migration conflicting on the sum file.

use std::path::{Path, PathBuf};
use std::process::Command;

use migration_dev::testing::TestDatabase;
use migration_runner::gate::check::{self, CheckProblem};
use migration_runner::source::sum::{self, SumEntry, SumFile};

use crate::support::*;

pub(crate) struct Repo(PathBuf);

impl Repo {
    fn new(label: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("check-{label}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(dir.join("migration-runner")).unwrap();
        let repo = Self(dir);
        repo.git(&["init", "-q", "-b", "main"]);
        repo.git(&["config", "user.email", "ci@example.com"]);
        repo.git(&["config", "user.name", "ci"]);
        repo
    }

    pub(crate) fn git(&self, args: &[&str]) -> std::process::Output {
        Command::new("git")
            .args(args)
            .current_dir(&self.0)
            .output()
            .unwrap()
    }

    fn commit(&self, file: &SumFile, message: &str) {
        std::fs::write(self.0.join(sum::PATH), file.render()).unwrap();
        self.git(&["add", "-A"]);
        let out = self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Repo {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn entry(name: &str, checksum: &str, tables: &[&str]) -> SumEntry {
    let schema = name.split('_').nth(2).unwrap().to_owned();
    SumEntry {
        name: name.to_owned(),
        schema,
        checksum: checksum.to_owned(),
        tables: tables.iter().map(|t| (*t).to_owned()).collect(),
    }
}

const M1: &str = "m20250101_000000_core_create_users";
const M2: &str = "m20250102_000000_academy_create_courses";
const M3_BRANCH: &str = "m20250103_000000_talent_create_profiles";
const M4_BASE: &str = "m20250104_000000_core_add_last_seen";

fn base_history() -> Vec<SumEntry> {
    vec![
        entry(M1, "aaa", &["core.users"]),
        entry(M2, "bbb", &["academy.courses", "core.users"]),
    ]
}

/// main has M1, M2; `feature` branches off there; main then gets `base_adds`,
/// the branch's code is `branch`. Returns the problems.
fn check_branch(base_adds: Vec<SumEntry>, branch: Vec<SumEntry>) -> Vec<CheckProblem> {
    let repo = Repo::new("branch");
    repo.commit(&SumFile::new(base_history()), "base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let code = SumFile::new(branch);
    repo.commit(&code, "feature work");
    repo.git(&["checkout", "-q", "main"]);
    let mut base = base_history();
    base.extend(base_adds);
    repo.commit(&SumFile::new(base), "main moves on");
    repo.git(&["checkout", "-q", "feature"]);
    let sides = check::read_sides(repo.path(), "main").unwrap();
    check::compare(&sides, &code, &code)
}

fn kinds(problems: &[CheckProblem]) -> Vec<String> {
    problems
        .iter()
        .map(|p| {
            let value = serde_json::to_value(p).unwrap();
            format!(
                "{} {}",
                value["problem"].as_str().unwrap(),
                p.migration().unwrap_or("-")
            )
        })
        .collect()
}

#[test]
fn a_clean_branch_passes() {
    let mut branch = base_history();
    branch.push(entry(
        "m20250105_000000_talent_create_profiles",
        "ccc",
        &["talent.profiles"],
    ));
    let base_adds = vec![entry(M4_BASE, "ddd", &["core.users"])];
    let mut rebased = branch.clone();
    rebased.insert(2, base_adds[0].clone());
    assert_eq!(
        kinds(&check_branch(base_adds, rebased)),
        Vec::<String>::new()
    );
}

#[test]
fn a_branch_migration_older_than_the_base_s_newest_is_not_linear() {
    let mut branch = base_history();
    branch.push(entry(M3_BRANCH, "ccc", &["talent.profiles"]));
    let problems = check_branch(vec![entry(M4_BASE, "ddd", &["core.roles"])], branch);
    // The branch also lacks M4: not rebased, so the base moved on (not a deletion).
    assert_eq!(
        kinds(&problems),
        vec![
            format!("base_moved_on {M4_BASE}"),
            format!("not_linear {M3_BRANCH}")
        ]
    );
    let message = problems[1].to_string();
    assert!(
        message.contains(&format!("sorts before `{M4_BASE}`")),
        "{message}"
    );
    assert!(message.contains("crate `talent`"), "{message}");
    assert!(message.contains("rebase"), "{message}");
}

#[test]
fn editing_renaming_or_deleting_base_history_is_refused() {
    let edited = vec![
        entry(M1, "changed", &["core.users"]),
        base_history()[1].clone(),
    ];
    assert_eq!(
        kinds(&check_branch(vec![], edited)),
        vec![format!("edited {M1}")]
    );

    let renamed_to = "m20250102_000000_academy_create_course_table";
    let renamed = vec![
        base_history()[0].clone(),
        entry(renamed_to, "bbb", &["academy.courses", "core.users"]),
    ];
    let problems = check_branch(vec![], renamed);
    assert_eq!(kinds(&problems), vec![format!("renamed {M2}")]);
    assert!(problems[0].to_string().contains(renamed_to));

    let deleted = vec![base_history()[0].clone()];
    assert_eq!(
        kinds(&check_branch(vec![], deleted)),
        vec![format!("deleted {M2}")]
    );
}

#[test]
fn parallel_changes_to_the_same_table_are_a_conflict_to_linearise() {
    let base_adds = vec![entry(M4_BASE, "ddd", &["core.users"])];
    let mut branch = base_history();
    branch.push(base_adds[0].clone());
    branch.push(entry(
        "m20250105_000000_core_add_avatar",
        "eee",
        &["core.users"],
    ));
    branch.push(entry(
        "m20250106_000000_talent_add_skills",
        "fff",
        &["talent.skills"],
    ));
    let problems = check_branch(base_adds, branch);
    assert_eq!(
        kinds(&problems),
        vec!["parallel_tables m20250105_000000_core_add_avatar".to_owned()]
    );
    let message = problems[0].to_string();
    assert!(
        message.contains(M4_BASE) && message.contains("`core.users`"),
        "{message}"
    );
}

#[test]
fn a_stale_sum_file_is_refused() {
    let repo = Repo::new("stale");
    repo.commit(&SumFile::new(base_history()), "base");
    let sides = check::read_sides(repo.path(), "main").unwrap();
    let mut code = base_history();
    code.push(entry(M3_BRANCH, "ccc", &["talent.profiles"]));
    let problems = check::compare(&sides, &SumFile::new(code), &SumFile::new(base_history()));
    assert_eq!(kinds(&problems), vec!["sum_file -".to_owned()]);
    assert!(problems[0].to_string().contains("cargo xtask migrate hash"));
}

#[test]
fn two_branches_that_each_add_a_migration_conflict_on_the_sum_file() {
    let repo = Repo::new("conflict");
    repo.commit(&SumFile::new(base_history()), "base");
    repo.git(&["checkout", "-q", "-b", "team-a"]);
    let mut a = base_history();
    a.push(entry(
        "m20250105_000000_academy_add_rooms",
        "a1",
        &["academy.rooms"],
    ));
    repo.commit(&SumFile::new(a), "team a adds a migration");
    repo.git(&["checkout", "-q", "main"]);
    repo.git(&["checkout", "-q", "-b", "team-b"]);
    let mut b = base_history();
    b.push(entry(
        "m20250105_000001_talent_add_badges",
        "b1",
        &["talent.badges"],
    ));
    repo.commit(&SumFile::new(b), "team b adds a migration");
    let merge = repo.git(&["merge", "--no-edit", "team-a"]);
    assert!(
        !merge.status.success(),
        "the two branches merged without a conflict"
    );
    let said = String::from_utf8_lossy(&merge.stdout);
    assert!(
        said.contains(&format!(
            "CONFLICT (content): Merge conflict in {}",
            sum::PATH
        )),
        "{said}"
    );
    // And the conflicted file is refused, not half-read.
    let text = std::fs::read_to_string(repo.path().join(sum::PATH)).unwrap();
    assert!(SumFile::parse(&text).is_err());
}

#[tokio::test]
async fn the_workspace_passes_check_against_its_own_head() {
    // The server the throwaway databases are made on (entities against migrations).
    let server = migration_dev::testing::TestDatabase::create("check_workspace");
    let url = Some(server.url.as_str());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let output = runner_binary_in(&workspace, url, &["check", "--base", "HEAD"], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", all_output(&output));
    assert!(
        stdout(&output).contains("check passed against `HEAD`: 0 new migration(s)"),
        "{}",
        stdout(&output)
    );
    let unknown = runner_binary_in(
        &workspace,
        url,
        &["check", "--base", "no-such-ref-anywhere"],
        &[],
    );
    assert_eq!(unknown.status.code(), Some(64), "{}", all_output(&unknown));
    assert!(
        stderr(&unknown).contains("no-such-ref-anywhere"),
        "{}",
        stderr(&unknown)
    );
}

#[tokio::test]
async fn an_entity_that_does_not_describe_the_migrations_is_reported() {
    let server = migration_dev::testing::TestDatabase::create("check_entities");
    let extra = SqlMigration::new(
        "m20990101_000000_academy_add_webinar_notes",
        &["ALTER TABLE academy.webinars ADD COLUMN notes text NOT NULL DEFAULT ''"],
        &["ALTER TABLE academy.webinars DROP COLUMN notes"],
    );
    let admin = migration_runner::connect(&server.url, "check-test")
        .await
        .unwrap();
    let target = target_of(&server);
    let differences = migration_runner::gate::entity_check::compare(
        admin.connection(),
        &target,
        workspace_plus(vec![("academy", Box::new(extra))]),
        schema_registry::entity_sources(),
    )
    .await
    .unwrap();
    let described: Vec<String> = differences
        .iter()
        .map(|d| d.describe("entity says", "migrations give"))
        .collect();
    assert_eq!(
        described,
        vec!["column academy.webinars.notes: entity says nothing, migrations give `text not null default ''::text`".to_owned()]
    );
    // The same entities against the workspace's own migrations: nothing.
    let clean = migration_runner::gate::entity_check::compare(
        admin.connection(),
        &target,
        migration_runner::source::catalog::workspace_sources(&schema_registry::workspace()),
        schema_registry::entity_sources(),
    )
    .await
    .unwrap();
    assert!(clean.is_empty(), "{clean:#?}");
}

/// The workspace's history passes `lint` (its exceptions carry reasons), on
/// a Citus target too: its one cross-app-schema foreign key, an error there,
/// is dropped by a later migration, which the finding names.
#[test]
fn the_workspace_history_passes_lint_on_plain_postgresql_and_citus() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let plain = runner_binary_in(&workspace, None, &["lint"], &[]);
    assert_eq!(plain.status.code(), Some(0), "{}", all_output(&plain));
    assert!(stdout(&plain).contains(" 0 error(s)"), "{}", stdout(&plain));
    assert!(
        stdout(&plain).contains("allowed: error[adding-foreign-key-constraint]"),
        "{}",
        stdout(&plain)
    );
    let citus = runner_binary_in(&workspace, None, &["lint", "--citus", "--json"], &[]);
    assert_eq!(citus.status.code(), Some(0), "{}", all_output(&citus));
    let report: serde_json::Value = serde_json::from_slice(&citus.stdout).unwrap();
    assert!(
        report["findings"].as_array().unwrap().iter().any(|f| {
            f["rule"]
            == "cross-schema-foreign-key"
            && f["severity"] == "warning"
            && f["migration"] == "m20251101_090000_vacancy_link_applications_to_talent_profiles"
            && f["message"].as_str().unwrap().contains(
                "`m20261201_102900_vacancy_unlink_applications_from_talent_profiles` drops it later"
            )
        }),
        "{report:#}"
    );
    let against_head = runner_binary_in(&workspace, None, &["lint", "--base", "HEAD"], &[]);
    assert_eq!(
        against_head.status.code(),
        Some(0),
        "{}",
        all_output(&against_head)
    );
    assert!(
        stdout(&against_head).contains("lint: 0 migration(s)"),
        "{}",
        stdout(&against_head)
    );
}

/// `status` refuses (exit 2) when the code disagrees with the sum file it
/// was built with: a migration added without `migrate hash`.
#[tokio::test]
async fn status_refuses_a_sum_file_that_disagrees_with_the_code() {
    let db = migration_dev::testing::TestDatabase::create("check_status_sum");
    let built_with = SumFile::parse(schema_registry::SUM_FILE).unwrap();
    let intact = migration_runner::Catalog::workspace(&schema_registry::workspace()).unwrap();
    let session = migration_runner::connect(&db.url, "sum-test")
        .await
        .unwrap();
    let runner = migration_runner::Runner::new(session, intact, Default::default())
        .await
        .unwrap();
    let inspection = runner.inspect().await.unwrap();
    assert!(inspection.sum.is_empty(), "{:?}", inspection.sum);
    assert_eq!(inspection.exit_code(), 1);

    let unhashed = SqlMigration::new(
        "m20990101_000000_academy_added_without_hash",
        &["ALTER TABLE academy.webinars ADD COLUMN notes text"],
        &["ALTER TABLE academy.webinars DROP COLUMN notes"],
    );
    let catalog =
        migration_runner::Catalog::new(workspace_plus(vec![("academy", Box::new(unhashed))]))
            .unwrap()
            .with_expected_sum(built_with);
    let session = migration_runner::connect(&db.url, "sum-test")
        .await
        .unwrap();
    let runner = migration_runner::Runner::new(session, catalog, Default::default())
        .await
        .unwrap();
    let inspection = runner.inspect().await.unwrap();
    assert_eq!(inspection.exit_code(), 2);
    assert_eq!(inspection.sum.len(), 1, "{:?}", inspection.sum);
    assert!(inspection.sum[0].contains("m20990101_000000_academy_added_without_hash"));
    assert!(inspection.sum[0].contains("cargo xtask migrate hash"));
}

/// main gains a migration after the branch point and the branch, not
/// rebased, adds its own: the base moved on (rebase), never "deleted" (which
/// would have the developer write a migration undoing it). A migration the
/// merge-base had and the branch lacks is still a deletion.
#[test]
fn a_migration_the_base_gained_after_the_branch_point_asks_for_a_rebase_not_an_undo() {
    let mut branch = base_history();
    branch.push(entry(
        "m20250105_000000_talent_create_profiles",
        "ccc",
        &["talent.profiles"],
    ));
    let problems = check_branch(vec![entry(M4_BASE, "ddd", &["core.roles"])], branch);
    assert_eq!(kinds(&problems), vec![format!("base_moved_on {M4_BASE}")]);
    assert_eq!(
        problems[0].to_string(),
        format!(
            "migration `{M4_BASE}` (crate `core`) was added on the base after this branch left it, and this \
             branch does not have it yet: the base moved on; rebase onto the base (`cargo xtask migrate rebase \
             --onto <base>` rebases, merges the sum file and renumbers), nothing here needs restoring or undoing"
        )
    );

    let deleted = vec![base_history()[0].clone()];
    let problems = check_branch(vec![entry(M4_BASE, "ddd", &["core.roles"])], deleted);
    assert_eq!(
        kinds(&problems),
        vec![format!("deleted {M2}"), format!("base_moved_on {M4_BASE}")]
    );
}

/// A throwaway checkout of the workspace's migrations (each schema crate's
/// `src/migrations/` and manifest, `core/src/migration_kit.rs`), its sum
/// file and CODEOWNERS, committed on `main`.
pub(crate) fn workspace_checkout(label: &str) -> Repo {
    let repo = Repo::new(label);
    let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for krate in ["core", "academy", "talent", "vacancy"] {
        let dir = Path::new(krate).join("src/migrations");
        std::fs::create_dir_all(repo.path().join(&dir)).unwrap();
        for file in std::fs::read_dir(real.join(&dir)).unwrap() {
            let file = file.unwrap().path();
            std::fs::copy(
                &file,
                repo.path().join(&dir).join(file.file_name().unwrap()),
            )
            .unwrap();
        }
    }
    for file in [
        "core/src/migration_kit.rs",
        "core/Cargo.toml",
        "academy/Cargo.toml",
        "talent/Cargo.toml",
        "vacancy/Cargo.toml",
        ".github/CODEOWNERS",
        "docs/SCHEMA.md",
    ] {
        std::fs::create_dir_all(repo.path().join(file).parent().unwrap()).unwrap();
        std::fs::copy(real.join(file), repo.path().join(file)).unwrap();
    }
    repo.commit(&SumFile::parse(schema_registry::SUM_FILE).unwrap(), "base");
    repo
}

/// Writes `<module>.rs` among crate `krate`'s migrations in `workspace` and
/// registers it last in the crate's `migrations/mod.rs`, as `migrate new` does.
pub(crate) fn write_migration(workspace: &Path, krate: &str, module: &str, source: &str) {
    let dir = workspace.join(krate).join("src/migrations");
    std::fs::write(dir.join(format!("{module}.rs")), source).unwrap();
    let registry = std::fs::read_to_string(dir.join("mod.rs")).unwrap();
    let last_mod = registry.rfind("\nmod ").unwrap();
    let end_of_mod = last_mod + 1 + registry[last_mod + 1..].find('\n').unwrap();
    let mut registry = format!(
        "{}\nmod {module};{}",
        &registry[..end_of_mod],
        &registry[end_of_mod..]
    );
    let close = registry.rfind("    ]").unwrap();
    registry.insert_str(close, &format!("        Box::new({module}::Migration),\n"));
    std::fs::write(dir.join("mod.rs"), registry).unwrap();
}

type Extra = fn() -> Vec<(&'static str, Box<dyn sea_orm_migration::MigrationTrait>)>;

/// Writes `docs/SCHEMA.md` as `cargo xtask schema map --format markdown`
/// would from the workspace's code plus `extra`: the history replayed.
async fn write_schema_doc(repo: &Repo, extra: Extra, server: &TestDatabase) {
    let catalog = migration_runner::Catalog::new(workspace_plus(extra())).unwrap();
    let admin = migration_runner::connect(&server.url, "check-test")
        .await
        .unwrap();
    let target = target_of(server);
    let (from_migrations, _) = migration_runner::gate::entity_check::models(
        admin.connection(),
        &target,
        workspace_plus(extra()),
        schema_registry::entity_sources(),
    )
    .await
    .unwrap();
    let owners = migration_runner::gate::owners::Owners::read(repo.path(), &catalog).unwrap();
    let text = check::schema_doc(&owners, &catalog, &from_migrations);
    std::fs::write(repo.path().join("docs/SCHEMA.md"), text).unwrap();
}

/// `docs/SCHEMA.md` is held to the history: current on the workspace as it
/// is, stale (exit 2, with the command that rewrites it) once edited.
#[tokio::test]
async fn a_stale_schema_doc_is_a_problem_naming_the_command_that_rewrites_it() {
    let server = TestDatabase::create("check_schema_doc");
    let repo = workspace_checkout("schema-doc");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let report = check_feature(&repo, Vec::new, &server).await;
    assert_eq!(
        report.problems,
        Vec::new(),
        "the committed docs/SCHEMA.md is current"
    );
    let path = repo.path().join("docs/SCHEMA.md");
    let written = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        written.replace("| `email` | text |", "| `email` | varchar |"),
    )
    .unwrap();
    let report = check_feature(&repo, Vec::new, &server).await;
    assert_eq!(
        kinds(&report.problems),
        vec!["schema_doc_stale -".to_owned()]
    );
    assert_eq!(report.exit(), migration_runner::Exit::Refused);
    assert_eq!(
        report.problems[0].to_string(),
        "docs/SCHEMA.md is not what the history gives (edited by hand, or a migration changed a table, \
         column or key it shows): run `cargo xtask schema map --format markdown` and commit it"
    );
}

/// Commits the branch `feature` of `repo` with the sum file of the
/// workspace's code plus `extra`, then runs `check --base main` on that code.
async fn check_feature(repo: &Repo, extra: Extra, server: &TestDatabase) -> check::CheckReport {
    let catalog = migration_runner::Catalog::new(workspace_plus(extra())).unwrap();
    let code = migration_runner::source::capture::sum_file(&catalog)
        .await
        .unwrap();
    repo.commit(&code, "feature work");
    check_against_main(repo.path(), || workspace_plus(extra()), server).await
}

const COURSE_NOTES: &str = "m20990101_000000_academy_add_course_notes";

/// A migration whose SQL fails in check's replay (a table named without
/// its schema) is a problem naming the migration, its file and the failing
/// statement (exit 2), and every other finding is still reported.
#[tokio::test]
async fn a_migration_that_fails_in_the_replay_is_named_with_its_file_and_statement() {
    let server = TestDatabase::create("check_replay_fails");
    let repo = workspace_checkout("replay");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    write_migration(
        repo.path(),
        "academy",
        COURSE_NOTES,
        "//! Adds notes to courses.\n",
    );
    let report = check_feature(
        &repo,
        || {
            vec![(
                "academy",
                Box::new(SqlMigration::new(
                    COURSE_NOTES,
                    &["ALTER TABLE courses ADD COLUMN notes text"],
                    &["ALTER TABLE courses DROP COLUMN notes"],
                )),
            )]
        },
        &server,
    )
    .await;
    assert_eq!(report.exit(), migration_runner::Exit::Refused);
    let kinds = kinds(&report.problems);
    assert_eq!(
        kinds,
        vec![format!("replay_failed {COURSE_NOTES}"), "lint -".to_owned()],
        "{:#?}",
        report.problems
    );
    assert_eq!(
        report.problems[0].to_string(),
        format!(
            "migration `{COURSE_NOTES}` (crate `academy`, academy/src/migrations/{COURSE_NOTES}.rs) fails when \
             the history is replayed into a throwaway database, at statement 1: relation \"courses\" does not \
             exist (SQLSTATE 42P01)\n      statement: ALTER TABLE courses ADD COLUMN notes text\n    fix the \
             migration (a deploy would fail the same way); the entities could not be compared with the \
             migrations until it replays"
        )
    );
    assert!(
        report.problems[1]
            .to_string()
            .contains("error[unqualified-table]"),
        "{}",
        report.problems[1]
    );
}

/// Editing a shared helper changes the SQL of applied migrations whose files
/// nobody touched: `check` says code they call changed (naming the changed
/// files), not "restore it"; a migration whose own file changed is still
/// told to restore that file.
#[tokio::test]
async fn a_changed_helper_is_blamed_on_the_code_that_changed_not_on_untouched_migrations() {
    let server = TestDatabase::create("check_changed_helper");
    const WEBINARS: &str = "m20250215_090000_academy_create_webinars";
    const CAPACITY: &str = "m20251008_120000_academy_add_webinar_capacity";
    let repo = workspace_checkout("helper");
    // On the base, the two migrations emitted other SQL than the code does now.
    let mut base = SumFile::parse(schema_registry::SUM_FILE).unwrap();
    for line in &mut base.entries {
        if line.name == WEBINARS || line.name == CAPACITY {
            line.checksum = "0".repeat(64);
        }
    }
    repo.commit(&base, "the base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let append = |file: &str| {
        let path = repo.path().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("{text}// changed on the branch\n")).unwrap();
    };
    append("core/src/migration_kit.rs");
    let capacity_file = format!("academy/src/migrations/{CAPACITY}.rs");
    append(&capacity_file);
    let report = check_feature(&repo, Vec::new, &server).await;
    assert_eq!(
        kinds(&report.problems),
        vec![format!("edited {WEBINARS}"), format!("edited {CAPACITY}")],
        "{:#?}",
        report.problems
    );
    let webinars = report.problems[0].to_string();
    assert_eq!(
        webinars,
        format!(
            "migration `{WEBINARS}` (crate `academy`) exists on the base and emits other SQL here, though its \
             file (academy/src/migrations/{WEBINARS}.rs) is unchanged: code it calls changed (this branch \
             changed {capacity_file}, core/src/migration_kit.rs); applied SQL must never change: undo the \
             change to what it calls and add a new helper for new migrations instead"
        )
    );
    assert!(!webinars.contains("git checkout"), "{webinars}");
    assert_eq!(
        report.problems[1].to_string(),
        format!(
            "migration `{CAPACITY}` (crate `academy`) exists on the base but emits other SQL here: applied \
             history never changes; restore it (`git checkout main -- {capacity_file}`) and put the change \
             in a new migration (`cargo xtask migrate new academy <what>`)"
        )
    );
}

/// Lint warnings of the branch's migrations are shown by `check`, which
/// still passes; errors alone fail it.
#[tokio::test]
async fn check_shows_the_lint_warnings_of_new_migrations_and_still_passes() {
    const RELINK: &str = "m20990101_000000_vacancy_relink_applications_to_profiles";
    let server = TestDatabase::create("check_lint_warnings");
    let repo = workspace_checkout("warnings");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    write_migration(
        repo.path(),
        "vacancy",
        RELINK,
        "//! Links applications to talent profiles again.\n// migrate: touches talent\n",
    );
    let relink = || -> Vec<(&'static str, Box<dyn sea_orm_migration::MigrationTrait>)> {
        vec![(
            "vacancy",
            Box::new(SqlMigration::new(
                RELINK,
                &[
                    "ALTER TABLE vacancy.applications ADD CONSTRAINT applications_profile_id_fkey \
                   FOREIGN KEY (profile_id) REFERENCES talent.profiles (id) ON DELETE SET NULL NOT VALID",
                ],
                &["ALTER TABLE vacancy.applications DROP CONSTRAINT applications_profile_id_fkey"],
            )),
        )]
    };
    // What `migrate hash` does for a migration that touches another schema:
    // CODEOWNERS asks that schema's owners too.
    let catalog = migration_runner::Catalog::new(workspace_plus(relink())).unwrap();
    let owners = migration_runner::gate::owners::Owners::read(repo.path(), &catalog).unwrap();
    let codeowners = owners.codeowners(repo.path(), &catalog);
    assert!(
        codeowners.contains(&format!(
            "/vacancy/src/migrations/{RELINK}.rs @acme/vacancy @acme/talent"
        )),
        "{codeowners}"
    );
    std::fs::write(repo.path().join(".github/CODEOWNERS"), codeowners).unwrap();
    // And what `schema map --format markdown` does: the new key is in SCHEMA.md.
    write_schema_doc(&repo, relink, &server).await;
    let report = check_feature(&repo, relink, &server).await;
    assert_eq!(report.problems, Vec::new());
    // Who must review it: its SQL changes vacancy; it declares talent.
    assert_eq!(report.reviews.len(), 1, "{:#?}", report.reviews);
    let review = &report.reviews[0];
    assert_eq!(review.migration, RELINK);
    assert_eq!(review.changes, vec!["vacancy".to_owned()]);
    assert_eq!(review.declares, vec!["talent".to_owned()]);
    assert_eq!(
        review.owners,
        vec!["@acme/vacancy".to_owned(), "@acme/talent".to_owned()]
    );
    assert_eq!(report.exit(), migration_runner::Exit::Success);
    let text = report.text("main");
    assert_eq!(
        text[0],
        "check passed against `main`: 1 new migration(s), history linear and untouched; 1 lint warning(s):",
        "{text:#?}"
    );
    assert_eq!(text.len(), 2, "{text:#?}");
    assert!(
        text[1].starts_with(&format!(
            "  - warning[cross-schema-foreign-key] {RELINK} (statement 1): "
        )),
        "{text:#?}"
    );
}

/// On a shallow clone the base ref exists but git cannot find where the
/// branch left it: `check` says so and how to fetch the history (exit 64).
#[tokio::test]
async fn check_on_a_shallow_clone_says_how_to_fetch_the_history() {
    let server = TestDatabase::create("check_shallow");
    let origin = Repo::new("shallow-origin");
    origin.commit(&SumFile::new(base_history()), "base");
    origin.git(&["checkout", "-q", "-b", "feature"]);
    let mut branch = base_history();
    branch.push(entry(
        "m20250105_000000_talent_create_profiles",
        "ccc",
        &["talent.profiles"],
    ));
    origin.commit(&SumFile::new(branch), "feature work");
    origin.git(&["checkout", "-q", "main"]);
    let mut moved = base_history();
    moved.push(entry(M4_BASE, "ddd", &["core.roles"]));
    origin.commit(&SumFile::new(moved), "main moves on");
    let clone = Repo(std::env::temp_dir().join(format!(
        "check-shallow-clone-{}",
        uuid::Uuid::new_v4().simple()
    )));
    let cloned = Command::new("git")
        .args([
            "clone",
            "-q",
            "--depth",
            "1",
            "--no-single-branch",
            "--branch",
            "feature",
        ])
        .arg(format!("file://{}", origin.path().display()))
        .arg(clone.path())
        .output()
        .unwrap();
    assert!(
        cloned.status.success(),
        "{}",
        String::from_utf8_lossy(&cloned.stderr)
    );

    let expected = "cannot find where this branch left `origin/main`: this checkout is a shallow clone \
                    (only the newest commits were fetched), so git has no common ancestor of `origin/main` \
                    and HEAD; fetch the whole history (`git fetch --unshallow`, or `fetch-depth: 0` in the \
                    CI workflow's checkout step) and run the check again";
    let err = check::read_sides(clone.path(), "origin/main").unwrap_err();
    assert_eq!(err.to_string(), expected);
    let output = runner_binary_in(
        clone.path(),
        Some(&server.url),
        &["check", "--base", "origin/main"],
        &[],
    );
    assert_eq!(output.status.code(), Some(64), "{}", all_output(&output));
    assert_eq!(stderr(&output), format!("error: {expected}\n"));
}

/// A base with no history in common with HEAD is named as such, not with
/// git's silence.
#[test]
fn a_base_with_no_common_history_is_named() {
    let repo = Repo::new("unrelated");
    repo.commit(&SumFile::new(base_history()), "base");
    repo.git(&["checkout", "-q", "--orphan", "elsewhere"]);
    repo.commit(&SumFile::new(base_history()), "another history");
    let err = check::read_sides(repo.path(), "main").unwrap_err();
    assert_eq!(
        err.to_string(),
        "`main` and HEAD have no common ancestor: this branch does not come from `main`; pass the branch \
         it was made from as `--base`"
    );
}

/// `status` counts a sum-file problem among its problems (it exits 2 for it).
#[tokio::test]
async fn status_counts_a_sum_file_problem_among_its_problems() {
    let db = TestDatabase::create("check_status_count");
    let unhashed = SqlMigration::new(
        "m20990101_000000_academy_added_without_hash",
        &["ALTER TABLE academy.webinars ADD COLUMN notes text"],
        &["ALTER TABLE academy.webinars DROP COLUMN notes"],
    );
    let catalog =
        migration_runner::Catalog::new(workspace_plus(vec![("academy", Box::new(unhashed))]))
            .unwrap()
            .with_expected_sum(SumFile::parse(schema_registry::SUM_FILE).unwrap());
    let pending = catalog.migrations().len();
    let session = migration_runner::connect(&db.url, "sum-test")
        .await
        .unwrap();
    let runner = migration_runner::Runner::new(session, catalog, Default::default())
        .await
        .unwrap();
    let inspection = runner.inspect().await.unwrap();
    assert_eq!(inspection.exit_code(), 2);
    assert_eq!(
        migration_runner::cli::render::status_counts(&inspection),
        format!("0 applied, {pending} pending, 1 problem(s)")
    );
    let target = target_of(&db);
    let json: serde_json::Value = serde_json::from_str(
        &migration_runner::cli::render::status_json(&inspection, &target, None),
    )
    .unwrap();
    assert_eq!(json["summary"]["problems"], 1, "{json:#}");
}

/// Owners come from each schema crate's manifest and CODEOWNERS from them:
/// the workspace's file is current; edited by hand it is stale; a crate
/// that names no owner is refused.
#[test]
fn codeowners_is_what_the_owners_give_and_every_schema_has_owners() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let catalog = migration_runner::Catalog::workspace(&schema_registry::workspace()).unwrap();
    let problems_of = |dir: &Path| {
        let owners = migration_runner::gate::owners::Owners::read(dir, &catalog).unwrap();
        migration_runner::gate::check::owner_problems(dir, &owners, &catalog)
    };
    let problems = problems_of(&root);
    assert!(problems.is_empty(), "{problems:#?}");
    let codeowners = std::fs::read_to_string(root.join(".github/CODEOWNERS")).unwrap();
    assert!(
        codeowners.contains(
            "/vacancy/src/migrations/m20251101_090000_vacancy_link_applications_to_talent_profiles.rs @acme/vacancy @acme/talent"
        ),
        "the cross-schema migration names both teams:\n{codeowners}"
    );

    // A checkout of what the owners are read from, to edit.
    let repo = workspace_checkout("owners");
    let copy = repo.path().to_owned();
    std::fs::write(
        copy.join(".github/CODEOWNERS"),
        codeowners.replace("/talent/ @acme/talent", "/talent/ @someone-else"),
    )
    .unwrap();
    let stale = problems_of(&copy);
    assert_eq!(stale.len(), 1, "{stale:#?}");
    assert!(
        stale[0]
            .to_string()
            .contains("run `cargo xtask migrate hash`"),
        "{}",
        stale[0]
    );
    let manifest = copy.join("talent/Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replace("owners = [\"@acme/talent\"]", "owners = []"),
    )
    .unwrap();
    let unowned = problems_of(&copy);
    assert!(
        unowned.iter().any(|p| p
            .to_string()
            .starts_with("schema `talent` has no owners: name its team(s) in talent/Cargo.toml")),
        "{unowned:#?}"
    );
}
