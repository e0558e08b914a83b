//! The no-op deploy reads one row: the history digest kept beside the
//! history table by its trigger. Every way of tampering with history, or with
//! the digest itself, still ends in the full comparison and its refusal.

use std::time::Duration;

use migration_dev::testing::TestDatabase;
use migration_runner::deploy::runner::UpOptions;
use migration_runner::{Catalog, Runner, RunnerOptions};
use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait};

use crate::support::*;

const WEBINARS: &str = "m20250215_090000_academy_create_webinars";

async fn exec(conn: &DatabaseConnection, sql: &str) {
    conn.execute_unprepared(sql)
        .await
        .unwrap_or_else(|err| panic!("{sql}: {err}"));
}

/// Applied migrations, as the runner counts them, or the refusal's text.
async fn up(db: &TestDatabase) -> Result<usize, String> {
    let runner = workspace_runner(db).await;
    let outcome = runner.up(&UpOptions::default()).await;
    runner.close().await;
    outcome
        .map(|report| report.applied.len())
        .map_err(|err| err.to_string())
}

async fn digest_row(conn: &DatabaseConnection) -> String {
    scalar_text(
        conn,
        "SELECT format('%s %s %s %s %s', row_count, d1, d2, d3, d4) FROM public.seaql_migrations_digest",
    )
    .await
}

/// Architecture Invariant: a no-op deploy reads one row (the digest), not
/// the history table: it finishes while another session holds the history
/// table in ACCESS EXCLUSIVE mode, which any read of it would wait for.
#[tokio::test]
async fn the_no_op_deploy_reads_one_row_not_the_history() {
    let db = TestDatabase::migrated("digest_one_row").await;
    let conn = connect(&db).await;
    let applied: usize = scalar_text(&conn, "SELECT count(*)::text FROM public.seaql_migrations")
        .await
        .parse()
        .unwrap();
    let blocker = conn.begin().await.unwrap();
    blocker
        .execute_unprepared("LOCK TABLE public.seaql_migrations IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let runner = workspace_runner(&db).await;
    let report = tokio::time::timeout(Duration::from_secs(20), runner.up(&UpOptions::default()))
        .await
        .expect(
            "the no-op deploy waited for the locked history table: it reads more than the digest",
        )
        .unwrap();
    assert!(report.applied.is_empty());
    assert_eq!(report.already_applied, applied);
    blocker.rollback().await.unwrap();
    runner.close().await;

    // With history changed by hand, the same run reads history (and so waits).
    exec(
        &conn,
        &format!(
            "UPDATE public.seaql_migrations SET checksum = 'edited' WHERE version = '{WEBINARS}'"
        ),
    )
    .await;
    let blocker = conn.begin().await.unwrap();
    blocker
        .execute_unprepared("LOCK TABLE public.seaql_migrations IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let runner = workspace_runner(&db).await;
    let waited =
        tokio::time::timeout(Duration::from_secs(2), runner.up(&UpOptions::default())).await;
    assert!(waited.is_err(), "a changed history must be read in full");
    blocker.rollback().await.unwrap();
}

const LOCK_HISTORY: &str = "LOCK TABLE public.seaql_migrations IN ACCESS EXCLUSIVE MODE";

/// Waits until `n` sessions wait for a lock on the history table.
async fn wait_for_waiters(conn: &DatabaseConnection, n: usize, what: &str) {
    let sql = "SELECT count(*)::text FROM pg_locks \
               WHERE relation = 'public.seaql_migrations'::regclass AND NOT granted";
    for _ in 0..500 {
        if scalar_text(conn, sql).await == n.to_string() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what}: {n} session(s) never queued for the history table");
}

/// `status` (the summary, and every row for `--all` and `--json`) reads the
/// rows it shows in the digest's one statement, and nothing else of the
/// history table. That statement waits behind a lock on the table; a second
/// lock request queued behind it is granted once it ran, so any further read
/// of the table (the full comparison) would wait until the test gives up.
#[tokio::test]
async fn status_reads_history_once_in_the_digest_statement() {
    let db = TestDatabase::migrated("digest_status_one_read").await;
    let conn = connect(&db).await;
    let applied: usize = scalar_text(&conn, "SELECT count(*)::text FROM public.seaql_migrations")
        .await
        .parse()
        .unwrap();
    for every_row in [false, true] {
        let what = if every_row { "every row" } else { "summary" };
        let runner = workspace_runner(&db).await;
        let blocker = conn.begin().await.unwrap();
        blocker.execute_unprepared(LOCK_HISTORY).await.unwrap();
        let status = tokio::spawn(async move {
            let inspection = if every_row {
                runner.inspect().await
            } else {
                runner.inspect_summary(10).await
            };
            runner.close().await;
            inspection
        });
        wait_for_waiters(&conn, 1, what).await;
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let queued_conn = conn.clone();
        let queued = tokio::spawn(async move {
            let txn = queued_conn.begin().await.unwrap();
            txn.execute_unprepared(LOCK_HISTORY).await.unwrap();
            let _ = released.await;
            txn.rollback().await.unwrap();
        });
        wait_for_waiters(&conn, 2, what).await;
        blocker.rollback().await.unwrap();
        let finished = tokio::time::timeout(Duration::from_secs(10), status).await;
        let _ = release.send(());
        queued.await.unwrap();
        let inspection = finished
            .unwrap_or_else(|_| {
                panic!(
                    "{what}: status read the history table again after the digest's statement \
                     (it fell back to the full comparison)"
                )
            })
            .unwrap()
            .unwrap();
        assert_eq!(inspection.exit_code(), 0, "{what}");
        assert_eq!(inspection.applied_count(), applied, "{what}");
        let shown = inspection
            .migrations
            .iter()
            .filter(|e| e.applied_at.is_some())
            .count();
        assert_eq!(shown, if every_row { applied } else { 10 }, "{what}");
    }
}

/// What `status` shows from the digest's statement is what the full
/// comparison shows, row details included, in UTC whatever the session's
/// time zone.
#[tokio::test]
async fn status_from_the_digest_shows_what_the_full_comparison_shows() {
    let db = TestDatabase::migrated("digest_status_same").await;
    let conn = connect(&db).await;
    exec(
        &conn,
        "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET timezone = %L', current_database(), \
         'Asia/Kathmandu'); END $$",
    )
    .await;
    let newest = scalar_text(
        &conn,
        "SELECT version FROM public.seaql_migrations ORDER BY version DESC LIMIT 1",
    )
    .await;
    // Details the digest does not cover, edited: the trigger keeps it equal.
    exec(
        &conn,
        &format!(
            "UPDATE public.seaql_migrations SET note = 'a note', out_of_order = true, execution_ms = 1234, \
             applied_on = '2025-03-04 05:06:07.123456+00' WHERE version = '{newest}'"
        ),
    )
    .await;
    let entries =
        |inspection: &migration_runner::deploy::status::Inspection| -> Vec<serde_json::Value> {
            inspection
                .migrations
                .iter()
                .map(|e| serde_json::to_value(e).unwrap())
                .collect()
        };
    let runner = workspace_runner(&db).await;
    let summary = runner.inspect_summary(10).await.unwrap();
    let every = runner.inspect().await.unwrap();
    runner.close().await;
    // The digest's triggers no longer both kept: the full comparison runs.
    exec(
        &conn,
        "ALTER TABLE public.seaql_migrations DISABLE TRIGGER seaql_migrations_digest_truncate",
    )
    .await;
    let runner = workspace_runner(&db).await;
    let full = runner.inspect().await.unwrap();
    runner.close().await;

    assert_eq!(entries(&every), entries(&full));
    assert_eq!(every.sum, full.sum);
    let last = full.migrations.last().unwrap();
    assert_eq!(last.name, newest);
    assert_eq!(
        last.applied_at.as_deref(),
        Some("2025-03-04T05:06:07.123456+00:00")
    );
    assert_eq!(last.note.as_deref(), Some("a note"));
    assert_eq!(last.execution_ms, Some(1234));
    assert!(last.out_of_order_allowed);
    // The summary: the newest ten rows as in full, the others without
    // details (their checksums neither: a summary builds what it shows).
    let count = full.migrations.len();
    for (index, (short, long)) in entries(&summary).iter().zip(entries(&full)).enumerate() {
        if index + 10 >= count {
            assert_eq!(short, &long, "{index}");
        } else {
            let mut long = long;
            for detail in [
                "applied_at",
                "execution_ms",
                "note",
                "checksum",
                "applied_checksum",
            ] {
                long[detail] = serde_json::Value::Null;
            }
            long["out_of_order_allowed"] = false.into();
            assert_eq!(short, &long, "{index}");
        }
    }
}

/// `TRUNCATE` fires no row trigger: its own trigger zeroes the digest, so
/// the emptied history is read and every migration is pending again.
#[tokio::test]
async fn a_truncated_history_zeroes_the_digest() {
    let db = TestDatabase::migrated("digest_truncate").await;
    let conn = connect(&db).await;
    exec(&conn, "TRUNCATE public.seaql_migrations").await;
    assert_eq!(digest_row(&conn).await, "0 0 0 0 0");
    let runner = workspace_runner(&db).await;
    assert_eq!(
        runner.plan().await.unwrap().len(),
        runner.catalog().migrations().len()
    );
}

/// Each edit of a history row made behind the runner's back (the trigger
/// keeps the digest honest) is refused by the next deploy, as before.
#[tokio::test]
async fn every_edit_of_history_is_refused_by_the_next_deploy() {
    let cases = [
        (
            "changed",
            format!(
                "UPDATE public.seaql_migrations SET checksum = 'edited' WHERE version = '{WEBINARS}'"
            ),
            "was edited after it was applied",
        ),
        (
            "deleted",
            format!("DELETE FROM public.seaql_migrations WHERE version = '{WEBINARS}'"),
            "sorts before",
        ),
        (
            "unknown",
            "INSERT INTO public.seaql_migrations (version, applied_at, schema_name, checksum) \
             VALUES ('m20991231_000000_academy_from_another_branch', 0, 'academy', 'x')"
                .to_owned(),
            "no longer in the code",
        ),
        (
            "failed",
            format!(
                "UPDATE public.seaql_migrations SET state = 'failed' WHERE version = '{WEBINARS}'"
            ),
            "yet history says `failed`",
        ),
        (
            "blank",
            format!(
                "UPDATE public.seaql_migrations SET checksum = '' WHERE version = '{WEBINARS}'"
            ),
            "its checksum in history is blank",
        ),
    ];
    for (what, damage, expected) in cases {
        let db = TestDatabase::migrated(&format!("digest_{}", what.replace(' ', "_"))).await;
        let conn = connect(&db).await;
        assert_eq!(up(&db).await, Ok(0), "{what}: intact history is a no-op");
        let before = digest_row(&conn).await;
        exec(&conn, &damage).await;
        assert_ne!(
            digest_row(&conn).await,
            before,
            "{what}: the trigger kept the digest"
        );
        let refused = up(&db).await.expect_err(what);
        assert!(refused.contains(expected), "{what}: {refused}");
    }
}

/// Tampering with the digest, or with what keeps it, sends the deploy to the
/// full comparison: it refuses an edited row all the same, and with history
/// intact it succeeds and rebuilds the digest.
#[tokio::test]
async fn tampering_with_the_digest_itself_falls_back_to_the_full_comparison() {
    let edit = format!(
        "UPDATE public.seaql_migrations SET checksum = 'edited' WHERE version = '{WEBINARS}'"
    );
    let cases = [
        (
            "digest changed",
            "UPDATE public.seaql_migrations_digest SET d1 = d1 + 1",
        ),
        (
            "digest dropped",
            "DROP TABLE public.seaql_migrations_digest",
        ),
        (
            "trigger disabled",
            "ALTER TABLE public.seaql_migrations DISABLE TRIGGER seaql_migrations_digest",
        ),
        (
            "function replaced",
            "CREATE OR REPLACE FUNCTION public.seaql_migrations_digest() RETURNS trigger \
             LANGUAGE plpgsql SECURITY DEFINER AS $$ BEGIN RETURN NULL; END $$",
        ),
        (
            "old version's table",
            "DROP FUNCTION public.seaql_migrations_digest() CASCADE; DROP TABLE public.seaql_migrations_digest",
        ),
    ];
    for (what, tamper) in cases {
        let db = TestDatabase::migrated(&format!("digest_{}", what.replace(' ', "_"))).await;
        let conn = connect(&db).await;
        let intact = digest_row(&conn).await;

        // The digest tampered with alone: the full comparison finds history
        // intact, the deploy is a no-op, and the digest is rebuilt.
        exec(&conn, tamper).await;
        assert_eq!(up(&db).await, Ok(0), "{what}");
        assert_eq!(digest_row(&conn).await, intact, "{what}: rebuilt");

        // Tampered with, then a row edited (by hand, or by a trigger that no
        // longer keeps the digest): refused.
        exec(&conn, tamper).await;
        exec(&conn, &edit).await;
        let refused = up(&db).await.expect_err(what);
        assert!(
            refused.contains("was edited after it was applied"),
            "{what}: {refused}"
        );
    }
}

/// Transactions the server committed in `db` (each statement a no-op sends
/// is one), read from another database once the counts settle: a finished
/// client's backend reports its counts when it exits.
async fn commits_after(db: &TestDatabase, before: Option<i64>) -> i64 {
    let admin = sea_orm::Database::connect(db.cluster().url("postgres").unwrap())
        .await
        .unwrap();
    let sql = format!(
        "SELECT xact_commit FROM pg_stat_database WHERE datname = '{}'",
        db.name
    );
    let mut last = i64::MIN;
    for _ in 0..40 {
        admin
            .execute_unprepared("SELECT pg_stat_clear_snapshot()")
            .await
            .unwrap();
        let now = scalar_i64(&admin, &sql).await;
        // Settled: the same count twice, 50 ms apart, and past `before`.
        if now == last && before.is_none_or(|before| now > before) {
            return now;
        }
        last = now;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    last
}

/// Architecture Invariant: a no-op deploy (and `status`, and `plan`) sends
/// one statement after connecting: the digest, the lock, the recorded role
/// templates and whether Citus is there, read together; and role templates
/// other than the recorded ones are still refused there. Counted as the
/// server counts transactions: exactly as many as `psql` sending one
/// statement (connecting commits one of its own). 6e511ed's no-op: 10.
#[tokio::test]
async fn a_no_op_deploy_is_one_statement_and_still_refuses_other_role_templates() {
    let db = TestDatabase::migrated("digest_one_statement").await;
    // The fewest of three runs: autovacuum's visits to the database commit
    // transactions of their own now and then, never fewer.
    let fewest = async |run: &dyn Fn() -> std::process::Output| {
        let mut fewest = i64::MAX;
        for _ in 0..3 {
            let before = commits_after(&db, None).await;
            let out = run();
            assert!(out.status.success(), "{}", all_output(&out));
            fewest = fewest.min(commits_after(&db, Some(before)).await - before);
        }
        fewest
    };
    let psql = db.cluster().psql();
    let one_statement = fewest(&|| {
        std::process::Command::new(&psql)
            .args(["-X", "-q", "-Atc", "SELECT 1", &db.url])
            .output()
            .unwrap()
    })
    .await;
    assert_eq!(one_statement, 2, "connecting and one statement");
    for command in [&["up"][..], &["status"], &["plan"]] {
        let sent = fewest(&|| runner_binary(Some(&db.url), command, &[])).await;
        assert_eq!(
            sent, one_statement,
            "{command:?}: {sent} transactions, psql's one statement {one_statement}"
        );
    }
    for command in [&["up"][..], &["status"], &["plan"]] {
        let refused = runner_binary(
            Some(&db.url),
            command,
            &[("MIGRATION_APP_ROLE_TEMPLATE", "other_{schema}_rw")],
        );
        assert_eq!(refused.status.code(), Some(2), "{}", all_output(&refused));
        let message = stderr(&refused);
        assert!(
            message
                .contains("this database's runtime roles are named by the template `{schema}_app`")
                && message.contains("this run gives `other_{schema}_rw`"),
            "{command:?}: {message}"
        );
    }
}

/// The release binary's no-op takes the code's checksums from its sum file
/// (no migration recorded, so it stays flat in history length); `cargo
/// xtask`, whose tree is being edited, records the code. Shown with a sum
/// file and a history row that agree with each other and not with the code:
/// the sum file is believed by the first, the code by the second. A sum file
/// that does not add up is not believed.
#[tokio::test]
async fn the_release_binary_checks_history_against_its_sum_file_and_xtask_against_the_code() {
    use migration_runner::source::sum::SumFile;
    let db = TestDatabase::migrated("digest_sum_record").await;
    let conn = connect(&db).await;
    let mut sum = SumFile::parse(schema_registry::SUM_FILE).unwrap();
    let entry = sum.entries.iter_mut().find(|e| e.name == WEBINARS).unwrap();
    let code_checksum = entry.checksum.clone();
    entry.checksum = "0".repeat(64);
    let believed: &'static str = Box::leak(sum.render().into_boxed_str());
    exec(
        &conn,
        &format!(
            "UPDATE public.seaql_migrations SET checksum = '{}' WHERE version = '{WEBINARS}'",
            "0".repeat(64)
        ),
    )
    .await;
    let up_with = |catalog: Catalog| {
        let url = db.url.clone();
        async move {
            let session = migration_runner::connect(&url, "migration-runner-test")
                .await
                .unwrap();
            let runner = Runner::new(session, catalog, RunnerOptions::default())
                .await
                .unwrap();
            let outcome = runner.up(&UpOptions::default()).await;
            runner.close().await;
            outcome
                .map(|r| (r.applied.len(), r.already_applied))
                .map_err(|e| e.to_string())
        }
    };
    let workspace = schema_registry::workspace();
    let count = Catalog::workspace(&workspace).unwrap().migrations().len();
    // The release binary: history agrees with its sum file, nothing to do.
    let release = Catalog::workspace(&workspace)
        .unwrap()
        .with_expected_sum_text(believed)
        .with_sum_as_record();
    assert_eq!(up_with(release).await, Ok((0, count)));
    // xtask: the code's checksum differs from history's, refused.
    let xtask = Catalog::workspace(&workspace)
        .unwrap()
        .with_expected_sum_text(believed);
    let refused = up_with(xtask).await.unwrap_err();
    assert!(
        refused.contains(WEBINARS) && refused.contains("integrity"),
        "{refused}"
    );
    // A sum file whose total does not add up: the code is recorded instead.
    let broken: &'static str = Box::leak(
        believed
            .replace(&"0".repeat(64), &code_checksum[..64])
            .into_boxed_str(),
    );
    let release = Catalog::workspace(&workspace)
        .unwrap()
        .with_expected_sum_text(broken)
        .with_sum_as_record();
    let refused = up_with(release).await.unwrap_err();
    assert!(
        refused.contains(WEBINARS) && refused.contains("integrity"),
        "{refused}"
    );
}
