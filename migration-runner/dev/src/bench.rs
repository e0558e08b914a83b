//! Benchmarks: what each benchmark example measured, in one shape, and
//! `cargo xtask bench`, which builds the examples in release, runs them on a
//! fresh local cluster and writes the tables (`target/bench/report.md`, and
//! every figure in `target/bench/report.json`).
//!
//! An example writes its figures to the file `$BENCH_JSON` names (when set)
//! with [`write_figures`]; its text output stays for people.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// One figure: a median over runs, its spread, and the floor measured in the
/// same run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    /// The benchmark (`deploy`, `seed`, `backfill`, `check`).
    pub bench: String,
    /// What was measured (`no-op deploy`, `first seed`, ...).
    pub what: String,
    /// The size it was measured at: migrations, or rows.
    pub n: u64,
    /// `ms` (lower is better) or `rows/s` (higher is better).
    pub unit: String,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub runs: usize,
    /// The floor it is compared with, measured in the same run.
    pub floor: Option<Floor>,
    /// How far from the floor: time / floor time, or floor rate / rate, so
    /// 1.0 is the floor and bigger is slower either way.
    pub ratio: Option<f64>,
    /// The target for `ratio`, when it has one (`<= 1.2`).
    pub target: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Floor {
    pub what: String,
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

/// Median, minimum and maximum of `samples` (which must not be empty).
pub fn spread(samples: &[f64]) -> (f64, f64, f64) {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    let median = if sorted.len().is_multiple_of(2) {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    } else {
        sorted[middle]
    };
    (median, sorted[0], sorted[sorted.len() - 1])
}

impl Figure {
    /// A time in milliseconds from `samples`, against `floor` samples.
    pub fn time(
        bench: &str,
        what: &str,
        n: u64,
        samples: &[Duration],
        floor: Option<(&str, &[Duration])>,
    ) -> Self {
        let ms = |d: &[Duration]| {
            d.iter()
                .map(|d| d.as_secs_f64() * 1000.0)
                .collect::<Vec<_>>()
        };
        let (median, min, max) = spread(&ms(samples));
        let floor = floor.map(|(what, samples)| {
            let (median, min, max) = spread(&ms(samples));
            Floor {
                what: what.to_owned(),
                median,
                min,
                max,
            }
        });
        Self {
            bench: bench.to_owned(),
            what: what.to_owned(),
            n,
            unit: "ms".to_owned(),
            median,
            min,
            max,
            runs: samples.len(),
            ratio: floor.as_ref().map(|floor| median / floor.median),
            floor,
            target: None,
            note: None,
        }
    }

    /// A rate in rows per second from `rates`, against `floor` rates.
    pub fn rate(
        bench: &str,
        what: &str,
        n: u64,
        rates: &[f64],
        floor: Option<(&str, &[f64])>,
    ) -> Self {
        let (median, min, max) = spread(rates);
        let floor = floor.map(|(what, rates)| {
            let (median, min, max) = spread(rates);
            Floor {
                what: what.to_owned(),
                median,
                min,
                max,
            }
        });
        Self {
            bench: bench.to_owned(),
            what: what.to_owned(),
            n,
            unit: "rows/s".to_owned(),
            median,
            min,
            max,
            runs: rates.len(),
            ratio: floor.as_ref().map(|floor| floor.median / median),
            floor,
            target: None,
            note: None,
        }
    }

    pub fn with_target(mut self, target: &str) -> Self {
        self.target = Some(target.to_owned());
        self
    }

    pub fn with_note(mut self, note: &str) -> Self {
        self.note = Some(note.to_owned());
        self
    }
}

/// Appends `figures` to the file `$BENCH_JSON` names, if set (one JSON
/// array per file; an example may call this more than once).
pub fn write_figures(figures: &[Figure]) {
    let Some(path) = std::env::var_os("BENCH_JSON").map(PathBuf::from) else {
        return;
    };
    let mut all: Vec<Figure> = std::fs::read(&path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    all.extend_from_slice(figures);
    if let Err(err) = std::fs::write(&path, serde_json::to_vec_pretty(&all).unwrap_or_default()) {
        eprintln!("warning: cannot write {}: {err}", path.display());
    }
}

/// One example to run, with its arguments.
#[derive(Debug, Clone)]
pub struct Step {
    pub package: &'static str,
    pub example: &'static str,
    pub args: Vec<String>,
    pub label: String,
}

/// What `cargo xtask bench` runs.
#[derive(Debug, Clone)]
pub struct Plan {
    pub sizes: Vec<u64>,
    pub scales: Vec<u64>,
    pub backfill_rows: u64,
    pub check_size: u64,
}

impl Default for Plan {
    fn default() -> Self {
        Self {
            sizes: vec![12, 100, 500, 2000],
            scales: vec![100_000, 1_000_000],
            backfill_rows: 1_000_000,
            check_size: 500,
        }
    }
}

impl Plan {
    /// A quick pass: small sizes, for checking the harness itself.
    pub fn quick() -> Self {
        Self {
            sizes: vec![12, 100],
            scales: vec![10_000],
            backfill_rows: 50_000,
            check_size: 100,
        }
    }

    pub fn steps(&self) -> Vec<Step> {
        let list = |values: &[u64]| values.iter().map(u64::to_string).collect::<Vec<_>>();
        let mut steps = vec![
            Step {
                package: "migration-runner",
                example: "deploy_bench",
                args: list(&self.sizes),
                label: format!(
                    "cold deploy, no-op deploy and status at {} migrations",
                    list(&self.sizes).join(", ")
                ),
            },
            Step {
                package: "migration-runner",
                example: "check_bench",
                args: vec![self.check_size.to_string()],
                label: format!("check --base on {} migrations", self.check_size),
            },
        ];
        // Three runs where a run takes seconds, one where it takes minutes.
        for scale in &self.scales {
            let runs = if *scale <= 100_000 { 3 } else { 1 };
            steps.push(Step {
                package: "seeder",
                example: "load_bench",
                args: vec!["--runs".to_owned(), runs.to_string(), scale.to_string()],
                label: format!(
                    "seeding `load` at scale {scale} ({runs} run(s)), first run and re-run, next to COPY"
                ),
            });
        }
        steps.push(Step {
            package: "migration-runner",
            example: "backfill_bench",
            args: vec!["--rows".to_owned(), self.backfill_rows.to_string()],
            label: format!(
                "the capacity backfill over {} rows next to one UPDATE",
                self.backfill_rows
            ),
        });
        steps
    }
}

/// Why `cargo xtask bench` stopped.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("`{command}` failed ({status}); its output is above")]
    Failed { command: String, status: String },
    #[error("cannot use {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BenchError + '_ {
    move |source| BenchError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Builds the examples in release, runs each on a fresh local cluster
/// (in `/dev/shm` when there is one, else `target/bench/postgres`;
/// re-created, and removed afterwards), and writes `report.md` and
/// `report.json` under `target/bench/`; returns the report's path.
pub fn run(workspace: &Path, plan: &Plan) -> Result<PathBuf, BenchError> {
    let out = crate::local_pg::target_dir().join("bench");
    let raw = out.join("raw");
    // Data in memory where the machine has a tmpfs: the figures then measure
    // the tools, not the disk (on this kind of VM, disk time swings 5x).
    let shm = Path::new("/dev/shm");
    let cluster_dir = if shm.is_dir() {
        shm.join("migration-runner-bench")
    } else {
        out.join("postgres")
    };
    if let Ok(old) = crate::local_pg::LocalCluster::at(cluster_dir.clone()) {
        let _ = old.stop();
    }
    let _ = std::fs::remove_dir_all(&cluster_dir);
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&raw).map_err(io(&raw))?;
    let steps = plan.steps();
    let total = steps.len() + 1;
    // The binaries too: deploy_bench times the release `migration-runner`
    // itself, which `--examples` alone does not build on a fresh checkout.
    eprintln!("[1/{total}] building the benchmarks and the binaries (release)");
    let mut build = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    build
        .args([
            "build",
            "--release",
            "-p",
            "migration-runner",
            "-p",
            "seeder",
            "--bins",
            "--examples",
        ])
        .current_dir(workspace);
    run_visibly(&mut build)?;
    let started = Instant::now();
    let mut figures: Vec<Figure> = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        eprintln!(
            "[{}/{total}] {} ({:.0} s so far)",
            i + 2,
            step.label,
            started.elapsed().as_secs_f64()
        );
        let json = raw.join(format!("{}-{}.json", i + 1, step.example));
        let binary = crate::local_pg::target_dir()
            .join("release/examples")
            .join(step.example);
        let mut command = Command::new(&binary);
        command
            .args(&step.args)
            .current_dir(workspace)
            .env("BENCH_JSON", &json)
            // A fresh cluster of the benchmarks' own, not the tests'.
            .env("MIGRATION_TEST_CLUSTER", &cluster_dir);
        run_visibly(&mut command)?;
        let read: Vec<Figure> = std::fs::read(&json)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        if read.is_empty() {
            eprintln!(
                "warning: {} wrote no figures to {}",
                step.example,
                json.display()
            );
        }
        figures.extend(read);
    }
    if let Ok(cluster) = crate::local_pg::LocalCluster::at(cluster_dir.clone()) {
        let _ = cluster.stop();
    }
    let _ = std::fs::remove_dir_all(&cluster_dir);
    let machine = machine();
    let report = render(&machine, plan, &figures);
    let md = out.join("report.md");
    std::fs::write(&md, report).map_err(io(&md))?;
    let json = out.join("report.json");
    let body = serde_json::json!({ "machine": machine, "figures": figures });
    std::fs::write(&json, serde_json::to_vec_pretty(&body).unwrap_or_default())
        .map_err(io(&json))?;
    eprintln!(
        "[{total}/{total}] done in {:.0} s: {} and {}",
        started.elapsed().as_secs_f64(),
        md.display(),
        json.display()
    );
    Ok(md)
}

fn run_visibly(command: &mut Command) -> Result<(), BenchError> {
    let rendered = format!("{command:?}");
    let status = command
        .stdin(Stdio::null())
        .status()
        .map_err(|source| BenchError::Io {
            path: PathBuf::from(command.get_program()),
            source,
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(BenchError::Failed {
            command: rendered,
            status: status.to_string(),
        })
    }
}

/// The machine, as the report describes it.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub postgres: String,
    pub rustc: String,
    pub commit: String,
    pub date: String,
}

fn first_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned()
        })
        .unwrap_or_default()
}

fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|line| {
            line.strip_prefix("model name")
                .and_then(|rest| rest.split_once(':'))
        })
        .map(|(_, name)| name.trim().to_owned())
        .unwrap_or_default();
    let memory_gib = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    let postgres = crate::local_pg::find_bin_dir()
        .map(|dir| first_line(&dir.join("postgres").display().to_string(), &["--version"]))
        .unwrap_or_default();
    Machine {
        cpu,
        cores: std::thread::available_parallelism().map_or(0, usize::from),
        memory_gib: (memory_gib * 10.0).round() / 10.0,
        postgres,
        rustc: first_line("rustc", &["--version"]),
        commit: first_line("git", &["rev-parse", "--short", "HEAD"]),
        date: first_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
    }
}

fn number(value: f64, unit: &str) -> String {
    if unit == "rows/s" || value >= 100.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// The Markdown report: the machine, then one table per benchmark (every
/// figure with its spread, floor and ratio), then how each grows with N.
pub fn render(machine: &Machine, plan: &Plan, figures: &[Figure]) -> String {
    let mut out = String::new();
    out.push_str("# Benchmark run\n\n");
    out.push_str(&format!(
        "- machine: {} ({} cores), {:.1} GiB\n- {}\n- {}\n- commit {} on {}\n- command: `cargo xtask bench` \
         (sizes {:?}, scales {:?}, backfill {} rows, check on {})\n\n",
        machine.cpu,
        machine.cores,
        machine.memory_gib,
        machine.postgres,
        machine.rustc,
        machine.commit,
        machine.date,
        plan.sizes,
        plan.scales,
        plan.backfill_rows,
        plan.check_size
    ));
    out.push_str(
        "Medians with [min-max]. `ratio` is time over the floor's time (or the floor's rate over \
         the rate): 1.00 is the floor, bigger is slower.\n\n",
    );
    let mut benches: Vec<&str> = Vec::new();
    for figure in figures {
        if !benches.contains(&figure.bench.as_str()) {
            benches.push(&figure.bench);
        }
    }
    for bench in benches {
        out.push_str(&format!("## {bench}\n\n"));
        out.push_str(
            "| what | N | median [min-max] | runs | floor (same run) | ratio | target |\n",
        );
        out.push_str("| --- | ---: | --- | ---: | --- | ---: | --- |\n");
        for figure in figures.iter().filter(|f| f.bench == bench) {
            let floor = figure.floor.as_ref().map_or("-".to_owned(), |floor| {
                format!(
                    "{}: {} [{}-{}] {}",
                    floor.what,
                    number(floor.median, &figure.unit),
                    number(floor.min, &figure.unit),
                    number(floor.max, &figure.unit),
                    figure.unit
                )
            });
            out.push_str(&format!(
                "| {}{} | {} | {} [{}-{}] {} | {} | {} | {} | {} |\n",
                figure.what,
                figure
                    .note
                    .as_ref()
                    .map_or(String::new(), |n| format!(" ({n})")),
                figure.n,
                number(figure.median, &figure.unit),
                number(figure.min, &figure.unit),
                number(figure.max, &figure.unit),
                figure.unit,
                figure.runs,
                floor,
                figure.ratio.map_or("-".to_owned(), |r| format!("{r:.2}")),
                figure.target.as_deref().unwrap_or("-"),
            ));
        }
        out.push('\n');
    }
    // How each figure grows with N: one row per figure measured at several N.
    let mut series: Vec<(&str, &str)> = Vec::new();
    for figure in figures {
        let key = (figure.bench.as_str(), figure.what.as_str());
        if !series.contains(&key)
            && figures
                .iter()
                .filter(|f| (f.bench.as_str(), f.what.as_str()) == key)
                .count()
                > 1
        {
            series.push(key);
        }
    }
    if !series.is_empty() {
        out.push_str("## Scaling\n\n| figure | ");
        let mut sizes: Vec<u64> = Vec::new();
        for (bench, what) in &series {
            for figure in figures
                .iter()
                .filter(|f| f.bench == *bench && f.what == *what)
            {
                if !sizes.contains(&figure.n) {
                    sizes.push(figure.n);
                }
            }
        }
        sizes.sort_unstable();
        out.push_str(
            &sizes
                .iter()
                .map(|n| format!("N = {n}"))
                .collect::<Vec<_>>()
                .join(" | "),
        );
        out.push_str(" |\n| --- |");
        out.push_str(&" ---: |".repeat(sizes.len()));
        out.push('\n');
        for (bench, what) in &series {
            out.push_str(&format!("| {bench}: {what} |"));
            for n in &sizes {
                let cell = figures
                    .iter()
                    .find(|f| f.bench == *bench && f.what == *what && f.n == *n)
                    .map_or("-".to_owned(), |f| {
                        format!(
                            " {} {}{}",
                            number(f.median, &f.unit),
                            f.unit,
                            f.ratio.map_or(String::new(), |r| format!(" ({r:.2}x)"))
                        )
                    });
                out.push_str(&cell);
                out.push_str(" |");
            }
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_is_median_min_max() {
        assert_eq!(spread(&[3.0, 1.0, 2.0]), (2.0, 1.0, 3.0));
        assert_eq!(spread(&[4.0, 1.0, 2.0, 3.0]), (2.5, 1.0, 4.0));
    }

    #[test]
    fn ratios_read_the_same_way_for_times_and_rates() {
        let ms = |v: u64| Duration::from_millis(v);
        let time = Figure::time(
            "deploy",
            "no-op",
            500,
            &[ms(12), ms(10), ms(11)],
            Some(("psql", &[ms(10)])),
        );
        assert!((time.ratio.unwrap() - 1.1).abs() < 1e-9);
        let rate = Figure::rate("seed", "first", 100, &[80.0], Some(("COPY", &[100.0])));
        assert!((rate.ratio.unwrap() - 1.25).abs() < 1e-9);
        let report = render(
            &Machine {
                cpu: "cpu".into(),
                cores: 2,
                memory_gib: 24.0,
                postgres: "postgres (PostgreSQL) 15".into(),
                rustc: "rustc".into(),
                commit: "abc".into(),
                date: "today".into(),
            },
            &Plan::default(),
            &[time.clone(), Figure { n: 2000, ..time }, rate],
        );
        assert!(
            report.contains(
                "| no-op | 500 | 11.0 [10.0-12.0] ms | 3 | psql: 10.0 [10.0-10.0] ms | 1.10 | - |"
            ),
            "{report}"
        );
        assert!(report.contains("## Scaling"), "{report}");
        assert!(
            report.contains("| deploy: no-op | 11.0 ms (1.10x) | 11.0 ms (1.10x) |"),
            "{report}"
        );
    }
}
