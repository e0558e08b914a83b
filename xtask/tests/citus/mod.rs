//! The workspace on a real Citus cluster (a coordinator and two workers the
//! tests start from the installed binaries, `target/citus-test`), driven as
//! deployers drive it: `cargo xtask` with `DATABASE_URL` set to the
//! coordinator. Built only with `--features citus-tests` (the README's Citus
//! test command); without Citus installed every test fails saying how to
//! install it.

use std::path::Path;

use migration_dev::testing::{CitusTestDatabase, scalar_i64, texts};
use sea_orm::DatabaseConnection;

use super::{Scratch, text, xtask};

const APP_SCHEMAS: [&str; 3] = ["academy", "talent", "vacancy"];

fn run(cwd: &Path, db: &CitusTestDatabase, args: &[&str]) -> (i32, String) {
    let output = xtask(cwd, args, &[("DATABASE_URL", &db.url)]);
    (output.status.code().unwrap_or(-1), text(&output))
}

async fn connect(url: &str) -> DatabaseConnection {
    migration_runner::connect(url, "citus-test")
        .await
        .unwrap()
        .connection()
        .clone()
}

/// Asserts every `core` table is a reference table and every app schema a
/// distributed schema holding its tables, read from Citus's own metadata.
async fn assert_placed(conn: &DatabaseConnection) {
    let core_tables = texts(
        conn,
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'core' AND c.relkind = 'r' ORDER BY 1",
    )
    .await;
    assert!(core_tables.len() >= 5, "{core_tables:?}");
    let reference = texts(
        conn,
        "SELECT c.relname::text FROM pg_dist_partition p JOIN pg_class c ON c.oid = p.logicalrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'core' AND p.partmethod = 'n' AND p.repmodel = 't' ORDER BY 1",
    )
    .await;
    assert_eq!(
        reference, core_tables,
        "every core table is a reference table"
    );
    let distributed = texts(
        conn,
        "SELECT n.nspname::text FROM pg_dist_schema d JOIN pg_namespace n ON n.oid = d.schemaid ORDER BY 1",
    )
    .await;
    assert_eq!(distributed, APP_SCHEMAS, "every app schema is distributed");
    // Each app table belongs to its schema's colocation group (one shard, one node).
    let misplaced = scalar_i64(
        conn,
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_dist_schema d ON d.schemaid = n.oid \
         LEFT JOIN pg_dist_partition p ON p.logicalrelid = c.oid \
         WHERE c.relkind = 'r' AND (p.colocationid IS DISTINCT FROM d.colocationid)",
    )
    .await;
    assert_eq!(misplaced, 0, "an app table outside its schema's group");
    // What the runner did is recorded beside the history.
    let recorded = scalar_i64(conn, "SELECT count(*) FROM public.seaql_migrations_citus").await;
    assert_eq!(recorded as usize, core_tables.len() + APP_SCHEMAS.len());
}

#[tokio::test]
async fn fresh_migrate_and_seed_place_core_as_reference_tables_and_distribute_app_schemas() {
    let scratch = Scratch::new("citus-fresh");
    let db = CitusTestDatabase::create("citus_fresh");

    let (code, out) = run(&scratch.0, &db, &["migrate", "plan"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("SELECT create_reference_table('core.users');"),
        "{out}"
    );
    assert!(
        out.contains("at the end of the run: SELECT citus_schema_distribute('academy');"),
        "{out}"
    );

    let (code, out) = run(&scratch.0, &db, &["migrate"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("now a distributed schema"), "{out}");
    let conn = connect(&db.url).await;
    assert_placed(&conn).await;
    // The migrations' checksums are the ones plain PostgreSQL records: the
    // sum file's (the runner's placement steps are not part of any script).
    let sum = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../migration-runner/migrations.sum"),
    )
    .unwrap();
    let expected: Vec<String> = sum
        .lines()
        .filter(|line| line.starts_with('m'))
        .map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            format!("{} {}", fields[0], fields[2])
        })
        .collect();
    let recorded = texts(
        &conn,
        "SELECT version || ' ' || checksum FROM public.seaql_migrations ORDER BY version",
    )
    .await;
    assert_eq!(recorded, expected);
    // The history stays a local table on the coordinator.
    let history_placed = scalar_i64(
        &conn,
        "SELECT count(*) FROM pg_dist_partition WHERE logicalrelid = 'public.seaql_migrations'::regclass",
    )
    .await;
    assert_eq!(history_placed, 0);

    let (code, out) = run(&scratch.0, &db, &["seed"]);
    assert_eq!(code, 0, "{out}");
    for table in [
        "core.users",
        "academy.courses",
        "talent.profiles",
        "vacancy.applications",
    ] {
        let rows = scalar_i64(&conn, &format!("SELECT count(*) FROM {table}")).await;
        assert!(rows > 0, "{table} is empty after seeding");
    }
    // Seeding again changes nothing.
    let (code, out) = run(&scratch.0, &db, &["seed"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("(0 inserted, 0 updated"), "{out}");

    let (code, out) = run(&scratch.0, &db, &["migrate"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("nothing to apply"), "{out}");
    let (code, out) = run(&scratch.0, &db, &["migrate", "status"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = run(&scratch.0, &db, &["migrate", "drift"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("no drift"), "{out}");
    let (code, out) = run(&scratch.0, &db, &["migrate", "preflight"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("every app schema is distributed"), "{out}");

    // Placement changed by hand is drift; `migrate` puts it back.
    sea_orm::ConnectionTrait::execute_unprepared(
        &conn,
        "SELECT citus_schema_undistribute('talent')",
    )
    .await
    .unwrap();
    let (code, out) = run(&scratch.0, &db, &["migrate", "drift"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("schema `talent` should be distributed: it is not"),
        "{out}"
    );
    let (code, out) = run(&scratch.0, &db, &["migrate"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("nothing to apply"), "{out}");
    assert!(out.contains("talent"), "{out}");
    assert_placed(&conn).await;
    let (code, out) = run(&scratch.0, &db, &["migrate", "drift"]);
    assert_eq!(code, 0, "{out}");
}

#[tokio::test]
async fn a_key_to_core_users_is_enforced_on_the_worker_holding_the_shard() {
    let scratch = Scratch::new("citus-fk");
    let db = CitusTestDatabase::create("citus_fk");
    let (code, out) = run(&scratch.0, &db, &["migrate"]);
    assert_eq!(code, 0, "{out}");
    let conn = connect(&db.url).await;
    // The one shard of academy.courses, and the worker that holds it.
    let placement = texts(
        &conn,
        "SELECT format('%s|%s', nodeport, shard_name) FROM citus_shards \
         WHERE table_name = 'academy.courses'::regclass",
    )
    .await;
    assert_eq!(placement.len(), 1, "{placement:?}");
    let (port, shard) = placement[0].split_once('|').unwrap();
    let worker = (0..2)
        .find(|i| db.worker_url(*i).contains(&format!(":{port}/")))
        .expect("the shard is on one of the two workers");
    let on_worker = connect(&db.worker_url(worker)).await;
    let columns = texts(
        &on_worker,
        "SELECT column_name::text FROM information_schema.columns \
         WHERE table_schema = 'academy' AND table_name = 'courses' ORDER BY ordinal_position",
    )
    .await;
    assert!(columns.iter().any(|c| c == "instructor_id"), "{columns:?}");
    // On the worker, straight into the shard: the key to the reference table holds.
    let insert = format!(
        "INSERT INTO {shard} (id, slug, title, instructor_id) \
         VALUES (gen_random_uuid(), 'x', 'x', gen_random_uuid())"
    );
    let refused = sea_orm::ConnectionTrait::execute_unprepared(&on_worker, &insert)
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("foreign key"), "{refused}");
    // Through the coordinator too.
    let refused = sea_orm::ConnectionTrait::execute_unprepared(
        &conn,
        "INSERT INTO academy.courses (id, slug, title, instructor_id) \
         VALUES (gen_random_uuid(), 'x', 'x', gen_random_uuid())",
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(refused.contains("foreign key"), "{refused}");
}

#[tokio::test]
async fn a_cross_schema_key_is_reported_before_deploy_with_its_alternatives() {
    let scratch = Scratch::new("citus-cross");
    let db = CitusTestDatabase::create("citus_cross");
    // Up to the migration before the one that drops vacancy -> talent: the
    // key would still be there at the end of the run, so nothing is applied.
    let before_fix = "m20261201_072208_vacancy_create_runtime_roles";
    for args in [
        vec!["migrate", "up", "--to", before_fix],
        vec!["migrate", "up", "--to", before_fix, "--dry-run"],
    ] {
        let (code, out) = run(&scratch.0, &db, &args);
        assert_eq!(code, 2, "{out}");
        for needle in [
            "applications_profile_id_fkey",
            "`vacancy.applications` to `talent.profiles`",
            "m20251101_090000_vacancy_link_applications_to_talent_profiles",
            "core.users",
            "keep the two tables in one schema",
            "check it in the application",
            "nothing was applied",
        ] {
            assert!(out.contains(needle), "`{needle}` missing from: {out}");
        }
    }
    let conn = connect(&db.url).await;
    let history = texts(
        &conn,
        "SELECT coalesce(to_regclass('public.seaql_migrations')::text, 'absent')",
    )
    .await;
    assert_eq!(history, ["absent"], "nothing was written");
    let schemas = scalar_i64(
        &conn,
        "SELECT count(*) FROM pg_namespace WHERE nspname IN ('core', 'academy', 'talent', 'vacancy')",
    )
    .await;
    assert_eq!(schemas, 0);
    // The whole history, which drops the key, deploys.
    let (code, out) = run(&scratch.0, &db, &["migrate"]);
    assert_eq!(code, 0, "{out}");
    assert_placed(&conn).await;
    // The linter knows a later migration drops the key: the history passes
    // `lint --citus` (it reads the workspace, not the database).
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let (code, out) = run(&workspace, &db, &["migrate", "lint", "--citus"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("m20261201_102900_vacancy_unlink_applications_from_talent_profiles"),
        "{out}"
    );
}

#[tokio::test]
async fn concurrent_deploys_stay_exactly_once() {
    let scratch = Scratch::new("citus-concurrent");
    let db = CitusTestDatabase::create("citus_concurrent");
    let binary = env!("CARGO_BIN_EXE_xtask");
    let children: Vec<_> = (0..4)
        .map(|_| {
            std::process::Command::new(binary)
                .args(["migrate"])
                .current_dir(&scratch.0)
                .env("DATABASE_URL", &db.url)
                .env("CARGO_TARGET_DIR", scratch.target())
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<_> = children
        .into_iter()
        .map(|child| child.wait_with_output().unwrap())
        .collect();
    for output in &outputs {
        assert_eq!(output.status.code(), Some(0), "{}", text(output));
    }
    let applied_runs = outputs
        .iter()
        .filter(|output| text(output).contains("applied 20 migration(s)"))
        .count();
    assert_eq!(applied_runs, 1, "exactly one run applies the history");
    let conn = connect(&db.url).await;
    let rows = scalar_i64(&conn, "SELECT count(*) FROM public.seaql_migrations").await;
    let distinct = scalar_i64(
        &conn,
        "SELECT count(DISTINCT version) FROM public.seaql_migrations WHERE state = 'applied'",
    )
    .await;
    assert_eq!((rows, distinct), (20, 20));
    assert_placed(&conn).await;
}

/// A backfill runs on the distributed schema, batch by batch through the
/// coordinator; and once the app schemas are distributed, a pending migration
/// that would add a key between them is refused before it runs, even though
/// a later migration drops that key.
#[tokio::test]
async fn backfills_run_on_a_distributed_schema() {
    let scratch = Scratch::new("citus-backfill");
    let db = CitusTestDatabase::create("citus_backfill");
    let before_contract = "m20251008_120000_academy_add_webinar_capacity";
    let (code, out) = run(&scratch.0, &db, &["migrate", "up", "--to", before_contract]);
    assert_eq!(code, 0, "{out}");
    let conn = connect(&db.url).await;
    let distributed = texts(
        &conn,
        "SELECT n.nspname::text FROM pg_dist_schema d JOIN pg_namespace n ON n.oid = d.schemaid ORDER BY 1",
    )
    .await;
    assert_eq!(distributed, APP_SCHEMAS);
    // Webinars written before the column existed: no capacity.
    sea_orm::ConnectionTrait::execute_unprepared(
        &conn,
        "INSERT INTO core.users (id, email, display_name) \
             VALUES ('00000000-0000-0000-0000-0000000000aa', 'host@example.com', 'Host'); \
         INSERT INTO academy.webinars (id, slug, title, host_id, starts_at) \
             SELECT gen_random_uuid(), 'w' || i, 'Webinar ' || i, \
                    '00000000-0000-0000-0000-0000000000aa', now() \
             FROM generate_series(1, 250) AS i",
    )
    .await
    .unwrap();
    let (code, out) = run(
        &scratch.0,
        &db,
        &["flag", "set", "academy_webinar_capacity", "on"],
    );
    assert_eq!(code, 0, "{out}");
    let (code, out) = run(
        &scratch.0,
        &db,
        &["backfill", "run", "academy_webinar_capacity"],
    );
    assert_eq!(code, 0, "{out}");
    let left = scalar_i64(
        &conn,
        "SELECT count(*) FROM academy.webinars WHERE capacity IS NULL",
    )
    .await;
    let filled = scalar_i64(
        &conn,
        "SELECT count(*) FROM academy.webinars WHERE capacity = 100",
    )
    .await;
    assert_eq!((left, filled), (0, 250));
    let (code, out) = run(
        &scratch.0,
        &db,
        &["backfill", "status", "academy_webinar_capacity"],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("finished"), "{out}");

    // `vacancy` and `talent` are distributed now: the historical migration
    // that adds a key between them cannot run here, dropped later or not.
    let applied = scalar_i64(&conn, "SELECT count(*) FROM public.seaql_migrations").await;
    let (code, out) = run(&scratch.0, &db, &["migrate"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("m20251101_090000_vacancy_link_applications_to_talent_profiles"),
        "{out}"
    );
    assert_eq!(
        scalar_i64(&conn, "SELECT count(*) FROM public.seaql_migrations").await,
        applied,
        "nothing applied"
    );
}

/// `db start --citus` starts a coordinator and two workers under the target
/// directory, every command then uses it, and `db stop` stops all three.
#[test]
fn db_start_citus_is_the_local_cluster_until_db_start() {
    let scratch = Scratch::new("citus-local");
    let cwd = &scratch.0;
    let no_env: [(&str, &str); 0] = [];
    let out = xtask(cwd, &["db", "start", "--citus"], &no_env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("running (Citus coordinator and 2 workers)"),
        "{}",
        text(&out)
    );
    let out = xtask(cwd, &["db", "status"], &no_env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for node in ["coordinator", "worker-1", "worker-2"] {
        assert!(
            text(&out)
                .lines()
                .any(|line| line.contains(node) && line.contains("running: true")),
            "{}",
            text(&out)
        );
    }
    let out = xtask(cwd, &["db", "url"], &no_env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("postgres://postgres:***@127.0.0.1:"),
        "{}",
        text(&out)
    );
    let out = xtask(cwd, &["migrate"], &no_env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("the local Citus cluster's coordinator"),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("now a distributed schema"),
        "{}",
        text(&out)
    );

    let out = xtask(cwd, &["db", "stop"], &no_env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("local Citus cluster: stopped"),
        "{}",
        text(&out)
    );
    let out = xtask(cwd, &["db", "status"], &no_env);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}
