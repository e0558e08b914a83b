//! Benchmark: `load --scale N` into a fresh, migrated database of the test
//! cluster, timed end to end (migration check, catalog check, every schema's
//! transaction), then the same run again (the idempotent no-op), and with
//! `--copy-floor` the floor to compare with: the very same rows exported to
//! CSV and loaded into another fresh, migrated database with `psql \copy`
//! (same tables, indexes and constraints; one psql session).
//!
//! Peak memory is the process's; measure it with `/usr/bin/time -v`
//! ("Maximum resident set size"), at two scales to see it stay flat.
//!
//! ```text
//! cargo build --release -p seeder --example load_bench
//! /usr/bin/time -v target/release/examples/load_bench 100000 --copy-floor
//! /usr/bin/time -v target/release/examples/load_bench 1000000
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use migration_dev::testing::TestDatabase;
use seeder::{Profile, SeedOptions, SeedReport, Seeder, workspace_seeds};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let scale: u64 = args
        .iter()
        .find_map(|arg| arg.replace('_', "").parse().ok())
        .unwrap_or(100_000);
    let copy_floor = args.iter().any(|arg| arg == "--copy-floor");
    let once = args.iter().any(|arg| arg == "--once");

    let db = TestDatabase::migrated("load_bench").await;
    let seeder = Seeder::connect(&db.url, workspace_seeds())
        .await
        .expect("connecting the seeder");
    let options = SeedOptions {
        profile: Profile::Load { scale },
        progress: true,
        ..SeedOptions::default()
    };
    let first = seeder.run(&options).await.expect("seeding");
    print!("{}", first.render());
    summary("seed (cold)", &first);
    if !once {
        let second = seeder.run(&options).await.expect("seeding again");
        summary("seed again (no-op)", &second);
        assert_eq!(second.totals().changed(), 0, "the second run changed rows");
    }

    if copy_floor {
        let tables: Vec<String> = first.tables.iter().map(|t| t.table.clone()).collect();
        let rows = first.totals().total();
        let dir = std::env::temp_dir().join(format!("seeder-copy-floor-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("creating the CSV directory");
        let psql = db.cluster().psql();
        let export: Vec<String> = tables
            .iter()
            .map(|table| format!("\\copy {table} TO '{}' CSV", csv(&dir, table).display()))
            .collect();
        run_psql(&psql, &db.url, &export);
        let target = TestDatabase::migrated("load_bench_copy").await;
        let import: Vec<String> = tables
            .iter()
            .map(|table| format!("\\copy {table} FROM '{}' CSV", csv(&dir, table).display()))
            .collect();
        let started = Instant::now();
        run_psql(&psql, &target.url, &import);
        let elapsed = started.elapsed();
        println!(
            "{:<22} {rows:>9} rows in {:>7.2} s = {:>9.0} rows/s",
            "psql \\copy (floor)",
            elapsed.as_secs_f64(),
            rows as f64 / elapsed.as_secs_f64()
        );
        println!(
            "seeder / copy time ratio: {:.2}",
            first.elapsed.as_secs_f64() / elapsed.as_secs_f64()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
    if let Err(err) = seeder.close().await {
        eprintln!("closing: {err}");
    }
    ExitCode::SUCCESS
}

fn summary(label: &str, report: &SeedReport) {
    let totals = report.totals();
    println!(
        "{label:<22} {:>9} rows in {:>7.2} s = {:>9.0} rows/s ({} inserted, {} updated, {} unchanged)",
        totals.total(),
        report.elapsed.as_secs_f64(),
        report.rows_per_second(),
        totals.inserted,
        totals.updated,
        totals.unchanged
    );
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
