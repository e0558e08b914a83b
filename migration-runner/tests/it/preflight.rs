//! The privilege preflight: every missing grant at once, with its fix; a
//! role that has what it needs passes and deploys.

use migration_dev::testing::TestDatabase;
use migration_runner::{MigrateError, UpOptions};
use sea_orm::ConnectionTrait;

use crate::support::*;

struct Role {
    name: String,
    password: String,
}

async fn create_role(conn: &sea_orm::DatabaseConnection, prefix: &str) -> Role {
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let role = Role {
        name: format!("{prefix}_{suffix}"),
        password: format!("pw-{suffix}"),
    };
    conn.execute_unprepared(&format!(
        "CREATE ROLE {} LOGIN PASSWORD '{}'",
        role.name, role.password
    ))
    .await
    .unwrap();
    role
}

async fn drop_role(db: &TestDatabase, role: &Role) {
    let conn = connect(db).await;
    conn.execute_unprepared(&format!(
        "REASSIGN OWNED BY {0} TO postgres; DROP OWNED BY {0}; DROP ROLE {0}",
        role.name
    ))
    .await
    .unwrap();
}

#[tokio::test]
async fn a_role_without_privileges_gets_every_missing_grant_then_passes() {
    let db = TestDatabase::create("preflight_fresh");
    let admin = connect(&db).await;
    let role = create_role(&admin, "deployer").await;
    let as_role = TestDatabase::url_as(&db, &role.name, &role.password);
    // Runtime role names no other test uses: the server has none of them, so
    // the migrations must create them (roles belong to the cluster the tests share).
    let options = migration_runner::RunnerOptions {
        role_templates: migration_runner::roles::role_names::ConfiguredTemplates {
            app: Some(format!("{}_{{schema}}_rw", role.name)),
            reporting: Some(format!("{}_{{schema}}_ro", role.name)),
        },
        ..Default::default()
    };
    let role_runner = || async {
        let catalog = migration_runner::Catalog::workspace(&schema_registry::workspace()).unwrap();
        let conn = migration_runner::connect(&as_role, "preflight-test")
            .await
            .unwrap();
        migration_runner::Runner::new(conn, catalog, options.clone())
            .await
            .unwrap()
    };

    let report = role_runner().await.preflight().await.unwrap();
    assert!(!report.superuser);
    let fixes: Vec<&str> = report.missing.iter().map(|m| m.fix.as_str()).collect();
    assert_eq!(
        fixes,
        [
            format!("GRANT CREATE ON DATABASE {} TO {};", db.name, role.name),
            format!("GRANT CREATE ON SCHEMA public TO {};", role.name),
            format!("ALTER ROLE {} CREATEROLE;", role.name),
        ],
        "{:#?}",
        report.missing
    );
    assert_eq!(
        report.missing[0].what,
        format!(
            "CREATE on database `{}` (schema `academy`, `core`, `talent`, `vacancy` must be created)",
            db.name
        )
    );
    assert_eq!(
        report.missing[1].what,
        "CREATE on schema `public` (the history table must be created)"
    );

    // `up` runs the preflight first and applies nothing.
    let err = role_runner()
        .await
        .up(&UpOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, MigrateError::Verify(migration_runner::deploy::error::VerifyError::Preflight(ref lines)) if lines.len() == 3),
        "{err}"
    );
    assert!(
        err.to_string().contains("GRANT CREATE ON SCHEMA public"),
        "{err}"
    );
    assert_eq!(
        scalar_i64(
            &admin,
            "SELECT count(*) FROM pg_namespace WHERE nspname IN ('core','academy')"
        )
        .await,
        0
    );

    admin
        .execute_unprepared(&format!(
            "GRANT CREATE ON DATABASE {db} TO {role}; GRANT CREATE ON SCHEMA public TO {role}; \
             ALTER ROLE {role} CREATEROLE;",
            db = db.name,
            role = role.name
        ))
        .await
        .unwrap();
    let report = role_runner().await.preflight().await.unwrap();
    assert!(report.missing.is_empty(), "{:#?}", report.missing);
    let applied = role_runner().await.up(&UpOptions::default()).await.unwrap();
    assert_eq!(
        applied.applied.len(),
        migration_runner::Catalog::workspace(&schema_registry::workspace())
            .unwrap()
            .migrations()
            .len()
    );
    drop(admin);
    drop_role(&db, &role).await;
    let conn = connect(&db).await;
    for schema in ["core", "academy", "talent", "vacancy"] {
        conn.execute_unprepared(&format!(
            "DROP OWNED BY {0}_{schema}_rw, {0}_{schema}_ro; DROP ROLE {0}_{schema}_rw, {0}_{schema}_ro",
            role.name
        ))
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn altering_a_table_owned_by_someone_else_needs_its_ownership() {
    let db = TestDatabase::create("preflight_owner");
    workspace_runner(&db)
        .await
        .up(&UpOptions::default())
        .await
        .unwrap();
    let admin = connect(&db).await;
    let role = create_role(&admin, "app_deployer").await;
    admin
        .execute_unprepared(&format!(
            "GRANT USAGE, CREATE ON SCHEMA core, academy, talent, vacancy TO {0}; \
             GRANT SELECT ON public.seaql_migrations TO {0};",
            role.name
        ))
        .await
        .unwrap();
    let pending = SqlMigration::new(
        "m20990101_000000_academy_add_course_reviewer",
        &[
            "ALTER TABLE academy.courses ADD COLUMN reviewer_id uuid",
            "ALTER TABLE academy.courses ADD CONSTRAINT courses_reviewer_id_fkey FOREIGN KEY (reviewer_id) REFERENCES core.users (id)",
            "CREATE TABLE academy.course_notes (id uuid PRIMARY KEY)",
        ],
        &[
            "DROP TABLE academy.course_notes",
            "ALTER TABLE academy.courses DROP COLUMN reviewer_id",
        ],
    );
    let catalog =
        migration_runner::Catalog::new(workspace_plus(vec![("academy", Box::new(pending))]))
            .unwrap();
    let conn = migration_runner::connect(&db.url_as(&role.name, &role.password), "preflight-test")
        .await
        .unwrap();
    let runner = migration_runner::Runner::new(conn, catalog, Default::default())
        .await
        .unwrap();

    let report = runner.preflight().await.unwrap();
    let whats: Vec<&str> = report.missing.iter().map(|m| m.what.as_str()).collect();
    assert_eq!(whats.len(), 3, "{whats:#?}");
    assert_eq!(
        whats[0],
        "read and write access to the history table `public.seaql_migrations`"
    );
    assert!(
        whats[1].starts_with("ownership of table `academy.courses` (owned by `postgres`)"),
        "{}",
        whats[1]
    );
    assert_eq!(
        whats[2],
        "REFERENCES on table `core.users` (a pending migration adds a foreign key to it)"
    );
    // The owner is a superuser: membership in it would hand over superuser,
    // so only the ownership transfer is suggested.
    assert_eq!(
        report.missing[1].fix,
        format!("ALTER TABLE academy.courses OWNER TO {};", role.name)
    );
    assert!(
        report
            .missing
            .iter()
            .all(|m| !m.fix.contains("GRANT postgres")),
        "{:#?}",
        report.missing
    );

    // Running exactly the printed fixes makes the preflight pass.
    for missing in &report.missing {
        let statement = missing.fix.split("  --").next().unwrap();
        admin.execute_unprepared(statement).await.unwrap();
    }
    let report = runner.preflight().await.unwrap();
    assert!(report.missing.is_empty(), "{:#?}", report.missing);
    assert_eq!(
        runner
            .up(&UpOptions::default())
            .await
            .unwrap()
            .applied
            .len(),
        1
    );
    drop(runner);
    drop_role(&db, &role).await;
}

#[tokio::test]
async fn a_role_that_cannot_read_a_backfills_table_gets_that_grant_with_every_other_in_one_round() {
    let db = TestDatabase::create("preflight_backfill_table");
    // Up to the nullable capacity: the contract migration (and what follows) is pending.
    db.migrate(Some(
        "m20251008_120000_academy_add_webinar_capacity".to_owned(),
    ))
    .await;
    let admin = connect(&db).await;
    admin
        .execute_unprepared(
            "INSERT INTO core.users (id, email, display_name) VALUES (md5('h')::uuid, 'h@example.com', 'H');
             INSERT INTO academy.webinars (id, slug, title, host_id, starts_at)
                  SELECT md5('w' || g)::uuid, 'w' || g, 'W', md5('h')::uuid, now() FROM generate_series(1, 5) g;",
        )
        .await
        .unwrap();
    let role = create_role(&admin, "deployer_bf").await;
    admin
        .execute_unprepared(&format!(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON public.seaql_migrations, public.seaql_migrations_digest TO {0};
             GRANT USAGE ON SCHEMA core, academy, talent, vacancy TO {0};",
            role.name
        ))
        .await
        .unwrap();
    let as_role = TestDatabase::url_as(&db, &role.name, &role.password);
    let output = runner_binary(Some(&as_role), &["preflight"], &[]);
    let text = all_output(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(
        !text.contains("cannot use the backfill tables"),
        "blames the backfill tables: {text}"
    );
    let wanted = format!("GRANT SELECT ON academy.webinars TO {};", role.name);
    assert!(text.contains(&wanted), "{wanted}\n{text}");
    // The other fixes come in the same round: the table the contract alters is not the role's.
    assert!(
        text.contains(&format!(
            "ALTER TABLE academy.webinars OWNER TO {};",
            role.name
        )),
        "{text}"
    );
    let json = runner_binary(Some(&as_role), &["preflight", "--json"], &[]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    let fixes: Vec<&str> = report["missing"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["fix"].as_str())
        .collect();
    assert!(fixes.contains(&wanted.as_str()), "{fixes:?}");
    assert!(
        fixes.len() > 2,
        "every missing privilege at once: {fixes:?}"
    );

    // Granted exactly what it said: that line is gone, the others stay.
    admin
        .execute_unprepared(&format!(
            "GRANT SELECT ON academy.webinars TO {};",
            role.name
        ))
        .await
        .unwrap();
    let again = runner_binary(Some(&as_role), &["preflight", "--json"], &[]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&again)).unwrap();
    let after: Vec<&str> = report["missing"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["fix"].as_str())
        .collect();
    assert!(!after.contains(&wanted.as_str()), "{after:?}");
    assert_eq!(after.len(), fixes.len() - 1, "{fixes:?} then {after:?}");
    drop_role(&db, &role).await;
}
