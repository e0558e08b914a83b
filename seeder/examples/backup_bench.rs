//! Benchmark: `db backup` and `db verify-backup` of the `load` profile
//! (scale 100,000 by default) against plain `pg_dump -Fc` and `pg_restore`
//! into an empty database of the same data, measured in the same run. Backup
//! adds the manifest's counts and hashes (read in the dump's snapshot);
//! verify-backup adds the throwaway database, the hashes again and `status`.
//!
//! ```text
//! cargo run --release -p seeder --example backup_bench            # scale 100,000
//! cargo run --release -p seeder --example backup_bench -- 20000
//! ```

use std::process::Command;
use std::time::{Duration, Instant};

use migration_dev::testing::TestDatabase;
use migration_runner::connect::{ConnectSettings, DatabaseTarget, UrlSource};
use migration_runner::operations::{self, Progress};
use seeder::{Profile, SeedOptions, Seeder, workspace_seeds};

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn timed(mut command: Command) -> Duration {
    let started = Instant::now();
    let status = command.status().expect("run the tool");
    assert!(status.success(), "{command:?} failed");
    started.elapsed()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let scale: u64 = std::env::args()
        .skip(1)
        .find_map(|arg| arg.replace('_', "").parse().ok())
        .unwrap_or(100_000);
    let db = TestDatabase::migrated("backup_bench").await;
    let seeder = Seeder::connect(&db.url, workspace_seeds())
        .await
        .expect("seeder");
    let options = SeedOptions {
        profile: Profile::Load { scale },
        progress: false,
        ..SeedOptions::default()
    };
    eprintln!("seeding load --scale {scale} ...");
    seeder.run(&options).await.expect("seeding");
    let target = DatabaseTarget::parse(&db.url, UrlSource::Given).expect("url");
    let settings = ConnectSettings::new("backup_bench");
    let dir = std::env::temp_dir().join(format!("backup-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bin = migration_dev::local_pg::find_bin_dir().expect("PostgreSQL binaries");
    let env = target.libpq_environment();

    // Plain pg_dump of the same schemas, then pg_restore into an empty database.
    let plain = dir.join("plain.dump");
    let mut dump = Command::new(bin.join("pg_dump"));
    dump.envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .args([
            "-Fc", "-n", "core", "-n", "academy", "-n", "talent", "-n", "vacancy", "-n", "public",
            "-f",
        ])
        .arg(&plain);
    let pg_dump = timed(dump);
    let empty = TestDatabase::create("backup_bench_plain");
    let mut restore = Command::new(bin.join("pg_restore"));
    restore
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("PGDATABASE", &empty.name)
        .args(["--no-owner", "--single-transaction", "-d", &empty.name])
        .arg(&plain);
    // `CREATE SCHEMA public` fails in a fresh database; restore without it as the engine does.
    let list = Command::new(bin.join("pg_restore"))
        .arg("-l")
        .arg(&plain)
        .output()
        .unwrap();
    let list_path = dir.join("plain.list");
    let filtered: String = String::from_utf8_lossy(&list.stdout)
        .lines()
        .filter(|l| !l.contains(" SCHEMA - public ") && !l.contains(" COMMENT - SCHEMA public "))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&list_path, filtered).unwrap();
    restore.arg(format!("--use-list={}", list_path.display()));
    let pg_restore = timed(restore);

    let archive = dir.join("engine.dump");
    let started = Instant::now();
    let report = operations::backup(
        &schema_registry::workspace(),
        &target,
        Some(&archive),
        &settings,
        Progress::Quiet,
    )
    .await
    .expect("backup");
    let backup = started.elapsed();
    let started = Instant::now();
    let verified = operations::verify_backup(
        &schema_registry::workspace(),
        &target,
        &archive,
        &settings,
        Progress::Quiet,
    )
    .await
    .expect("verify-backup");
    let verify = started.elapsed();
    assert!(verified.passed(), "{:?}", verified.mismatches);

    println!(
        "load profile, scale {scale}: {} tables, {} rows, archive {:.1} MB",
        report.manifest.tables.len(),
        report.manifest.rows(),
        report.manifest.archive_bytes as f64 / 1e6
    );
    println!("plain pg_dump -Fc:      {}", secs(pg_dump));
    println!(
        "db backup:              {}  ({:.2}x pg_dump; manifest counts and hashes in the dump's snapshot)",
        secs(backup),
        backup.as_secs_f64() / pg_dump.as_secs_f64()
    );
    println!("plain pg_restore:       {}", secs(pg_restore));
    println!(
        "db verify-backup:       {}  ({:.2}x pg_restore; its restore {:.2} s, then hashes and status)",
        secs(verify),
        verify.as_secs_f64() / pg_restore.as_secs_f64(),
        verified.restore_ms as f64 / 1000.0
    );
    let rows = report.manifest.rows().max(0) as u64;
    migration_dev::bench::write_figures(&[
        migration_dev::bench::Figure::time(
            "backup",
            "db backup",
            rows,
            &[backup],
            Some(("pg_dump -Fc of the same schemas", &[pg_dump])),
        )
        .with_note(&format!(
            "load --scale {scale}, {} tables",
            report.manifest.tables.len()
        )),
        migration_dev::bench::Figure::time(
            "backup",
            "db verify-backup",
            rows,
            &[verify],
            Some((
                "pg_restore of that archive into an empty database",
                &[pg_restore],
            )),
        )
        .with_note(&format!(
            "its own restore {:.2} s",
            verified.restore_ms as f64 / 1000.0
        )),
    ]);
    let _ = std::fs::remove_dir_all(&dir);
}
