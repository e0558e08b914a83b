//! Runtime role names chosen per deployment (`--app-role-template`,
//! `--reporting-role-template`): the same privileges under other names, the
//! names recorded at first use and a different later choice refused, bad
//! templates rejected, and roles a DBA created beforehand used as they are.
//!
//! Roles belong to the cluster every test shares: each test uses templates
//! with a prefix of its own and drops its roles at the end.

use migration_dev::testing::TestDatabase;
use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait};

use crate::support::*;

/// The newest migration before the runtime roles'.
const BEFORE_ROLES: &str = "m20261201_070049_academy_make_webinar_capacity_not_null";

/// A prefix no other test uses.
fn prefix() -> String {
    format!("r{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

/// The environment that names the runtime roles by `app` and `reporting`.
fn template_env<'a>(app: &'a str, reporting: &'a str) -> [(&'static str, &'a str); 2] {
    [
        ("MIGRATION_APP_ROLE_TEMPLATE", app),
        ("MIGRATION_REPORTING_ROLE_TEMPLATE", reporting),
    ]
}

/// Drops every role named `<prefix>…` (this database's grants first).
async fn drop_roles(conn: &DatabaseConnection, prefix: &str) {
    conn.execute_unprepared(&format!(
        "DO $$ DECLARE r text; BEGIN \
           FOR r IN SELECT rolname FROM pg_roles WHERE rolname LIKE '{prefix}\\_%' LOOP \
             EXECUTE format('DROP OWNED BY %I', r); EXECUTE format('DROP ROLE %I', r); \
           END LOOP; END $$"
    ))
    .await
    .unwrap();
}

/// Every privilege the two roles of each schema hold on the owned schemas and
/// their tables, with the role written as `app:<schema>` / `reporting:<schema>`,
/// so databases deployed under different names compare equal.
async fn privileges(conn: &DatabaseConnection, app: &str, reporting: &str) -> Vec<String> {
    texts(
        conn,
        &format!(
            "WITH roles(kind, schema, name) AS (
               SELECT k.kind, s.schema, replace(k.template, '{{schema}}', s.schema)
                 FROM unnest(ARRAY['core', 'academy', 'talent', 'vacancy']) AS s(schema)
                 CROSS JOIN (VALUES ('app', '{app}'), ('reporting', '{reporting}')) AS k(kind, template))
             SELECT format('%s:%s %s on schema %s', r.kind, r.schema, p.p, n.nspname)
               FROM roles r CROSS JOIN pg_namespace n CROSS JOIN unnest(ARRAY['USAGE', 'CREATE']) AS p(p)
              WHERE n.nspname IN ('core', 'academy', 'talent', 'vacancy')
                AND has_schema_privilege(r.name, n.oid, p.p)
             UNION ALL
             SELECT format('%s:%s %s on %s.%s', r.kind, r.schema, p.p, n.nspname, c.relname)
               FROM roles r CROSS JOIN pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               CROSS JOIN unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) AS p(p)
              WHERE n.nspname IN ('core', 'academy', 'talent', 'vacancy') AND c.relkind = 'r'
                AND has_table_privilege(r.name, c.oid, p.p)
             ORDER BY 1"
        ),
    )
    .await
}

/// Whether `role` may run `sql` (as in the operations tests: `SET ROLE` in a
/// transaction that is rolled back).
async fn allowed(db: &DatabaseConnection, role: &str, sql: &str) -> bool {
    db.execute_unprepared("BEGIN").await.unwrap();
    db.execute_unprepared(&format!("SET LOCAL ROLE {role}"))
        .await
        .unwrap();
    let outcome = db.execute_unprepared(sql).await;
    db.execute_unprepared("ROLLBACK").await.unwrap();
    match outcome {
        Ok(_) => true,
        Err(err) => {
            let text = err.to_string();
            assert!(text.contains("permission denied"), "{sql}: {text}");
            false
        }
    }
}

#[tokio::test]
async fn custom_templates_name_roles_that_hold_exactly_what_the_default_ones_hold() {
    let prefix = prefix();
    let (app, reporting) = (
        format!("{prefix}_{{schema}}_rw"),
        format!("{prefix}_{{schema}}_ro"),
    );
    let db = TestDatabase::create("roles_custom");
    // One template by flag, the other from the environment.
    let up = runner_binary(
        Some(&db.url),
        &["up", "--app-role-template", &app],
        &[("MIGRATION_REPORTING_ROLE_TEMPLATE", &reporting)],
    );
    assert_eq!(up.status.code(), Some(0), "{}", all_output(&up));
    let conn = connect(&db).await;

    for schema in ["core", "academy", "talent", "vacancy"] {
        for role in [
            format!("{prefix}_{schema}_rw"),
            format!("{prefix}_{schema}_ro"),
        ] {
            assert_eq!(
                texts(
                    &conn,
                    &format!(
                        "SELECT format('%s login=%s super=%s', rolname, rolcanlogin::text, rolsuper::text) \
                           FROM pg_roles WHERE rolname = '{role}'"
                    ),
                )
                .await,
                [format!("{role} login=false super=false")]
            );
        }
    }
    assert_eq!(
        texts(
            &conn,
            "SELECT name || '=' || value FROM public.migration_settings ORDER BY name"
        )
        .await,
        [
            format!("app_role_template={app}"),
            format!("reporting_role_template={reporting}"),
        ]
    );

    // The same privileges as a deployment with the default names.
    let reference = TestDatabase::migrated("roles_reference").await;
    let expected = privileges(
        &connect(&reference).await,
        "{schema}_app",
        "{schema}_reporting",
    )
    .await;
    let actual = privileges(&conn, &app, &reporting).await;
    assert!(
        expected.contains(&"app:academy INSERT on academy.courses".to_owned()),
        "{expected:#?}"
    );
    assert!(
        expected.contains(&"reporting:academy SELECT on core.users".to_owned()),
        "{expected:#?}"
    );
    assert_eq!(actual, expected);

    // What that means, run as the roles.
    let session = migration_runner::connect(&db.url, "roles-test")
        .await
        .unwrap();
    let one = session.connection();
    let rw = format!("{prefix}_academy_rw");
    let ro = format!("{prefix}_academy_ro");
    assert!(allowed(one, &rw, "UPDATE academy.courses SET title = 'x'").await);
    assert!(allowed(one, &rw, "SELECT count(*) FROM core.users").await);
    assert!(!allowed(one, &rw, "UPDATE core.users SET display_name = 'x'").await);
    assert!(!allowed(one, &rw, "UPDATE talent.skills SET name = 'x'").await);
    assert!(!allowed(one, &rw, "UPDATE vacancy.employers SET name = 'x'").await);
    assert!(!allowed(one, &rw, "CREATE TABLE academy.sneaky (id int)").await);
    assert!(allowed(one, &ro, "SELECT count(*) FROM academy.courses").await);
    assert!(!allowed(one, &ro, "UPDATE academy.courses SET title = 'x'").await);
    session.close().await.unwrap();

    // `down` past the roles' migrations drops the roles by their names.
    let down = runner_binary(Some(&db.url), &["down", "--to", BEFORE_ROLES], &[]);
    assert_eq!(down.status.code(), Some(0), "{}", all_output(&down));
    assert_eq!(
        scalar_i64(
            &conn,
            &format!("SELECT count(*) FROM pg_roles WHERE rolname LIKE '{prefix}\\_%'")
        )
        .await,
        0
    );
    drop_roles(&conn, &prefix).await;
}

#[tokio::test]
async fn preflight_checks_the_grants_of_the_recorded_names_and_reports_drift_by_them() {
    let prefix = prefix();
    let app = format!("{prefix}_{{schema}}_rw");
    let reporting = format!("{prefix}_{{schema}}_ro");
    let db = TestDatabase::create("roles_preflight");
    let flags = [
        "--app-role-template",
        app.as_str(),
        "--reporting-role-template",
        reporting.as_str(),
    ];
    let up = runner_binary(Some(&db.url), &[&["up"], &flags[..]].concat(), &[]);
    assert_eq!(up.status.code(), Some(0), "{}", all_output(&up));

    // With the same flags, and without any (the recorded names are in force).
    for args in [&[&["preflight"], &flags[..]].concat(), &vec!["preflight"]] {
        let clean = runner_binary(Some(&db.url), args, &[]);
        assert_eq!(clean.status.code(), Some(0), "{}", all_output(&clean));
        assert!(
            stdout(&clean).contains("grants match"),
            "{}",
            stdout(&clean)
        );
    }

    let conn = connect(&db).await;
    let rw = format!("{prefix}_academy_rw");
    let ro = format!("{prefix}_talent_ro");
    conn.execute_unprepared(&format!(
        "REVOKE INSERT ON academy.courses FROM {rw}; GRANT INSERT ON talent.skills TO {ro}"
    ))
    .await
    .unwrap();
    let drifted = runner_binary(Some(&db.url), &["preflight"], &[]);
    assert_eq!(drifted.status.code(), Some(2), "{}", all_output(&drifted));
    let report = stdout(&drifted);
    for line in [
        format!(
            "`{rw}` lacks INSERT on table academy.courses: GRANT INSERT ON academy.courses TO {rw};"
        ),
        format!(
            "`{ro}` has INSERT on table talent.skills, which no migration grants: REVOKE INSERT ON talent.skills FROM {ro};"
        ),
    ] {
        assert!(report.contains(&line), "{line}\n{report}");
    }
    assert!(
        report.contains("2 grant(s) differ"),
        "only the two changes are reported:\n{report}"
    );
    drop_roles(&conn, &prefix).await;
}

#[tokio::test]
async fn a_later_run_with_other_templates_is_refused_and_changes_nothing() {
    let prefix = prefix();
    let first = format!("{prefix}_{{schema}}_rw");
    let other = format!("{prefix}_other_{{schema}}_rw");
    let db = TestDatabase::create("roles_changed");
    // The templates are recorded by the first `up`, before any role exists.
    let up = runner_binary(
        Some(&db.url),
        &["up", "--to", BEFORE_ROLES],
        &[("MIGRATION_APP_ROLE_TEMPLATE", &first)],
    );
    assert_eq!(up.status.code(), Some(0), "{}", all_output(&up));
    let conn = connect(&db).await;
    let history = history_names(&conn).await;

    for command in [&["up"][..], &["preflight"], &["plan"]] {
        let refused = runner_binary(
            Some(&db.url),
            command,
            &[("MIGRATION_APP_ROLE_TEMPLATE", &other)],
        );
        assert_eq!(refused.status.code(), Some(2), "{}", all_output(&refused));
        let message = stderr(&refused);
        assert!(
            message.contains(&format!(
                "this database's runtime roles are named by the template `{first}`"
            )) && message.contains(&format!("this run gives `{other}`"))
                && message.contains("--app-role-template / MIGRATION_APP_ROLE_TEMPLATE")
                && message.contains("docs/RUNBOOK.md"),
            "{message}"
        );
    }
    assert_eq!(history_names(&conn).await, history);
    assert_eq!(
        scalar_i64(
            &conn,
            &format!("SELECT count(*) FROM pg_roles WHERE rolname LIKE '{prefix}\\_%'")
        )
        .await,
        0
    );
    assert_eq!(
        scalar_text(
            &conn,
            "SELECT value FROM public.migration_settings WHERE name = 'app_role_template'"
        )
        .await,
        first
    );

    // Without the flag the recorded templates apply.
    let up = runner_binary(Some(&db.url), &["up"], &[]);
    assert_eq!(up.status.code(), Some(0), "{}", all_output(&up));
    assert_eq!(
        texts(
            &conn,
            &format!(
                "SELECT rolname::text FROM pg_roles WHERE rolname LIKE '{prefix}\\_%' ORDER BY 1"
            )
        )
        .await,
        [
            format!("{prefix}_academy_rw"),
            format!("{prefix}_core_rw"),
            format!("{prefix}_talent_rw"),
            format!("{prefix}_vacancy_rw"),
        ]
    );
    drop_roles(&conn, &prefix).await;
}

#[tokio::test]
async fn a_bad_template_is_a_usage_error_naming_the_flag_and_the_fix() {
    let db = TestDatabase::create("roles_bad_template");
    let long = format!("{}_{{schema}}", "x".repeat(60));
    for (args, env, problem) in [
        (
            vec!["up", "--app-role-template", "acme_rw"],
            vec![],
            "must contain `{schema}`",
        ),
        (
            vec!["preflight"],
            vec![("MIGRATION_REPORTING_ROLE_TEMPLATE", "pg_{schema}")],
            "reserves names starting with `pg_`",
        ),
        (
            vec!["up", "--app-role-template", &long],
            vec![],
            "PostgreSQL names are at most 63",
        ),
        (
            vec!["up", "--app-role-template", "Acme-{schema}"],
            vec![],
            "is not allowed in a role name",
        ),
    ] {
        let output = runner_binary(Some(&db.url), &args, &env);
        assert_eq!(output.status.code(), Some(64), "{}", all_output(&output));
        let message = stderr(&output);
        let (flag, variable) = if env.is_empty() {
            ("--app-role-template", "MIGRATION_APP_ROLE_TEMPLATE")
        } else {
            (
                "--reporting-role-template",
                "MIGRATION_REPORTING_ROLE_TEMPLATE",
            )
        };
        assert!(
            message.contains(problem)
                && message.contains(flag)
                && message.contains(variable)
                && message.contains("e.g. `acme_{schema}_rw`"),
            "{message}"
        );
    }
    let conn = connect(&db).await;
    assert_eq!(
        scalar_i64(
            &conn,
            "SELECT count(*) FROM pg_class WHERE relname IN ('seaql_migrations', 'migration_settings')"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn roles_a_dba_created_beforehand_need_no_createrole() {
    let prefix = prefix();
    let app = format!("{prefix}_{{schema}}_rw");
    let reporting = format!("{prefix}_{{schema}}_ro");
    let db = TestDatabase::create("roles_precreated");
    let admin = connect(&db).await;
    let deployer = format!("{prefix}_deployer");
    admin
        .execute_unprepared(&format!(
            "CREATE ROLE {deployer} LOGIN PASSWORD 'deploy-pw' NOCREATEROLE; \
             GRANT CREATE ON DATABASE {db} TO {deployer}; GRANT CREATE ON SCHEMA public TO {deployer}",
            db = db.name
        ))
        .await
        .unwrap();
    let as_deployer = db.url_as(&deployer, "deploy-pw");
    let env = template_env(&app, &reporting);

    // Without the roles, preflight asks for CREATEROLE, naming them.
    let missing = runner_binary(Some(&as_deployer), &["preflight"], &env);
    assert_eq!(missing.status.code(), Some(2), "{}", all_output(&missing));
    assert!(
        stdout(&missing).contains(&format!("`{prefix}_academy_rw`"))
            && stdout(&missing).contains(&format!("ALTER ROLE {deployer} CREATEROLE;")),
        "{}",
        stdout(&missing)
    );

    for schema in ["core", "academy", "talent", "vacancy"] {
        admin
            .execute_unprepared(&format!(
                "CREATE ROLE {prefix}_{schema}_rw NOLOGIN; CREATE ROLE {prefix}_{schema}_ro NOLOGIN"
            ))
            .await
            .unwrap();
    }
    let preflight = runner_binary(Some(&as_deployer), &["preflight"], &env);
    assert_eq!(
        preflight.status.code(),
        Some(0),
        "{}",
        all_output(&preflight)
    );
    let up = runner_binary(Some(&as_deployer), &["up"], &env);
    assert_eq!(up.status.code(), Some(0), "{}", all_output(&up));
    assert_eq!(
        scalar_text(
            &admin,
            &format!(
                "SELECT has_table_privilege('{prefix}_academy_rw', 'academy.courses', 'INSERT')::text \
                 || has_table_privilege('{prefix}_academy_ro', 'academy.courses', 'INSERT')::text"
            )
        )
        .await,
        "truefalse"
    );
    let clean = runner_binary(Some(&as_deployer), &["preflight"], &[]);
    assert_eq!(clean.status.code(), Some(0), "{}", all_output(&clean));

    admin
        .execute_unprepared(&format!(
            "REASSIGN OWNED BY {deployer} TO postgres; DROP OWNED BY {deployer}"
        ))
        .await
        .unwrap();
    drop_roles(&admin, &prefix).await;
}

/// The RUNBOOK's "Renaming the runtime roles", step by step.
#[tokio::test]
async fn renaming_the_roles_as_the_runbook_says_passes_preflight_under_the_new_names() {
    let prefix = prefix();
    let old = format!("{prefix}_{{schema}}_app");
    let new = format!("{prefix}_{{schema}}_rw");
    let db = TestDatabase::create("roles_rename");
    let up = runner_binary(Some(&db.url), &["up", "--app-role-template", &old], &[]);
    assert_eq!(up.status.code(), Some(0), "{}", all_output(&up));
    let conn = connect(&db).await;
    for schema in ["core", "academy", "talent", "vacancy"] {
        conn.execute_unprepared(&format!(
            "ALTER ROLE {prefix}_{schema}_app RENAME TO {prefix}_{schema}_rw"
        ))
        .await
        .unwrap();
    }
    conn.execute_unprepared(&format!(
        "UPDATE public.migration_settings SET value = '{new}', recorded_at = now(), recorded_by = current_user \
          WHERE name = 'app_role_template'"
    ))
    .await
    .unwrap();
    let preflight = runner_binary(
        Some(&db.url),
        &["preflight", "--app-role-template", &new],
        &[],
    );
    assert_eq!(
        preflight.status.code(),
        Some(0),
        "{}",
        all_output(&preflight)
    );
    assert!(
        stdout(&preflight).contains("grants match"),
        "{}",
        stdout(&preflight)
    );
    let refused = runner_binary(Some(&db.url), &["up", "--app-role-template", &old], &[]);
    assert_eq!(refused.status.code(), Some(2), "{}", all_output(&refused));
    drop_roles(&conn, &prefix).await;
}

/// Roles belong to the server: a `down` in another database may drop a role
/// between a deploy's check that it exists and its first grant to it. The
/// deploy creates the role again rather than failing with "role … was
/// concurrently dropped" (seen when parallel tests shared the default names).
#[tokio::test]
async fn a_role_another_database_drops_mid_deploy_is_created_again() {
    let prefix = prefix();
    let (app, reporting) = (
        format!("{prefix}_{{schema}}_app"),
        format!("{prefix}_{{schema}}_reporting"),
    );
    let templates = template_env(&app, &reporting);
    let db = TestDatabase::create("roles_dropped_mid_deploy");
    let before = runner_binary(Some(&db.url), &["up", "--to", BEFORE_ROLES], &templates);
    assert_eq!(before.status.code(), Some(0), "{}", all_output(&before));

    // Another database's session drops `core`'s app role and has not
    // committed yet: the deploy sees the role, skips creating it, and waits
    // on it at its first grant.
    let other = TestDatabase::create("roles_dropper");
    let dropper = connect(&other).await;
    let core_app = format!("{prefix}_core_app");
    dropper
        .execute_unprepared(&format!(
            "CREATE ROLE {core_app} NOLOGIN; CREATE ROLE {prefix}_core_reporting NOLOGIN"
        ))
        .await
        .unwrap();
    let dropping = dropper.begin().await.unwrap();
    dropping
        .execute_unprepared(&format!("DROP ROLE {core_app}"))
        .await
        .unwrap();
    let child = runner_command(
        Some(&db.url),
        &["up", "--ddl-lock-timeout", "120"],
        &templates,
    )
    .spawn()
    .unwrap();
    let watcher = connect(&other).await;
    wait_until(
        &watcher,
        &format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' \
               AND application_name = 'migration-runner' AND wait_event_type = 'Lock'",
            db.name
        ),
        "the deploy never waited on the role being dropped",
    )
    .await;
    dropping.commit().await.unwrap();

    let up = child.wait_with_output().unwrap();
    assert_eq!(up.status.code(), Some(0), "{}", all_output(&up));
    let conn = connect(&db).await;
    assert_eq!(
        texts(
            &conn,
            &format!(
                "SELECT format('%s usage=%s select=%s', rolname, \
                   has_schema_privilege(rolname, 'core', 'USAGE')::text, \
                   has_table_privilege(rolname, 'core.users', 'SELECT')::text) \
                   FROM pg_roles WHERE rolname = '{core_app}'"
            ),
        )
        .await,
        [format!("{core_app} usage=true select=true")]
    );
    drop_roles(&conn, &prefix).await;
}

/// `plan` is SQL a DBA may review and apply by hand: before the runtime-roles
/// migrations it sets the name templates in force, so applied by hand it
/// names the roles as `up` would (without them the roles would get the
/// default names).
#[tokio::test]
async fn the_plan_applied_by_hand_names_the_roles_as_up_would() {
    let prefix = prefix();
    let (app, reporting) = (
        format!("{prefix}_{{schema}}_rw"),
        format!("{prefix}_{{schema}}_ro"),
    );
    let db = TestDatabase::create("roles_plan_by_hand");
    let plan = runner_binary(Some(&db.url), &["plan"], &template_env(&app, &reporting));
    assert_eq!(plan.status.code(), Some(0), "{}", all_output(&plan));
    let sql = stdout(&plan);
    assert!(
        sql.contains(&format!(
            "SET migration_runner.app_role_template = '{app}';\n\
             SET migration_runner.reporting_role_template = '{reporting}';\n"
        )),
        "{sql}"
    );

    let conn = connect(&db).await;
    conn.execute_unprepared(&sql).await.unwrap();
    assert_eq!(
        texts(
            &conn,
            &format!(
                "SELECT rolname FROM pg_roles WHERE rolname LIKE '{prefix}\\_%' ORDER BY rolname"
            ),
        )
        .await,
        ["academy", "core", "talent", "vacancy"]
            .iter()
            .flat_map(|schema| [
                format!("{prefix}_{schema}_ro"),
                format!("{prefix}_{schema}_rw")
            ])
            .collect::<Vec<_>>()
    );
    assert_eq!(
        scalar_i64(
            &conn,
            "SELECT count(*) FROM pg_roles WHERE rolname = 'academy_app' \
               AND has_table_privilege(rolname, 'academy.courses', 'INSERT')",
        )
        .await,
        0,
        "the default-named role got this database's grants"
    );
    assert_eq!(
        texts(
            &conn,
            &format!(
                "SELECT has_table_privilege('{prefix}_academy_rw', 'academy.courses', 'INSERT')::text"
            ),
        )
        .await,
        ["true"]
    );
    drop_roles(&conn, &prefix).await;
}
