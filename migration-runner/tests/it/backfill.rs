//! Backfills against a real server: killed with SIGKILL and resumed, paused
//! and cancelled from another process, held back by a table lock without
//! queueing readers, guarded by a flag, and holding a contract migration back
//! until they finish (or have nothing to do).

use std::process::Child;
use std::time::{Duration, Instant};

use migration_dev::testing::TestDatabase;
use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait};

use crate::support::{
    connect, history_names, runner_binary, scalar_i64, scalar_text, stderr, stdout,
};

const BACKFILL: &str = "academy_webinar_capacity";
const FLAG: &str = "academy_webinar_capacity";
/// The migration that adds the nullable column the backfill fills.
const ADD_CAPACITY: &str = "m20251008_120000_academy_add_webinar_capacity";
const CONTRACT: &str = schema_academy::backfills::CAPACITY_NOT_NULL;
const HOST: &str = "00000000-0000-0000-0000-000000000001";

/// A database migrated up to the nullable `capacity`, with `rows` webinars
/// (three courses of 30, 60 and 90 learners; one webinar in four standalone).
async fn with_webinars(label: &str, rows: i64) -> (TestDatabase, DatabaseConnection) {
    let db = TestDatabase::create(label);
    db.migrate(Some(ADD_CAPACITY.to_owned())).await;
    let conn = connect(&db).await;
    conn.execute_unprepared(&format!(
        "INSERT INTO core.users (id, email, display_name) VALUES ('{HOST}', 'host@example.com', 'Host');
         INSERT INTO core.users (id, email, display_name)
              SELECT md5('u' || g)::uuid, 'u' || g || '@example.com', 'U' FROM generate_series(1, 90) g;
         INSERT INTO academy.courses (id, slug, title, instructor_id)
              SELECT md5('c' || g)::uuid, 'c' || g, 'Course', '{HOST}' FROM generate_series(1, 3) g;
         INSERT INTO academy.enrollments (id, course_id, user_id, enrolled_at)
              SELECT md5('e' || c || '-' || u)::uuid, md5('c' || c)::uuid, md5('u' || u)::uuid, now()
                FROM generate_series(1, 3) c, generate_series(1, c * 30) u;
         INSERT INTO academy.webinars (id, slug, title, course_id, host_id, starts_at)
              SELECT md5('w' || g)::uuid, 'w' || g, 'Webinar',
                     CASE WHEN g % 4 = 0 THEN NULL ELSE md5('c' || (g % 3 + 1))::uuid END, '{HOST}', now()
                FROM generate_series(1, {rows}) g;
         ANALYZE academy.webinars;"
    ))
    .await
    .expect("insert webinars");
    (db, conn)
}

/// Every webinar's id and capacity, as one hash.
async fn fingerprint(conn: &DatabaseConnection) -> String {
    scalar_text(
        conn,
        "SELECT md5(string_agg(id::text || ':' || coalesce(capacity::text, 'null'), ',' ORDER BY id)) \
         FROM academy.webinars",
    )
    .await
}

async fn ledger_i64(conn: &DatabaseConnection, column: &str) -> i64 {
    scalar_i64(
        conn,
        &format!(
            "SELECT coalesce((SELECT {column}::bigint FROM public.backfill_ledger WHERE name = '{BACKFILL}'), 0)"
        ),
    )
    .await
}

async fn ledger_state(conn: &DatabaseConnection) -> String {
    scalar_text(
        conn,
        &format!("SELECT state FROM public.backfill_ledger WHERE name = '{BACKFILL}'"),
    )
    .await
}

async fn filled(conn: &DatabaseConnection) -> i64 {
    scalar_i64(
        conn,
        "SELECT count(*) FROM academy.webinars WHERE capacity IS NOT NULL",
    )
    .await
}

/// The ledger's rows walked and the rows filled, read in one snapshot.
async fn ledger_and_filled(conn: &DatabaseConnection) -> (i64, i64) {
    let pair = scalar_text(
        conn,
        &format!(
            "SELECT coalesce((SELECT rows_done FROM public.backfill_ledger WHERE name = '{BACKFILL}'), 0) \
                    || ' ' || (SELECT count(*) FROM academy.webinars WHERE capacity IS NOT NULL)"
        ),
    )
    .await;
    let (done, filled) = pair.split_once(' ').expect("two numbers");
    (done.parse().unwrap(), filled.parse().unwrap())
}

fn flag_on(url: &str) {
    let output = runner_binary(Some(url), &["flag", "set", FLAG, "on"], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

/// The release binary in the background.
fn spawn_runner(url: &str, args: &[&str]) -> Child {
    crate::support::runner_command(Some(url), args, &[])
        .spawn()
        .expect("spawn the release binary")
}

/// Waits until the ledger has walked more than `rows` rows.
async fn wait_for_progress(conn: &DatabaseConnection, rows: i64) {
    let started = Instant::now();
    while ledger_i64(conn, "rows_done").await <= rows {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the backfill made no progress past {rows} rows"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A few random milliseconds, from the OS's randomness (via UUID v4).
fn random_ms(low: u64, high: u64) -> u64 {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    low + u64::from(u16::from_le_bytes([bytes[0], bytes[1]])) % (high - low)
}

/// Runs `backfill run` until it exits 0; a session whose killed runner the
/// server has not noticed yet still holds the backfill's lock (exit 4).
fn run_to_completion(url: &str, args: &[&str]) -> std::process::Output {
    let started = Instant::now();
    loop {
        let output = runner_binary(Some(url), args, &[]);
        if output.status.code() != Some(4) || started.elapsed() > Duration::from_secs(30) {
            return output;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backfill_killed_with_sigkill_at_random_points_ends_as_one_run_in_one_go() {
    const ROWS: i64 = 200_000;
    let ((once, once_conn), (killed, killed_conn)) = tokio::join!(
        with_webinars("backfill_once", ROWS),
        with_webinars("backfill_killed", ROWS)
    );
    assert_eq!(
        fingerprint(&once_conn).await,
        fingerprint(&killed_conn).await
    );

    flag_on(&once.url);
    let output = runner_binary(
        Some(&once.url),
        &["backfill", "run", BACKFILL, "--sleep", "0"],
        &[],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("finished"), "{}", stdout(&output));

    flag_on(&killed.url);
    let args = [
        "backfill",
        "run",
        BACKFILL,
        "--batch-size",
        "1000",
        "--target-batch-ms",
        "20",
        "--sleep",
        "2",
    ];
    let mut partial = Vec::new();
    let mut spawned = 0;
    while partial.len() < 5 {
        spawned += 1;
        assert!(spawned <= 20, "no runner got to work: {partial:?}");
        let mut child = spawn_runner(&killed.url, &args);
        std::thread::sleep(Duration::from_millis(random_ms(150, 700)));
        if child.try_wait().unwrap().is_some() {
            // The session of the runner killed before may still hold the
            // backfill's lock until the server notices it is gone (exit 4):
            // try again; any other exit is a failure.
            let output = child.wait_with_output().unwrap();
            assert_eq!(
                output.status.code(),
                Some(4),
                "the runner exited before its kill: {}",
                stderr(&output)
            );
            std::thread::sleep(Duration::from_millis(200));
            continue;
        }
        child.kill().expect("SIGKILL the runner");
        let status = child.wait().unwrap();
        assert_eq!(status.code(), None, "killed by a signal, not finished");
        // Nothing counted twice, nothing lost: the rows walked are exactly the
        // rows filled (read in one snapshot: a COMMIT the runner sent just
        // before it was killed may still land between two reads).
        let (done, filled_then) = ledger_and_filled(&killed_conn).await;
        assert_eq!(done, filled_then, "ledger and table agree after a kill");
        partial.push(done);
    }
    assert!(
        partial
            .iter()
            .filter(|&&done| done > 0 && done < ROWS)
            .count()
            >= 3,
        "the kills landed midway: {partial:?}"
    );
    assert!(
        partial.windows(2).all(|w| w[0] <= w[1]),
        "resumed, never restarted: {partial:?}"
    );
    let output = run_to_completion(&killed.url, &args);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("continued after key"),
        "{}",
        stdout(&output)
    );

    assert_eq!(
        fingerprint(&killed_conn).await,
        fingerprint(&once_conn).await
    );
    for conn in [&once_conn, &killed_conn] {
        assert_eq!(ledger_state(conn).await, "finished");
        assert_eq!(ledger_i64(conn, "rows_done").await, ROWS);
        assert_eq!(ledger_i64(conn, "rows_changed").await, ROWS);
        assert_eq!(filled(conn).await, ROWS);
    }
    assert!(ledger_i64(&killed_conn, "attempts").await >= 6);
    // Idempotent: a finished backfill does nothing more.
    let again = runner_binary(Some(&killed.url), &["backfill", "run", BACKFILL], &[]);
    assert_eq!(again.status.code(), Some(0));
    assert!(
        stdout(&again).contains("already finished"),
        "{}",
        stdout(&again)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn pause_and_cancel_from_another_process_stop_after_the_batch_and_resume_continues() {
    const ROWS: i64 = 30_000;
    let (db, conn) = with_webinars("backfill_pause", ROWS).await;
    flag_on(&db.url);
    let slow = |command: &'static str| {
        [
            "backfill",
            command,
            BACKFILL,
            "--batch-size",
            "300",
            "--target-batch-ms",
            "5",
            "--sleep",
            "30",
        ]
    };

    let runner = spawn_runner(&db.url, &slow("run"));
    wait_for_progress(&conn, 0).await;
    let paused = runner_binary(Some(&db.url), &["backfill", "pause", BACKFILL], &[]);
    assert_eq!(paused.status.code(), Some(0), "{}", stderr(&paused));
    let output = runner.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("paused after its current batch"),
        "{}",
        stdout(&output)
    );
    assert_eq!(ledger_state(&conn).await, "paused");
    let at_pause = ledger_i64(&conn, "rows_done").await;
    assert!(at_pause > 0 && at_pause < ROWS, "{at_pause}");
    assert_eq!(filled(&conn).await, at_pause);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(filled(&conn).await, at_pause, "nothing runs while paused");

    // `run` leaves a paused backfill alone; `resume` continues it.
    let refused = runner_binary(Some(&db.url), &["backfill", "run", BACKFILL], &[]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains(&format!("`backfill resume {BACKFILL}`")),
        "{}",
        stderr(&refused)
    );

    let runner = spawn_runner(&db.url, &slow("resume"));
    wait_for_progress(&conn, at_pause).await;
    let cancelled = runner_binary(Some(&db.url), &["backfill", "cancel", BACKFILL], &[]);
    assert_eq!(cancelled.status.code(), Some(0), "{}", stderr(&cancelled));
    let output = runner.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("cancelled after its current batch"),
        "{}",
        stdout(&output)
    );
    assert!(
        stdout(&output).contains("continued after key"),
        "{}",
        stdout(&output)
    );
    assert_eq!(ledger_state(&conn).await, "cancelled");
    let at_cancel = ledger_i64(&conn, "rows_done").await;
    assert!(
        at_cancel > at_pause && at_cancel < ROWS,
        "{at_pause} then {at_cancel}"
    );
    assert_eq!(filled(&conn).await, at_cancel);

    let status = runner_binary(Some(&db.url), &["backfill", "status", BACKFILL], &[]);
    assert_eq!(status.status.code(), Some(1), "work is left");
    assert!(stdout(&status).contains("cancelled"), "{}", stdout(&status));

    let output = runner_binary(
        Some(&db.url),
        &["backfill", "resume", BACKFILL, "--sleep", "0"],
        &[],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(ledger_state(&conn).await, "finished");
    assert_eq!(ledger_i64(&conn, "rows_done").await, ROWS);
    assert_eq!(ledger_i64(&conn, "rows_changed").await, ROWS);
    assert_eq!(filled(&conn).await, ROWS);
    let status = runner_binary(Some(&db.url), &["backfill", "status", "--json"], &[]);
    assert_eq!(status.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_str(&stdout(&status)).unwrap();
    assert_eq!(json["backfills"][0]["state"], "finished");
    assert_eq!(json["backfills"][0]["ledger"]["rows_done"], ROWS);
}

/// Holds a lock on the webinars that conflicts with the backfill's updates
/// (not with readers) until dropped.
async fn hold_table(url: &str) -> sea_orm::DatabaseTransaction {
    let holder = sea_orm::Database::connect(url).await.unwrap();
    let txn = holder.begin().await.unwrap();
    txn.execute_unprepared("LOCK TABLE academy.webinars IN SHARE ROW EXCLUSIVE MODE")
        .await
        .unwrap();
    txn
}

/// The longest a reader of the webinars waits over `period`.
async fn longest_read(url: &str, period: Duration) -> Duration {
    let reader = sea_orm::Database::connect(url).await.unwrap();
    let started = Instant::now();
    let mut longest = Duration::ZERO;
    while started.elapsed() < period {
        let at = Instant::now();
        scalar_i64(
            &reader,
            "SELECT count(*) FROM academy.webinars WHERE duration_minutes > 0",
        )
        .await;
        longest = longest.max(at.elapsed());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    longest
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lock_held_on_the_table_makes_batches_time_out_and_retry_without_queueing_readers() {
    let (db, conn) = with_webinars("backfill_lock", 5_000).await;
    flag_on(&db.url);

    // Held longer than every retry: the backfill stops as `failed`, keeping nothing half done.
    let held = hold_table(&db.url).await;
    let output = runner_binary(
        Some(&db.url),
        &[
            "backfill",
            "run",
            BACKFILL,
            "--lock-timeout",
            "50",
            "--retries",
            "2",
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("gave up after 3 attempts"),
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains(&format!("backfill resume {BACKFILL}")),
        "{}",
        stderr(&output)
    );
    assert_eq!(ledger_state(&conn).await, "failed");
    assert!(
        scalar_text(&conn, "SELECT last_error FROM public.backfill_ledger")
            .await
            .contains("55P03")
    );
    assert_eq!(ledger_i64(&conn, "retries").await, 2);
    assert_eq!(filled(&conn).await, 0);

    // Held for a while: batches time out and retry, readers go on, and `resume`
    // finishes once the lock is released.
    let url = db.url.clone();
    let resumed = tokio::task::spawn_blocking(move || {
        runner_binary(
            Some(&url),
            &[
                "backfill",
                "resume",
                BACKFILL,
                "--lock-timeout",
                "100",
                "--retries",
                "30",
            ],
            &[],
        )
    });
    let longest = longest_read(&db.url, Duration::from_millis(1500)).await;
    assert!(
        ledger_i64(&conn, "retries").await > 2,
        "batches timed out and were retried"
    );
    held.rollback().await.unwrap();
    let output = resumed.await.unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stderr(&output).contains("retried"), "{}", stderr(&output));
    assert!(
        longest < Duration::from_millis(500),
        "a reader waited {longest:?} while batches waited for the lock"
    );
    assert_eq!(ledger_state(&conn).await, "finished");
    assert_eq!(filled(&conn).await, 5_000);
}

#[tokio::test]
async fn the_guarded_backfill_refuses_while_its_flag_is_off() {
    let (db, conn) = with_webinars("backfill_flag", 100).await;
    let flag = schema_core::flags::Flag::new(FLAG);
    assert!(
        !flag.is_on(&conn).await.unwrap(),
        "no flags table reads as off"
    );

    let output = runner_binary(Some(&db.url), &["backfill", "run", BACKFILL], &[]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(&format!("flag `{FLAG}`, which is off")),
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains(&format!("flag set {FLAG} on")),
        "{}",
        stderr(&output)
    );
    assert_eq!(filled(&conn).await, 0, "nothing changed");
    assert_eq!(ledger_i64(&conn, "attempts").await, 0, "nothing started");

    let output = runner_binary(Some(&db.url), &["flag", "set", FLAG, "off"], &[]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        runner_binary(Some(&db.url), &["backfill", "run", BACKFILL], &[])
            .status
            .code(),
        Some(2)
    );
    let list = runner_binary(Some(&db.url), &["flag", "list"], &[]);
    assert!(
        stdout(&list).contains(FLAG) && stdout(&list).contains("off"),
        "{}",
        stdout(&list)
    );
    let bad = runner_binary(Some(&db.url), &["flag", "set", "Not A Flag", "on"], &[]);
    assert_eq!(bad.status.code(), Some(64));

    flag_on(&db.url);
    assert!(
        flag.is_on(&conn).await.unwrap(),
        "the application reads the same flag"
    );
    let output = runner_binary(Some(&db.url), &["backfill", "run", BACKFILL], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(filled(&conn).await, 100);
    // Standalone webinars seat 100; a course's the larger of 50 and its active learners.
    assert_eq!(
        scalar_text(
            &conn,
            "SELECT string_agg(DISTINCT capacity::text, ',' ORDER BY capacity::text) FROM academy.webinars"
        )
        .await,
        "100,50,60,90"
    );
}

async fn capacity_nullable(conn: &DatabaseConnection) -> String {
    scalar_text(
        conn,
        "SELECT is_nullable FROM information_schema.columns \
         WHERE table_schema = 'academy' AND table_name = 'webinars' AND column_name = 'capacity'",
    )
    .await
}

#[tokio::test]
async fn the_contract_migration_is_refused_before_its_backfill_finishes_and_applies_after() {
    let (db, conn) = with_webinars("backfill_contract", 1_000).await;
    let before = history_names(&conn).await;

    let output = runner_binary(Some(&db.url), &["up"], &[]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains(&format!(
            "migration `{CONTRACT}` needs backfill `{BACKFILL}`"
        )),
        "{message}"
    );
    assert!(
        message.contains(&format!("migration-runner backfill run {BACKFILL}")),
        "{message}"
    );
    assert!(
        message.contains(&format!("flag set {FLAG} on")),
        "{message}"
    );
    assert_eq!(history_names(&conn).await, before, "nothing was applied");
    assert_eq!(capacity_nullable(&conn).await, "YES");

    let status = runner_binary(Some(&db.url), &["status"], &[]);
    assert_eq!(status.status.code(), Some(1));
    assert!(
        stdout(&status).contains(&format!(
            "waiting: `{CONTRACT}` waits for backfill `{BACKFILL}`"
        )),
        "{}",
        stdout(&status)
    );
    let json = runner_binary(Some(&db.url), &["status", "--json"], &[]);
    let json: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(json["waiting"][0]["migration"], CONTRACT);
    assert_eq!(json["waiting"][0]["backfill"], BACKFILL);
    let plan = runner_binary(Some(&db.url), &["plan"], &[]);
    assert_eq!(plan.status.code(), Some(0));
    assert!(
        stdout(&plan).contains(&format!("-- WAITING: `{CONTRACT}` waits for backfill")),
        "{}",
        stdout(&plan)
    );

    // Half done is not done.
    flag_on(&db.url);
    let half = runner_binary(
        Some(&db.url),
        &[
            "backfill",
            "run",
            BACKFILL,
            "--batch-size",
            "100",
            "--max-rows",
            "500",
        ],
        &[],
    );
    assert_eq!(half.status.code(), Some(1), "{}", stderr(&half));
    assert_eq!(
        runner_binary(Some(&db.url), &["up"], &[]).status.code(),
        Some(2)
    );

    let output = runner_binary(Some(&db.url), &["backfill", "run", BACKFILL], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let output = runner_binary(Some(&db.url), &["up"], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(history_names(&conn).await.contains(&CONTRACT.to_owned()));
    assert_eq!(capacity_nullable(&conn).await, "NO");
    let status = runner_binary(Some(&db.url), &["status"], &[]);
    assert_eq!(status.status.code(), Some(0), "{}", stdout(&status));
}

#[tokio::test]
async fn a_fresh_database_migrates_to_completion_with_the_contract_applied() {
    let db = TestDatabase::create("backfill_fresh");
    let output = runner_binary(Some(&db.url), &["up"], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let conn = connect(&db).await;
    assert!(history_names(&conn).await.contains(&CONTRACT.to_owned()));
    assert_eq!(capacity_nullable(&conn).await, "NO");
    assert_eq!(ledger_state(&conn).await, "finished");
    assert!(
        scalar_text(&conn, "SELECT note FROM public.backfill_ledger")
            .await
            .contains("nothing to do"),
    );
    let list = runner_binary(Some(&db.url), &["backfill", "list"], &[]);
    assert_eq!(list.status.code(), Some(0), "{}", stdout(&list));
}

#[tokio::test]
async fn rows_that_already_satisfy_the_backfill_let_the_contract_apply_without_it() {
    let (db, conn) = with_webinars("backfill_satisfied", 50).await;
    conn.execute_unprepared("UPDATE academy.webinars SET capacity = 25")
        .await
        .unwrap();
    // The flag is off and the backfill never ran: it has nothing to do.
    let output = runner_binary(Some(&db.url), &["up"], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(capacity_nullable(&conn).await, "NO");
    assert_eq!(ledger_state(&conn).await, "finished");
    assert_eq!(ledger_i64(&conn, "rows_done").await, 0);
}

#[test]
fn every_backfill_names_contract_migrations_that_exist() {
    let backfills =
        migration_runner::backfill::Backfills::workspace(&schema_registry::workspace()).unwrap();
    let catalog = migration_runner::Catalog::workspace(&schema_registry::workspace()).unwrap();
    assert!(!backfills.all().is_empty());
    for backfill in backfills.all() {
        for migration in backfill.inner.required_by() {
            let found = catalog.get(migration).unwrap_or_else(|| {
                panic!(
                    "`{}` requires unknown migration `{migration}`",
                    backfill.inner.name()
                )
            });
            assert_eq!(
                found.schema, backfill.schema,
                "a contract migration lives with its backfill"
            );
        }
    }
    assert_eq!(
        backfills.required_by(CONTRACT).map(|b| b.inner.name()),
        Some(BACKFILL)
    );
}

#[test]
fn an_unknown_backfill_is_a_usage_error() {
    let output = runner_binary(
        Some("postgres://u:p@127.0.0.1:1/db"),
        &["backfill", "run", "nope"],
        &[],
    );
    assert_eq!(output.status.code(), Some(64), "{}", stderr(&output));
    assert!(stderr(&output).contains(BACKFILL), "{}", stderr(&output));
}

/// Makes every update of a webinar take about a millisecond, so a batch's
/// duration is its row count in milliseconds.
async fn slow_updates(conn: &DatabaseConnection) {
    conn.execute_unprepared(
        "CREATE FUNCTION academy.slow_row() RETURNS trigger LANGUAGE plpgsql AS
             $$ BEGIN PERFORM pg_sleep(0.001); RETURN NEW; END $$;
         CREATE TRIGGER slow_row BEFORE UPDATE ON academy.webinars
             FOR EACH ROW EXECUTE FUNCTION academy.slow_row();",
    )
    .await
    .expect("slow trigger");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_that_would_outrun_its_timeout_is_cut_rolled_back_and_retried_smaller() {
    use migration_runner::backfill::{BackfillError, Backfills, RunOptions, driver, flags};

    const ROWS: i64 = 3_000;
    let (db, conn) = with_webinars("backfill_cut", ROWS).await;
    slow_updates(&conn).await;
    flags::set(&conn, FLAG, true, Some("test")).await.unwrap();
    let backfills = Backfills::workspace(&schema_registry::workspace()).unwrap();
    let backfill = backfills.get(BACKFILL).unwrap();
    let session = migration_runner::connect(&db.url, "backfill-cut-test")
        .await
        .unwrap();
    let timeout = Duration::from_millis(400);
    // 2,000 rows need about 2 s: far over the batch's 400 ms.
    let options = RunOptions {
        batch_size: Some(2_000),
        sleep: Duration::ZERO,
        target_batch: Duration::from_millis(200),
        statement_timeout: timeout,
        ..RunOptions::default()
    };

    // No retry allowed: the cut batch is rolled back whole, ledger included.
    let started = Instant::now();
    let err = driver::run(
        session.connection(),
        backfill,
        &RunOptions {
            retries: 0,
            ..options.clone()
        },
        &mut |_| {},
    )
    .await
    .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "cut at its timeout, not run to the end: {:?}",
        started.elapsed()
    );
    assert!(
        matches!(err, BackfillError::RetriesExhausted { .. }),
        "{err}"
    );
    assert_eq!(ledger_state(&conn).await, "failed");
    assert!(
        scalar_text(
            &conn,
            &format!("SELECT last_error FROM public.backfill_ledger WHERE name = '{BACKFILL}'")
        )
        .await
        .contains("57014"),
        "the statement timeout cut it"
    );
    assert_eq!(ledger_and_filled(&conn).await, (0, 0));
    assert_eq!(ledger_i64(&conn, "batches").await, 0);

    // With retries: cut, shrunk until a batch fits, then on to the end; no
    // batch transaction, BEGIN to COMMIT, longer than the timeout.
    let mut sizes = Vec::new();
    let report = driver::run(
        session.connection(),
        backfill,
        &RunOptions {
            resume: true,
            retries: 10,
            ..options
        },
        &mut |progress| sizes.push(progress.batch_size),
    )
    .await
    .unwrap();
    let _ = session.close().await;
    assert_eq!(
        report.outcome,
        migration_runner::backfill::Outcome::Finished
    );
    assert_eq!(report.rows, ROWS as u64);
    assert_eq!(report.changed, ROWS as u64);
    assert!(report.retries >= 1, "{report:?}");
    assert!(
        report.longest_batch <= timeout,
        "the longest batch took {:?}, over its {timeout:?}",
        report.longest_batch
    );
    assert!(
        sizes.iter().all(|&size| size <= 1_000),
        "retried smaller and stayed under what was cut: {sizes:?}"
    );
    assert_eq!(ledger_state(&conn).await, "finished");
    assert_eq!(ledger_and_filled(&conn).await, (ROWS, ROWS));
    assert_eq!(ledger_i64(&conn, "rows_changed").await, ROWS);
    assert_eq!(
        ledger_i64(&conn, "retries").await,
        i64::try_from(report.retries).unwrap()
    );
    assert_eq!(
        ledger_i64(&conn, "batches").await,
        i64::try_from(report.batches).unwrap()
    );
}

/// A backfill whose batch is not one plain statement (it returns rows), so
/// the engine runs it and the ledger's advance as two statements.
struct Returning;

impl schema_core::backfill::Backfill for Returning {
    fn name(&self) -> &'static str {
        "academy_test_returning"
    }
    fn description(&self) -> &'static str {
        "sets a capacity of 7, returning the ids"
    }
    fn table(&self) -> &'static str {
        "academy.webinars"
    }
    fn batch_size(&self) -> u32 {
        700
    }
    fn batch_sql(&self) -> &'static str {
        "UPDATE academy.webinars SET capacity = 7 \
          WHERE id BETWEEN $1::uuid AND $2::uuid AND capacity IS NULL RETURNING id"
    }
    fn has_work_sql(&self) -> &'static str {
        "SELECT EXISTS (SELECT 1 FROM academy.webinars WHERE capacity IS NULL)"
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_of_another_shape_runs_beside_its_ledger_advance_with_the_same_counts() {
    use migration_runner::backfill::{Outcome, Registered, RunOptions, driver};

    const ROWS: i64 = 5_000;
    let (db, conn) = with_webinars("backfill_returning", ROWS).await;
    // A third of the rows need nothing: walked, not changed.
    conn.execute_unprepared(
        "UPDATE academy.webinars SET capacity = 1 WHERE get_byte(decode(md5(id::text), 'hex'), 0) % 3 = 0",
    )
    .await
    .unwrap();
    let already = scalar_i64(
        &conn,
        "SELECT count(*) FROM academy.webinars WHERE capacity IS NOT NULL",
    )
    .await;
    assert!(already > 0 && already < ROWS);
    let backfill = Registered {
        schema: "academy",
        inner: Box::new(Returning),
    };
    let session = migration_runner::connect(&db.url, "backfill-returning-test")
        .await
        .unwrap();
    let report = driver::run(
        session.connection(),
        &backfill,
        &RunOptions {
            sleep: Duration::ZERO,
            ..RunOptions::default()
        },
        &mut |_| {},
    )
    .await
    .unwrap();
    let _ = session.close().await;
    assert_eq!(report.outcome, Outcome::Finished);
    assert_eq!(report.rows, ROWS as u64);
    assert_eq!(report.changed, (ROWS - already) as u64);
    let ledger = |column: &'static str| {
        let conn = conn.clone();
        async move {
            scalar_i64(
                &conn,
                &format!(
                    "SELECT {column}::bigint FROM public.backfill_ledger WHERE name = 'academy_test_returning'"
                ),
            )
            .await
        }
    };
    assert_eq!(ledger("rows_done").await, ROWS);
    assert_eq!(ledger("rows_changed").await, ROWS - already);
    assert_eq!(
        ledger("batches").await,
        i64::try_from(report.batches).unwrap()
    );
    assert_eq!(
        scalar_i64(
            &conn,
            "SELECT count(*) FROM academy.webinars WHERE capacity = 7"
        )
        .await,
        ROWS - already
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ledger_ahead_of_the_run_is_followed_without_counting_twice() {
    use migration_runner::backfill::{Backfills, Outcome, RunOptions, driver, flags};

    const ROWS: i64 = 4_000;
    let (db, conn) = with_webinars("backfill_ahead", ROWS).await;
    flags::set(&conn, FLAG, true, Some("test")).await.unwrap();
    let backfills = Backfills::workspace(&schema_registry::workspace()).unwrap();
    let backfill = backfills.get(BACKFILL).unwrap();
    let session = migration_runner::connect(&db.url, "backfill-ahead-test")
        .await
        .unwrap();
    let handle = tokio::runtime::Handle::current();
    let mut first = true;
    let report = driver::run(
        session.connection(),
        backfill,
        &RunOptions {
            batch_size: Some(1_000),
            target_batch: Duration::from_secs(60),
            sleep: Duration::ZERO,
            ..RunOptions::default()
        },
        &mut |_| {
            if std::mem::take(&mut first) {
                // After the first batch, the next 1,000 rows are done and
                // recorded behind the run's back (as a batch whose COMMIT
                // succeeded but whose answer was lost with the connection).
                let conn = conn.clone();
                tokio::task::block_in_place(|| {
                    handle.block_on(async move {
                        conn.execute_unprepared(&format!(
                            "WITH next AS (SELECT id FROM academy.webinars WHERE capacity IS NULL
                                            ORDER BY id LIMIT 1000),
                                  filled AS (UPDATE academy.webinars SET capacity = 100
                                              WHERE id IN (SELECT id FROM next))
                             UPDATE public.backfill_ledger
                                SET cursor = (SELECT max(id::text) FROM next),
                                    rows_done = rows_done + 1000, rows_changed = rows_changed + 1000
                              WHERE name = '{BACKFILL}'"
                        ))
                        .await
                        .unwrap();
                    });
                });
            }
        },
    )
    .await
    .unwrap();
    let _ = session.close().await;
    assert_eq!(report.outcome, Outcome::Finished);
    assert_eq!(
        report.rows,
        (ROWS - 1_000) as u64,
        "the run walked on from the ledger"
    );
    assert_eq!(ledger_state(&conn).await, "finished");
    assert_eq!(ledger_and_filled(&conn).await, (ROWS, ROWS));
    assert_eq!(ledger_i64(&conn, "rows_changed").await, ROWS);
}

/// The age of the backfill's open transaction, polled until `until` says
/// stop; the oldest seen.
async fn oldest_backfill_transaction(
    conn: &DatabaseConnection,
    until: impl Fn() -> bool,
) -> Duration {
    let mut oldest = Duration::ZERO;
    while !until() {
        let ms = scalar_i64(
            conn,
            "SELECT coalesce(max((extract(epoch FROM clock_timestamp() - xact_start) * 1000)::bigint), 0) \
               FROM pg_stat_activity \
              WHERE application_name = 'migration-runner backfill' AND xact_start IS NOT NULL \
                AND datname = current_database()",
        )
        .await;
        oldest = oldest.max(Duration::from_millis(u64::try_from(ms).unwrap_or(0)));
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    oldest
}

#[tokio::test(flavor = "multi_thread")]
async fn an_exclusive_lock_on_the_table_never_keeps_a_batch_open_past_its_timeout() {
    let (db, conn) = with_webinars("backfill_exclusive", 2_000).await;
    flag_on(&db.url);
    let holder = sea_orm::Database::connect(&db.url).await.unwrap();
    let held = holder.begin().await.unwrap();
    held.execute_unprepared("LOCK TABLE academy.webinars IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();

    // Lock 1 s, batch 2 s, two retries: it gives up (`failed`) while the lock is still held.
    let mut runner = spawn_runner(
        &db.url,
        &[
            "backfill",
            "run",
            BACKFILL,
            "--lock-timeout",
            "1000",
            "--statement-timeout",
            "2000",
            "--retries",
            "2",
        ],
    );
    let started = Instant::now();
    let done = std::sync::atomic::AtomicBool::new(false);
    let (oldest, status) = tokio::join!(
        oldest_backfill_transaction(&conn, || done.load(std::sync::atomic::Ordering::SeqCst)
            || started.elapsed() > Duration::from_secs(12)),
        async {
            let status = loop {
                if let Some(status) = runner.try_wait().unwrap() {
                    break Some(status);
                }
                if started.elapsed() > Duration::from_secs(12) {
                    break None;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            };
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            status
        }
    );
    if status.is_none() {
        let _ = runner.kill();
    }
    let output = runner.wait_with_output().unwrap();
    held.rollback().await.unwrap();
    assert!(
        oldest <= Duration::from_millis(2_300),
        "a batch transaction stayed open {oldest:?} (batch timeout 2 s, lock timeout 1 s)"
    );
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(3),
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("gave up after 3 attempts"),
        "{}",
        stderr(&output)
    );
    assert_eq!(ledger_state(&conn).await, "failed");
    assert_eq!(filled(&conn).await, 0);

    let resumed = runner_binary(Some(&db.url), &["backfill", "resume", BACKFILL], &[]);
    assert_eq!(resumed.status.code(), Some(0), "{}", stderr(&resumed));
    assert_eq!(ledger_state(&conn).await, "finished");
    assert_eq!(filled(&conn).await, 2_000);
}

#[tokio::test(flavor = "multi_thread")]
async fn turning_the_flag_off_mid_run_stops_after_the_batch_and_resume_continues_once_on() {
    const ROWS: i64 = 20_000;
    let (db, conn) = with_webinars("backfill_kill_switch", ROWS).await;
    flag_on(&db.url);
    let runner = spawn_runner(
        &db.url,
        &[
            "backfill",
            "run",
            BACKFILL,
            "--batch-size",
            "50",
            "--target-batch-ms",
            "1",
            "--sleep",
            "20",
        ],
    );
    wait_for_progress(&conn, 200).await;
    let off = runner_binary(Some(&db.url), &["flag", "set", FLAG, "off"], &[]);
    assert_eq!(off.status.code(), Some(0), "{}", stderr(&off));
    let output = runner.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(&format!("flag `{FLAG}` was turned off")),
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains(&format!("backfill resume {BACKFILL}")),
        "{}",
        stderr(&output)
    );
    let (done, stopped_at) = ledger_and_filled(&conn).await;
    assert_eq!(done, stopped_at, "the ledger counts what was committed");
    assert!(stopped_at < ROWS, "it stopped before the end: {stopped_at}");
    assert_eq!(ledger_state(&conn).await, "paused");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        filled(&conn).await,
        stopped_at,
        "nothing ran after it stopped"
    );

    // Still off: resume refuses; on: resume finishes.
    let refused = runner_binary(Some(&db.url), &["backfill", "resume", BACKFILL], &[]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert_eq!(filled(&conn).await, stopped_at);
    flag_on(&db.url);
    let resumed = runner_binary(Some(&db.url), &["backfill", "resume", BACKFILL], &[]);
    assert_eq!(resumed.status.code(), Some(0), "{}", stderr(&resumed));
    assert_eq!(filled(&conn).await, ROWS);
    assert_eq!(ledger_state(&conn).await, "finished");
}

#[tokio::test]
async fn a_finished_backfill_run_again_is_a_no_op_whatever_its_flag() {
    let db = TestDatabase::migrated("backfill_finished_again").await;
    let conn = connect(&db).await;
    assert_eq!(ledger_state(&conn).await, "finished", "migrate recorded it");
    let again = runner_binary(Some(&db.url), &["backfill", "run", BACKFILL], &[]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(
        stdout(&again).contains("already finished"),
        "{}",
        stdout(&again)
    );
    let off = runner_binary(Some(&db.url), &["flag", "set", FLAG, "off"], &[]);
    assert_eq!(off.status.code(), Some(0));
    let again = runner_binary(Some(&db.url), &["backfill", "run", BACKFILL], &[]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
}

#[tokio::test]
async fn backfill_and_flag_commands_refuse_a_database_never_migrated_and_create_nothing() {
    let db = TestDatabase::create("backfill_never_migrated");
    let conn = connect(&db).await;
    for args in [
        &["backfill", "run", BACKFILL][..],
        &["backfill", "resume", BACKFILL],
        &["backfill", "pause", BACKFILL],
        &["backfill", "cancel", BACKFILL],
        &["backfill", "mark-finished", BACKFILL, "--reason", "x"],
        &["backfill", "status"],
        &["backfill", "list"],
        &["flag", "set", FLAG, "on"],
        &["flag", "list"],
    ] {
        let output = runner_binary(Some(&db.url), args, &[]);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("never migrated") && stderr(&output).contains("migrate up"),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            !stderr(&output).contains("flag `"),
            "{args:?} blames the flag: {}",
            stderr(&output)
        );
    }
    assert_eq!(
        scalar_i64(
            &conn,
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
              WHERE n.nspname = 'public'"
        )
        .await,
        0,
        "nothing was created"
    );
}

#[tokio::test]
async fn the_runtime_roles_read_the_flags_and_nothing_else_in_public() {
    let db = TestDatabase::migrated("backfill_flags_readable").await;
    let conn = connect(&db).await;
    flag_on(&db.url);
    for group in [
        "academy_app",
        "academy_reporting",
        "core_app",
        "vacancy_reporting",
    ] {
        let login = format!(
            "flags_{}_{}",
            group,
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        conn.execute_unprepared(&format!(
            "CREATE ROLE {login} LOGIN PASSWORD 'flag-reader-1'; GRANT {group} TO {login}"
        ))
        .await
        .unwrap();
        let as_login = sea_orm::Database::connect(db.url_as(&login, "flag-reader-1"))
            .await
            .unwrap();
        assert!(
            schema_core::flags::Flag::new(FLAG)
                .is_on(&as_login)
                .await
                .unwrap_or_else(|err| panic!("{group} reads the flags: {err}")),
            "{group}"
        );
        for table in [
            "public.seaql_migrations",
            "public.backfill_ledger",
            "public.seaql_migrations_digest",
        ] {
            let denied = as_login
                .execute_unprepared(&format!("SELECT count(*) FROM {table}"))
                .await
                .expect_err(table)
                .to_string();
            assert!(
                denied.contains("permission denied"),
                "{group} {table}: {denied}"
            );
        }
        assert!(
            as_login
                .execute_unprepared("UPDATE public.feature_flags SET enabled = false")
                .await
                .is_err(),
            "{group} may not write the flags"
        );
        as_login.close().await.unwrap();
        conn.execute_unprepared(&format!("DROP ROLE {login}"))
            .await
            .unwrap();
    }
}
