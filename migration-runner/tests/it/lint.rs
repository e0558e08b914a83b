//! The migration linter against the real thing: the safe alternatives its
//! fixes describe run on a real PostgreSQL, and linting the workspace's own
//! history (through the engine, as `migrate lint` does) lints clean, its
//! exceptions reasoned. Each rule's own tests sit beside it in the
//! `migration-lint` crate.

use std::path::Path;

use migration_dev::testing::TestDatabase;
use migration_lint::{Finding, LintInput, Target};
use migration_runner::Catalog;
use migration_runner::gate::lint;
use sea_orm::ConnectionTrait;

use crate::support::{SqlMigration, connect, workspace_plus};

/// Lints `statements` as one migration of crate `academy`.
fn lint_academy(statements: &[&str], transactional: bool) -> Vec<Finding> {
    let statements: Vec<String> = statements.iter().map(|s| (*s).to_owned()).collect();
    migration_lint::lint(&LintInput {
        name: "m20990101_000000_academy_case",
        schema: "academy",
        declared_schemas: &[],
        statements: &statements,
        source: None,
        target: Target::Plain,
        transactional,
    })
}

/// The safe alternatives the fixes describe are real SQL: on a real
/// PostgreSQL, each lints clean and runs, in or outside a transaction as the
/// case says.
#[tokio::test]
async fn the_safe_alternatives_run_on_postgres() {
    let db = TestDatabase::create("lint_safe");
    let conn = connect(&db).await;
    conn.execute_unprepared(
        "CREATE SCHEMA core; CREATE TABLE core.users (id uuid PRIMARY KEY);
         CREATE SCHEMA academy;
         CREATE TABLE academy.courses (id uuid NOT NULL, owner_id uuid, title text, price bigint, slug text);
         INSERT INTO core.users VALUES ('00000000-0000-0000-0000-000000000001');
         INSERT INTO academy.courses VALUES ('00000000-0000-0000-0000-000000000002',
                                             '00000000-0000-0000-0000-000000000001', 'Rust', 10, 'rust')",
    )
    .await
    .unwrap();
    // Each step: its statements, and whether it runs in a transaction.
    let steps: Vec<(&[&str], bool)> = vec![
        (
            &[
                "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS courses_id_idx ON academy.courses (id)",
            ],
            false,
        ),
        (
            &[
                "ALTER TABLE academy.courses ADD CONSTRAINT courses_pkey PRIMARY KEY USING INDEX courses_id_idx",
            ],
            true,
        ),
        (
            &[
                "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS courses_slug_idx ON academy.courses (slug)",
            ],
            false,
        ),
        (
            &[
                "ALTER TABLE academy.courses ADD CONSTRAINT courses_slug_key UNIQUE USING INDEX courses_slug_idx",
            ],
            true,
        ),
        (
            &[
                "ALTER TABLE academy.courses ADD CONSTRAINT courses_owner_fk FOREIGN KEY (owner_id) REFERENCES core.users (id) NOT VALID",
            ],
            true,
        ),
        (
            &["ALTER TABLE academy.courses VALIDATE CONSTRAINT courses_owner_fk"],
            true,
        ),
        (
            &[
                "ALTER TABLE academy.courses ADD CONSTRAINT courses_title_nn CHECK (title IS NOT NULL) NOT VALID",
            ],
            true,
        ),
        (
            &["ALTER TABLE academy.courses VALIDATE CONSTRAINT courses_title_nn"],
            true,
        ),
        (
            &["ALTER TABLE academy.courses ADD COLUMN code text NOT NULL DEFAULT ''"],
            true,
        ),
        (
            &[
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS courses_title_idx ON academy.courses (title)",
            ],
            false,
        ),
        // Drops the index the step above made: a real drop, not a no-op.
        (
            &["DROP INDEX CONCURRENTLY IF EXISTS academy.courses_title_idx"],
            false,
        ),
    ];
    for (statements, transactional) in &steps {
        let found = lint_academy(statements, *transactional);
        assert!(
            found.iter().all(|f| !f.blocks()),
            "{statements:?}: {found:?}"
        );
        let script = statements.join(";\n");
        let sql = if *transactional {
            format!("BEGIN; {script}; COMMIT")
        } else {
            script
        };
        conn.execute_unprepared(&sql)
            .await
            .unwrap_or_else(|e| panic!("{statements:?}: {e}"));
    }
    let valid = crate::support::scalar_i64(
        &conn,
        "SELECT count(*) FROM pg_constraint WHERE conrelid = 'academy.courses'::regclass AND convalidated",
    )
    .await;
    assert_eq!(
        crate::support::scalar_i64(
            &conn,
            "SELECT count(*) FROM pg_class WHERE relname = 'courses_title_idx'",
        )
        .await,
        0,
        "the index the safe alternatives made is dropped again"
    );
    assert_eq!(
        valid, 4,
        "primary key, unique key, foreign key and the NOT NULL check, all validated"
    );
}

/// Lints every migration of the workspace through the same driver as
/// `migrate lint`: nothing blocks, and the only exceptions are the reasoned
/// allow-comments of the migrations that predate the linter.
#[tokio::test]
async fn the_workspace_history_lints_clean_with_its_reasoned_exceptions() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let catalog =
        Catalog::workspace(&schema_registry::workspace()).expect("the workspace's catalog");
    assert!(!catalog.migrations().is_empty());
    let findings = lint::lint_catalog(&catalog, &workspace, Target::Plain, |_| true)
        .await
        .expect("every workspace migration records");
    for finding in &findings {
        println!("{finding}");
        assert!(
            catalog.get(&finding.migration).is_some(),
            "{}",
            finding.migration
        );
    }
    let blocking: Vec<String> = findings
        .iter()
        .filter(|f| f.blocks())
        .map(ToString::to_string)
        .collect();
    assert!(blocking.is_empty(), "{blocking:#?}");
    let mut allowed: Vec<(&str, &str)> = findings
        .iter()
        .filter(|f| {
            f.allowed
                .as_deref()
                .is_some_and(|reason| !reason.is_empty())
        })
        .map(|f| (f.migration.as_str(), f.rule))
        .collect();
    allowed.sort();
    assert_eq!(
        allowed,
        vec![
            (
                "m20250410_120000_vacancy_add_salary_range",
                "constraint-missing-not-valid"
            ),
            (
                "m20250520_080000_talent_add_profile_headline_length_check",
                "constraint-missing-not-valid"
            ),
            (
                "m20251101_090000_vacancy_link_applications_to_talent_profiles",
                "adding-foreign-key-constraint"
            ),
        ]
    );
}

/// A migration's source is found through its crate's registry
/// (`migrations/mod.rs`), not by its name: after its file is renamed (its
/// name kept), a full `lint` still reads its allow-comments.
#[tokio::test]
async fn a_renamed_migration_file_keeps_its_allow_comments() {
    const NAME: &str = "m20990101_000000_academy_drop_webinar_titles";
    let workspace =
        std::env::temp_dir().join(format!("lint-renamed-{}", uuid::Uuid::new_v4().simple()));
    let migrations = workspace.join("academy/src/migrations");
    std::fs::create_dir_all(&migrations).unwrap();
    let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("../academy/src/migrations/mod.rs");
    std::fs::copy(real, migrations.join("mod.rs")).unwrap();
    crate::check::write_migration(
        &workspace,
        "academy",
        "drop_webinar_titles",
        "//! Titles moved to the course.\n\
         // lint: allow ban-drop-column -- nothing reads `title` since release 41\n",
    );
    let catalog = Catalog::new(workspace_plus(vec![(
        "academy",
        Box::new(SqlMigration::new(
            NAME,
            &["ALTER TABLE academy.webinars DROP COLUMN title"],
            &["ALTER TABLE academy.webinars ADD COLUMN title text"],
        )),
    )]))
    .unwrap();
    let findings = lint::lint_catalog(&catalog, &workspace, Target::Plain, |name| name == NAME)
        .await
        .unwrap();
    std::fs::remove_dir_all(&workspace).unwrap();
    let found: Vec<(&str, Option<&str>)> = findings
        .iter()
        .map(|f| (f.rule, f.allowed.as_deref()))
        .collect();
    assert_eq!(
        found,
        vec![(
            "ban-drop-column",
            Some("nothing reads `title` since release 41")
        )]
    );
}
