//! Concurrent deploys, a bounded lock wait, and a runner killed mid-migration.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use migration_dev::testing::TestDatabase;
use migration_runner::{MigrateError, RunnerOptions, UpOptions};
use sea_orm::ConnectionTrait;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_concurrent_runners_apply_each_migration_exactly_once() {
    let db = TestDatabase::create("concurrency_eight");
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let url = db.url.clone();
        tasks.push(tokio::spawn(async move {
            let catalog =
                migration_runner::Catalog::workspace(&schema_registry::workspace()).unwrap();
            let conn = migration_runner::connect(&url, "migration-runner-test")
                .await
                .unwrap();
            let runner = migration_runner::Runner::new(conn, catalog, RunnerOptions::default())
                .await
                .unwrap();
            runner.up(&UpOptions::default()).await
        }));
    }
    let mut applied = 0;
    for task in tasks {
        let report = task.await.unwrap().expect("every runner succeeds");
        applied += report.applied.len();
    }
    let expected = migration_runner::Catalog::workspace(&schema_registry::workspace())
        .unwrap()
        .migrations()
        .len();
    assert_eq!(
        applied, expected,
        "each migration applied by exactly one runner"
    );
    let conn = connect(&db).await;
    assert_eq!(
        scalar_i64(&conn, "SELECT count(*) FROM public.seaql_migrations").await as usize,
        expected
    );
    assert_eq!(
        scalar_i64(
            &conn,
            "SELECT count(DISTINCT version) FROM public.seaql_migrations"
        )
        .await as usize,
        expected
    );
}

#[tokio::test]
async fn a_held_lock_is_waited_for_then_reported_with_its_holder() {
    let db = TestDatabase::create("concurrency_lock");
    let holder = connect(&db).await;
    holder
        .execute_unprepared(&format!(
            "SET application_name = 'deploy-from-laptop'; SELECT pg_advisory_lock({})",
            migration_runner::history::lock::LOCK_KEY
        ))
        .await
        .unwrap();
    let runner = runner_with(
        &db,
        migration_runner::source::catalog::workspace_sources(&schema_registry::workspace()),
        RunnerOptions {
            lock_timeout: Duration::from_secs(1),
            ..RunnerOptions::default()
        },
    )
    .await;
    let started = Instant::now();
    let err = runner.up(&UpOptions::default()).await.unwrap_err();
    let waited = started.elapsed();
    let message = err.to_string();
    assert!(
        matches!(
            err,
            MigrateError::Lock(migration_runner::deploy::error::LockError::Timeout { .. })
        ),
        "{message}"
    );
    assert!(message.contains("deploy-from-laptop"), "{message}");
    assert!(message.contains("--lock-timeout"), "{message}");
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(10),
        "{waited:?}"
    );
    let conn = connect(&db).await;
    assert_eq!(
        scalar_i64(
            &conn,
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'core'"
        )
        .await,
        0
    );

    // Once the holder lets go, a waiting runner proceeds.
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        holder
            .execute_unprepared(&format!(
                "SELECT pg_advisory_unlock({})",
                migration_runner::history::lock::LOCK_KEY
            ))
            .await
            .unwrap();
        holder
    });
    let patient = runner_with(
        &db,
        migration_runner::source::catalog::workspace_sources(&schema_registry::workspace()),
        RunnerOptions {
            lock_timeout: Duration::from_secs(20),
            ..RunnerOptions::default()
        },
    )
    .await;
    let report = patient.up(&UpOptions::default()).await.unwrap();
    assert!(
        report
            .lock_waited_for
            .is_some_and(|h| h.contains("deploy-from-laptop"))
    );
    assert!(!report.applied.is_empty());
    release.await.unwrap();
}

const CHILD_ENV: &str = "MIGRATION_RUNNER_TEST_SIGKILL_CHILD";
const SLOW: &str = "m20990101_000000_vacancy_slow_rewrite";

fn slow_migration(sleep_seconds: u32, transactional: bool) -> SqlMigration {
    let migration = SqlMigration::new(
        SLOW,
        &[
            "CREATE TABLE vacancy.slow_marker (id integer)",
            "INSERT INTO vacancy.slow_marker VALUES (1)",
            &format!("SELECT pg_sleep({sleep_seconds})"),
            "ALTER TABLE vacancy.slow_marker ADD COLUMN done boolean",
        ],
        &["DROP TABLE vacancy.slow_marker"],
    );
    if transactional {
        migration
    } else {
        migration.non_transactional()
    }
}

/// In the child process (`CHILD_ENV` set): run the workspace plus the slow
/// migration, and never finish. Returns true when this process is the child.
async fn child_mode(transactional: bool) -> bool {
    let Ok(url) = std::env::var(CHILD_ENV) else {
        return false;
    };
    let catalog = migration_runner::Catalog::new(workspace_plus(vec![(
        "vacancy",
        Box::new(slow_migration(60, transactional)),
    )]))
    .unwrap();
    let conn = migration_runner::connect(&url, "migration-runner-child")
        .await
        .unwrap();
    let runner = migration_runner::Runner::new(conn, catalog, RunnerOptions::default())
        .await
        .unwrap();
    runner.up(&UpOptions::default()).await.unwrap();
    panic!("the child should have been killed during {SLOW}");
}

/// Starts this test again as a child process, waits until it sleeps inside
/// the slow migration, SIGKILLs it, and waits for the server to end its session.
async fn kill_child_mid_migration(db: &TestDatabase, test_name: &str) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test_name, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &db.url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let conn = connect(db).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let sleeping = scalar_i64(
            &conn,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'migration-runner-child' AND query LIKE '%SELECT pg_sleep%'",
        )
        .await;
        if sleeping == 1 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the child exited before reaching the slow statement"
        );
        assert!(
            Instant::now() < deadline,
            "the child never reached the slow statement"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Earlier migrations committed; the slow one is mid-flight.
    assert!(
        scalar_i64(
            &conn,
            "SELECT count(*) FROM public.seaql_migrations WHERE state = 'applied'"
        )
        .await
            > 0
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    child.wait().unwrap();
    // The server notices the dead client and ends its session (rolling back its transaction).
    let deadline = Instant::now() + Duration::from_secs(30);
    while scalar_i64(
        &conn,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'migration-runner-child'",
    )
    .await
        > 0
    {
        assert!(
            Instant::now() < deadline,
            "the killed runner's session never ended"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_runner_killed_mid_migration_leaves_no_trace() {
    if child_mode(true).await {
        return;
    }
    let db = TestDatabase::create("concurrency_sigkill");
    kill_child_mid_migration(
        &db,
        "concurrency::a_runner_killed_mid_migration_leaves_no_trace",
    )
    .await;
    let conn = connect(&db).await;
    assert_eq!(
        scalar_i64(
            &conn,
            "SELECT count(*) FROM pg_class WHERE relname = 'slow_marker'"
        )
        .await,
        0
    );
    assert_eq!(
        scalar_i64(
            &conn,
            &format!("SELECT count(*) FROM public.seaql_migrations WHERE version = '{SLOW}'")
        )
        .await,
        0
    );

    let report = runner(
        &db,
        workspace_plus(vec![("vacancy", Box::new(slow_migration(0, true)))]),
    )
    .await
    .up(&UpOptions::default())
    .await
    .unwrap();
    assert_eq!(report.applied.last().map(|a| a.name.as_str()), Some(SLOW));
    assert_eq!(
        scalar_i64(&conn, "SELECT count(*) FROM vacancy.slow_marker").await,
        1
    );
    assert_eq!(
        scalar_i64(
            &conn,
            &format!("SELECT count(*) FROM public.seaql_migrations WHERE version = '{SLOW}'")
        )
        .await,
        1
    );
}

#[tokio::test]
async fn a_runner_killed_inside_a_non_transactional_migration_shows_it_failed() {
    if child_mode(false).await {
        return;
    }
    let db = TestDatabase::create("concurrency_sigkill_nontx");
    kill_child_mid_migration(
        &db,
        "concurrency::a_runner_killed_inside_a_non_transactional_migration_shows_it_failed",
    )
    .await;
    let conn = connect(&db).await;
    // Without a transaction its first statements stayed, and history says so.
    assert_eq!(
        scalar_i64(&conn, "SELECT count(*) FROM vacancy.slow_marker").await,
        1
    );
    assert_eq!(
        scalar_text(
            &conn,
            &format!("SELECT state FROM public.seaql_migrations WHERE version = '{SLOW}'")
        )
        .await,
        "running"
    );

    let runner = runner(
        &db,
        workspace_plus(vec![("vacancy", Box::new(slow_migration(0, false)))]),
    )
    .await;
    let inspection = runner.inspect().await.unwrap();
    assert_eq!(inspection.exit_code(), 2);
    let entry = inspection
        .migrations
        .iter()
        .find(|e| e.name == SLOW)
        .unwrap();
    assert_eq!(entry.state, migration_runner::State::Failed);
    let refused = runner
        .up(&UpOptions::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains(&format!(
            "migration `{SLOW}` in crate `vacancy` is non-transactional and did not finish"
        )),
        "{refused}"
    );
}
