//! The foundation: schemas, tables, keys and constraints exist after `up`;
//! cross-schema foreign keys hold; a failing migration leaves no trace; every
//! migration's `down` then `up` round-trips.

use migration_dev::testing::TestDatabase;
use migration_runner::{DownOptions, MigrateError, UpOptions};
use sea_orm::ConnectionTrait;

use crate::support::*;

const TABLES: &[&str] = &[
    "academy.courses",
    "academy.enrollments",
    "academy.webinars",
    "core.permissions",
    "core.role_permissions",
    "core.roles",
    "core.user_roles",
    "core.users",
    "talent.profile_skills",
    "talent.profiles",
    "talent.skills",
    "vacancy.applications",
    "vacancy.employers",
    "vacancy.vacancies",
];

#[tokio::test]
async fn up_creates_every_schema_table_key_and_constraint() {
    let db = TestDatabase::create("foundation_up");
    let report = workspace_runner(&db)
        .await
        .up(&UpOptions::default())
        .await
        .unwrap();
    let expected = migration_runner::Catalog::workspace(&schema_registry::workspace())
        .unwrap()
        .migrations()
        .len();
    assert_eq!(report.applied.len(), expected);

    let conn = connect(&db).await;
    assert_eq!(
        texts(&conn, "SELECT nspname::text FROM pg_namespace WHERE nspname IN ('core','academy','talent','vacancy') ORDER BY 1").await,
        ["academy", "core", "talent", "vacancy"]
    );
    let tables = texts(
        &conn,
        "SELECT table_schema || '.' || table_name FROM information_schema.tables \
         WHERE table_schema IN ('core','academy','talent','vacancy') ORDER BY 1",
    )
    .await;
    assert_eq!(tables, TABLES);

    // Every table: uuid primary key, timestamps, and a unique natural key.
    for table in TABLES {
        let (schema, name) = table.split_once('.').unwrap();
        let columns = texts(
            &conn,
            &format!(
                "SELECT column_name || ' ' || data_type FROM information_schema.columns \
                 WHERE table_schema = '{schema}' AND table_name = '{name}' \
                   AND column_name IN ('id', 'created_at', 'updated_at') ORDER BY 1"
            ),
        )
        .await;
        assert_eq!(
            columns,
            [
                "created_at timestamp with time zone",
                "id uuid",
                "updated_at timestamp with time zone"
            ],
            "{table}"
        );
        let keys = scalar_i64(
            &conn,
            &format!("SELECT count(*) FROM pg_constraint WHERE conrelid = '{table}'::regclass AND contype IN ('p', 'u')"),
        )
        .await;
        assert!(
            keys >= 2,
            "{table} needs a primary key and a unique natural key, has {keys}"
        );
    }

    let constraints = texts(
        &conn,
        "SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint \
         WHERE connamespace::regnamespace::text IN ('core','academy','talent','vacancy') AND contype IN ('u','c') ORDER BY 1",
    )
    .await
    .join("\n");
    for expected in [
        "core.users users_email_key UNIQUE (email)",
        "core.roles roles_key_key UNIQUE (key)",
        "core.permissions permissions_key_key UNIQUE (key)",
        "core.role_permissions role_permissions_role_id_permission_id_key UNIQUE (role_id, permission_id)",
        "core.user_roles user_roles_user_id_role_id_key UNIQUE (user_id, role_id)",
        "academy.courses courses_slug_key UNIQUE (slug)",
        "academy.webinars webinars_slug_key UNIQUE (slug)",
        "academy.enrollments enrollments_course_id_user_id_key UNIQUE (course_id, user_id)",
        "talent.profiles profiles_user_id_key UNIQUE (user_id)",
        "talent.skills skills_slug_key UNIQUE (slug)",
        "talent.profile_skills profile_skills_profile_id_skill_id_key UNIQUE (profile_id, skill_id)",
        "vacancy.employers employers_slug_key UNIQUE (slug)",
        "vacancy.vacancies vacancies_slug_key UNIQUE (slug)",
        "vacancy.applications applications_vacancy_id_applicant_id_key UNIQUE (vacancy_id, applicant_id)",
        "vacancy.vacancies vacancies_salary_range_check CHECK",
        "academy.enrollments enrollments_status_check CHECK",
        "vacancy.applications applications_status_check CHECK",
        "talent.profile_skills profile_skills_level_check CHECK",
    ] {
        assert!(
            constraints.contains(expected),
            "missing `{expected}` in:\n{constraints}"
        );
    }

    // Real foreign keys from every app schema to core.users.
    let to_users = texts(
        &conn,
        "SELECT DISTINCT connamespace::regnamespace::text FROM pg_constraint \
         WHERE contype = 'f' AND confrelid = 'core.users'::regclass AND connamespace <> 'core'::regnamespace ORDER BY 1",
    )
    .await;
    assert_eq!(to_users, ["academy", "talent", "vacancy"]);
    // No Postgres enum types in app schemas: status columns are text + CHECK.
    assert_eq!(
        scalar_i64(&conn, "SELECT count(*) FROM pg_type WHERE typtype = 'e' AND typnamespace::regnamespace::text IN ('core','academy','talent','vacancy')").await,
        0
    );

    // A second run applies nothing.
    let again = workspace_runner(&db)
        .await
        .up(&UpOptions::default())
        .await
        .unwrap();
    assert!(again.applied.is_empty());
    assert_eq!(again.already_applied, expected);
}

#[tokio::test]
async fn constraints_reject_bad_rows_across_schemas() {
    let db = TestDatabase::create("foundation_fk");
    workspace_runner(&db)
        .await
        .up(&UpOptions::default())
        .await
        .unwrap();
    let conn = connect(&db).await;
    let missing_user = conn
        .execute_unprepared(
            "INSERT INTO academy.courses (id, slug, title, instructor_id) \
             VALUES (gen_random_uuid(), 'rust-101', 'Rust 101', gen_random_uuid())",
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        missing_user.contains("courses_instructor_id_fkey"),
        "{missing_user}"
    );

    conn.execute_unprepared(
        "INSERT INTO core.users (id, email, display_name) VALUES ('00000000-0000-0000-0000-000000000001', 'a@example.com', 'A');
         INSERT INTO vacancy.employers (id, slug, name, owner_id) VALUES (gen_random_uuid(), 'acme', 'Acme', '00000000-0000-0000-0000-000000000001');",
    )
    .await
    .unwrap();
    let inverted_salary = conn
        .execute_unprepared(
            "INSERT INTO vacancy.vacancies (id, slug, employer_id, posted_by, title, salary_min, salary_max) \
             SELECT gen_random_uuid(), 'dev', id, owner_id, 'Dev', 90000, 50000 FROM vacancy.employers",
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        inverted_salary.contains("vacancies_salary_range_check"),
        "{inverted_salary}"
    );
    let bad_status = conn
        .execute_unprepared(
            "INSERT INTO vacancy.vacancies (id, slug, employer_id, posted_by, title, status) \
             SELECT gen_random_uuid(), 'dev', id, owner_id, 'Dev', 'maybe' FROM vacancy.employers",
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        bad_status.contains("vacancies_status_check"),
        "{bad_status}"
    );
    let duplicate_email = conn
        .execute_unprepared("INSERT INTO core.users (id, email, display_name) VALUES (gen_random_uuid(), 'a@example.com', 'B')")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        duplicate_email.contains("users_email_key"),
        "{duplicate_email}"
    );
}

/// The runner opens a migration's transaction together with its first
/// statement: a failure there names that statement, rolls back, and leaves
/// the run's connection usable (no transaction left open, no lock kept).
#[tokio::test]
async fn a_migration_failing_at_its_first_statement_rolls_back_and_keeps_the_session_usable() {
    let db = TestDatabase::create("foundation_fail_first");
    let broken = SqlMigration::new(
        "m20990101_000000_academy_add_reviews",
        &[
            "CREATE TABLE academy.reviews (id uuid PRIMARY KEY, course_id uuid REFERENCES academy.no_such_table (id))",
            "CREATE INDEX reviews_course ON academy.reviews (course_id)",
        ],
        &["DROP TABLE academy.reviews"],
    );
    let runner = runner(&db, workspace_plus(vec![("academy", Box::new(broken))])).await;
    for attempt in 1..=2 {
        let err = runner.up(&UpOptions::default()).await.unwrap_err();
        let message = err.to_string();
        assert!(
            matches!(
                err,
                MigrateError::Apply(migration_runner::deploy::error::ApplyError::Failed(
                    migration_runner::deploy::error::StatementFailure {
                        statement_index: 1,
                        ..
                    }
                ))
            ),
            "attempt {attempt}: {message}"
        );
        assert!(
            message.contains("no_such_table") && message.contains("42P01"),
            "attempt {attempt}: {message}"
        );
        assert!(!message.contains("BEGIN"), "attempt {attempt}: {message}");
        assert!(
            !message.contains("current transaction is aborted"),
            "attempt {attempt}: {message}"
        );
    }
    let conn = connect(&db).await;
    assert_eq!(
        scalar_i64(
            &conn,
            "SELECT count(*) FROM pg_class WHERE relname = 'reviews'"
        )
        .await,
        0
    );
    assert_eq!(
        scalar_i64(
            &conn,
            // This database's: other tests hold advisory locks of their own.
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        .await,
        0
    );
    // Every other migration of the run was applied, each in its own transaction.
    assert_eq!(
        history_names(&conn).await.len(),
        migration_runner::Catalog::workspace(&schema_registry::workspace())
            .unwrap()
            .migrations()
            .len()
    );
}

#[tokio::test]
async fn a_failing_migration_leaves_no_trace_and_applies_once_fixed() {
    let db = TestDatabase::create("foundation_fail");
    let broken = SqlMigration::new(
        "m20990101_000000_academy_add_reviews",
        &[
            "CREATE TABLE academy.reviews (id uuid PRIMARY KEY)",
            "ALTER TABLE academy.reviews ADD COLUMN rating integer CHECK (rating BETWEEN 1 AND 5",
        ],
        &["DROP TABLE academy.reviews"],
    );
    let err = runner(&db, workspace_plus(vec![("academy", Box::new(broken))]))
        .await
        .up(&UpOptions::default())
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(
            err,
            MigrateError::Apply(migration_runner::deploy::error::ApplyError::Failed(
                migration_runner::deploy::error::StatementFailure {
                    statement_index: 2,
                    ..
                }
            ))
        ),
        "{message}"
    );
    assert!(
        message.contains("m20990101_000000_academy_add_reviews"),
        "{message}"
    );
    assert!(message.contains("rolled back"), "{message}");

    let conn = connect(&db).await;
    assert_eq!(
        scalar_i64(
            &conn,
            "SELECT count(*) FROM pg_class WHERE relname = 'reviews'"
        )
        .await,
        0
    );
    let history = history_names(&conn).await;
    assert!(!history.iter().any(|n| n.contains("add_reviews")));
    assert_eq!(
        history.len(),
        migration_runner::Catalog::workspace(&schema_registry::workspace())
            .unwrap()
            .migrations()
            .len()
    );

    let fixed = SqlMigration::new(
        "m20990101_000000_academy_add_reviews",
        &[
            "CREATE TABLE academy.reviews (id uuid PRIMARY KEY)",
            "ALTER TABLE academy.reviews ADD COLUMN rating integer CHECK (rating BETWEEN 1 AND 5)",
        ],
        &["DROP TABLE academy.reviews"],
    );
    let report = runner(&db, workspace_plus(vec![("academy", Box::new(fixed))]))
        .await
        .up(&UpOptions::default())
        .await
        .unwrap();
    assert_eq!(report.applied.len(), 1);
    assert_eq!(
        report.applied[0].name,
        "m20990101_000000_academy_add_reviews"
    );
    assert_eq!(
        scalar_i64(
            &conn,
            "SELECT count(*) FROM public.seaql_migrations WHERE version LIKE '%add_reviews'"
        )
        .await,
        1
    );
    assert_eq!(
        scalar_i64(&conn, "SELECT count(*) FROM academy.reviews").await,
        0
    );
}

#[tokio::test]
async fn every_migration_down_then_up_round_trips() {
    let db = TestDatabase::create("foundation_roundtrip");
    let runner = workspace_runner(&db).await;
    let conn = connect(&db).await;
    let empty = catalog_snapshot(&conn).await;
    runner.up(&UpOptions::default()).await.unwrap();
    let full = catalog_snapshot(&conn).await;
    assert_ne!(empty, full);
    let names: Vec<String> = runner
        .catalog()
        .migrations()
        .iter()
        .map(|m| m.name.clone())
        .collect();

    // Roll back the newest k migrations, check the schema matches applying only
    // the oldest n-k, then re-apply and check it matches the full schema again.
    let mut partial_snapshots = Vec::new();
    for keep in (0..names.len()).rev() {
        let report = runner
            .down(
                &DownOptions {
                    to: Some(names[keep].clone()),
                    ..DownOptions::default()
                },
                &mut |_| {},
            )
            .await
            .unwrap();
        assert_eq!(report.rolled_back.len(), names.len() - keep - 1);
        partial_snapshots.push((keep, catalog_snapshot(&conn).await));
        runner.up(&UpOptions::default()).await.unwrap();
        assert_eq!(
            catalog_snapshot(&conn).await,
            full,
            "down/up after {} changed the schema",
            names[keep]
        );
    }
    // Rolling back everything, one at a time, returns to an empty database.
    for _ in &names {
        runner
            .down(&DownOptions::default(), &mut |_| {})
            .await
            .unwrap();
    }
    assert_eq!(catalog_snapshot(&conn).await, empty);
    assert!(history_names(&conn).await.is_empty());

    // Applying step by step reproduces each partial snapshot.
    for (keep, snapshot) in partial_snapshots.iter().rev() {
        runner
            .up(&UpOptions {
                to: Some(names[*keep].clone()),
                ..UpOptions::default()
            })
            .await
            .unwrap();
        assert_eq!(
            &catalog_snapshot(&conn).await,
            snapshot,
            "state after {}",
            names[*keep]
        );
    }
}
