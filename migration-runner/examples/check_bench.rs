//! Benchmark: what `migrate check --base` costs a pull request, on a
//! generated history of N migrations (the branch adds the last 5): reading
//! the base's sum files from git, computing the code's sums, comparing,
//! linting the added migrations, and replaying the history into a throwaway
//! database for the entity comparison. Each part timed, then the whole.
//!
//! ```text
//! cargo run --release -p migration-runner --example check_bench            # 500
//! cargo run --release -p migration-runner --example check_bench -- 2000
//! ```

#![allow(elided_lifetimes_in_paths)]

#[path = "common/generated.rs"]
mod generated;

use std::process::Command;
use std::time::{Duration, Instant};

use migration_dev::testing::TestDatabase;
use migration_runner::DatabaseTarget;
use migration_runner::gate::{check, entity_check, lint};
use migration_runner::source::sum::{self, SumFile};

fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let size: usize = std::env::args()
        .nth(1)
        .map_or(500, |n| n.parse().expect("a number of migrations"));
    let catalog = generated::generated_catalog(size);

    // A repository whose main has all but the branch's 5 newest migrations.
    let repo = std::env::temp_dir().join(format!("check-bench-{}", std::process::id()));
    std::fs::create_dir_all(repo.join("migration-runner")).unwrap();
    let git = |args: &[&str]| {
        assert!(
            Command::new("git")
                .args(args)
                .current_dir(&repo)
                .output()
                .unwrap()
                .status
                .success()
        );
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["config", "user.email", "bench@example.com"]);
    git(&["config", "user.name", "bench"]);
    let code = migration_runner::source::capture::sum_file(&catalog)
        .await
        .unwrap();
    let base = SumFile::new(code.entries[..size - 5].to_vec());
    std::fs::write(repo.join(sum::PATH), base.render()).unwrap();
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "base"]);
    git(&["checkout", "-q", "-b", "feature"]);
    std::fs::write(repo.join(sum::PATH), code.render()).unwrap();
    git(&["commit", "-q", "-am", "feature"]);

    const RUNS: usize = 3;
    let mut totals = Vec::new();
    let mut colds = Vec::new();
    for run in 0..RUNS {
        let db = TestDatabase::create("check_bench");
        let target =
            DatabaseTarget::parse(&db.url, migration_runner::connect::UrlSource::Given).unwrap();
        let admin = migration_runner::connect(&db.url, "check-bench")
            .await
            .unwrap();

        let started = Instant::now();
        let sides = check::read_sides(&repo, "main").unwrap();
        let git_time = started.elapsed();
        let t = Instant::now();
        let computed = migration_runner::source::capture::sum_file(&catalog)
            .await
            .unwrap();
        let sum_time = t.elapsed();
        let t = Instant::now();
        let problems = check::compare(&sides, &computed, &computed);
        let compare_time = t.elapsed();
        let added: Vec<String> = check::added_over(&sides, &computed)
            .iter()
            .map(|e| e.name.clone())
            .collect();
        let t = Instant::now();
        let findings = lint::lint_catalog(&catalog, &repo, migration_lint::Target::Plain, |name| {
            added.iter().any(|a| a == name)
        })
        .await
        .unwrap();
        let lint_time = t.elapsed();
        let t = Instant::now();
        let differences = entity_check::compare(
            admin.connection(),
            &target,
            generated::generated_sources(size),
            Vec::new(),
        )
        .await
        .unwrap();
        let replay_time = t.elapsed();
        let total = started.elapsed();
        totals.push(total);

        // Not part of `check`'s total: what `migrate dev` (and `migrate diff`)
        // do before writing, the same two throwaway databases read as models
        // and the plan between them. The generated history has no entities,
        // so the plan is one that drops every table: its size, not its sense,
        // is what it measures. Its floor is the cold deploy below.
        let t = Instant::now();
        let (history, entities) = entity_check::models(
            admin.connection(),
            &target,
            generated::generated_sources(size),
            Vec::new(),
        )
        .await
        .unwrap();
        let models_time = t.elapsed();
        let t = Instant::now();
        let planned = migration_runner::gate::diff::history_to_entities(&history, &entities, &[]);
        let plan_time = t.elapsed();
        let dev_time = models_time + plan_time;

        // The floor it must stay under: a cold deploy of the same history
        // (lock, a transaction and a history row per migration, checksums).
        let fresh = TestDatabase::create("check_bench_cold");
        let t = Instant::now();
        let session = migration_runner::connect(&fresh.url, "check-bench-cold")
            .await
            .unwrap();
        let runner = migration_runner::Runner::new(
            session,
            migration_runner::Catalog::new(generated::generated_sources(size)).unwrap(),
            Default::default(),
        )
        .await
        .unwrap();
        runner.up(&Default::default()).await.unwrap();
        runner.close().await;
        let cold = t.elapsed();
        colds.push(cold);
        // One model read of a database holding the whole history (what
        // `drift` reads of the live database).
        let session = migration_runner::connect(&fresh.url, "check-bench-model")
            .await
            .unwrap();
        let catalog = migration_runner::Catalog::new(generated::generated_sources(size)).unwrap();
        let t = Instant::now();
        let reread =
            migration_runner::model::SchemaModel::read(session.connection(), catalog.schemas())
                .await
                .unwrap();
        let read_time = t.elapsed();
        session.close().await.ok();

        println!(
            "check --base on {size} generated migrations (the branch adds 5), run {}:",
            run + 1
        );
        println!("  git: base and merge-base sum files   {}", ms(git_time));
        println!("  the code's sums ({size} recorded)     {}", ms(sum_time));
        println!(
            "  compare ({} problems)                  {}",
            problems.len(),
            ms(compare_time)
        );
        println!(
            "  lint ({} added, {} findings)           {}",
            added.len(),
            findings.len(),
            ms(lint_time)
        );
        println!(
            "  replay + entity comparison ({} differences, the generated history has no entities)  {}",
            differences.len(),
            ms(replay_time)
        );
        println!(
            "  migrate dev's and diff's plan, outside check's total (replay, no entities, a plan of {} drops)  {} (the two databases {}, the plan {}; one model read of the live database, {} tables: {})",
            planned.len(),
            ms(dev_time),
            ms(models_time),
            ms(plan_time),
            reread.tables.len(),
            ms(read_time)
        );
        println!("  total                                 {}", ms(total));
        println!("  a cold deploy of the same history     {}", ms(cold));
    }
    migration_dev::bench::write_figures(&[migration_dev::bench::Figure::time(
        "check",
        "check --base (the branch adds 5)",
        size as u64,
        &totals,
        Some(("cold deploy of the same history", &colds)),
    )
    .with_target("< 1.00")]);
    std::fs::remove_dir_all(&repo).unwrap();
}
