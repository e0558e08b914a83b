//! Integrity refusals (edited, missing, out of order, non-deterministic,
//! failed), each with its message, each changing nothing; and `status`'s
//! exit code in each situation.

use migration_dev::testing::TestDatabase;
use migration_runner::{MigrateError, Resolution, State, UpOptions};
use sea_orm::{ConnectionTrait, DbErr};
use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager};

use crate::support::*;

fn extra_table(name: &str, table: &str) -> SqlMigration {
    SqlMigration::new(
        name,
        &[&format!("CREATE TABLE {table} (id uuid PRIMARY KEY)")],
        &[&format!("DROP TABLE {table}")],
    )
}

/// Applies the workspace plus `academy.extra`, returning the database and a snapshot.
async fn applied_with_extra(label: &str) -> (TestDatabase, String, Vec<String>) {
    let db = TestDatabase::create(label);
    let extra = extra_table("m20990101_000000_academy_add_extra", "academy.extra");
    runner(&db, workspace_plus(vec![("academy", Box::new(extra))]))
        .await
        .up(&UpOptions::default())
        .await
        .unwrap();
    let conn = connect(&db).await;
    let snapshot = catalog_snapshot(&conn).await;
    let history = history_rows(&conn).await;
    (db, snapshot, history)
}

async fn history_rows(conn: &sea_orm::DatabaseConnection) -> Vec<String> {
    texts(
        conn,
        "SELECT version || ' ' || state || ' ' || checksum || ' ' || applied_on FROM public.seaql_migrations ORDER BY version",
    )
    .await
}

async fn assert_unchanged(db: &TestDatabase, snapshot: &str, history: &[String]) {
    let conn = connect(db).await;
    assert_eq!(
        catalog_snapshot(&conn).await,
        snapshot,
        "the schema changed"
    );
    assert_eq!(history_rows(&conn).await, history, "history changed");
}

#[tokio::test]
async fn an_edited_migration_is_refused_and_nothing_changes() {
    let (db, snapshot, history) = applied_with_extra("integrity_edited").await;
    let edited = SqlMigration::new(
        "m20990101_000000_academy_add_extra",
        &["CREATE TABLE academy.extra (id uuid PRIMARY KEY, note text)"],
        &["DROP TABLE academy.extra"],
    );
    let pending = extra_table("m20990102_000000_academy_add_more", "academy.more");
    let runner = runner(
        &db,
        workspace_plus(vec![
            ("academy", Box::new(edited)),
            ("academy", Box::new(pending)),
        ]),
    )
    .await;
    let err = runner.up(&UpOptions::default()).await.unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(
            err,
            MigrateError::Verify(migration_runner::deploy::error::VerifyError::Integrity(_))
        ),
        "{message}"
    );
    assert!(
        message.contains("migration `m20990101_000000_academy_add_extra` in crate `academy` was edited after it was applied"),
        "{message}"
    );
    assert!(message.contains("restore the file"), "{message}");
    assert_unchanged(&db, &snapshot, &history).await;

    let inspection = runner.inspect().await.unwrap();
    assert_eq!(inspection.exit_code(), 2);
    let entry = inspection
        .migrations
        .iter()
        .find(|e| e.name.ends_with("add_extra"))
        .unwrap();
    assert_eq!(entry.state, State::Changed);
    assert_ne!(entry.checksum, entry.applied_checksum);
}

#[tokio::test]
async fn a_deleted_migration_is_refused_as_missing() {
    let (db, snapshot, history) = applied_with_extra("integrity_missing").await;
    let runner = workspace_runner(&db).await;
    let message = runner
        .up(&UpOptions::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("migration `m20990101_000000_academy_add_extra` (crate `academy`) is in the database's history but no longer in the code"),
        "{message}"
    );
    assert!(
        message.contains("restore it under its original name"),
        "{message}"
    );
    assert_unchanged(&db, &snapshot, &history).await;
    let inspection = runner.inspect().await.unwrap();
    assert_eq!(inspection.exit_code(), 2);
    assert!(
        inspection
            .migrations
            .iter()
            .any(|e| e.state == State::Missing && e.name.ends_with("add_extra"))
    );
}

#[tokio::test]
async fn an_out_of_order_migration_is_refused_unless_allowed_and_then_recorded() {
    let (db, snapshot, history) = applied_with_extra("integrity_order").await;
    let extra = || extra_table("m20990101_000000_academy_add_extra", "academy.extra");
    let late = || {
        extra_table(
            "m20250601_000000_talent_add_late_branch",
            "talent.late_branch",
        )
    };
    let runner = runner(
        &db,
        workspace_plus(vec![
            ("academy", Box::new(extra())),
            ("talent", Box::new(late())),
        ]),
    )
    .await;
    let message = runner
        .up(&UpOptions::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        message.contains(
            "migration `m20250601_000000_talent_add_late_branch` in crate `talent` is pending but sorts before `m20990101_000000_academy_add_extra`"
        ),
        "{message}"
    );
    assert!(
        message.contains("rename it with a newer timestamp"),
        "{message}"
    );
    assert!(message.contains("--allow-out-of-order"), "{message}");
    assert_unchanged(&db, &snapshot, &history).await;
    assert_eq!(runner.inspect().await.unwrap().exit_code(), 2);

    let report = runner
        .up(&UpOptions {
            allow_out_of_order: true,
            ..UpOptions::default()
        })
        .await
        .unwrap();
    assert_eq!(report.applied.len(), 1);
    let conn = connect(&db).await;
    assert_eq!(
        scalar_text(&conn, "SELECT out_of_order::text || ' ' || note FROM public.seaql_migrations WHERE version LIKE '%late_branch'").await,
        "true applied with --allow-out-of-order"
    );
    // Once applied with the override, it no longer counts as a problem.
    assert_eq!(runner.inspect().await.unwrap().exit_code(), 0);
}

/// A migration whose SQL changes on every run.
struct StampedMigration;

impl MigrationName for StampedMigration {
    fn name(&self) -> &str {
        "m20990101_000000_core_stamp_release"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for StampedMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let stamp = uuid::Uuid::new_v4();
        manager
            .get_connection()
            .execute_unprepared(&format!("COMMENT ON SCHEMA core IS 'release {stamp}'"))
            .await
            .map(drop)
    }
}

/// A migration whose SQL depends on what the database holds.
struct ProbingMigration;

impl MigrationName for ProbingMigration {
    fn name(&self) -> &str {
        "m20990101_000000_core_add_column_if_missing"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for ProbingMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if !manager.has_column("users", "nickname").await? {
            manager
                .get_connection()
                .execute_unprepared("ALTER TABLE core.users ADD COLUMN nickname text")
                .await?;
        }
        Ok(())
    }
}

#[tokio::test]
async fn migrations_that_cannot_be_checksummed_are_refused() {
    let db = TestDatabase::create("integrity_nondeterministic");
    let conn = connect(&db).await;
    let empty = catalog_snapshot(&conn).await;

    let runner_stamped = runner(
        &db,
        workspace_plus(vec![("core", Box::new(StampedMigration))]),
    )
    .await;
    let message = runner_stamped
        .up(&UpOptions::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("migration `m20990101_000000_core_stamp_release` in crate `core`"),
        "{message}"
    );
    assert!(
        message.contains("emits different SQL from one run to the next"),
        "{message}"
    );
    assert!(
        message.contains(
            "structural migrations must be deterministic and data work belongs in a backfill"
        ),
        "{message}"
    );

    let runner_probing = runner(
        &db,
        workspace_plus(vec![("core", Box::new(ProbingMigration))]),
    )
    .await;
    let message = runner_probing
        .up(&UpOptions::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("m20990101_000000_core_add_column_if_missing"),
        "{message}"
    );
    assert!(message.contains("reads the database"), "{message}");

    // Refused before anything ran: not even the valid migrations were applied.
    assert_eq!(catalog_snapshot(&conn).await, empty);
    assert_eq!(
        scalar_i64(
            &conn,
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'core'"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn a_failed_non_transactional_migration_shows_as_failed_until_resolved() {
    let db = TestDatabase::create("integrity_nontx");
    let conn = connect(&db).await;
    let broken = SqlMigration::new(
        "m20990101_000000_academy_index_courses_concurrently",
        &[
            "CREATE INDEX CONCURRENTLY courses_title_idx ON academy.courses (title)",
            "CREATE INDEX CONCURRENTLY courses_nope_idx ON academy.courses (no_such_column)",
        ],
        &["DROP INDEX CONCURRENTLY IF EXISTS academy.courses_title_idx"],
    )
    .non_transactional();
    let runner_broken = runner(&db, workspace_plus(vec![("academy", Box::new(broken))])).await;
    let message = runner_broken
        .up(&UpOptions::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        message.contains(
            "non-transactional migration `m20990101_000000_academy_index_courses_concurrently`"
        ),
        "{message}"
    );
    assert!(message.contains("resolve --rolled-back"), "{message}");
    // Its first statement stayed (no transaction), and history says failed.
    assert_eq!(
        scalar_i64(
            &conn,
            "SELECT count(*) FROM pg_indexes WHERE indexname = 'courses_title_idx'"
        )
        .await,
        1
    );
    assert_eq!(
        scalar_text(
            &conn,
            "SELECT state FROM public.seaql_migrations WHERE version LIKE '%concurrently'"
        )
        .await,
        "failed"
    );
    let inspection = runner_broken.inspect().await.unwrap();
    assert_eq!(inspection.exit_code(), 2);
    assert!(
        inspection
            .migrations
            .iter()
            .any(|e| e.state == State::Failed)
    );
    // While it is failed, nothing else is applied.
    assert!(
        runner_broken
            .up(&UpOptions::default())
            .await
            .unwrap_err()
            .to_string()
            .contains("did not finish")
    );

    runner_broken
        .resolve(&Resolution::RolledBack(
            "m20990101_000000_academy_index_courses_concurrently".into(),
        ))
        .await
        .unwrap();
    assert_eq!(
        scalar_text(
            &conn,
            "SELECT state FROM public.seaql_migrations WHERE version LIKE '%concurrently'"
        )
        .await,
        "rolled_back"
    );
    conn.execute_unprepared("DROP INDEX academy.courses_title_idx")
        .await
        .unwrap();
    let fixed = SqlMigration::new(
        "m20990101_000000_academy_index_courses_concurrently",
        &["CREATE INDEX CONCURRENTLY courses_title_idx ON academy.courses (title)"],
        &["DROP INDEX CONCURRENTLY IF EXISTS academy.courses_title_idx"],
    )
    .non_transactional();
    let runner_fixed = runner(&db, workspace_plus(vec![("academy", Box::new(fixed))])).await;
    assert_eq!(runner_fixed.inspect().await.unwrap().exit_code(), 1);
    let report = runner_fixed.up(&UpOptions::default()).await.unwrap();
    assert_eq!(report.applied.len(), 1);
    assert_eq!(runner_fixed.inspect().await.unwrap().exit_code(), 0);
}

#[tokio::test]
async fn a_crash_inside_a_non_transactional_migration_reads_as_failed() {
    let db = TestDatabase::create("integrity_crash_nontx");
    let concurrent = SqlMigration::new(
        "m20990101_000000_academy_index_courses_concurrently",
        &["CREATE INDEX CONCURRENTLY courses_title_idx ON academy.courses (title)"],
        &["DROP INDEX CONCURRENTLY IF EXISTS academy.courses_title_idx"],
    )
    .non_transactional();
    let runner = runner(&db, workspace_plus(vec![("academy", Box::new(concurrent))])).await;
    runner.up(&UpOptions::default()).await.unwrap();
    // What a process killed mid-migration leaves behind: a `running` row.
    let conn = connect(&db).await;
    conn.execute_unprepared("UPDATE public.seaql_migrations SET state = 'running' WHERE version = 'm20990101_000000_academy_index_courses_concurrently'")
        .await
        .unwrap();
    let inspection = runner.inspect().await.unwrap();
    assert_eq!(inspection.exit_code(), 2);
    assert_eq!(inspection.problems.len(), 1);
    let message = inspection.problems[0].to_string();
    assert!(
        message.contains("m20990101_000000_academy_index_courses_concurrently"),
        "{message}"
    );
    assert!(
        message.contains("is non-transactional and did not finish"),
        "{message}"
    );
}

#[tokio::test]
async fn a_running_row_of_a_transactional_migration_reads_as_edited_history() {
    let db = TestDatabase::create("integrity_running_tx");
    let runner = workspace_runner(&db).await;
    runner.up(&UpOptions::default()).await.unwrap();
    let conn = connect(&db).await;
    conn.execute_unprepared("UPDATE public.seaql_migrations SET state = 'running' WHERE version = 'm20251008_120000_academy_add_webinar_capacity'")
        .await
        .unwrap();
    let inspection = runner.inspect().await.unwrap();
    assert_eq!(inspection.exit_code(), 2);
    let message = inspection.problems[0].to_string();
    assert!(
        message.contains("runs in a transaction, yet history says `running`"),
        "{message}"
    );
    assert!(!message.contains("non-transactional"), "{message}");
}

#[tokio::test]
async fn status_exit_codes_follow_the_state() {
    let db = TestDatabase::create("integrity_exit_codes");
    let runner = workspace_runner(&db).await;
    let fresh = runner.inspect().await.unwrap();
    assert_eq!(
        fresh.exit_code(),
        1,
        "a fresh database has only pending migrations"
    );
    assert_eq!(fresh.pending().count(), runner.catalog().migrations().len());
    runner
        .up(&UpOptions {
            to: Some("m20250102_000000_talent_create_schema".into()),
            ..UpOptions::default()
        })
        .await
        .unwrap();
    assert_eq!(runner.inspect().await.unwrap().exit_code(), 1);
    runner.up(&UpOptions::default()).await.unwrap();
    assert_eq!(runner.inspect().await.unwrap().exit_code(), 0);
}

#[tokio::test]
async fn plan_shows_the_sql_that_up_then_runs() {
    let db = TestDatabase::create("integrity_plan");
    let runner = workspace_runner(&db).await;
    let plan = runner.plan().await.unwrap();
    assert_eq!(plan.len(), runner.catalog().migrations().len());
    let capacity = plan
        .iter()
        .find(|p| p.name == "m20251008_120000_academy_add_webinar_capacity")
        .unwrap();
    let sql: Vec<String> = capacity.script.sql_lines().collect();
    assert!(
        sql.iter().any(
            |s| s.contains(r#"ALTER TABLE "academy"."webinars" ADD COLUMN "capacity" integer"#)
        ),
        "{sql:?}"
    );

    let dry = runner
        .up(&UpOptions {
            dry_run: true,
            ..UpOptions::default()
        })
        .await
        .unwrap();
    assert_eq!(dry.planned.len(), plan.len());
    let conn = connect(&db).await;
    assert_eq!(
        scalar_i64(
            &conn,
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'academy'"
        )
        .await,
        0,
        "dry run changed nothing"
    );

    runner.up(&UpOptions::default()).await.unwrap();
    let recorded = texts(
        &conn,
        "SELECT version || ' ' || checksum FROM public.seaql_migrations ORDER BY version",
    )
    .await;
    let mut planned: Vec<String> = plan
        .iter()
        .map(|p| format!("{} {}", p.name, p.script.checksum()))
        .collect();
    planned.sort();
    assert_eq!(recorded, planned);
    // Each migration's exact statements ran: the capacity column exists as planned.
    assert_eq!(
        scalar_text(&conn, "SELECT data_type FROM information_schema.columns WHERE table_schema = 'academy' AND table_name = 'webinars' AND column_name = 'capacity'").await,
        "integer"
    );
}

/// Long histories are verified on several threads: the result must be the
/// same as in order, one migration at a time.
#[tokio::test]
async fn a_long_history_is_verified_in_full() {
    let db = TestDatabase::create("integrity_long_history");
    let bulk = |edited: Option<usize>| {
        let extra: Vec<(&'static str, Box<dyn MigrationTrait>)> = (0..300)
            .map(|i| {
                let comment = if Some(i) == edited {
                    format!("step {i}, edited")
                } else {
                    format!("step {i}")
                };
                let migration = SqlMigration::new(
                    &format!("m20990101_{:02}{:02}00_core_bulk_step", i / 60, i % 60),
                    &[&format!("COMMENT ON SCHEMA core IS '{comment}'")],
                    &["COMMENT ON SCHEMA core IS NULL"],
                );
                ("core", Box::new(migration) as Box<dyn MigrationTrait>)
            })
            .collect();
        workspace_plus(extra)
    };
    let report = runner(&db, bulk(None))
        .await
        .up(&UpOptions::default())
        .await
        .unwrap();
    assert_eq!(report.applied.len(), 320);
    let intact = runner(&db, bulk(None)).await;
    assert_eq!(intact.inspect().await.unwrap().exit_code(), 0);
    assert!(
        intact
            .up(&UpOptions::default())
            .await
            .unwrap()
            .applied
            .is_empty()
    );

    let edited = runner(&db, bulk(Some(137))).await.inspect().await.unwrap();
    let changed: Vec<&str> = edited
        .migrations
        .iter()
        .filter(|e| e.state == State::Changed)
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(changed, ["m20990101_021700_core_bulk_step"]);
}

/// Counts how often its code runs.
struct CountedMigration(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl MigrationName for CountedMigration {
    fn name(&self) -> &str {
        "m20990101_000000_academy_add_course_tags"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CountedMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE academy.courses ADD COLUMN tags text")
            .await
            .map(drop)
    }
}

/// `up` sends the recorded statements; it never runs a migration's code
/// against the server, where that code could emit something else.
#[tokio::test]
async fn up_runs_the_recorded_statements_not_the_code_again() {
    let db = TestDatabase::create("integrity_recorded");
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let runner = runner(
        &db,
        workspace_plus(vec![("academy", Box::new(CountedMigration(calls.clone())))]),
    )
    .await;
    let plan = runner.plan().await.unwrap();
    let planned = plan
        .iter()
        .find(|p| p.name.ends_with("add_course_tags"))
        .unwrap();
    assert_eq!(
        planned.script.sql_lines().collect::<Vec<_>>(),
        ["ALTER TABLE academy.courses ADD COLUMN tags text;"]
    );
    let before = calls.load(std::sync::atomic::Ordering::SeqCst);
    runner.up(&UpOptions::default()).await.unwrap();
    // Recorded once more (and compared with the first recording, kept from
    // `plan`, to prove it deterministic), run against the server zero times.
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst) - before, 1);
    let conn = connect(&db).await;
    assert_eq!(
        scalar_text(&conn, "SELECT data_type FROM information_schema.columns WHERE table_schema = 'academy' AND table_name = 'courses' AND column_name = 'tags'").await,
        "text"
    );
    assert_eq!(
        scalar_text(&conn, "SELECT checksum FROM public.seaql_migrations WHERE version = 'm20990101_000000_academy_add_course_tags'").await,
        planned.script.checksum()
    );
}
