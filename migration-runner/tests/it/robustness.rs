//! The runner under pressure: rolling back a non-transactional migration,
//! waiting for a lock as a non-superuser, DDL on a busy table, a killed
//! runner, an unreachable server, a connection lost mid-run.

use std::time::{Duration, Instant};

use migration_dev::testing::TestDatabase;
use migration_runner::deploy::error::{ApplyError, LockError};
use migration_runner::deploy::executor::DdlLimits;
use migration_runner::{MigrateError, RunnerOptions, UpOptions};
use sea_orm::{ConnectionTrait, TransactionTrait};

use crate::support::*;

fn concurrent_index() -> SqlMigration {
    SqlMigration::new(
        "m20990101_000000_academy_index_courses_concurrently",
        &["CREATE INDEX CONCURRENTLY courses_title_idx ON academy.courses (title)"],
        &["DROP INDEX CONCURRENTLY IF EXISTS academy.courses_title_idx"],
    )
    .non_transactional()
}

#[tokio::test]
async fn down_reverts_a_non_transactional_migration_outside_a_transaction() {
    let db = TestDatabase::create("robust_down_nontx");
    let runner = runner(
        &db,
        workspace_plus(vec![("academy", Box::new(concurrent_index()))]),
    )
    .await;
    runner.up(&UpOptions::default()).await.unwrap();
    let conn = connect(&db).await;
    let index_count = "SELECT count(*) FROM pg_indexes WHERE indexname = 'courses_title_idx'";
    assert_eq!(scalar_i64(&conn, index_count).await, 1);
    let report = runner
        .down(&Default::default(), &mut |_| {})
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(report.rolled_back.len(), 1);
    assert_eq!(scalar_i64(&conn, index_count).await, 0);
    assert!(
        !history_names(&conn)
            .await
            .contains(&"m20990101_000000_academy_index_courses_concurrently".to_owned())
    );
    // And it applies again.
    runner.up(&UpOptions::default()).await.unwrap();
    assert_eq!(scalar_i64(&conn, index_count).await, 1);
}

#[tokio::test]
async fn a_failed_non_transactional_rollback_reads_as_failed() {
    let db = TestDatabase::create("robust_down_nontx_fail");
    let broken = SqlMigration::new(
        "m20990101_000000_academy_index_courses_concurrently",
        &["CREATE INDEX CONCURRENTLY courses_title_idx ON academy.courses (title)"],
        &["DROP INDEX CONCURRENTLY academy.no_such_index"],
    )
    .non_transactional();
    let runner = runner(&db, workspace_plus(vec![("academy", Box::new(broken))])).await;
    runner.up(&UpOptions::default()).await.unwrap();
    let err = runner
        .down(&Default::default(), &mut |_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            MigrateError::Apply(ApplyError::NonTransactionalFailed(_))
        ),
        "{err}"
    );
    let inspection = runner.inspect().await.unwrap();
    assert_eq!(inspection.exit_code(), 2);
    assert!(
        inspection.problems[0]
            .to_string()
            .contains("did not finish")
    );
}

#[tokio::test]
async fn a_non_superuser_waits_for_the_lock_then_names_its_holder() {
    let db = TestDatabase::create("robust_lock_nonsuper");
    let admin = connect(&db).await;
    let role = format!("deployer_{}", &db.name[db.name.len() - 8..]);
    admin
        .execute_unprepared(&format!(
            "CREATE ROLE {role} LOGIN PASSWORD 'deployer-pw'; GRANT CREATE ON DATABASE \"{}\" TO {role}",
            db.name
        ))
        .await
        .unwrap();
    // One session takes the lock and reports its pid (a pool could use two).
    let holder = migration_runner::connect(&db.url, "holder").await.unwrap();
    let holder_pid = scalar_i64(
        holder.connection(),
        &format!(
            "SELECT pg_backend_pid()::bigint FROM (SELECT pg_advisory_lock({})) locked",
            migration_runner::history::lock::LOCK_KEY
        ),
    )
    .await;
    let session = migration_runner::connect(&db.url_as(&role, "deployer-pw"), "deployer")
        .await
        .unwrap();
    let runner = migration_runner::Runner::new(
        session,
        migration_runner::Catalog::workspace(&schema_registry::workspace()).unwrap(),
        RunnerOptions {
            lock_timeout: Duration::from_secs(1),
            ..RunnerOptions::default()
        },
    )
    .await
    .unwrap();
    let started = Instant::now();
    let err = runner.up(&UpOptions::default()).await.unwrap_err();
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "did not wait"
    );
    assert!(
        matches!(err, MigrateError::Lock(LockError::Timeout { .. })),
        "{err}"
    );
    let message = err.to_string();
    assert!(message.contains(&format!("pid {holder_pid}")), "{message}");
    assert!(!message.contains("null value"), "{message}");
}

/// A migration that alters `academy.webinars`, for the busy-table tests.
fn alter_webinars() -> SqlMigration {
    SqlMigration::new(
        "m20990101_000000_academy_add_webinar_notes",
        &["ALTER TABLE academy.webinars ADD COLUMN notes text"],
        &["ALTER TABLE academy.webinars DROP COLUMN notes"],
    )
}

#[tokio::test]
async fn ddl_on_a_busy_table_gives_up_retries_and_never_queues_readers_long() {
    let db = TestDatabase::migrated("robust_ddl_busy").await;
    // A long transaction that read the table holds ACCESS SHARE until it ends.
    let holder = connect(&db).await;
    let open = holder.begin().await.unwrap();
    open.execute_unprepared("SELECT count(*) FROM academy.webinars")
        .await
        .unwrap();
    let options = RunnerOptions {
        ddl: DdlLimits {
            lock_timeout: Duration::from_millis(500),
            retries: 2,
        },
        ..RunnerOptions::default()
    };
    let runner = runner_with(
        &db,
        workspace_plus(vec![("academy", Box::new(alter_webinars()))]),
        options,
    )
    .await;
    // A reader arriving while the runner waits is queued behind its lock request:
    // it must get through within one lock timeout, not when the holder ends.
    let reader_db = db.url.clone();
    let reader = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let conn = sea_orm::Database::connect(&reader_db).await.unwrap();
        let started = Instant::now();
        conn.execute_unprepared("SELECT count(*) FROM academy.webinars")
            .await
            .unwrap();
        started.elapsed()
    });
    let started = Instant::now();
    let err = runner.up(&UpOptions::default()).await.unwrap_err();
    let waited = started.elapsed();
    assert!(
        matches!(
            err,
            MigrateError::Apply(ApplyError::LockTimeout { attempts: 3, .. })
        ),
        "{err}"
    );
    let message = err.to_string();
    assert!(message.contains("`academy.webinars`"), "{message}");
    assert!(
        message.contains("m20990101_000000_academy_add_webinar_notes"),
        "{message}"
    );
    assert!(
        waited >= Duration::from_millis(1500) && waited < Duration::from_secs(10),
        "{waited:?}"
    );
    let reader_waited = reader.await.unwrap();
    assert!(
        reader_waited < Duration::from_millis(900),
        "a reader waited {reader_waited:?}"
    );
    let conn = connect(&db).await;
    assert!(
        !history_names(&conn)
            .await
            .contains(&"m20990101_000000_academy_add_webinar_notes".to_owned())
    );
    // Once the table is free, the same migration applies.
    open.rollback().await.unwrap();
    let report = runner.up(&UpOptions::default()).await.unwrap();
    assert_eq!(report.applied.len(), 1);
}

#[tokio::test]
async fn a_runner_killed_while_blocked_leaves_no_lock_behind() {
    let db = TestDatabase::create("robust_killed_blocked");
    let up_to_webinars = runner_binary(
        Some(&db.url),
        &["up", "--to", "m20250215_090000_academy_create_webinars"],
        &[],
    );
    assert_eq!(
        up_to_webinars.status.code(),
        Some(0),
        "{}",
        all_output(&up_to_webinars)
    );
    let holder = connect(&db).await;
    // The test cluster's configuration checks for dead clients; a production
    // server may not: only the runner's own session setting may count here.
    holder
        .execute_unprepared(&format!(
            "ALTER DATABASE \"{}\" SET client_connection_check_interval = 0",
            db.name
        ))
        .await
        .unwrap();
    let open = holder.begin().await.unwrap();
    open.execute_unprepared("SELECT count(*) FROM academy.webinars")
        .await
        .unwrap();
    let mut child = runner_command(Some(&db.url), &["up", "--ddl-lock-timeout", "120"], &[])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let watcher = connect(&db).await;
    wait_until(
        &watcher,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
           AND application_name = 'migration-runner' AND wait_event_type = 'Lock'",
        "the runner never blocked",
    )
    .await;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    child.wait().unwrap();
    let lock_held = format!(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = {} \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        migration_runner::history::lock::LOCK_KEY as u32
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while scalar_i64(&watcher, &lock_held).await > 0 {
        assert!(
            Instant::now() < deadline,
            "the killed runner's session still holds the migration lock"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    open.rollback().await.unwrap();
    let up = runner_binary(Some(&db.url), &["up"], &[]);
    assert_eq!(up.status.code(), Some(0), "{}", all_output(&up));
}

#[test]
fn an_unreachable_server_fails_fast_with_host_port_and_reason() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let url = format!("postgres://deploy:secret@127.0.0.1:{port}/app");
    for args in [&["up"][..], &["status"], &["plan"]] {
        let started = Instant::now();
        let output = runner_binary(Some(&url), args, &[]);
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(output.status.code(), Some(4), "{}", all_output(&output));
        let message = stderr(&output);
        assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
        assert!(
            message.to_lowercase().contains("connection refused"),
            "{message}"
        );
    }
}

#[tokio::test]
async fn a_wrong_password_is_said_plainly() {
    let db = TestDatabase::create("robust_wrong_password");
    let url = db.url_as("postgres", "not-the-password");
    let output = runner_binary(Some(&url), &["status"], &[]);
    assert_eq!(output.status.code(), Some(4), "{}", all_output(&output));
    let message = stderr(&output);
    assert!(
        message.contains("password authentication failed"),
        "{message}"
    );
    assert!(message.contains("SQLSTATE 28P01"), "{message}");
    assert!(!message.contains(" at line "), "{message}");
}

#[tokio::test]
async fn a_connection_lost_mid_run_names_the_migration_and_what_was_committed() {
    let db = TestDatabase::create("robust_connection_lost");
    let slow = SqlMigration::new(
        "m20990101_000001_academy_slow_step",
        &["SELECT pg_sleep(30)"],
        &["SELECT 1"],
    );
    let runner = runner(&db, workspace_plus(vec![("academy", Box::new(slow))])).await;
    let killer_db = connect(&db).await;
    let killer = tokio::spawn(async move {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let killed = scalar_i64(
                &killer_db,
                "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE query LIKE '%SELECT pg_sleep(30)%' AND pid <> pg_backend_pid()) t",
            )
            .await;
            if killed > 0 || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let err = runner.up(&UpOptions::default()).await.unwrap_err();
    killer.await.unwrap();
    let total = migration_runner::Catalog::workspace(&schema_registry::workspace())
        .unwrap()
        .migrations()
        .len();
    assert!(
        matches!(err, MigrateError::Apply(ApplyError::ConnectionLost { .. })),
        "{err}"
    );
    let message = err.to_string();
    assert!(
        message.contains("m20990101_000001_academy_slow_step"),
        "{message}"
    );
    assert!(
        message.contains(&format!(
            "{total} migration(s) of this run were committed before it"
        )),
        "{message}"
    );
    assert!(message.contains("the server rolled it back"), "{message}");
    assert!(!message.contains("expected to read"), "{message}");
}
