//! `schema map` in a real headless browser: Debian's Chromium, driven by
//! playwright-core through `xtask/browser/map-check.mjs`, which acts
//! through the page's own controls and reports what the page drew. Built
//! only with `--features browser-tests` (the README's browser test
//! command; `.ci/run` installs Chromium and the harness). Every assertion
//! is against the database's own catalog.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use migration_dev::testing::{TestDatabase, texts};

use super::{Scratch, text, xtask};

const SCHEMAS: &str = "'core', 'academy', 'talent', 'vacancy'";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `xtask <args>` from the workspace (its manifests give the owners).
fn run_ok(db: &TestDatabase, args: &[&str]) -> String {
    let output = xtask(&workspace(), args, &[("DATABASE_URL", &db.url)]);
    assert_eq!(output.status.code(), Some(0), "{args:?}: {}", text(&output));
    text(&output)
}

/// The harness's report of the page, acting through its controls.
fn browse(page: &Path, actions: &[&str]) -> serde_json::Value {
    let harness = workspace().join("xtask/browser/map-check.mjs");
    let output = Command::new("node")
        .arg(&harness)
        .arg(page)
        .args(actions)
        .output()
        .expect("node runs (Node.js is needed for the browser tests)");
    assert!(
        output.status.success(),
        "the browser harness failed: {}\n(install Chromium: `apt-get install chromium`; \
         the harness: `npm ci --prefix xtask/browser`)",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the harness prints one JSON object")
}

fn strings(value: &serde_json::Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("a list: {value}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

async fn connect(db: &TestDatabase) -> sea_orm::DatabaseConnection {
    migration_runner::connect(&db.url, "map-test")
        .await
        .unwrap()
        .connection()
        .clone()
}

fn page_of(db: &TestDatabase, scratch: &Scratch, extra: &[&str]) -> PathBuf {
    let out = scratch.0.join("map");
    let out_arg = out.display().to_string();
    let mut args = vec!["schema", "map", "--out", &out_arg];
    args.extend_from_slice(extra);
    run_ok(db, &args);
    out.join("schema-map.html")
}

#[tokio::test]
async fn the_page_draws_every_table_and_key_of_the_catalog_and_finds_a_path() {
    let db = TestDatabase::create("map_page");
    let scratch = Scratch::new("map-page");
    run_ok(&db, &["migrate"]);
    run_ok(&db, &["seed"]);
    let page = page_of(&db, &scratch, &[]);
    let conn = connect(&db).await;
    let seen = browse(
        &page,
        &[
            "--search",
            "courses",
            "--click",
            "vacancy.applications",
            "--path",
            "vacancy.applications",
            "core.users",
        ],
    );

    let tables: BTreeSet<String> = texts(
        &conn,
        &format!(
            "SELECT schemaname || '.' || tablename FROM pg_tables WHERE schemaname IN ({SCHEMAS})"
        ),
    )
    .await
    .into_iter()
    .collect();
    assert!(tables.len() >= 14, "{tables:?}");
    assert_eq!(
        strings(&seen["tables"])
            .into_iter()
            .collect::<BTreeSet<_>>(),
        tables
    );

    let between: BTreeSet<String> = texts(
        &conn,
        &format!(
            "SELECT c.conname || ' ' || fn.nspname || '.' || f.relname || ' -> ' || tn.nspname || '.' || t.relname \
             FROM pg_constraint c \
             JOIN pg_class f ON f.oid = c.conrelid JOIN pg_namespace fn ON fn.oid = f.relnamespace \
             JOIN pg_class t ON t.oid = c.confrelid JOIN pg_namespace tn ON tn.oid = t.relnamespace \
             WHERE c.contype = 'f' AND fn.nspname <> tn.nspname AND fn.nspname IN ({SCHEMAS})"
        ),
    )
    .await
    .into_iter()
    .collect();
    assert!(!between.is_empty());
    let drawn: BTreeSet<String> = seen["cross_schema_edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {} -> {}",
                e["name"].as_str().unwrap(),
                e["from"].as_str().unwrap(),
                e["to"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(drawn, between);

    assert_eq!(
        seen["search"]["selected"], "academy.courses",
        "{}",
        seen["search"]
    );
    let columns = texts(
        &conn,
        "SELECT column_name::text FROM information_schema.columns \
         WHERE table_schema = 'vacancy' AND table_name = 'applications' ORDER BY ordinal_position",
    )
    .await;
    assert_eq!(
        strings(&seen["click"]["columns"]),
        columns,
        "{}",
        seen["click"]
    );

    // The path goes from one table to the other over real foreign keys.
    let path = strings(&seen["path"]["tables"]);
    assert_eq!(
        path.first().map(String::as_str),
        Some("vacancy.applications"),
        "{path:?}"
    );
    assert_eq!(
        path.last().map(String::as_str),
        Some("core.users"),
        "{path:?}"
    );
    let keys: BTreeSet<(String, String)> = texts(
        &conn,
        "SELECT fn.nspname || '.' || f.relname || ' ' || tn.nspname || '.' || t.relname FROM pg_constraint c \
         JOIN pg_class f ON f.oid = c.conrelid JOIN pg_namespace fn ON fn.oid = f.relnamespace \
         JOIN pg_class t ON t.oid = c.confrelid JOIN pg_namespace tn ON tn.oid = t.relnamespace \
         WHERE c.contype = 'f'",
    )
    .await
    .into_iter()
    .map(|pair| {
        let (a, b) = pair.split_once(' ').unwrap();
        (a.to_owned(), b.to_owned())
    })
    .collect();
    for step in path.windows(2) {
        let (a, b) = (step[0].clone(), step[1].clone());
        assert!(
            keys.contains(&(a.clone(), b.clone())) || keys.contains(&(b, a)),
            "{step:?} is no key"
        );
    }
    assert_eq!(strings(&seen["path"]["highlighted"]).len(), path.len());
    eprintln!(
        "render of {} tables: {} ms",
        tables.len(),
        seen["render_ms"]
    );
}

#[tokio::test]
async fn the_page_makes_no_network_request() {
    let db = TestDatabase::create("map_offline");
    let scratch = Scratch::new("map-offline");
    run_ok(&db, &["migrate"]);
    let page = page_of(&db, &scratch, &["--no-drift"]);
    let seen = browse(&page, &["--search", "users", "--click", "core.users"]);
    assert_eq!(strings(&seen["requests"]), Vec::<String>::new());
    assert_eq!(strings(&seen["console_errors"]), Vec::<String>::new());
    // The page holds everything it shows: no address to fetch from.
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.contains("<script src") && !html.contains("https://cdn"));
}

/// 2,000 tables (made by hand in the owned schemas of a migrated
/// database) are all drawn, and search still finds one.
#[tokio::test]
async fn two_thousand_tables_are_drawn_and_searchable() {
    let db = TestDatabase::create("map_large");
    let scratch = Scratch::new("map-large");
    run_ok(&db, &["migrate"]);
    let conn = connect(&db).await;
    use sea_orm::ConnectionTrait as _;
    let schemas = ["academy", "talent", "vacancy", "core"];
    let made = 2_000 - 14;
    let mut sql = String::new();
    for n in 0..made {
        let schema = schemas[n % schemas.len()];
        sql.push_str(&format!(
            "CREATE TABLE {schema}.extra_{n:04} (id bigint PRIMARY KEY, user_id uuid REFERENCES core.users (id), note text);\n"
        ));
    }
    conn.execute_unprepared(&sql).await.unwrap();
    let page = page_of(&db, &scratch, &["--no-drift"]);
    let seen = browse(
        &page,
        &["--search", "extra_1985", "--click", "talent.extra_1985"],
    );
    assert_eq!(strings(&seen["tables"]).len(), 2_000);
    assert_eq!(seen["search"]["selected"], "talent.extra_1985");
    assert_eq!(
        strings(&seen["click"]["columns"]),
        ["id", "user_id", "note"]
    );
    eprintln!("render of 2000 tables: {} ms", seen["render_ms"]);
}
