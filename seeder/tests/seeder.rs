//! The seeder against a real server: each test gets a fresh database from
//! the test cluster, migrated with the runner first (unless it is about
//! pending migrations).

use std::collections::BTreeMap;

use clap::Parser;
use migration_dev::testing::{TestDatabase, scalar_i64, scalar_text, texts};
use migration_runner::{Catalog, Exit};
use schema_core::seeding::{self, Batch, Cell, Profile, SchemaSeed, TableSeed};
use schema_core::seeds::Population;
use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait};
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

    // A key from vacancy.applications into talent.profiles (the history had
    // one until it made the schemas placeable on Citus): without declaring
    // `talent`, vacancy could be seeded before it. Refused before any write.
    exec(
        &conn,
        "ALTER TABLE vacancy.applications ADD CONSTRAINT applications_profile_id_fkey \
         FOREIGN KEY (profile_id) REFERENCES talent.profiles (id)",
    )
    .await;
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

    // The real run reports the same order: `minimal` seeds only core and
    // names the others, in order, as having nothing for the profile.
    let report = forwards.run(&options(Profile::Minimal)).await.unwrap();
    assert_eq!(report.schemas, ["core"]);
    assert_eq!(report.empty, SCHEMAS[1..]);
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

/// Editing one value in the seeds of a sample table leaves the row alone on
/// the next run (and says so); with `--overwrite` it updates exactly that row,
/// and nothing else. Quotes, backslashes and braces survive the array encoding.
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
    let edited = || {
        workspace_with("core", None, move |tables| {
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
        })
    };
    let kept = seeder(&db, edited())
        .await
        .run(&options(Profile::Demo))
        .await
        .unwrap();
    assert_eq!(
        kept.counts("core.users"),
        Counts {
            unchanged: before_rows.len() as u64 - 1,
            kept: 1,
            ..Counts::default()
        }
    );
    assert_nothing_changed(&kept);
    assert_eq!(table_hashes(&conn).await, before_tables);
    assert!(
        kept.render().contains(
            "core.users: 1 sample row(s) differ from the seed and left alone; `--overwrite`"
        ),
        "{}",
        kept.render()
    );

    let report = seeder(&db, edited())
        .await
        .run(&SeedOptions {
            overwrite: true,
            ..options(Profile::Demo)
        })
        .await
        .unwrap();

    assert_eq!(
        report.counts("core.users"),
        Counts {
            updated: 1,
            unchanged: before_rows.len() as u64 - 1,
            ..Counts::default()
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

/// Two seeders at once on one database, started together (both held up
/// until they contend): both succeed, each row is inserted once by one of them
/// and found unchanged by the other (the seed lock made them take turns), and
/// the data equals a single run's on another database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_seeders_leave_no_duplicates() {
    let reference = TestDatabase::migrated("seed_concurrent_ref").await;
    let single = seeder(&reference, workspace_seeds()).await;
    single.run(&options(Profile::Demo)).await.unwrap();
    let expected_counts = row_counts(single.connection()).await;
    let expected_content = content_hashes(single.connection()).await;

    let db = TestDatabase::migrated("seed_concurrent").await;
    let session = migration_runner::connect(&db.url, "seeder-test")
        .await
        .unwrap();
    // A gate: the first table either seeder writes is locked until both are
    // blocked (one on the table, the other on the seed lock; both on the
    // table if there were no seed lock), so their runs truly overlap.
    let gate_session = migration_runner::connect(&db.url, "seeder-test-gate")
        .await
        .unwrap();
    let gate = gate_session.connection().begin().await.unwrap();
    gate.execute_unprepared("LOCK TABLE core.permissions IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let (a, b) = (
        seeder(&db, workspace_seeds()).await,
        seeder(&db, workspace_seeds()).await,
    );
    let run =
        |seeder: Seeder| tokio::spawn(async move { seeder.run(&options(Profile::Demo)).await });
    let (a, b) = (run(a), run(b));
    let blocked = "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                   WHERE NOT l.granted AND a.application_name = 'seeder' \
                   AND a.datname = current_database()";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while scalar_i64(session.connection(), blocked).await < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the two seeders never both waited"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    gate.commit().await.unwrap();
    let (a, b) = (a.await.unwrap().unwrap(), b.await.unwrap().unwrap());

    let conn = session.connection();
    let counts = row_counts(conn).await;
    assert_eq!(counts, expected_counts);
    // The lock made them take turns per schema: for every table, one run
    // inserted every row and the other found every row already there,
    // unchanged. Without it, the second run would not see the first's
    // uncommitted rows, and would report them as left alone.
    for (table, count) in &counts {
        let count = *count as u64;
        let (ca, cb) = (a.counts(table), b.counts(table));
        let all_inserted = Counts {
            inserted: count,
            ..Counts::default()
        };
        let all_unchanged = Counts {
            unchanged: count,
            ..Counts::default()
        };
        assert!(
            (ca, cb) == (all_inserted, all_unchanged) || (ca, cb) == (all_unchanged, all_inserted),
            "{table}: {ca:?} {cb:?}"
        );
    }
    // Deterministic: the same rows as the single run on the other database.
    assert_eq!(content_hashes(conn).await, expected_content);
}

/// The seed lock serialises seeders: while another session holds it, a
/// seeder waits (its request shows in `pg_locks`, not granted) and writes
/// nothing; once it is released, the seeder finishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seeder_waits_for_the_seed_lock() {
    let db = TestDatabase::migrated("seed_lock_wait").await;
    let holder = migration_runner::connect(&db.url, "lock-holder")
        .await
        .unwrap();
    let holder = holder.connection().clone();
    exec(
        &holder,
        &format!("SELECT pg_advisory_lock({})", seeder::run::LOCK_KEY),
    )
    .await;
    let seeder = seeder(&db, workspace_seeds()).await;
    let task = tokio::spawn(async move { seeder.run(&options(Profile::Minimal)).await });

    let waiting = format!(
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'advisory' AND NOT l.granted AND a.application_name = 'seeder' \
         AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
         AND ((l.classid::oid::int8 << 32) | l.objid::oid::int8) = {}",
        seeder::run::LOCK_KEY
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while scalar_i64(&holder, &waiting).await == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the seeder never waited for the seed lock"
        );
        assert!(!task.is_finished(), "the seeder ran without the seed lock");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!task.is_finished(), "the seeder ran without the seed lock");
    assert_eq!(
        scalar_i64(&holder, "SELECT count(*) FROM core.roles").await,
        0
    );

    exec(
        &holder,
        &format!("SELECT pg_advisory_unlock({})", seeder::run::LOCK_KEY),
    )
    .await;
    let report = tokio::time::timeout(std::time::Duration::from_secs(60), task)
        .await
        .expect("the seeder finished once the lock was released")
        .unwrap()
        .unwrap();
    assert_eq!(report.counts("core.roles").inserted, 10);
    assert_eq!(
        scalar_i64(&holder, "SELECT count(*) FROM core.roles").await,
        10
    );
    assert_eq!(scalar_i64(&holder, &waiting).await, 0);
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
    let counts = row_counts(conn).await;
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
    assert!(row_counts(conn).await.values().all(|&count| count > 0));
}

/// Pending migrations: refused with the fix in the message and nothing
/// written; the CLI's `--migrate` applies them and seeds `minimal`.
#[tokio::test]
async fn pending_migrations_are_refused() {
    let db = TestDatabase::create("seed_pending");
    let catalog = Catalog::workspace(&schema_registry::workspace()).unwrap();
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

    // One COPY stream and one statement per table, whatever its size: no
    // bind parameters; each batch is encoded on its own, one tuple of the
    // table's 4 columns per row.
    let users = schema_core::seeds()
        .tables(&Profile::Load { scale: 30_000 })
        .into_iter()
        .find(|t| t.table == "core.users")
        .unwrap();
    let upsert = Upsert::for_table(&users).unwrap();
    assert_eq!(upsert.sql.matches('$').count(), 0, "{}", upsert.sql);
    let mut batches = users.batches;
    let batch = batches.next().unwrap();
    assert_eq!(batch.len(), seeding::BATCH_ROWS);
    let encoded = upsert.encode(&batch).unwrap();
    assert_eq!(encoded.rows, seeding::BATCH_ROWS as u64);
    assert_eq!(encoded.bytes[..2], 4_i16.to_be_bytes());
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

// ---------------------------------------------------------------------------
// data that people or the application wrote (issue 7, defect 13)

async fn exec(conn: &DatabaseConnection, sql: &str) {
    conn.execute_unprepared(sql)
        .await
        .unwrap_or_else(|err| panic!("{sql}: {err}"));
}

async fn text(conn: &DatabaseConnection, sql: &str) -> String {
    scalar_text(conn, sql).await
}

/// Re-seeding leaves sample rows people edited alone (a display name,
/// `last_seen_at`, an application moved to `hired`), and puts reference data
/// (roles, permissions, their links) back to what the code says.
#[tokio::test]
async fn reseeding_keeps_hand_edited_sample_data_and_restores_reference_data() {
    let db = TestDatabase::migrated("seed_hand_edits").await;
    let seeder = seeder(&db, workspace_seeds()).await;
    let conn = seeder.connection().clone();
    seeder.run(&options(Profile::Demo)).await.unwrap();

    exec(
        &conn,
        "UPDATE core.users SET display_name = 'Edited By Hand', last_seen_at = '2031-02-03T04:05:06Z' \
         WHERE email = 'user7@example.com'",
    )
    .await;
    let hired = text(
        &conn,
        "UPDATE vacancy.applications SET status = 'hired' \
         WHERE id = (SELECT id FROM vacancy.applications WHERE status <> 'hired' ORDER BY id LIMIT 1) \
         RETURNING id::text",
    )
    .await;
    exec(
        &conn,
        "UPDATE core.roles SET name = 'Tampered' WHERE key = 'admin'",
    )
    .await;
    exec(
        &conn,
        "DELETE FROM core.role_permissions WHERE role_id = (SELECT id FROM core.roles WHERE key = 'guest')",
    )
    .await;

    let report = seeder.run(&options(Profile::Demo)).await.unwrap();

    let user7 = "SELECT display_name || '|' || coalesce(to_char(last_seen_at AT TIME ZONE 'UTC', \
                 'YYYY-MM-DD HH24:MI:SS'), '-') FROM core.users WHERE email = 'user7@example.com'";
    assert_eq!(
        text(&conn, user7).await,
        "Edited By Hand|2031-02-03 04:05:06"
    );
    assert_eq!(
        text(
            &conn,
            &format!("SELECT status FROM vacancy.applications WHERE id = '{hired}'")
        )
        .await,
        "hired"
    );
    assert_eq!(
        text(&conn, "SELECT name FROM core.roles WHERE key = 'admin'").await,
        "Administrator"
    );
    assert_eq!(
        scalar_i64(
            &conn,
            "SELECT count(*) FROM core.role_permissions rp JOIN core.roles r ON r.id = rp.role_id \
             WHERE r.key = 'guest'"
        )
        .await,
        2
    );
    // The report says what it changed and what it left alone.
    for (table, counts) in [
        ("core.users", (0, 0, 1)),
        ("vacancy.applications", (0, 0, 1)),
        ("core.roles", (0, 1, 0)),
        ("core.role_permissions", (2, 0, 0)),
    ] {
        let got = report.counts(table);
        assert_eq!(
            (got.inserted, got.updated, got.kept),
            counts,
            "{table}: {got:?}"
        );
    }
    assert_eq!(report.totals().changed(), 3);
    assert_eq!(report.totals().left_alone(), 2);
    let rendered = report.render();
    for needle in [
        "left alone",
        "reference",
        "sample",
        "note: core.users: 1 sample row(s) differ from the seed and left alone; `--overwrite`",
        "note: vacancy.applications: 1 sample row(s) differ",
        "(2 inserted, 1 updated, ",
    ] {
        assert!(
            rendered.contains(needle),
            "`{needle}` missing from:\n{rendered}"
        );
    }

    // `--overwrite` (through the CLI's flags) resets sample rows to the seeds.
    let args = Cli::try_parse_from(["seed", "--overwrite"]).unwrap().seed;
    assert!(args.overwrite);
    let overwritten = seeder::cli::seed(args, &db.url).await.unwrap();
    assert_eq!(
        (
            overwritten.counts("core.users").updated,
            overwritten.counts("vacancy.applications").updated,
            overwritten.totals().changed(),
            overwritten.totals().left_alone(),
        ),
        (1, 1, 2, 0),
        "{}",
        overwritten.render()
    );
    assert_ne!(
        text(&conn, user7).await,
        "Edited By Hand|2031-02-03 04:05:06"
    );
    assert_ne!(
        text(
            &conn,
            &format!("SELECT status FROM vacancy.applications WHERE id = '{hired}'")
        )
        .await,
        "hired"
    );
}

/// Rows made outside the seeder with a seeded natural key but another id are
/// used by every later seed (references resolve to the real id), not
/// collided with; a seeded row whose natural key was edited is left alone.
#[tokio::test]
async fn hand_made_rows_with_seeded_natural_keys_are_used_not_collided_with() {
    let db = TestDatabase::migrated("seed_hand_made").await;
    let seeder = seeder(&db, workspace_seeds()).await;
    let conn = seeder.connection().clone();
    // User 1 is an instructor with a talent profile, courses, webinars and an application.
    let user = text(
        &conn,
        "INSERT INTO core.users (id, email, display_name) \
         VALUES (gen_random_uuid(), 'user1@example.com', 'Made By Hand') RETURNING id::text",
    )
    .await;
    let mentor = text(
        &conn,
        "INSERT INTO core.roles (id, key, name, description) \
         VALUES (gen_random_uuid(), 'mentor', 'Our mentors', 'ours') RETURNING id::text",
    )
    .await;
    assert_ne!(user, Population::user_id(1).to_string());

    let report = seeder.run(&options(Profile::Demo)).await.unwrap();
    let users = report.counts("core.users");
    assert_eq!((users.adopted, users.kept), (1, 1), "{users:?}");
    let roles = report.counts("core.roles");
    assert_eq!((roles.adopted, roles.updated), (1, 1), "{roles:?}");
    assert!(
        report.render().contains(
            "note: core.users: 1 row(s) made outside the seeder (same natural key, another id) used"
        ),
        "{}",
        report.render()
    );

    let one = |sql: String| {
        let conn = conn.clone();
        async move { scalar_i64(&conn, &sql).await }
    };
    assert_eq!(
        text(
            &conn,
            "SELECT id::text || '|' || display_name FROM core.users WHERE email = 'user1@example.com'"
        )
        .await,
        format!("{user}|Made By Hand")
    );
    assert_eq!(
        one(format!(
            "SELECT count(*) FROM core.users WHERE id = '{}'",
            Population::user_id(1)
        ))
        .await,
        0
    );
    assert_eq!(
        texts(
            &conn,
            &format!(
                "SELECT r.key FROM core.user_roles ur JOIN core.roles r ON r.id = ur.role_id \
                 WHERE ur.user_id = '{user}' ORDER BY 1"
            )
        )
        .await,
        ["instructor", "learner"]
    );
    assert_eq!(
        one(format!(
            "SELECT count(*) FROM talent.profiles WHERE user_id = '{user}'"
        ))
        .await,
        1
    );
    assert!(
        one(format!(
            "SELECT count(*) FROM academy.courses WHERE instructor_id = '{user}'"
        ))
        .await
            > 0
    );
    assert_eq!(
        one(format!(
            "SELECT count(*) FROM vacancy.applications a JOIN talent.profiles p ON p.id = a.profile_id \
             WHERE a.applicant_id = '{user}' AND p.user_id = '{user}'"
        ))
        .await,
        1
    );
    // Reference data: the hand-made role keeps its id and gets the code's values and grants.
    assert_eq!(
        text(
            &conn,
            "SELECT id::text || '|' || name FROM core.roles WHERE key = 'mentor'"
        )
        .await,
        format!("{mentor}|Mentor")
    );
    assert_eq!(
        one(format!(
            "SELECT count(*) FROM core.role_permissions WHERE role_id = '{mentor}'"
        ))
        .await,
        3
    );
}

/// A seeded row whose natural key was edited by hand: the next seed leaves it
/// alone (no primary-key error, no second copy) and says so.
#[tokio::test]
async fn seeded_row_whose_natural_key_was_edited_is_left_alone() {
    let db = TestDatabase::migrated("seed_key_edited").await;
    let seeder = seeder(&db, workspace_seeds()).await;
    let conn = seeder.connection().clone();
    seeder.run(&options(Profile::Demo)).await.unwrap();
    let one = |sql: &str| {
        let (conn, sql) = (conn.clone(), sql.to_owned());
        async move { scalar_i64(&conn, &sql).await }
    };
    exec(
        &conn,
        "UPDATE core.users SET email = 'renamed@example.org' WHERE email = 'user3@example.com'",
    )
    .await;
    exec(
        &conn,
        "UPDATE academy.courses SET slug = 'our-own-course' WHERE slug = 'course-0'",
    )
    .await;
    let again = seeder.run(&options(Profile::Demo)).await.unwrap();
    assert_eq!(again.totals().inserted, 0, "{}", again.render());
    assert_eq!(again.totals().updated, 0, "{}", again.render());
    for table in ["core.users", "academy.courses"] {
        assert_eq!(
            again.counts(table).skipped,
            1,
            "{table}: {:?}",
            again.counts(table)
        );
    }
    assert_eq!(again.totals().left_alone(), 2);
    assert!(
        again.render().contains(
            "note: core.users: 1 seed row(s) not inserted and left alone: their id or another unique value \
             belongs to a row whose natural key was edited"
        ),
        "{}",
        again.render()
    );
    assert_eq!(
        one("SELECT count(*) FROM core.users WHERE email IN ('user3@example.com', 'renamed@example.org')")
            .await,
        1
    );
    assert_eq!(
        one("SELECT count(*) FROM academy.courses WHERE slug IN ('course-0', 'our-own-course')")
            .await,
        1
    );
}

// ---------------------------------------------------------------------------
// bad input, exit codes, what the report says (issue 7, defects 8, 9, 14)

/// `--scale` is bounded at parse time, for every kind of bad number, with a
/// message that says the range.
#[test]
fn scale_is_validated_at_parse_time() {
    let parse = |scale: &str| {
        Cli::try_parse_from(["seed", "--profile", "load", "--scale", scale]).map(|cli| cli.seed)
    };
    for ok in ["1", "12000", "100000000"] {
        let args = parse(ok).unwrap_or_else(|err| panic!("--scale {ok}: {err}"));
        assert_eq!(
            args.profile().unwrap(),
            Profile::Load {
                scale: ok.parse().unwrap()
            }
        );
    }
    for bad in [
        "0",
        "100000001",
        "4294967296",
        "18446744073709551615",
        "18446744073709551616",
        "99999999999999999999999",
        "-1",
        "1e6",
        "ten",
        "",
    ] {
        let err = parse(bad).expect_err(bad).to_string();
        assert!(
            err.contains("--scale") && err.contains("1 to 100,000,000"),
            "--scale {bad:?}: {err}"
        );
    }
}

/// Seeds at any scale the `Profile` type allows build their tables and first
/// batches without overflowing (the CLI caps the scale; the library does not
/// rely on that).
#[test]
fn extreme_scales_never_overflow() {
    for scale in [
        1,
        2,
        3,
        21,
        100_000_000,
        u64::from(u32::MAX) + 1,
        u64::MAX / 2,
        u64::MAX - 1,
        u64::MAX,
    ] {
        let profile = Profile::Load { scale };
        for seed in workspace_seeds() {
            for table in seed.tables(&profile) {
                let upsert = Upsert::for_table(&table).unwrap();
                let name = table.table;
                let mut batches = table.batches;
                let Some(batch) = batches.next() else {
                    assert!(scale < 100, "{name} has no rows at scale {scale}");
                    continue;
                };
                assert!(table.estimated_rows > 0, "{name} at scale {scale}");
                // A row index may yield a few rows past the batch size.
                assert!(!batch.is_empty() && batch.len() < seeding::BATCH_ROWS + 10);
                upsert.encode(&batch).unwrap();
            }
        }
    }
}

/// `minimal` seeds only `core`: the report names only `core` as seeded and
/// says the other schemas had nothing for this profile.
#[tokio::test]
async fn minimal_reports_only_the_schemas_it_seeds() {
    let db = TestDatabase::migrated("seed_minimal_report").await;
    let report = seeder(&db, workspace_seeds())
        .await
        .run(&options(Profile::Minimal))
        .await
        .unwrap();
    assert_eq!(report.schemas, ["core"]);
    assert!(report.tables.iter().all(|t| t.schema == "core"));
    let rendered = report.render();
    let first = rendered.lines().next().unwrap();
    assert!(
        first.starts_with("seeded profile minimal into core") && !first.contains("->"),
        "{rendered}"
    );
    assert!(
        rendered.contains("nothing to seed for profile minimal in academy, talent, vacancy"),
        "{rendered}"
    );
}

/// A dry run's report says, first and last, that it was a dry run and
/// nothing was written; it never says "seeded".
#[tokio::test]
async fn dry_run_report_says_nothing_was_written() {
    let db = TestDatabase::migrated("seed_dry_report").await;
    let report = seeder(&db, workspace_seeds())
        .await
        .run(&SeedOptions {
            dry_run: true,
            ..options(Profile::Demo)
        })
        .await
        .unwrap();
    let rendered = report.render();
    assert!(!rendered.contains("seeded"), "{rendered}");
    let lines: Vec<&str> = rendered.lines().filter(|l| !l.trim().is_empty()).collect();
    for line in [lines[0], lines[lines.len() - 1]] {
        assert!(
            line.starts_with("dry run") && line.contains("nothing was written"),
            "{line:?} in:\n{rendered}"
        );
    }
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Every way `seed` ends maps to the one exit table (`migration_runner::Exit`):
/// unreachable database 4, bad arguments 64, refused (pending migrations,
/// cycles) 2, a failed seed 3, success 0.
#[tokio::test]
async fn exit_codes_follow_the_shared_table() {
    let url = format!(
        "postgres://seeder:secret@127.0.0.1:{}/nowhere",
        closed_port()
    );
    let started = std::time::Instant::now();
    let err = Seeder::connect(&url, workspace_seeds()).await.unwrap_err();
    assert_eq!(err.exit_code(), Exit::Unavailable.code(), "{err}");
    let err = seeder::cli::run(SeedArgs::default(), &url)
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), Exit::Unavailable.code(), "{err}");
    assert!(err.to_string().contains("127.0.0.1"), "{err}");
    assert!(!err.to_string().contains("secret"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));

    let usage = seeder::cli::run(
        SeedArgs {
            profile: ProfileName::Load,
            ..SeedArgs::default()
        },
        &url,
    )
    .await
    .unwrap_err();
    assert_eq!(usage.exit_code(), Exit::Usage.code(), "{usage}");

    let db = TestDatabase::migrated("seed_exit_codes").await;
    let ok = seeder::cli::run(SeedArgs::default(), &db.url).await;
    assert_eq!(ok.unwrap(), Exit::Success.code());
    let session = migration_runner::connect(&db.url, "seeder-test")
        .await
        .unwrap();
    let cycle = Seeder::new(
        session,
        vec![named("core", &[]), named("a", &["b"]), named("b", &["a"])],
    )
    .unwrap_err();
    assert_eq!(cycle.exit_code(), Exit::Refused.code(), "{cycle}");

    let seeds = workspace_with("talent", None, |tables| {
        map_batches(tables, "talent.skills", |batches| {
            // `name` is NOT NULL.
            let bad: Batch = vec![vec![
                seeding::id("talent.skills", "broken").into(),
                Cell::from("broken"),
                Cell::Null,
            ]];
            Box::new(batches.chain(std::iter::once(bad)))
        });
    });
    let failed = seeder(&db, seeds)
        .await
        .run(&options(Profile::Demo))
        .await
        .unwrap_err();
    assert_eq!(failed.exit_code(), Exit::Failed.code(), "{failed}");
}

// ---------------------------------------------------------------------------
// the COPY path: staging tables, the empty-table shortcut, failures

/// Values COPY's text formats would have to escape, and edges of the binary
/// encoding (empty text, NULL timestamps, before PostgreSQL's epoch and the
/// Unix one, sub-second). `display_name` is NOT NULL, `last_seen_at` nullable.
fn tricky_users() -> Vec<(
    String,
    Option<String>,
    Option<chrono::DateTime<chrono::Utc>>,
)> {
    let at = |secs: i64, micros: u32| chrono::DateTime::from_timestamp(secs, micros * 1_000);
    [
        ("tab\there", at(1_736_154_000, 1)),
        ("new\nline and\r\ncarriage return", at(946_684_799, 999_999)),
        ("back\\slash \\N \\. \\\\", at(0, 0)),
        ("quotes \" ' and , ; | separators", at(-1, 500_000)),
        (
            "unicode: ü 日本語 🎉 \u{200b} zero-width",
            at(4_102_444_800, 123_456),
        ),
        ("", None),
        ("NULL", at(946_684_800, 0)),
        ("{\"json\": [1, 2]} {braces}", None),
        ("  padded  ", at(1_000_000_000, 42)),
    ]
    .into_iter()
    .enumerate()
    .map(|(index, (name, at))| {
        (
            format!("tricky{index}@example.com"),
            Some(name.to_owned()),
            at,
        )
    })
    .collect()
}

fn with_tricky_users() -> Vec<Box<dyn SchemaSeed>> {
    workspace_with("core", None, |tables| {
        map_batches(tables, "core.users", |batches| {
            let extra: Batch = tricky_users()
                .into_iter()
                .map(|(email, name, at)| {
                    vec![
                        seeding::id("core.users", &email).into(),
                        email.into(),
                        name.into(),
                        at.into(),
                    ]
                })
                .collect();
            Box::new(batches.chain(std::iter::once(extra)))
        });
    })
}

async fn read_tricky_users(
    conn: &DatabaseConnection,
) -> Vec<(
    String,
    Option<String>,
    Option<chrono::DateTime<chrono::Utc>>,
)> {
    use sea_orm::{DbBackend, Statement};
    let rows = conn
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT email, display_name, last_seen_at FROM core.users \
             WHERE email LIKE 'tricky%' ORDER BY email",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|row| {
            (
                row.try_get("", "email").unwrap(),
                row.try_get("", "display_name").unwrap(),
                row.try_get("", "last_seen_at").unwrap(),
            )
        })
        .collect()
}

/// Tabs, newlines, backslashes, quotes, `\N`, unicode, empty strings, NULLs
/// and timestamps on both sides of PostgreSQL's epoch arrive exactly as the
/// seed says, every way rows travel (`minimal` has one user: array
/// parameters, no staging; `load` at 10,001 users spans two batches: binary
/// `COPY` into the empty table, then staged with arrays or with `COPY`):
/// into an empty table, compared equal with the stored rows on the next run
/// (nothing differs, nothing is written), and upserted into a table that is
/// not empty.
#[tokio::test]
async fn tricky_values_round_trip_through_copy_and_staging() {
    let mut expected = tricky_users();
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    let extra = expected.len() as u64;
    let load = Profile::Load { scale: 10_001 };
    // (profile, users, tables staged with COPY above this many rows)
    for (profile, users, copy_from_rows) in [
        (Profile::Minimal, 1, 0),
        (load, 10_001, seeder::run::COPY_FROM_ROWS),
        (load, 10_001, 0),
    ] {
        let db = TestDatabase::migrated("seed_tricky").await;
        let seeder = seeder(&db, with_tricky_users()).await;
        let conn = seeder.connection().clone();
        let only_core = SeedOptions {
            schema: Some("core".to_owned()),
            copy_from_rows,
            ..options(profile)
        };
        let inline = schema_core::seeds()
            .tables(&profile)
            .iter()
            .find(|t| t.table == "core.users")
            .map(|t| Upsert::for_table(t).unwrap().inline)
            .unwrap();
        assert_eq!(inline, users == 1, "{profile}");

        let first = seeder.run(&only_core).await.unwrap();
        let counts = first.counts("core.users");
        assert_eq!(
            (counts.inserted, counts.total()),
            (users + extra, users + extra),
            "{profile}"
        );
        assert_eq!(read_tricky_users(&conn).await, expected, "{profile}");

        let again = seeder.run(&only_core).await.unwrap();
        assert_nothing_changed(&again);
        assert_eq!(
            again.counts("core.users").unchanged,
            users + extra,
            "{profile}: a value sent compared different from the stored one"
        );

        exec(&conn, "DELETE FROM core.users WHERE email LIKE 'tricky%'").await;
        let upserted = seeder.run(&only_core).await.unwrap();
        let counts = upserted.counts("core.users");
        assert_eq!(
            (counts.inserted, counts.unchanged),
            (extra, users),
            "{profile}"
        );
        assert_eq!(read_tricky_users(&conn).await, expected, "{profile}");
    }
}

/// Every seeded row: its id and `xmin` (the transaction that last wrote it).
async fn row_versions(conn: &DatabaseConnection) -> BTreeMap<String, String> {
    hashes(conn, "t.id::text || '@' || t.xmin::text").await
}

/// Re-seeding unchanged data writes no row at all, with or without
/// `--overwrite`: every row keeps its `xmin`.
#[tokio::test]
async fn unchanged_rows_are_not_rewritten() {
    let db = TestDatabase::migrated("seed_xmin").await;
    let seeder = seeder(&db, workspace_seeds()).await;
    let conn = seeder.connection().clone();
    seeder.run(&options(Profile::Demo)).await.unwrap();
    let before = row_versions(&conn).await;
    assert!(before.values().all(|hash| !hash.starts_with("0:")));

    let again = seeder.run(&options(Profile::Demo)).await.unwrap();
    assert_nothing_changed(&again);
    assert_eq!(again.totals().unchanged, again.totals().total());
    assert_eq!(row_versions(&conn).await, before);

    let overwrite = SeedOptions {
        overwrite: true,
        ..options(Profile::Demo)
    };
    let overwritten = seeder.run(&overwrite).await.unwrap();
    assert_nothing_changed(&overwritten);
    assert_eq!(row_versions(&conn).await, before);
}

/// At a scale where tables span several batches: rows people changed are
/// left alone (and counted so) without `--overwrite` and reset with it,
/// while every other row keeps its `xmin` either way.
#[tokio::test]
async fn changed_sample_rows_are_left_alone_then_reset_with_overwrite() {
    let db = TestDatabase::migrated("seed_overwrite_load").await;
    let seeder = seeder(&db, workspace_seeds()).await;
    let conn = seeder.connection().clone();
    let profile = Profile::Load { scale: 25_000 };
    seeder.run(&options(profile)).await.unwrap();
    let pristine = content_hashes(&conn).await;

    exec(
        &conn,
        "UPDATE core.users SET display_name = 'Changed\tBy\nHand' \
         WHERE email IN ('user3@example.com', 'user24999@example.com')",
    )
    .await;
    exec(
        &conn,
        "UPDATE academy.enrollments SET status = 'dropped' WHERE id IN \
         (SELECT id FROM academy.enrollments WHERE status <> 'dropped' ORDER BY id LIMIT 3)",
    )
    .await;
    let edited = content_hashes(&conn).await;
    let versions = row_versions(&conn).await;

    let kept = seeder.run(&options(profile)).await.unwrap();
    assert_nothing_changed(&kept);
    assert_eq!(
        (
            kept.counts("core.users").kept,
            kept.counts("academy.enrollments").kept
        ),
        (2, 3),
        "{}",
        kept.render()
    );
    assert_eq!(content_hashes(&conn).await, edited);
    assert_eq!(row_versions(&conn).await, versions);

    let reset = seeder
        .run(&SeedOptions {
            overwrite: true,
            ..options(profile)
        })
        .await
        .unwrap();
    assert_eq!(
        (
            reset.counts("core.users").updated,
            reset.counts("academy.enrollments").updated,
            reset.totals().changed(),
        ),
        (2, 3, 5),
        "{}",
        reset.render()
    );
    assert_eq!(content_hashes(&conn).await, pristine);
    let after = row_versions(&conn).await;
    for (table, hash) in &versions {
        let touched = table == "core.users" || table == "academy.enrollments";
        assert_eq!(after[table] == *hash, !touched, "{table}");
    }
}

/// Staging tables of the seeder's session still in the catalog.
async fn staging_tables(conn: &DatabaseConnection) -> i64 {
    scalar_i64(
        conn,
        "SELECT count(*) FROM pg_class WHERE relpersistence = 't' AND relname LIKE 'seed\\_stage\\_%'",
    )
    .await
}

/// A failure midway leaves no partial table contents, whichever way the
/// rows went: a constraint violated in the set-based upsert from a staging
/// table, a constraint violated by the COPY straight into an empty table
/// after several batches, and a malformed row found while streaming. Each
/// error names the table and the cause; the schema's tables are as before,
/// no staging table is left, and the same session seeds fine afterwards.
#[tokio::test]
async fn failure_midway_leaves_no_partial_table_contents() {
    // Through a staging table: the tables are already seeded, and large
    // enough to travel by COPY.
    let staged = Profile::Load { scale: 12_000 };
    let db = TestDatabase::migrated("seed_fail_staged").await;
    workspace_seeder_run(&db, staged).await;
    let session = migration_runner::connect(&db.url, "seeder-test")
        .await
        .unwrap();
    let conn = session.connection();
    let before = table_hashes(conn).await;
    let bad_enrollment = workspace_with("academy", None, |tables| {
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
    let failing = seeder(&db, bad_enrollment).await;
    let by_copy = SeedOptions {
        copy_from_rows: 0,
        ..options(staged)
    };
    let err = failing.run(&by_copy).await.unwrap_err();
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
    assert_eq!(table_hashes(conn).await, before);
    assert_eq!(staging_tables(conn).await, 0);
    // The failed run's session is usable: the same run on it fails the
    // same way (not with a broken connection), and changes nothing either.
    // The same through array parameters.
    let again = failing.run(&options(staged)).await.unwrap_err();
    assert!(
        again.to_string().contains("enrollments_status_check"),
        "{again}"
    );
    assert_eq!(table_hashes(conn).await, before);

    // Straight into an empty table, failing after several batches.
    let fresh = TestDatabase::migrated("seed_fail_direct").await;
    let null_email = workspace_with("core", None, |tables| {
        map_batches(tables, "core.users", |batches| {
            let bad: Batch = vec![vec![
                seeding::id("core.users", "nobody").into(),
                Cell::Null,
                Cell::from("No Email"),
                Cell::Null,
            ]];
            Box::new(batches.chain(std::iter::once(bad)))
        });
    });
    let failing = seeder(&fresh, null_email).await;
    let err = failing
        .run(&options(Profile::Load { scale: 25_000 }))
        .await
        .unwrap_err();
    let message = err.to_string();
    let SeedError::Table {
        ref table,
        rows_written,
        ..
    } = err
    else {
        panic!("expected a table error, got: {message}");
    };
    assert_eq!(table, "core.users");
    assert_eq!(rows_written, 25_001, "{message}");
    assert!(
        message.contains("email") && message.contains("null"),
        "{message}"
    );
    let fresh_conn = failing.connection().clone();
    assert!(
        row_counts(&fresh_conn)
            .await
            .values()
            .all(|&count| count == 0)
    );
    // Same session, same (still broken) seeds: the same clean refusal.
    let rerun = failing.run(&options(Profile::Minimal)).await;
    assert!(matches!(rerun, Err(SeedError::Table { .. })), "{rerun:?}");
    let good = seeder(&fresh, workspace_seeds()).await;
    good.run(&options(Profile::Minimal)).await.unwrap();
    assert_eq!(
        scalar_i64(&fresh_conn, "SELECT count(*) FROM core.users").await,
        1
    );

    // A malformed row found while streaming, after good batches.
    let nul = workspace_with("academy", None, |tables| {
        map_batches(tables, "academy.enrollments", |batches| {
            let bad: Batch = vec![vec![
                seeding::id("academy.enrollments", "nul").into(),
                seeding::id("academy.courses", "course-0").into(),
                Population::user_id(0).into(),
                Cell::from("active\0"),
                seeding::base_date().into(),
            ]];
            Box::new(batches.chain(std::iter::once(bad)))
        });
    });
    let failing = seeder(&db, nul).await;
    let err = failing.run(&by_copy).await.unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, SeedError::InvalidRow { .. }), "{message}");
    assert!(
        message.contains("academy.enrollments") && message.contains("NUL character"),
        "{message}"
    );
    assert_eq!(table_hashes(conn).await, before);
    assert_eq!(staging_tables(conn).await, 0);
    let rerun = seeder(&db, workspace_seeds()).await;
    let report = rerun.run(&options(staged)).await.unwrap();
    assert_nothing_changed(&report);
}

async fn workspace_seeder_run(db: &TestDatabase, profile: Profile) -> SeedReport {
    let seeder = seeder(db, workspace_seeds()).await;
    let report = seeder.run(&options(profile)).await.unwrap();
    seeder.close().await.unwrap();
    report
}

// ---------------------------------------------------------------------------
// messages that say what to do

#[tokio::test]
async fn a_history_problem_without_migrate_is_not_blamed_on_migrate() {
    let db = TestDatabase::create("seed_history_unreadable");
    let conn = sea_orm::Database::connect(&db.url).await.unwrap();
    // A table of that name that is no migration history.
    exec(
        &conn,
        "CREATE TABLE public.seaql_migrations (something int)",
    )
    .await;
    let err = seeder::cli::run(SeedArgs::default(), &db.url)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(!text.contains("--migrate"), "{text}");
    assert!(!text.contains("applying pending migrations"), "{text}");
    assert!(text.contains("checking the migration history"), "{text}");
    assert!(text.contains("not a migration history"), "{text}");
    assert_eq!(err.exit_code(), Exit::Refused.code(), "{err}");
}

#[tokio::test]
async fn a_role_missing_table_privileges_is_refused_before_writing_with_every_grant() {
    let db = TestDatabase::migrated("seed_privileges").await;
    let conn = sea_orm::Database::connect(&db.url).await.unwrap();
    let role = format!("seeder_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    // It may read the history and use the schemas, but write only some tables.
    exec(
        &conn,
        &format!(
            "CREATE ROLE {role} LOGIN PASSWORD 'seed-pw-1';
             GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role};
             GRANT USAGE ON SCHEMA core, academy, talent, vacancy TO {role};
             GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA core, academy, talent, vacancy TO {role};
             REVOKE INSERT, UPDATE ON core.permissions FROM {role};
             REVOKE INSERT ON talent.skills FROM {role};"
        ),
    )
    .await;
    let as_role = db.url_as(&role, "seed-pw-1");
    let before = row_counts(&conn).await;
    let err = seeder::cli::run(SeedArgs::default(), &as_role)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert_eq!(err.exit_code(), Exit::Refused.code(), "{text}");
    for grant in [
        format!("GRANT INSERT, UPDATE ON core.permissions TO {role};"),
        format!("GRANT INSERT ON talent.skills TO {role};"),
    ] {
        assert!(text.contains(&grant), "{grant}\n{text}");
    }
    assert!(!text.contains("academy."), "only what is missing: {text}");
    assert_eq!(row_counts(&conn).await, before, "nothing was written");

    // Granted what it said: it seeds.
    exec(
        &conn,
        &format!(
            "GRANT INSERT, UPDATE ON core.permissions TO {role}; GRANT INSERT ON talent.skills TO {role};"
        ),
    )
    .await;
    let seeded = seeder::cli::run(SeedArgs::default(), &as_role).await;
    assert_eq!(seeded.unwrap(), Exit::Success.code());
    exec(&conn, &format!("DROP OWNED BY {role}; DROP ROLE {role}")).await;
}
