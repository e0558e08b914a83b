//! Every command that reads or changes history verifies it first and refuses
//! the way `up` does (exit 2, the same message), for every kind of problem;
//! nothing is changed by a refused command.

use migration_dev::testing::TestDatabase;
use sea_orm::{ConnectionTrait, DatabaseConnection};

use crate::support::*;

const WEBINARS: &str = "m20250215_090000_academy_create_webinars";
const CAPACITY: &str = "m20251008_120000_academy_add_webinar_capacity";

/// Each kind of problem, made by editing history as an accident or a person would.
const PROBLEMS: &[(&str, &str, &str)] = &[
    (
        "changed",
        "UPDATE public.seaql_migrations SET checksum = 'edited' WHERE version = 'm20250215_090000_academy_create_webinars'",
        "was edited after it was applied",
    ),
    (
        "missing",
        "INSERT INTO public.seaql_migrations (version, applied_at, schema_name, checksum) \
         VALUES ('m20991231_000000_academy_from_another_branch', 0, 'academy', 'x')",
        "is in the database's history but no longer in the code",
    ),
    (
        "out of order",
        "DELETE FROM public.seaql_migrations WHERE version = 'm20250215_090000_academy_create_webinars'",
        "sorts before",
    ),
    (
        "failed",
        "UPDATE public.seaql_migrations SET state = 'failed' WHERE version = 'm20250215_090000_academy_create_webinars'",
        "yet history says `failed`",
    ),
    (
        "unknown state",
        "UPDATE public.seaql_migrations SET state = 'done' WHERE version = 'm20250215_090000_academy_create_webinars'",
        "has state `done` in history, which this runner never writes",
    ),
    (
        "blank checksum",
        "UPDATE public.seaql_migrations SET checksum = '' WHERE version = 'm20250215_090000_academy_create_webinars'",
        "its checksum in history is blank",
    ),
];

async fn history_snapshot(conn: &DatabaseConnection) -> String {
    scalar_text(
        conn,
        "SELECT string_agg(format('%s %s %s', version, state, checksum), E'\\n' ORDER BY version) \
         FROM public.seaql_migrations",
    )
    .await
}

#[tokio::test]
async fn every_command_refuses_every_kind_of_integrity_problem() {
    for (kind, damage, expected) in PROBLEMS {
        let db = TestDatabase::migrated(&format!("verify_{}", kind.replace(' ', "_"))).await;
        let conn = connect(&db).await;
        conn.execute_unprepared(damage).await.unwrap();
        let schema_before = catalog_snapshot(&conn).await;
        let history_before = history_snapshot(&conn).await;
        let url = Some(db.url.as_str());
        let commands: &[&[&str]] = &[
            &["up"],
            &["plan"],
            &["status"],
            &["preflight"],
            &["down"],
            &["down", "--to", WEBINARS],
            &["resolve", "--rolled-back", CAPACITY],
            &[
                "resolve",
                "--applied",
                "m20251101_090000_vacancy_link_applications_to_talent_profiles",
            ],
        ];
        let up_message = stderr(&runner_binary(url, &["up"], &[]));
        assert!(
            up_message.contains(expected),
            "{kind}: up said {up_message}"
        );
        for args in commands {
            let output = runner_binary(url, args, &[]);
            let what = format!("{kind}: {args:?}");
            assert_eq!(
                output.status.code(),
                Some(2),
                "{what}: {}",
                all_output(&output)
            );
            let text = if args[0] == "status" {
                stdout(&output)
            } else {
                stderr(&output)
            };
            assert!(text.contains(expected), "{what}: {text}");
            if args[0] != "status" {
                assert!(
                    text.contains("history integrity check failed; nothing was changed"),
                    "{what}: {text}"
                );
            }
        }
        assert_eq!(
            catalog_snapshot(&conn).await,
            schema_before,
            "{kind}: schema changed"
        );
        assert_eq!(
            history_snapshot(&conn).await,
            history_before,
            "{kind}: history changed"
        );
    }
}

#[tokio::test]
async fn down_refuses_when_the_newest_history_row_is_missing_from_the_code() {
    let db = TestDatabase::migrated("verify_down_missing_newest").await;
    let conn = connect(&db).await;
    conn.execute_unprepared(
        "INSERT INTO public.seaql_migrations (version, applied_at, schema_name, checksum, applied_on) \
         VALUES ('m20991231_000000_academy_newer_elsewhere', 0, 'academy', 'x', now() + interval '1 day')",
    )
    .await
    .unwrap();
    let before = catalog_snapshot(&conn).await;
    let output = runner_binary(Some(&db.url), &["down"], &[]);
    assert_eq!(output.status.code(), Some(2), "{}", all_output(&output));
    assert!(
        stderr(&output).contains("m20991231_000000_academy_newer_elsewhere"),
        "{}",
        stderr(&output)
    );
    assert_eq!(
        catalog_snapshot(&conn).await,
        before,
        "down rolled back an older migration"
    );
}

#[tokio::test]
async fn resolve_may_fix_the_problem_it_names() {
    let db = TestDatabase::migrated("verify_resolve_own").await;
    let conn = connect(&db).await;
    // A blanked checksum is re-recorded from the code by `resolve --applied`.
    conn.execute_unprepared(&format!(
        "UPDATE public.seaql_migrations SET checksum = '' WHERE version = '{WEBINARS}'"
    ))
    .await
    .unwrap();
    let output = runner_binary(Some(&db.url), &["resolve", "--applied", WEBINARS], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", all_output(&output));
    let status = runner_binary(Some(&db.url), &["status"], &[]);
    assert_eq!(status.status.code(), Some(0), "{}", all_output(&status));
    assert_eq!(
        scalar_i64(
            &conn,
            &format!("SELECT length(checksum)::bigint FROM public.seaql_migrations WHERE version = '{WEBINARS}'")
        )
        .await,
        64
    );
    // An unknown state is cleared by `resolve --rolled-back` and re-applied by `up`.
    conn.execute_unprepared(&format!(
        "UPDATE public.seaql_migrations SET state = 'done' WHERE version = '{CAPACITY}'; \
         ALTER TABLE academy.webinars DROP COLUMN capacity"
    ))
    .await
    .unwrap();
    let output = runner_binary(Some(&db.url), &["resolve", "--rolled-back", CAPACITY], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", all_output(&output));
    // It now sorts before applied migrations: applying it is a deliberate choice.
    let refused = runner_binary(Some(&db.url), &["up"], &[]);
    assert_eq!(refused.status.code(), Some(2), "{}", all_output(&refused));
    let up = runner_binary(Some(&db.url), &["up", "--allow-out-of-order"], &[]);
    assert_eq!(up.status.code(), Some(0), "{}", all_output(&up));
    assert_eq!(
        scalar_i64(
            &conn,
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'academy' \
             AND table_name = 'webinars' AND column_name = 'capacity'"
        )
        .await,
        1
    );
}
