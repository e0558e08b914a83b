//! The no-op deploy reads one row: the history digest kept beside the
//! history table by its trigger. Every way of tampering with history, or with
//! the digest itself, still ends in the full comparison and its refusal.

use std::time::Duration;

use migration_dev::testing::TestDatabase;
use migration_runner::runner::UpOptions;
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
