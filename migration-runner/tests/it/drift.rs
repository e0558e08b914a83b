//! `migrate drift` and `status --drift`: a database changed by hand is
//! reported exactly, and nothing outside the owned schemas ever is.

use migration_dev::testing::TestDatabase;
use sea_orm::ConnectionTrait;

use crate::support::*;

#[tokio::test]
async fn hand_changes_are_reported_exactly_and_nothing_outside_the_owned_schemas() {
    let db = TestDatabase::migrated("drift_hand_changes").await;
    let url = Some(db.url.as_str());
    let clean = runner_binary(url, &["drift"], &[]);
    assert_eq!(clean.status.code(), Some(0), "{}", all_output(&clean));
    assert!(stdout(&clean).contains("no drift"), "{}", stdout(&clean));
    let status = runner_binary(url, &["status", "--drift"], &[]);
    assert_eq!(status.status.code(), Some(0), "{}", all_output(&status));
    assert!(
        stdout(&status).contains("drift: 0 difference(s)"),
        "{}",
        stdout(&status)
    );

    let conn = connect(&db).await;
    conn.execute_unprepared(
        "ALTER TABLE academy.webinars ADD COLUMN added_by_hand text; \
         ALTER TABLE academy.webinars DROP CONSTRAINT webinars_slug_key; \
         ALTER TABLE academy.webinars ALTER COLUMN duration_minutes SET DEFAULT 90; \
         CREATE FUNCTION academy.touch() RETURNS trigger LANGUAGE plpgsql \
             AS $$BEGIN NEW.updated_at := now(); RETURN NEW; END$$; \
         CREATE TRIGGER webinars_touch BEFORE UPDATE ON academy.webinars \
             FOR EACH ROW EXECUTE FUNCTION academy.touch(); \
         CREATE VIEW academy.open_webinars AS SELECT id FROM academy.webinars; \
         CREATE SEQUENCE academy.ticket_numbers; \
         CREATE UNIQUE INDEX courses_slug_copy ON academy.courses (slug); \
         ALTER TABLE academy.enrollments RENAME CONSTRAINT enrollments_status_check \
             TO enrollments_state_check; \
         CREATE SCHEMA outsider; CREATE TABLE outsider.notes (id int PRIMARY KEY); \
         CREATE TABLE public.scratchpad (id int); CREATE INDEX ON public.seaql_migrations (state)",
    )
    .await
    .unwrap();

    let output = runner_binary(url, &["drift", "--json"], &[]);
    assert_eq!(output.status.code(), Some(2), "{}", all_output(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let summary: Vec<String> = report["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            format!(
                "{} {} | {} | {}",
                d["key"]["kind"].as_str().unwrap(),
                d["key"]["table"].as_str().unwrap(),
                d["expected"].as_str().unwrap_or("-"),
                d["actual"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(summary.len(), 9, "{summary:#?}");
    for expected in [
        "column academy.webinars | - | text null",
        "column academy.webinars | integer not null default 60 | integer not null default 90",
        "constraint academy.webinars | UNIQUE (slug) | -",
        "function academy.touch() | - | CREATE OR REPLACE FUNCTION academy.touch() RETURNS trigger LANGUAGE plpgsql",
        "trigger academy.webinars | - | BEFORE UPDATE ON academy.webinars FOR EACH ROW EXECUTE FUNCTION academy.touch()",
        "view academy.open_webinars | - | SELECT webinars.id FROM academy.webinars;",
        "sequence academy.ticket_numbers | - | bigint start 1 increment 1",
        "index academy.courses | - | academy.courses USING btree (slug) (unique), a duplicate of index courses_slug_key",
        "constraint academy.enrollments | CHECK ((status = ANY (ARRAY['active'::text, 'completed'::text, 'dropped'::text]))) | renamed to enrollments_state_check: CHECK",
    ] {
        assert!(
            summary.iter().any(|line| line.starts_with(expected)),
            "no difference starts with {expected:?}: {summary:#?}"
        );
    }
    let all = all_output(&output);
    for outside in ["outsider", "scratchpad", "seaql_migrations"] {
        assert!(!all.contains(outside), "reported `{outside}`: {all}");
    }

    let text = runner_binary(url, &["drift"], &[]);
    assert_eq!(text.status.code(), Some(2));
    for line in [
        "column academy.webinars.added_by_hand: migrations give nothing, the database has `text null`",
        "constraint enrollments_status_check on academy.enrollments: migrations give `CHECK",
        "trigger webinars_touch on academy.webinars: migrations give nothing",
        "index courses_slug_copy on academy.courses: migrations give nothing",
    ] {
        assert!(stdout(&text).contains(line), "{line}: {}", stdout(&text));
    }
    let status = runner_binary(url, &["status", "--drift"], &[]);
    assert_eq!(status.status.code(), Some(2), "{}", all_output(&status));
    assert!(
        stdout(&status).contains("drift: 9 difference(s)"),
        "{}",
        stdout(&status)
    );
    // Nothing was left behind: no throwaway database remains.
    assert_eq!(
        scalar_i64(
            &conn,
            "SELECT count(*) FROM pg_database WHERE datname LIKE 'drift_shadow_%'"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn a_role_that_cannot_create_databases_is_told_to_pass_a_shadow_url() {
    let db = TestDatabase::migrated("drift_shadow_url").await;
    let admin = connect(&db).await;
    let role = format!("viewer_{}", &db.name[db.name.len() - 8..]);
    admin
        .execute_unprepared(&format!(
            "CREATE ROLE {role} LOGIN PASSWORD 'viewer-pw'; \
             GRANT SELECT ON public.seaql_migrations TO {role}; \
             GRANT USAGE ON SCHEMA core, academy, talent, vacancy TO {role}"
        ))
        .await
        .unwrap();
    let url = db.url_as(&role, "viewer-pw");
    let refused = runner_binary(Some(&url), &["drift"], &[]);
    assert_eq!(refused.status.code(), Some(2), "{}", all_output(&refused));
    assert!(
        stderr(&refused).contains("--shadow-url"),
        "{}",
        stderr(&refused)
    );

    let shadow = TestDatabase::create("drift_shadow_given");
    let given = runner_binary(Some(&url), &["drift", "--shadow-url", &shadow.url], &[]);
    assert_eq!(given.status.code(), Some(0), "{}", all_output(&given));
    assert!(stdout(&given).contains("no drift"), "{}", stdout(&given));
    // The replay is gone from the shadow afterwards: it is as empty as it was,
    // so the same `--shadow-url` serves the next run.
    let shadow_conn = sea_orm::Database::connect(&shadow.url).await.unwrap();
    assert_eq!(
        shadow_objects(&shadow_conn).await,
        Vec::<String>::new(),
        "the shadow was left with the replay"
    );
    let again = runner_binary(Some(&url), &["drift", "--shadow-url", &shadow.url], &[]);
    assert_eq!(again.status.code(), Some(0), "{}", all_output(&again));
    assert!(stdout(&again).contains("no drift"), "{}", stdout(&again));
    assert_eq!(shadow_objects(&shadow_conn).await, Vec::<String>::new());
    // A shadow that held an (empty) owned schema before keeps just that.
    shadow_conn
        .execute_unprepared("CREATE SCHEMA academy")
        .await
        .unwrap();
    let kept = runner_binary(Some(&url), &["drift", "--shadow-url", &shadow.url], &[]);
    assert_eq!(kept.status.code(), Some(0), "{}", all_output(&kept));
    assert_eq!(
        shadow_objects(&shadow_conn).await,
        vec!["schema academy".to_owned()]
    );
    // A shadow that holds an owned schema's tables is refused, and kept as it was.
    shadow_conn
        .execute_unprepared("CREATE TABLE academy.leftover (id int)")
        .await
        .unwrap();
    let refused = runner_binary(Some(&url), &["drift", "--shadow-url", &shadow.url], &[]);
    assert_eq!(refused.status.code(), Some(2), "{}", all_output(&refused));
    assert!(
        stderr(&refused).contains("is not empty"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(
        shadow_objects(&shadow_conn).await,
        vec![
            "schema academy".to_owned(),
            "table academy.leftover".to_owned()
        ]
    );
}

/// Every schema, table, function and extension a database holds beyond a
/// fresh one's.
async fn shadow_objects(conn: &sea_orm::DatabaseConnection) -> Vec<String> {
    texts(
        conn,
        "SELECT 'schema ' || nspname FROM pg_namespace
          WHERE nspname NOT LIKE 'pg\\_%' AND nspname NOT IN ('information_schema', 'public')
         UNION ALL
         SELECT 'table ' || n.nspname || '.' || c.relname FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
         UNION ALL
         SELECT 'function ' || p.proname FROM pg_proc p
           JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'
         UNION ALL
         SELECT 'extension ' || extname FROM pg_extension WHERE extname <> 'plpgsql'
         ORDER BY 1",
    )
    .await
}

/// `drift` on a database with pending migrations says how many it did not
/// compare, beside the applied ones it did.
#[tokio::test]
async fn drift_names_the_pending_migrations_it_did_not_compare() {
    let db = TestDatabase::create("drift_pending");
    db.migrate(Some("m20250215_090000_academy_create_webinars".to_owned()))
        .await;
    let catalog = migration_runner::Catalog::workspace(&schema_registry::workspace()).unwrap();
    let applied = catalog
        .position("m20250215_090000_academy_create_webinars")
        .unwrap()
        + 1;
    let pending = catalog.migrations().len() - applied;
    assert!(pending > 0);
    let output = runner_binary(Some(&db.url), &["drift"], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", all_output(&output));
    assert_eq!(
        stdout(&output),
        format!(
            "no drift: schemas core, academy, talent, vacancy match their {applied} applied migrations; \
             {pending} pending migration(s) are not applied yet, so not compared (`migrate up` applies them)\n"
        )
    );
    let json = runner_binary(Some(&db.url), &["drift", "--json"], &[]);
    assert_eq!(json.status.code(), Some(0), "{}", all_output(&json));
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["applied"], applied);
    assert_eq!(report["pending"], pending);
}

#[tokio::test]
async fn drift_verifies_history_first() {
    let db = TestDatabase::migrated("drift_verifies").await;
    let conn = connect(&db).await;
    conn.execute_unprepared(
        "UPDATE public.seaql_migrations SET checksum = 'edited' \
         WHERE version = 'm20250215_090000_academy_create_webinars'",
    )
    .await
    .unwrap();
    let output = runner_binary(Some(&db.url), &["drift"], &[]);
    assert_eq!(output.status.code(), Some(2), "{}", all_output(&output));
    assert!(
        stderr(&output).contains("history integrity check failed"),
        "{}",
        stderr(&output)
    );
}
