//! Benchmark: seeding `load --scale N` against the floor, `COPY` of the very
//! same rows into the very same tables, measured in the same run.
//!
//! For each scale given on the command line (default 100000), each run on
//! fresh, migrated databases of the test cluster:
//!
//! - **first seed**: the seeder end to end (migration check, catalog check,
//!   every schema's transaction) into an empty database;
//! - **re-seed**: the same run again over unchanged data (nothing written);
//! - **COPY floor**: the same seeds' rows generated the same way and
//!   streamed with binary `COPY` straight into the real tables of another
//!   fresh database (same client, same driver, one transaction per schema,
//!   core first), no staging, no upsert; it runs before the seeder on even
//!   runs, after it on odd ones. Like every `COPY` through sqlx, each table
//!   pays one delayed-ACK wait (about 40 ms, no `TCP_NODELAY`), which the
//!   seeder avoids for tables that fit in one batch;
//! - **psql \copy floor** (unless `--no-psql`): the seeded rows exported to
//!   CSV, then loaded into a third fresh database by one `psql` session
//!   (libpq: no delayed-ACK wait, but CSV to parse), timed for the load only
//!   (no generation at all).
//!
//! Peak memory is the seeder's: the process's peak resident set (VmHWM) is
//! reset before each scale (`/proc/self/clear_refs`) and read after its
//! seeds, before the floors run, so each scale reports its own peak.
//! Figures are medians over `--runs N` (default 1), with min and max.
//!
//! ```text
//! cargo run --release -p seeder --example load_bench -- 100000 1000000 --runs 3
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use migration_dev::testing::TestDatabase;
use schema_core::seeding::{Batch, Profile};
use sea_orm::sqlx::postgres::PgConnection;
use sea_orm::sqlx::{self, AssertSqlSafe, Connection as _};
use seeder::upsert::{self, COPY_HEADER, COPY_TRAILER, EncodedBatch};
use seeder::{SeedOptions, SeedReport, Seeder, order, workspace_seeds};

#[derive(Debug, Default)]
struct Run {
    rows: u64,
    first: Duration,
    reseed: Duration,
    copy: Duration,
    psql: Option<Duration>,
    peak_rss_kib: u64,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut scales = Vec::new();
    let mut runs = 1_usize;
    let mut psql = true;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--runs" => {
                runs = iter
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("--runs takes a number");
            }
            "--no-psql" => psql = false,
            other => scales.push(
                other
                    .replace('_', "")
                    .parse::<u64>()
                    .unwrap_or_else(|_| panic!("not a scale: {other}")),
            ),
        }
    }
    if scales.is_empty() {
        scales.push(100_000);
    }

    let mut table = Vec::new();
    for &scale in &scales {
        let mut results = Vec::with_capacity(runs);
        for run in 1..=runs {
            eprintln!("scale {scale}: run {run} of {runs}");
            // Alternate which goes first, so neither always inherits the
            // other's checkpoints and dirty buffers.
            let result = bench(scale, psql, run % 2 == 0).await;
            print_run(scale, &result);
            results.push(result);
        }
        table.push((scale, results));
    }

    println!();
    println!(
        "| scale | rows | first seed | re-seed | COPY floor | first / COPY (rows/s) | re-seed speed-up | psql \\copy | first / psql (rows/s) | peak RSS |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (scale, results) in &table {
        let rows = results[0].rows;
        let first = spread(results.iter().map(|r| r.first));
        let reseed = spread(results.iter().map(|r| r.reseed));
        let copy = spread(results.iter().map(|r| r.copy));
        let psql: Vec<Duration> = results.iter().filter_map(|r| r.psql).collect();
        let psql_cell = if psql.is_empty() {
            ("-".to_owned(), "-".to_owned())
        } else {
            let spread = spread(psql.iter().copied());
            (
                format!("{} ({})", spread.show(), rate(rows, spread.median)),
                format!(
                    "{:.2}x",
                    spread.median.as_secs_f64() / first.median.as_secs_f64()
                ),
            )
        };
        let peak = results.iter().map(|r| r.peak_rss_kib).max().unwrap_or(0);
        println!(
            "| {scale} | {rows} | {} ({}) | {} ({}) | {} ({}) | {:.2}x | {:.1}x | {} | {} | {:.1} MiB |",
            first.show(),
            rate(rows, first.median),
            reseed.show(),
            rate(rows, reseed.median),
            copy.show(),
            rate(rows, copy.median),
            copy.median.as_secs_f64() / first.median.as_secs_f64(),
            first.median.as_secs_f64() / reseed.median.as_secs_f64(),
            psql_cell.0,
            psql_cell.1,
            peak as f64 / 1024.0,
        );
        figures(*scale, results);
    }
    ExitCode::SUCCESS
}

/// The figures `cargo xtask bench` reads (`$BENCH_JSON`): first seed and
/// re-seed against the binary COPY floor, in rows per second.
fn figures(scale: u64, results: &[Run]) {
    use migration_dev::bench::{Figure, write_figures};
    let rows = results[0].rows;
    let per_second = |pick: fn(&Run) -> Duration| -> Vec<f64> {
        results
            .iter()
            .map(|run| rows as f64 / pick(run).as_secs_f64())
            .collect()
    };
    let copy = per_second(|run| run.copy);
    let first = per_second(|run| run.first);
    let peak = results.iter().map(|r| r.peak_rss_kib).max().unwrap_or(0) as f64 / 1024.0;
    let note = format!("scale {scale}, peak RSS {peak:.1} MiB");
    let mut out = vec![
        Figure::rate(
            "seed",
            "first seed (`load`)",
            rows,
            &first,
            Some(("binary COPY of the same rows", &copy)),
        )
        .with_target("<= 1.11")
        .with_note(&note),
        Figure::rate(
            "seed",
            "re-seed, unchanged data",
            rows,
            &per_second(|run| run.reseed),
            Some(("the first seed", &first)),
        )
        .with_target("<= 0.20")
        .with_note(&note),
    ];
    let psql: Vec<f64> = results
        .iter()
        .filter_map(|run| run.psql)
        .map(|elapsed| rows as f64 / elapsed.as_secs_f64())
        .collect();
    if !psql.is_empty() {
        out.push(Figure::rate(
            "seed",
            "first seed (`load`), against psql \\copy",
            rows,
            &first,
            Some(("one psql session's \\copy of the same rows as CSV", &psql)),
        ));
    }
    write_figures(&out);
}

/// One run at `scale`: the seeder twice and the floors (the binary COPY
/// floor first when `floor_first`).
async fn bench(scale: u64, psql: bool, floor_first: bool) -> Run {
    let profile = Profile::Load { scale };
    let early_floor = if floor_first {
        Some(copy_floor_in_fresh_database(profile).await)
    } else {
        None
    };
    let db = TestDatabase::migrated("load_bench").await;
    reset_peak_rss();
    let seeder = Seeder::connect(&db.url, workspace_seeds())
        .await
        .expect("connecting the seeder");
    let options = SeedOptions {
        profile,
        ..SeedOptions::default()
    };
    let first = seeder.run(&options).await.expect("seeding");
    check_first(&first);
    let second = seeder.run(&options).await.expect("seeding again");
    assert_eq!(second.totals().changed(), 0, "the re-seed changed rows");
    assert_eq!(second.totals().unchanged, first.totals().inserted);
    let peak_rss_kib = peak_rss_kib();
    seeder.close().await.expect("closing the seeder");
    let rows = first.totals().total();

    let (copied, copy) = match early_floor {
        Some(floor) => floor,
        None => copy_floor_in_fresh_database(profile).await,
    };
    assert_eq!(copied, rows, "the COPY floor loaded other rows");

    let psql = if psql {
        Some(psql_floor(&db, &first).await)
    } else {
        None
    };
    Run {
        rows,
        first: first.elapsed,
        reseed: second.elapsed,
        copy,
        psql,
        peak_rss_kib,
    }
}

fn check_first(report: &SeedReport) {
    let totals = report.totals();
    assert_eq!(
        totals.inserted,
        totals.total(),
        "the first seed did not insert every row"
    );
}

async fn copy_floor_in_fresh_database(profile: Profile) -> (u64, Duration) {
    let floor_db = TestDatabase::migrated("load_bench_copy").await;
    copy_floor(&floor_db.url, profile).await
}

/// The same rows as the seeder, generated and encoded the same way on a
/// blocking thread, streamed with binary `COPY` straight into the tables.
async fn copy_floor(url: &str, profile: Profile) -> (u64, Duration) {
    let seeds = workspace_seeds();
    let order = order::resolve(&seeds, None).expect("seed order");
    let mut conn = PgConnection::connect(url).await.expect("connecting");
    let started = Instant::now();
    let mut total = 0;
    for index in order {
        let tables = seeds[index].tables(&profile);
        if tables.is_empty() {
            continue;
        }
        execute(&mut conn, "BEGIN").await;
        for table in tables {
            let name = table.table;
            let columns = table.columns;
            let list = columns
                .iter()
                .map(|c| upsert::quote(c.name))
                .collect::<Vec<_>>()
                .join(", ");
            let (schema, relation) = name.split_once('.').unwrap();
            let statement = format!(
                "COPY {}.{} ({list}) FROM STDIN (FORMAT binary)",
                upsert::quote(schema),
                upsert::quote(relation)
            );
            let (sender, mut receiver) = tokio::sync::mpsc::channel::<EncodedBatch>(2);
            let mut batches = table.batches;
            let producer = tokio::task::spawn_blocking(move || {
                for batch in batches.by_ref() {
                    let batch: Batch = batch;
                    let mut encoded = EncodedBatch::default();
                    upsert::encode(name, columns, &batch, &mut encoded).expect("encoding");
                    if sender.blocking_send(encoded).is_err() {
                        break;
                    }
                }
            });
            let mut copy = conn.copy_in_raw(&statement).await.expect("COPY");
            copy.send(COPY_HEADER).await.expect("sending");
            while let Some(encoded) = receiver.recv().await {
                copy.send(encoded.bytes).await.expect("sending");
            }
            copy.send(COPY_TRAILER).await.expect("sending");
            total += copy.finish().await.expect("finishing COPY");
            producer.await.expect("generating rows");
        }
        execute(&mut conn, "COMMIT").await;
    }
    let elapsed = started.elapsed();
    conn.close().await.expect("closing");
    (total, elapsed)
}

async fn execute(conn: &mut PgConnection, sql: &'static str) {
    sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(conn)
        .await
        .unwrap_or_else(|err| panic!("{sql}: {err}"));
}

/// The seeded rows exported to CSV, then loaded into a fresh database by
/// one psql session; only the load is timed.
async fn psql_floor(seeded: &TestDatabase, report: &SeedReport) -> Duration {
    let tables: Vec<&str> = report.tables.iter().map(|t| t.table.as_str()).collect();
    let dir = std::env::temp_dir().join(format!("seeder-copy-floor-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("creating the CSV directory");
    let psql = seeded.cluster().psql();
    let export: Vec<String> = tables
        .iter()
        .map(|table| format!("\\copy {table} TO '{}' CSV", csv(&dir, table).display()))
        .collect();
    run_psql(&psql, &seeded.url, &export);
    let target = TestDatabase::migrated("load_bench_psql").await;
    let mut import = vec!["BEGIN".to_owned()];
    import.extend(
        tables
            .iter()
            .map(|table| format!("\\copy {table} FROM '{}' CSV", csv(&dir, table).display())),
    );
    import.push("COMMIT".to_owned());
    let started = Instant::now();
    run_psql(&psql, &target.url, &import);
    let elapsed = started.elapsed();
    let _ = std::fs::remove_dir_all(&dir);
    elapsed
}

fn csv(dir: &Path, table: &str) -> PathBuf {
    dir.join(format!("{table}.csv"))
}

/// One psql session running `commands` in order (one `-c` each).
fn run_psql(psql: &Path, url: &str, commands: &[String]) {
    let status = Command::new(psql)
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url])
        .args(commands.iter().flat_map(|command| ["-c", command.as_str()]))
        .status()
        .expect("running psql");
    assert!(status.success(), "psql failed: {status}");
}

fn reset_peak_rss() {
    // "5" resets the peak resident set size (Linux 4.0+).
    if let Err(err) = std::fs::write("/proc/self/clear_refs", "5") {
        eprintln!("warning: cannot reset the peak RSS ({err}); peaks include earlier scales");
    }
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                line.strip_prefix("VmHWM:")
                    .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            })
        })
        .unwrap_or(0)
}

fn print_run(scale: u64, run: &Run) {
    println!(
        "scale {scale}: {} rows; first seed {:.2} s ({}), re-seed {:.2} s ({}, {:.1}x faster), \
         COPY floor {:.2} s ({}, first seed at {:.2}x), psql \\copy {}; peak RSS {:.1} MiB",
        run.rows,
        run.first.as_secs_f64(),
        rate(run.rows, run.first),
        run.reseed.as_secs_f64(),
        rate(run.rows, run.reseed),
        run.first.as_secs_f64() / run.reseed.as_secs_f64(),
        run.copy.as_secs_f64(),
        rate(run.rows, run.copy),
        run.copy.as_secs_f64() / run.first.as_secs_f64(),
        run.psql.map_or("-".to_owned(), |psql| format!(
            "{:.2} s ({}, first seed at {:.2}x)",
            psql.as_secs_f64(),
            rate(run.rows, psql),
            psql.as_secs_f64() / run.first.as_secs_f64()
        )),
        run.peak_rss_kib as f64 / 1024.0,
    );
}

struct Spread {
    median: Duration,
    min: Duration,
    max: Duration,
}

impl Spread {
    fn show(&self) -> String {
        if self.min == self.max {
            format!("{:.2} s", self.median.as_secs_f64())
        } else {
            format!(
                "{:.2} s [{:.2}–{:.2}]",
                self.median.as_secs_f64(),
                self.min.as_secs_f64(),
                self.max.as_secs_f64()
            )
        }
    }
}

fn spread(times: impl Iterator<Item = Duration>) -> Spread {
    let mut times: Vec<Duration> = times.collect();
    times.sort();
    Spread {
        median: times[times.len() / 2],
        min: times[0],
        max: times[times.len() - 1],
    }
}

fn rate(rows: u64, elapsed: Duration) -> String {
    format!("{:.0} rows/s", rows as f64 / elapsed.as_secs_f64())
}
