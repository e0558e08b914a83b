//! The operator's commands at the library level: `down` policy, `resolve`,
//! `--to`, and `migrate new`.

use migration_dev::testing::TestDatabase;
use migration_runner::{Catalog, DownOptions, MigrateError, Resolution, State, UpOptions};
use sea_orm::ConnectionTrait;

use crate::support::*;

#[tokio::test]
async fn down_is_refused_in_production_unless_destructive_is_allowed() {
    let db = TestDatabase::create("operator_down_prod");
    let runner = workspace_runner(&db).await;
    // Up to the runtime roles' migration, so it is the one `down` rolls back.
    runner
        .up(&UpOptions {
            to: Some("m20261201_072208_vacancy_create_runtime_roles".into()),
            ..UpOptions::default()
        })
        .await
        .unwrap();
    let conn = connect(&db).await;
    let before = catalog_snapshot(&conn).await;

    let mut announced = Vec::new();
    let err = runner
        .down(
            &DownOptions {
                app_env: Some("production".into()),
                ..DownOptions::default()
            },
            &mut |planned| announced.push(planned.name.clone()),
        )
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        MigrateError::Verify(migration_runner::deploy::error::VerifyError::DestructiveRefused)
    ));
    assert!(
        err.to_string().contains("forward-fix with a new migration"),
        "{err}"
    );
    assert!(announced.is_empty());
    assert_eq!(catalog_snapshot(&conn).await, before);

    let mut sql = Vec::new();
    let report = runner
        .down(
            &DownOptions {
                app_env: Some("production".into()),
                allow_destructive: true,
                ..DownOptions::default()
            },
            &mut |planned| sql.extend(planned.script.sql_lines()),
        )
        .await
        .unwrap();
    assert_eq!(report.rolled_back.len(), 1);
    assert_eq!(
        report.rolled_back[0].name,
        "m20261201_072208_vacancy_create_runtime_roles"
    );
    assert!(
        sql.iter().any(|s| s.contains("DROP ROLE IF EXISTS")),
        "the SQL is announced first: {sql:?}"
    );
    assert_eq!(
        scalar_i64(
            &conn,
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             CROSS JOIN LATERAL aclexplode(c.relacl) a \
             WHERE n.nspname = 'vacancy' AND a.grantee IN (SELECT oid FROM pg_roles WHERE rolname = 'vacancy_app')"
        )
        .await,
        0,
        "rolled back: vacancy_app holds nothing in this database"
    );
}

#[tokio::test]
async fn up_to_a_name_stops_there_and_unknown_names_are_refused() {
    let db = TestDatabase::create("operator_up_to");
    let runner = workspace_runner(&db).await;
    let report = runner
        .up(&UpOptions {
            to: Some("m20250103_000000_vacancy_create_schema".into()),
            ..UpOptions::default()
        })
        .await
        .unwrap();
    assert_eq!(report.applied.len(), 7);
    assert_eq!(
        report.applied.last().unwrap().name,
        "m20250103_000000_vacancy_create_schema"
    );
    let message = runner
        .up(&UpOptions {
            to: Some("m20250103_000000_vacancy_create_schemaa".into()),
            ..UpOptions::default()
        })
        .await
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("unknown migration `m20250103_000000_vacancy_create_schemaa`"),
        "{message}"
    );
}

#[tokio::test]
async fn resolve_applied_adopts_an_existing_database() {
    let db = TestDatabase::create("operator_baseline");
    let conn = connect(&db).await;
    let runner = workspace_runner(&db).await;
    // A database whose `core` tables were built before the runner managed it:
    // the objects exist, the history does not.
    runner
        .up(&UpOptions {
            to: Some("m20250101_000100_core_create_identity_tables".into()),
            ..UpOptions::default()
        })
        .await
        .unwrap();
    conn.execute_unprepared("DELETE FROM public.seaql_migrations")
        .await
        .unwrap();
    let message = runner
        .up(&UpOptions::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("m20250101_000100_core_create_identity_tables"),
        "{message}"
    );
    assert!(message.contains("already exists"), "{message}");

    // `CREATE SCHEMA IF NOT EXISTS` went through; the tables are what clash.
    assert_eq!(
        history_names(&conn).await,
        ["m20250101_000000_core_create_schema"]
    );
    runner
        .resolve(&Resolution::Applied(
            "m20250101_000100_core_create_identity_tables".into(),
        ))
        .await
        .unwrap();
    assert_eq!(
        scalar_text(&conn, "SELECT state || ' ' || note FROM public.seaql_migrations WHERE version = 'm20250101_000100_core_create_identity_tables'").await,
        "applied resolve --applied: marked applied without running it"
    );
    let inspection = runner.inspect().await.unwrap();
    assert_eq!(inspection.migrations[0].state, State::Applied);
    assert_eq!(inspection.migrations[1].state, State::Applied);
    assert_eq!(inspection.exit_code(), 1);
    let report = runner.up(&UpOptions::default()).await.unwrap();
    assert_eq!(
        report.applied.len(),
        runner.catalog().migrations().len() - 2
    );
    assert_eq!(runner.inspect().await.unwrap().exit_code(), 0);

    let again = runner
        .resolve(&Resolution::Applied(
            "m20250101_000000_core_create_schema".into(),
        ))
        .await
        .unwrap_err();
    assert!(again.to_string().contains("already applied"), "{again}");
    let not_failed = runner
        .resolve(&Resolution::RolledBack(
            "m20250101_000000_core_create_schema".into(),
        ))
        .await
        .unwrap_err();
    assert!(
        not_failed
            .to_string()
            .contains("only clears failed entries"),
        "{not_failed}"
    );
}

#[test]
fn migrate_new_writes_a_registered_file_with_a_fresh_timestamp() {
    let workspace =
        std::env::temp_dir().join(format!("scaffold-{}", uuid::Uuid::new_v4().simple()));
    let migrations = workspace.join("academy/src/migrations");
    std::fs::create_dir_all(&migrations).unwrap();
    let real =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../academy/src/migrations/mod.rs");
    std::fs::copy(&real, migrations.join("mod.rs")).unwrap();
    let catalog = Catalog::workspace(&schema_registry::workspace()).unwrap();

    let path = migration_dev::scaffold::new_migration(
        &catalog,
        &workspace,
        "academy",
        "Add webinar recordings!",
    )
    .unwrap();
    let file_name = path.file_stem().unwrap().to_string_lossy().into_owned();
    let parsed = migration_runner::name::parse(&file_name, catalog.schemas()).unwrap();
    assert_eq!(parsed.schema, "academy");
    assert_eq!(parsed.description, "add_webinar_recordings");
    assert!(
        parsed.timestamp.as_str() > "20251101_090000",
        "newer than every existing migration"
    );
    let body = std::fs::read_to_string(&path).unwrap();
    assert!(body.contains("#[derive(DeriveMigrationName)]"));
    let registry = std::fs::read_to_string(migrations.join("mod.rs")).unwrap();
    assert!(
        registry.contains(&format!("mod {file_name};")),
        "{registry}"
    );
    assert!(
        registry.contains(&format!("Box::new({file_name}::Migration),\n    ]")),
        "{registry}"
    );

    let unknown =
        migration_dev::scaffold::new_migration(&catalog, &workspace, "billing", "x").unwrap_err();
    assert!(
        unknown
            .to_string()
            .contains("unknown schema `billing`; known schemas: core, academy, talent, vacancy"),
        "{unknown}"
    );
    std::fs::remove_dir_all(&workspace).unwrap();
}

#[tokio::test]
async fn a_history_written_by_sea_orms_own_migrator_is_adopted() {
    let db = TestDatabase::create("operator_adopt_seaorm");
    let runner = workspace_runner(&db).await;
    runner
        .up(&UpOptions {
            to: Some("m20250102_000000_academy_create_schema".into()),
            ..UpOptions::default()
        })
        .await
        .unwrap();
    // What sea-orm-migration's `Migrator` leaves: only `version` and `applied_at`.
    let conn = connect(&db).await;
    conn.execute_unprepared(
        "CREATE TABLE legacy AS SELECT version, applied_at FROM public.seaql_migrations;
         DROP TABLE public.seaql_migrations;
         CREATE TABLE public.seaql_migrations (version varchar NOT NULL PRIMARY KEY, applied_at bigint NOT NULL);
         INSERT INTO public.seaql_migrations SELECT * FROM legacy; DROP TABLE legacy;",
    )
    .await
    .unwrap();
    let inspection = runner.inspect().await.unwrap();
    assert_eq!(
        inspection.applied_count(),
        3,
        "sea-orm's rows read as applied"
    );
    assert_eq!(inspection.exit_code(), 1);

    let report = runner.up(&UpOptions::default()).await.unwrap();
    assert_eq!(report.adopted, 3);
    assert_eq!(
        report.applied.len(),
        runner.catalog().migrations().len() - 3
    );
    assert_eq!(
        scalar_i64(
            &conn,
            "SELECT count(*) FROM public.seaql_migrations WHERE checksum = '' OR schema_name = ''"
        )
        .await,
        0
    );
    // From now on an edit of an adopted migration is caught like any other.
    conn.execute_unprepared("UPDATE public.seaql_migrations SET checksum = 'old' WHERE version = 'm20250101_000000_core_create_schema'")
        .await
        .unwrap();
    assert_eq!(runner.inspect().await.unwrap().exit_code(), 2);
}

#[tokio::test]
async fn down_keeps_a_schema_that_another_role_created_before_the_history() {
    let db = TestDatabase::create("down_keeps_schema");
    let conn = connect(&db).await;
    let other = format!(
        "schema_maker_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    // A DBA made `core` (empty) before the first deploy, as another role.
    conn.execute_unprepared(&format!(
        "CREATE ROLE {other} NOLOGIN; CREATE SCHEMA core AUTHORIZATION {other}; \
         GRANT USAGE, CREATE ON SCHEMA core TO postgres"
    ))
    .await
    .unwrap();
    let first = "m20250101_000000_core_create_schema";
    db.migrate(Some(first.to_owned())).await;
    let down = runner_binary(Some(&db.url), &["down", "--yes"], &[]);
    assert_eq!(down.status.code(), Some(0), "{}", all_output(&down));
    assert!(
        stdout(&down).contains("kept schema `core`"),
        "{}",
        stdout(&down)
    );
    assert_eq!(
        scalar_i64(
            &conn,
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'core'"
        )
        .await,
        1,
        "down dropped a schema the history did not create"
    );
    assert!(
        history_names(&conn).await.is_empty(),
        "the migration is rolled back"
    );

    // A schema the history did create is dropped by the same down.
    let fresh = TestDatabase::create("down_drops_own_schema");
    fresh.migrate(Some(first.to_owned())).await;
    let down = runner_binary(Some(&fresh.url), &["down", "--yes"], &[]);
    assert_eq!(down.status.code(), Some(0), "{}", all_output(&down));
    let fresh_conn = connect(&fresh).await;
    assert_eq!(
        scalar_i64(
            &fresh_conn,
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'core'"
        )
        .await,
        0
    );
    conn.execute_unprepared(&format!("DROP SCHEMA core; DROP ROLE {other}"))
        .await
        .unwrap();
}
