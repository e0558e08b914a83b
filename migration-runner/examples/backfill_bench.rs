//! Benchmark: the `academy_webinar_capacity` backfill against its floor, one
//! `UPDATE` of the same rows, measured in the same run on two identical
//! databases; with the longest batch transaction next to its timeout, and
//! how long a reader and a writer of `academy.webinars` waited while each
//! ran (the same probes run next to the `UPDATE` and next to the backfill).
//! The backfill runs with the defaults `backfill run` uses, through the same
//! driver as the release binary.
//!
//! ```text
//! cargo run --release -p migration-runner --example backfill_bench                      # 1,000,000 rows
//! cargo run --release -p migration-runner --example backfill_bench -- --rows 200000 --json target/backfill.json
//! ```
//!
//! `--json PATH` writes every figure as one object; with `$BENCH_JSON` set
//! (`cargo xtask bench`) the figures are also appended in the harness's
//! shape. `BENCH_TARGET_MS` and `BENCH_SLEEP_MS` try other throttling than
//! the defaults.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use migration_dev::bench::{Figure, write_figures};
use migration_dev::testing::{TestDatabase, scalar_i64};
use migration_runner::backfill::{Backfills, RunOptions, driver};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde_json::json;

const BACKFILL: &str = "academy_webinar_capacity";
const ADD_CAPACITY: &str = "m20251008_120000_academy_add_webinar_capacity";
const HOST: &str = "00000000-0000-0000-0000-000000000001";
const RANGE: &str = "w.id BETWEEN $1::uuid AND $2::uuid";
/// The issue's target: the backfill's rate over one `UPDATE`'s.
const TARGET_RATIO: f64 = 0.9;

struct Args {
    rows: u64,
    json: Option<PathBuf>,
}

fn args() -> Args {
    let mut parsed = Args {
        rows: 1_000_000,
        json: None,
    };
    let mut args = std::env::args().skip(1);
    let rows = |text: Option<String>| -> u64 {
        text.and_then(|t| t.replace(['_', ','], "").parse().ok())
            .filter(|&n| n > 0)
            .unwrap_or_else(|| usage("a positive row count"))
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--rows" => parsed.rows = rows(args.next()),
            "--json" => {
                parsed.json = Some(PathBuf::from(
                    args.next().unwrap_or_else(|| usage("--json needs a path")),
                ));
            }
            "-h" | "--help" => usage(""),
            other if !other.starts_with('-') => parsed.rows = rows(Some(other.to_owned())),
            other => usage(&format!("unknown argument `{other}`")),
        }
    }
    parsed
}

fn usage(problem: &str) -> ! {
    if !problem.is_empty() {
        eprintln!("backfill_bench: {problem}");
    }
    eprintln!("usage: backfill_bench [ROWS | --rows ROWS] [--json PATH]   (default 1000000 rows)");
    std::process::exit(if problem.is_empty() { 0 } else { 64 })
}

async fn load(label: &str, rows: u64) -> (TestDatabase, DatabaseConnection) {
    let db = TestDatabase::create(label);
    db.migrate(Some(ADD_CAPACITY.to_owned())).await;
    let conn = sea_orm::Database::connect(&db.url).await.expect("connect");
    conn.execute_unprepared(&format!(
        "INSERT INTO core.users (id, email, display_name) VALUES ('{HOST}', 'host@example.com', 'Host');
         INSERT INTO core.users (id, email, display_name)
              SELECT md5('u' || g)::uuid, 'u' || g || '@example.com', 'U' FROM generate_series(1, 2000) g;
         INSERT INTO academy.courses (id, slug, title, instructor_id)
              SELECT md5('c' || g)::uuid, 'c' || g, 'Course', '{HOST}' FROM generate_series(1, 200) g;
         INSERT INTO academy.enrollments (id, course_id, user_id, enrolled_at)
              SELECT md5('e' || c || '-' || u)::uuid, md5('c' || c)::uuid, md5('u' || u)::uuid, now()
                FROM generate_series(1, 200) c, generate_series(1, (c % 5) * 20 + 10) u;
         INSERT INTO academy.webinars (id, slug, title, course_id, host_id, starts_at)
              SELECT md5('w' || g)::uuid, 'w' || g, 'Webinar',
                     CASE WHEN g % 4 = 0 THEN NULL ELSE md5('c' || (g % 200 + 1))::uuid END, '{HOST}', now()
                FROM generate_series(1, {rows}) g;"
    ))
    .await
    .expect("load webinars");
    for sql in ["VACUUM ANALYZE academy.webinars", "CHECKPOINT"] {
        conn.execute_unprepared(sql).await.expect(sql);
    }
    (db, conn)
}

/// The longest single wait of a probe and how many times it ran.
#[derive(Debug, Clone, Copy, Default)]
struct Waits {
    longest: Duration,
    count: u64,
}

impl Waits {
    fn ms(self) -> f64 {
        self.longest.as_secs_f64() * 1000.0
    }
}

/// A reader (a short range read) or a writer (one row's other column
/// updated) of the webinars, in a loop, until `stop`.
async fn probe(url: String, stop: Arc<AtomicBool>, rows: u64, write: bool) -> Waits {
    let conn = sea_orm::Database::connect(&url).await.expect("probe");
    let mut waits = Waits::default();
    let mut index = if write { 7 } else { 1 };
    while !stop.load(Ordering::Relaxed) {
        index = (index * 7919 + 13) % rows + 1;
        let sql = if write {
            format!(
                "UPDATE academy.webinars SET duration_minutes = duration_minutes \
                  WHERE id = md5('w{index}')::uuid"
            )
        } else {
            format!(
                "SELECT count(capacity) FROM (SELECT capacity FROM academy.webinars \
                  WHERE id >= md5('w{index}')::uuid ORDER BY id LIMIT 50) s"
            )
        };
        let at = Instant::now();
        conn.execute_raw(Statement::from_string(DbBackend::Postgres, sql))
            .await
            .expect("probe statement");
        waits.longest = waits.longest.max(at.elapsed());
        waits.count += 1;
        tokio::time::sleep(Duration::from_millis(if write { 20 } else { 5 })).await;
    }
    waits
}

/// Runs `work` with a reader and a writer on `url`'s webinars; returns its
/// result and the probes' waits.
async fn probed<T>(
    url: &str,
    rows: u64,
    work: impl std::future::Future<Output = T>,
) -> (T, Waits, Waits) {
    let stop = Arc::new(AtomicBool::new(false));
    let reader = tokio::spawn(probe(url.to_owned(), stop.clone(), rows, false));
    let writer = tokio::spawn(probe(url.to_owned(), stop.clone(), rows, true));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let result = work.await;
    stop.store(true, Ordering::Relaxed);
    let reader = reader.await.expect("reader");
    let writer = writer.await.expect("writer");
    (result, reader, writer)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let Args { rows, json } = args();
    let backfills = Backfills::workspace(&schema_registry::workspace()).expect("backfills");
    let backfill = backfills.get(BACKFILL).expect("the capacity backfill");
    let batch_sql = backfill.inner.batch_sql();
    assert!(
        batch_sql.contains(RANGE),
        "the batch SQL filters on {RANGE}"
    );
    let single = batch_sql.replace(RANGE, "true");

    eprintln!("loading {rows} webinars into two databases ...");
    let ((update_db, update_conn), (backfill_db, backfill_conn)) =
        tokio::join!(load("bench_update", rows), load("bench_backfill", rows));

    // The floor: one UPDATE of every row, with the server's settings.
    eprintln!("one UPDATE of {rows} rows ...");
    let ((updated, update_time), update_reader, update_writer) =
        probed(&update_db.url, rows, async {
            let started = Instant::now();
            let updated = update_conn
                .execute_unprepared(&single)
                .await
                .expect("single update")
                .rows_affected();
            (updated, started.elapsed())
        })
        .await;
    assert_eq!(updated, rows);
    // Its database goes before the backfill runs, so its autovacuum and dirty
    // buffers do not compete with the backfill.
    drop(update_conn);
    drop(update_db);
    backfill_conn
        .execute_unprepared("CHECKPOINT")
        .await
        .expect("checkpoint");

    migration_runner::backfill::flags::set(&backfill_conn, BACKFILL, true, Some("bench"))
        .await
        .expect("flag on");
    let session = migration_runner::connect(&backfill_db.url, "backfill-bench")
        .await
        .expect("session");
    let env_ms = |name: &str| {
        std::env::var(name)
            .ok()
            .map(|v| Duration::from_millis(v.parse().expect("milliseconds")))
    };
    let defaults = RunOptions::default();
    let options = RunOptions {
        target_batch: env_ms("BENCH_TARGET_MS").unwrap_or(defaults.target_batch),
        sleep: env_ms("BENCH_SLEEP_MS").unwrap_or(defaults.sleep),
        ..defaults
    };
    eprintln!("the backfill over {rows} rows ...");
    let (report, backfill_reader, backfill_writer) = probed(&backfill_db.url, rows, async {
        driver::run(session.connection(), backfill, &options, &mut |_| {})
            .await
            .expect("backfill")
    })
    .await;
    let _ = session.close().await;

    assert_eq!(report.rows, rows);
    let left = scalar_i64(
        &backfill_conn,
        "SELECT count(*) FROM academy.webinars WHERE capacity IS NULL",
    )
    .await;
    assert_eq!(left, 0);
    let ledger_rows = scalar_i64(
        &backfill_conn,
        &format!("SELECT rows_done FROM public.backfill_ledger WHERE name = '{BACKFILL}'"),
    )
    .await;
    assert_eq!(
        ledger_rows, rows as i64,
        "the ledger counted every row once"
    );

    let update_rate = rows as f64 / update_time.as_secs_f64();
    let backfill_rate = rows as f64 / report.elapsed.as_secs_f64();
    let ratio = backfill_rate / update_rate;
    let timeout = report.statement_timeout;
    let within = report.longest_batch <= timeout;
    println!("rows                      {rows}");
    println!(
        "one UPDATE (floor)        {:>8.2} s  {:>10.0} rows/s",
        update_time.as_secs_f64(),
        update_rate
    );
    println!(
        "backfill, defaults        {:>8.2} s  {:>10.0} rows/s  ({} batches, {} retried, sleep {} ms, target {} ms)",
        report.elapsed.as_secs_f64(),
        backfill_rate,
        report.batches,
        report.retries,
        options.sleep.as_millis(),
        options.target_batch.as_millis()
    );
    println!(
        "ratio backfill / UPDATE   {ratio:>8.2}  (target >= {TARGET_RATIO:.2}: {})",
        if ratio >= TARGET_RATIO {
            "met"
        } else {
            "NOT met"
        }
    );
    println!(
        "longest batch transaction {:>8} ms (its timeout {} ms: {})",
        report.longest_batch.as_millis(),
        timeout.as_millis(),
        if within { "within" } else { "EXCEEDED" }
    );
    println!(
        "longest reader wait       {:>8.1} ms during the backfill ({} reads), {:.1} ms during the UPDATE ({} reads)",
        backfill_reader.ms(),
        backfill_reader.count,
        update_reader.ms(),
        update_reader.count
    );
    println!(
        "longest writer wait       {:>8.1} ms during the backfill ({} writes), {:.1} ms during the UPDATE ({} writes)",
        backfill_writer.ms(),
        backfill_writer.count,
        update_writer.ms(),
        update_writer.count
    );

    let figures = json!({
        "bench": "backfill",
        "backfill": BACKFILL,
        "rows": rows,
        "floor": {
            "what": "one UPDATE of the same rows",
            "seconds": update_time.as_secs_f64(),
            "rows_per_s": update_rate,
            "reader_longest_wait_ms": update_reader.ms(),
            "reader_reads": update_reader.count,
            "writer_longest_wait_ms": update_writer.ms(),
            "writer_writes": update_writer.count,
        },
        "backfill_run": {
            "seconds": report.elapsed.as_secs_f64(),
            "rows_per_s": backfill_rate,
            "batches": report.batches,
            "retries": report.retries,
            "sleep_ms": options.sleep.as_millis() as u64,
            "target_batch_ms": options.target_batch.as_millis() as u64,
            "lock_timeout_ms": options.lock_timeout.as_millis() as u64,
            "batch_timeout_ms": timeout.as_millis() as u64,
            "longest_batch_ms": report.longest_batch.as_secs_f64() * 1000.0,
            "longest_batch_within_timeout": within,
            "reader_longest_wait_ms": backfill_reader.ms(),
            "reader_reads": backfill_reader.count,
            "writer_longest_wait_ms": backfill_writer.ms(),
            "writer_writes": backfill_writer.count,
        },
        "ratio": ratio,
        "target_ratio": TARGET_RATIO,
        "target_met": ratio >= TARGET_RATIO && within,
    });
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&figures).expect("json");
        std::fs::write(&path, text + "\n")
            .unwrap_or_else(|err| panic!("writing {}: {err}", path.display()));
        eprintln!("figures written to {}", path.display());
    }
    write_figures(&[Figure::rate(
        "backfill",
        "capacity backfill, defaults",
        rows,
        &[backfill_rate],
        Some(("one UPDATE", &[update_rate])),
    )
    .with_target(&format!("<= {:.2}", 1.0 / TARGET_RATIO))
    .with_note(&format!(
        "{} batches; longest batch {} ms (timeout {} ms); longest reader wait {:.1} ms, writer {:.1} ms",
        report.batches,
        report.longest_batch.as_millis(),
        timeout.as_millis(),
        backfill_reader.ms(),
        backfill_writer.ms()
    ))]);
}
