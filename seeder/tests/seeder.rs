//! The seeder against a real server: each test gets a fresh database from
//! the test cluster, migrated with the runner first (unless it is about
//! pending migrations).

use std::collections::BTreeMap;

use clap::Parser;
use migration_dev::testing::{TestDatabase, scalar_i64, texts};
use migration_runner::Catalog;
use schema_core::seeding::{self, Batch, Cell, Profile, SchemaSeed, TableSeed};
use schema_core::seeds::Population;
use sea_orm::DatabaseConnection;
use seeder::cli::{ProfileName, SeedArgs};
use seeder::upsert::Upsert;
use seeder::{Counts, SeedError, SeedOptions, SeedReport, Seeder, workspace_seeds};

const SCHEMAS: [&str; 4] = ["core", "academy", "talent", "vacancy"];

// ---------------------------------------------------------------------------
// helpers

async fn seeder(db: &TestDatabase, seeds: Vec<Box<dyn SchemaSeed>>) -> Seeder {
    Seeder::connect(&db.url, seeds).await.unwrap()
}

fn options(profile: Profile) -> SeedOptions {
    SeedOptions {
        profile,
        ..SeedOptions::default()
    }
}

/// Every table of the four schemas, qualified.
async fn tables(conn: &DatabaseConnection) -> Vec<String> {
    texts(
        conn,
        "SELECT table_schema || '.' || table_name FROM information_schema.tables \
         WHERE table_schema IN ('core', 'academy', 'talent', 'vacancy') AND table_type = 'BASE TABLE' \
         ORDER BY 1",
    )
    .await
}

async fn row_counts(conn: &DatabaseConnection) -> BTreeMap<String, i64> {
    let mut counts = BTreeMap::new();
    for table in tables(conn).await {
        let count = scalar_i64(conn, &format!("SELECT count(*) FROM {table}")).await;
        counts.insert(table, count);
    }
    counts
}

/// Per table: a hash of every row, bookkeeping columns included.
async fn table_hashes(conn: &DatabaseConnection) -> BTreeMap<String, String> {
    hashes(conn, "t::text").await
}

/// Per table: a hash of every row without `created_at`/`updated_at`, which
/// are the only columns allowed to differ between databases.
async fn content_hashes(conn: &DatabaseConnection) -> BTreeMap<String, String> {
    hashes(conn, "(to_jsonb(t) - 'created_at' - 'updated_at')::text").await
}

async fn hashes(conn: &DatabaseConnection, row: &str) -> BTreeMap<String, String> {
    let mut hashes = BTreeMap::new();
    for table in tables(conn).await {
        let sql = format!(
            "SELECT count(*)::text || ':' || coalesce(md5(string_agg({row}, '|' ORDER BY id)), '-') FROM {table} t"
        );
        hashes.insert(table, texts(conn, &sql).await.remove(0));
    }
    hashes
}

/// How a test changes a schema's tables.
type Edit = Box<dyn Fn(&mut Vec<TableSeed>) + Send + Sync>;

/// A real schema seed whose tables a test edits.
struct Edited {
    inner: Box<dyn SchemaSeed>,
    depends_on: Option<&'static [&'static str]>,
    edit: Edit,
}

impl SchemaSeed for Edited {
    fn schema(&self) -> &'static str {
        self.inner.schema()
    }

    fn depends_on(&self) -> &'static [&'static str] {
        self.depends_on.unwrap_or_else(|| self.inner.depends_on())
    }

    fn tables(&self, profile: &Profile) -> Vec<TableSeed> {
        let mut tables = self.inner.tables(profile);
        (self.edit)(&mut tables);
        tables
    }
}

/// The workspace's seeds with `schema`'s replaced by an edited copy.
fn workspace_with(
    schema: &str,
    depends_on: Option<&'static [&'static str]>,
    edit: impl Fn(&mut Vec<TableSeed>) + Send + Sync + 'static,
) -> Vec<Box<dyn SchemaSeed>> {
    let mut edit = Some(Box::new(edit) as Edit);
    workspace_seeds()
        .into_iter()
        .map(|inner| {
            if inner.schema() == schema {
                Box::new(Edited {
                    inner,
                    depends_on,
                    edit: edit.take().unwrap(),
                }) as Box<dyn SchemaSeed>
            } else {
                inner
            }
        })
        .collect()
}

/// Replaces the batches of `table` with `f(batches)`.
fn map_batches(
    tables: &mut [TableSeed],
    table: &str,
    f: impl FnOnce(seeding::Batches) -> seeding::Batches,
) {
    let seed = tables.iter_mut().find(|t| t.table == table).unwrap();
    let batches = std::mem::replace(&mut seed.batches, Box::new(std::iter::empty()));
    seed.batches = f(batches);
}

/// A seed with no tables, for dependency-graph tests.
struct Named {
    schema: &'static str,
    depends_on: &'static [&'static str],
}

impl SchemaSeed for Named {
    fn schema(&self) -> &'static str {
        self.schema
    }

    fn depends_on(&self) -> &'static [&'static str] {
        self.depends_on
    }

    fn tables(&self, _: &Profile) -> Vec<TableSeed> {
        Vec::new()
    }
}

fn named(schema: &'static str, depends_on: &'static [&'static str]) -> Box<dyn SchemaSeed> {
    Box::new(Named { schema, depends_on })
}

fn assert_nothing_changed(report: &SeedReport) {
    for table in &report.tables {
        assert_eq!(
            (table.counts.inserted, table.counts.updated),
            (0, 0),
            "{} changed on a run that should change nothing",
            table.table
        );
    }
}

// ---------------------------------------------------------------------------
// tests

/// The order is core first and comes from `depends_on`: registration order
/// does not matter, `--schema` pulls in dependencies, and cycles, unknown
/// schemas and foreign keys into undeclared schemas are refused at start-up.
#[tokio::test]
async fn order_is_derived_from_declared_dependencies() {
    let db = TestDatabase::migrated("seed_order").await;
    let session = migration_runner::connect(&db.url, "seeder-test")
        .await
        .unwrap();
    let conn = session.connection().clone();

    let forwards = Seeder::new(session.clone(), workspace_seeds()).unwrap();
    assert_eq!(forwards.order(None).unwrap(), SCHEMAS);
    let mut reversed = workspace_seeds();
    reversed.reverse();
    let reversed = Seeder::new(session.clone(), reversed).unwrap();
    assert_eq!(reversed.order(None).unwrap(), SCHEMAS);
    assert_eq!(
        forwards.order(Some("academy")).unwrap(),
        ["core", "academy"]
    );
    assert_eq!(
        forwards.order(Some("vacancy")).unwrap(),
        ["core", "talent", "vacancy"]
    );
    let unknown = forwards.order(Some("billing")).unwrap_err();
    assert!(
        matches!(unknown, SeedError::UnknownSchema { .. }),
        "{unknown}"
    );

    let cycle = Seeder::new(
        session.clone(),
        vec![
            named("core", &[]),
            named("a", &["core", "b"]),
            named("b", &["a"]),
        ],
    )
    .unwrap_err();
    assert!(matches!(cycle, SeedError::Cycle { .. }), "{cycle}");
    assert!(cycle.to_string().contains("a -> b -> a"), "{cycle}");
    assert!(cycle.to_string().contains("depends_on"), "{cycle}");

    let undeclared = Seeder::new(
        session.clone(),
        vec![named("core", &[]), named("academy", &["core", "billing"])],
    )
    .unwrap_err();
    assert!(
        matches!(undeclared, SeedError::UnknownDependency { .. }),
        "{undeclared}"
    );
    assert!(undeclared.to_string().contains("`billing`"), "{undeclared}");

    // vacancy.applications references talent.profiles: without declaring
    // `talent`, vacancy could be seeded before it. Refused before any write.
    let seeds = workspace_with("vacancy", Some(&["core"]), |_| {});
    let err = seeder(&db, seeds)
        .await
        .run(&options(Profile::Demo))
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, SeedError::UndeclaredForeignKey { .. }),
        "{message}"
    );
    for needle in [
        "vacancy.applications",
        "applications_profile_id_fkey",
        "talent.profiles",
        "depends_on",
    ] {
        assert!(
            message.contains(needle),
            "`{needle}` missing from: {message}"
        );
    }
    assert!(row_counts(&conn).await.values().all(|&count| count == 0));

    // The real run reports the same order.
    let report = forwards.run(&options(Profile::Minimal)).await.unwrap();
    assert_eq!(report.schemas, SCHEMAS);
    assert_eq!(report.tables[0].schema, "core");
}

/// `demo` twice: the second run inserts and updates nothing and every
/// table's rows (bookkeeping columns included) hash the same.
#[tokio::test]
async fn demo_twice_is_byte_for_byte_identical() {
    let db = TestDatabase::migrated("seed_demo_twice").await;
    let seeder = seeder(&db, workspace_seeds()).await;
    let conn = seeder.connection().clone();

    let first = seeder.run(&options(Profile::Demo)).await.unwrap();
    assert_eq!(first.schemas, SCHEMAS);
    let counts = row_counts(&conn).await;
    assert_eq!(counts.len(), 14, "{counts:?}");
    for (table, count) in &counts {
        assert!(
            (10..=1000).contains(count),
            "{table} has {count} rows; demo seeds tens to hundreds"
        );
        assert_eq!(first.counts(table).inserted, *count as u64, "{table}");
    }
    // Relations span schemas: every application of a user with a profile carries it.
    let linked = scalar_i64(
        &conn,
        "SELECT count(*) FROM vacancy.applications a JOIN talent.profiles p \
         ON p.id = a.profile_id AND p.user_id = a.applicant_id",
    )
    .await;
    assert_eq!(linked, counts["talent.profiles"]);
    let hashes = table_hashes(&conn).await;

    let second = seeder.run(&options(Profile::Demo)).await.unwrap();
    assert_eq!(second.totals().inserted, 0);
    assert_eq!(second.totals().updated, 0);
    assert_eq!(second.totals().unchanged, first.totals().inserted);
    assert_nothing_changed(&second);
    assert_eq!(table_hashes(&conn).await, hashes);
}

/// Editing one value in the seeds updates exactly that row on the next run,
/// and nothing else; quotes, backslashes and braces survive the array encoding.
#[tokio::test]
async fn changing_one_seed_value_updates_exactly_that_row() {
    const RENAMED: &str = r#"Renamed "Quoted" \ User, {braced}"#;
    let db = TestDatabase::migrated("seed_change_one").await;
    let conn = seeder(&db, workspace_seeds()).await.connection().clone();
    seeder(&db, workspace_seeds())
        .await
        .run(&options(Profile::Demo))
        .await
        .unwrap();
    let before_tables = table_hashes(&conn).await;
    let row_hashes = "SELECT id::text || ' ' || md5(t::text) FROM core.users t ORDER BY id";
    let before_rows = texts(&conn, row_hashes).await;

    let target = Population::user_id(7);
    let seeds = workspace_with("core", None, move |tables| {
        map_batches(tables, "core.users", |batches| {
            Box::new(batches.map(move |mut batch: Batch| {
                for row in &mut batch {
                    if row[0] == Cell::Uuid(target) {
                        row[2] = Cell::from(RENAMED);
                    }
                }
                batch
            }))
        });
    });
    let report = seeder(&db, seeds)
        .await
        .run(&options(Profile::Demo))
        .await
        .unwrap();

    assert_eq!(
        report.counts("core.users"),
        Counts {
            inserted: 0,
            updated: 1,
            unchanged: before_rows.len() as u64 - 1
        }
    );
    for table in report.tables.iter().filter(|t| t.table != "core.users") {
        assert_eq!(table.counts.changed(), 0, "{} changed", table.table);
    }
    let after_rows = texts(&conn, row_hashes).await;
    let changed: Vec<&String> = after_rows
        .iter()
        .filter(|row| !before_rows.contains(row))
        .collect();
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert!(changed[0].starts_with(&target.to_string()));
    let renamed = texts(
        &conn,
        &format!("SELECT display_name || '|' || (updated_at > created_at)::text FROM core.users WHERE id = '{target}'"),
    )
    .await;
    assert_eq!(renamed, [format!("{RENAMED}|true")]);
    let after_tables = table_hashes(&conn).await;
    for (table, hash) in &before_tables {
        assert_eq!(
            after_tables[table] == *hash,
            table != "core.users",
            "{table}"
        );
    }
}

/// Two seeders at once on one database: both succeed, each row is inserted
/// once, and the data equals a single run's on another database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_seeders_leave_no_duplicates() {
    let reference = TestDatabase::migrated("seed_concurrent_ref").await;
    let single = seeder(&reference, workspace_seeds()).await;
    single.run(&options(Profile::Demo)).await.unwrap();
    let expected_counts = row_counts(single.connection()).await;
    let expected_content = content_hashes(single.connection()).await;

    let db = TestDatabase::migrated("seed_concurrent").await;
    let (a, b) = (
        seeder(&db, workspace_seeds()).await,
        seeder(&db, workspace_seeds()).await,
    );
    let run =
        |seeder: Seeder| tokio::spawn(async move { seeder.run(&options(Profile::Demo)).await });
    let (a, b) = (run(a), run(b));
    let (a, b) = (a.await.unwrap().unwrap(), b.await.unwrap().unwrap());

    let session = migration_runner::connect(&db.url, "seeder-test")
        .await
        .unwrap();
    let conn = session.connection();
    let counts = row_counts(&conn).await;
    assert_eq!(counts, expected_counts);
    for (table, count) in &counts {
        let (ca, cb) = (a.counts(table), b.counts(table));
        assert_eq!(
            ca.inserted + cb.inserted,
            *count as u64,
            "{table}: {ca:?} {cb:?}"
        );
        assert_eq!(ca.updated + cb.updated, 0, "{table}");
        assert_eq!(ca.total(), *count as u64, "{table}");
        assert_eq!(cb.total(), *count as u64, "{table}");
    }
    // Deterministic: the same rows as the single run on the other database.
    assert_eq!(content_hashes(&conn).await, expected_content);
}

/// A seed that fails midway in `academy` rolls back `academy` only: `core`
/// stays committed, and a rerun with good seeds finishes the job.
#[tokio::test]
async fn failure_midway_keeps_earlier_schemas_and_rerun_completes() {
    let db = TestDatabase::migrated("seed_failure").await;
    let seeds = workspace_with("academy", None, |tables| {
        map_batches(tables, "academy.enrollments", |batches| {
            let bad: Batch = vec![vec![
                seeding::id("academy.enrollments", "broken").into(),
                seeding::id("academy.courses", "course-0").into(),
                Population::user_id(0).into(),
                Cell::from("on-hold"),
                seeding::base_date().into(),
            ]];
            Box::new(batches.chain(std::iter::once(bad)))
        });
    });
    let err = seeder(&db, seeds)
        .await
        .run(&options(Profile::Demo))
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, SeedError::Table { .. }), "{message}");
    for needle in [
        "academy.enrollments",
        "enrollments_status_check",
        "rolled back",
    ] {
        assert!(
            message.contains(needle),
            "`{needle}` missing from: {message}"
        );
    }
    let SeedError::Table { rows_written, .. } = err else {
        unreachable!()
    };
    assert!(rows_written > 0, "the failing batch came after good ones");

    let session = migration_runner::connect(&db.url, "seeder-test")
        .await
        .unwrap();
    let conn = session.connection();
    let counts = row_counts(&conn).await;
    for (table, count) in &counts {
        let committed = table.starts_with("core.");
        assert_eq!(*count > 0, committed, "{table} has {count} rows");
    }

    let rerun = seeder(&db, workspace_seeds())
        .await
        .run(&options(Profile::Demo))
        .await
        .unwrap();
    assert_eq!(rerun.schemas, SCHEMAS);
    for table in &rerun.tables {
        if table.schema == "core" {
            assert_eq!(
                table.counts.changed(),
                0,
                "{} was already seeded",
                table.table
            );
        } else {
            assert!(table.counts.inserted > 0, "{} was not seeded", table.table);
        }
    }
    assert!(row_counts(&conn).await.values().all(|&count| count > 0));
}

/// Pending migrations: refused with the fix in the message and nothing
/// written; the CLI's `--migrate` applies them and seeds `minimal`.
#[tokio::test]
async fn pending_migrations_are_refused() {
    let db = TestDatabase::create("seed_pending");
    let catalog = Catalog::workspace().unwrap();
    let names: Vec<String> = catalog
        .migrations()
        .iter()
        .map(|m| m.name.clone())
        .collect();
    // Everything but the newest migration: the tables exist, one change does not.
    db.migrate(Some(names[names.len() - 2].clone())).await;

    let seeder = seeder(&db, workspace_seeds()).await;
    let err = seeder.run(&options(Profile::Demo)).await.unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, SeedError::PendingMigrations { count: 1, .. }),
        "{message}"
    );
    for needle in [
        "cargo xtask migrate",
        "--migrate",
        names.last().unwrap().as_str(),
    ] {
        assert!(
            message.contains(needle),
            "`{needle}` missing from: {message}"
        );
    }
    assert_eq!(err.exit_code(), 2);
    assert!(
        row_counts(seeder.connection())
            .await
            .values()
            .all(|&count| count == 0)
    );

    let args = SeedArgs {
        profile: ProfileName::Minimal,
        migrate: true,
        ..SeedArgs::default()
    };
    assert_eq!(seeder::cli::run(args, &db.url).await.unwrap(), 0);
    let conn = seeder.connection();
    assert_eq!(
        texts(conn, "SELECT email FROM core.users").await,
        ["admin@example.com"]
    );
    let admin_roles = texts(
        conn,
        "SELECT r.key FROM core.user_roles ur JOIN core.roles r ON r.id = ur.role_id",
    )
    .await;
    assert_eq!(admin_roles, ["admin"]);
    let counts = row_counts(conn).await;
    assert!(
        counts["core.roles"] > 0
            && counts["core.permissions"] > 0
            && counts["core.role_permissions"] > 0
    );
    for schema in ["academy", "talent", "vacancy"] {
        assert!(
            counts
                .iter()
                .filter(|(t, _)| t.starts_with(schema))
                .all(|(_, &c)| c == 0),
            "minimal seeds nothing in {schema}"
        );
    }
}

/// `--dry-run` reports what would change and writes nothing; `--schema`
/// seeds that schema and what it depends on, nothing else.
#[tokio::test]
async fn dry_run_writes_nothing_and_schema_seeds_its_dependencies() {
    let db = TestDatabase::migrated("seed_dry_schema").await;
    let seeder = seeder(&db, workspace_seeds()).await;
    let conn = seeder.connection().clone();
    let dry = |schema: Option<&str>| SeedOptions {
        profile: Profile::Demo,
        schema: schema.map(str::to_owned),
        dry_run: true,
        ..SeedOptions::default()
    };

    let preview = seeder.run(&dry(None)).await.unwrap();
    assert!(preview.dry_run);
    assert_eq!(preview.schemas, SCHEMAS);
    assert!(preview.tables.iter().all(|t| t.counts.inserted > 0));
    assert!(
        row_counts(&conn).await.values().all(|&count| count == 0),
        "a dry run wrote rows"
    );

    let academy = seeder
        .run(&SeedOptions {
            schema: Some("academy".to_owned()),
            ..options(Profile::Demo)
        })
        .await
        .unwrap();
    assert_eq!(academy.schemas, ["core", "academy"]);
    for (table, count) in row_counts(&conn).await {
        let seeded = table.starts_with("core.") || table.starts_with("academy.");
        assert_eq!(count > 0, seeded, "{table} has {count} rows");
        if seeded {
            assert_eq!(
                preview.counts(&table).inserted,
                count as u64,
                "{table}: the preview was exact"
            );
        }
    }

    // A dry run on top: core and academy unchanged, the rest would be inserted.
    let hashes = table_hashes(&conn).await;
    let rest = seeder.run(&dry(None)).await.unwrap();
    for table in &rest.tables {
        let seeded = table.schema == "core" || table.schema == "academy";
        assert_eq!(
            table.counts.changed() == 0,
            seeded,
            "{}: {:?}",
            table.table,
            table.counts
        );
    }
    assert_eq!(table_hashes(&conn).await, hashes);
}

/// `load --scale N` streams N users and proportional rows in every schema,
/// in several batches for the big tables; `--scale` goes with `load` only.
#[tokio::test]
async fn load_profile_scales_every_schema() {
    const SCALE: u64 = 12_000;
    let db = TestDatabase::migrated("seed_load").await;
    let seeder = seeder(&db, workspace_seeds()).await;
    let report = seeder
        .run(&options(Profile::Load { scale: SCALE }))
        .await
        .unwrap();
    let counts = row_counts(seeder.connection()).await;
    let expected = [
        ("core.users", SCALE),
        ("academy.courses", SCALE / 20),
        ("academy.enrollments", (SCALE - 1) * 2),
        ("academy.webinars", SCALE / 50),
        ("talent.profiles", SCALE / 2),
        ("talent.profile_skills", SCALE / 2 * 3),
        ("vacancy.employers", SCALE / 100),
        ("vacancy.vacancies", SCALE / 20),
        ("vacancy.applications", SCALE - 1),
    ];
    for (table, rows) in expected {
        assert_eq!(counts[table], rows as i64, "{table}");
        assert_eq!(report.counts(table).inserted, rows, "{table}");
    }
    assert_eq!(
        report.totals().inserted,
        counts.values().sum::<i64>() as u64
    );

    // One bind parameter per column, whatever the batch size.
    let users = schema_core::seeds()
        .tables(&Profile::Load { scale: 30_000 })
        .into_iter()
        .find(|t| t.table == "core.users")
        .unwrap();
    let upsert = Upsert::for_table(&users).unwrap();
    assert!(
        upsert.sql.contains("IS DISTINCT FROM") && upsert.sql.contains("ON CONFLICT (\"email\")")
    );
    let mut batches = users.batches;
    let batch = batches.next().unwrap();
    assert_eq!(batch.len(), seeding::BATCH_ROWS);
    assert_eq!(upsert.encode(&batch).unwrap().arrays.len(), 4);
    assert_eq!(
        batches.map(|b| b.len()).sum::<usize>(),
        30_000 - seeding::BATCH_ROWS
    );
}

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    seed: SeedArgs,
}

/// The flags xtask exposes: `demo` by default, `--scale` required with
/// `load` and refused without it.
#[test]
fn seed_args_validate_profile_and_scale() {
    let parse =
        |args: &[&str]| Cli::try_parse_from(std::iter::once("seed").chain(args.iter().copied()));
    assert_eq!(parse(&[]).unwrap().seed.profile().unwrap(), Profile::Demo);
    assert_eq!(
        parse(&["--profile", "load", "--scale", "1000000"])
            .unwrap()
            .seed
            .profile()
            .unwrap(),
        Profile::Load { scale: 1_000_000 }
    );
    assert!(
        parse(&["--profile", "load"])
            .unwrap_err()
            .to_string()
            .contains("--scale")
    );
    assert!(parse(&["--profile", "load", "--scale", "0"]).is_err());
    let stray = parse(&["--scale", "5"])
        .unwrap()
        .seed
        .profile()
        .unwrap_err();
    assert!(stray.to_string().contains("--profile load"), "{stray}");
    let all = parse(&[
        "--profile",
        "minimal",
        "--schema",
        "academy",
        "--dry-run",
        "--migrate",
    ])
    .unwrap();
    assert_eq!(all.seed.schema.as_deref(), Some("academy"));
    assert!(all.seed.dry_run && all.seed.migrate);
}
