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
    /// The same figure measured for another commit in the same run
    /// (`cargo xtask bench --against <ref>`), its `what` naming the commit
    /// as given and resolved (`main (1a2b3c4)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Floor>,
}

/// How much worse than its baseline a figure may be before the report marks
/// it: 10 %.
pub const WORSE_BEYOND: f64 = 1.10;

/// A figure's floor, or its baseline: what was measured and its spread.
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
            baseline: None,
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
            baseline: None,
        }
    }

    /// This figure over its baseline's, read the same way as `ratio`: above
    /// 1.0 is worse (slower, or fewer rows per second).
    pub fn change(&self) -> Option<f64> {
        let baseline = self.baseline.as_ref()?;
        Some(if self.unit == "rows/s" {
            baseline.median / self.median
        } else {
            self.median / baseline.median
        })
    }

    /// More than [`WORSE_BEYOND`] worse than its baseline.
    pub fn is_worse(&self) -> bool {
        self.change().is_some_and(|change| change > WORSE_BEYOND)
    }

    /// The same figure of another run: same benchmark, what and size.
    fn same_as(&self, other: &Figure) -> bool {
        self.bench == other.bench && self.what == other.what && self.n == other.n
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
    /// The `load` scale `db backup` and `verify-backup` are timed on.
    pub backup_scale: u64,
}

impl Default for Plan {
    fn default() -> Self {
        Self {
            sizes: vec![12, 100, 500, 2000, 10_000],
            scales: vec![100_000, 1_000_000],
            backfill_rows: 1_000_000,
            check_size: 500,
            backup_scale: 100_000,
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
            backup_scale: 10_000,
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
        steps.push(Step {
            package: "seeder",
            example: "backup_bench",
            args: vec![self.backup_scale.to_string()],
            label: format!(
                "db backup and verify-backup of `load` at scale {} next to pg_dump and pg_restore",
                self.backup_scale
            ),
        });
        steps
    }
}

/// Why `cargo xtask bench` stopped.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(
        "`{reference}` is no commit of this repository: give a branch, tag or commit \
         (`git fetch` it first if it is only on the remote)"
    )]
    UnknownRef { reference: String },
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

/// The commit `bench --against` measures beside the working tree: its
/// sources (`git archive`, nothing of the repository touched) and its own
/// target directory, kept between runs so a second run builds nothing.
#[derive(Debug, Clone)]
pub struct Against {
    /// As given and resolved: `main (1a2b3c4)`.
    pub label: String,
    pub sources: PathBuf,
    pub target: PathBuf,
}

impl Against {
    /// Resolves `reference` in `workspace`'s repository and unpacks its tree
    /// under `target/bench-against/<commit>/src` (once).
    pub fn prepare(workspace: &Path, reference: &str) -> Result<Self, BenchError> {
        let output = Command::new("git")
            .args(["rev-parse", "--verify", "--quiet"])
            .arg(format!("{reference}^{{commit}}"))
            .current_dir(workspace)
            .output()
            .map_err(io(Path::new("git")))?;
        let commit = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        if !output.status.success() || commit.is_empty() {
            return Err(BenchError::UnknownRef {
                reference: reference.to_owned(),
            });
        }
        let short = &commit[..commit.len().min(7)];
        let root = crate::local_pg::target_dir()
            .join("bench-against")
            .join(&commit);
        let sources = root.join("src");
        if !sources.join("Cargo.toml").is_file() {
            let _ = std::fs::remove_dir_all(&sources);
            std::fs::create_dir_all(&sources).map_err(io(&sources))?;
            let mut unpack = Command::new("sh");
            unpack
                .arg("-c")
                .arg("git archive --format=tar \"$1\" | tar -x -C \"$2\"")
                .arg("sh")
                .arg(&commit)
                .arg(&sources)
                .current_dir(workspace);
            if let Err(err) = run_visibly(&mut unpack) {
                let _ = std::fs::remove_dir_all(&sources);
                return Err(err);
            }
        }
        Ok(Self {
            label: if reference == commit || reference == short {
                short.to_owned()
            } else {
                format!("{reference} ({short})")
            },
            target: root.join("target"),
            sources,
        })
    }

    fn example(&self, name: &str) -> PathBuf {
        self.target.join("release/examples").join(name)
    }
}

/// `cargo xtask bench [--quick] [--against REF]`: the plan, the compared
/// commit prepared, the run; returns the report's path.
pub fn command(
    workspace: &Path,
    quick: bool,
    against: Option<&str>,
) -> Result<PathBuf, BenchError> {
    let plan = if quick {
        Plan::quick()
    } else {
        Plan::default()
    };
    let against = against
        .map(|reference| Against::prepare(workspace, reference))
        .transpose()?;
    run(workspace, &plan, against.as_ref())
}

/// Builds the benchmarks and the binaries in release, in `dir`'s workspace
/// (into `target`, when given: the compared commit's own directory).
fn build_release(dir: &Path, target: Option<&Path>) -> Result<(), BenchError> {
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
        .current_dir(dir);
    if let Some(target) = target {
        build.env("CARGO_TARGET_DIR", target);
    }
    run_visibly(&mut build)
}

/// Builds the examples in release, runs each on a fresh local cluster
/// (in `/dev/shm` when there is one, else `target/bench/postgres`;
/// re-created, and removed afterwards), and writes `report.md` and
/// `report.json` under `target/bench/`; returns the report's path.
///
/// With `against`, that commit's examples are built in their own target
/// directory and run in the same session: `deploy_bench` times both
/// commits' runs interleaved one by one, every other example runs the
/// commit's then the working tree's; each figure then carries its baseline.
pub fn run(
    workspace: &Path,
    plan: &Plan,
    against: Option<&Against>,
) -> Result<PathBuf, BenchError> {
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
    let total = steps.len() + 1 + usize::from(against.is_some());
    // The binaries too: deploy_bench times the release `migration-runner`
    // itself, which `--examples` alone does not build on a fresh checkout.
    eprintln!("[1/{total}] building the benchmarks and the binaries (release)");
    build_release(workspace, None)?;
    let first_step = 2 + usize::from(against.is_some());
    if let Some(against) = against {
        eprintln!(
            "[2/{total}] building {} in its own target directory ({})",
            against.label,
            against.target.display()
        );
        build_release(&against.sources, Some(&against.target))?;
    }
    let started = Instant::now();
    let mut figures: Vec<Figure> = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        eprintln!(
            "[{}/{total}] {} ({:.0} s so far)",
            i + first_step,
            step.label,
            started.elapsed().as_secs_f64()
        );
        let binary = crate::local_pg::target_dir()
            .join("release/examples")
            .join(step.example);
        let run_example = |binary: &Path, args: &[String], json: &Path| {
            let mut command = Command::new(binary);
            command
                .args(args)
                .current_dir(workspace)
                .env("BENCH_JSON", json)
                // A fresh cluster of the benchmarks' own, not the tests'.
                .env("MIGRATION_TEST_CLUSTER", &cluster_dir);
            run_visibly(&mut command)?;
            let read: Vec<Figure> = std::fs::read(json)
                .ok()
                .and_then(|bytes| serde_json::from_slice(&bytes).ok())
                .unwrap_or_default();
            if read.is_empty() {
                eprintln!(
                    "warning: {} wrote no figures to {}",
                    binary.display(),
                    json.display()
                );
            }
            Ok::<_, BenchError>(read)
        };
        let json = raw.join(format!("{}-{}.json", i + 1, step.example));
        let read = match against {
            // deploy_bench interleaves the other commit's runs with its own.
            Some(against) if step.example == "deploy_bench" => {
                let mut args = step.args.clone();
                args.push("--against-exe".to_owned());
                args.push(against.example(step.example).display().to_string());
                args.push("--against-label".to_owned());
                args.push(against.label.clone());
                run_example(&binary, &args, &json)?
            }
            Some(against) => {
                let theirs = raw.join(format!("{}-{}-against.json", i + 1, step.example));
                let baseline = run_example(&against.example(step.example), &step.args, &theirs)?;
                let mut ours = run_example(&binary, &step.args, &json)?;
                for figure in &mut ours {
                    if let Some(base) = baseline.iter().find(|b| b.same_as(figure)) {
                        figure.baseline = Some(Floor {
                            what: against.label.clone(),
                            median: base.median,
                            min: base.min,
                            max: base.max,
                        });
                    }
                }
                ours
            }
            None => run_example(&binary, &step.args, &json)?,
        };
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
         (sizes {:?}, scales {:?}, backfill {} rows, check on {}, backup at scale {})\n\n",
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
        plan.check_size,
        plan.backup_scale
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
    render_against(&mut out, figures);
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

/// `bench --against`: every figure beside the compared commit's, measured
/// in the same session, those more than 10 % worse marked.
fn render_against(out: &mut String, figures: &[Figure]) {
    let compared: Vec<&Figure> = figures.iter().filter(|f| f.baseline.is_some()).collect();
    let Some(commit) = compared
        .first()
        .and_then(|f| f.baseline.as_ref())
        .map(|b| b.what.clone())
    else {
        return;
    };
    let worse = compared.iter().filter(|f| f.is_worse()).count();
    out.push_str(&format!("## Against {commit}\n\n"));
    out.push_str(&format!(
        "The same figures of {commit}, built in its own target directory and run in this \
         session (deploy figures interleaved run by run, the others example by example). \
         `change` is this tree over {commit}, read like `ratio`: above 1.00 is worse; \
         beyond {:.2} it is marked. {worse} of {} figures marked.\n\n",
        WORSE_BEYOND,
        compared.len()
    ));
    out.push_str(
        "| what | N | this tree | against | change |\n| --- | ---: | --- | --- | ---: |\n",
    );
    for figure in compared {
        let Some(baseline) = &figure.baseline else {
            continue;
        };
        let change = figure.change().unwrap_or(1.0);
        let change = if figure.is_worse() {
            format!("**{change:.2} worse**")
        } else {
            format!("{change:.2}")
        };
        out.push_str(&format!(
            "| {} | {} | {} [{}-{}] {} | {} [{}-{}] {} | {} |\n",
            figure.what,
            figure.n,
            number(figure.median, &figure.unit),
            number(figure.min, &figure.unit),
            number(figure.max, &figure.unit),
            figure.unit,
            number(baseline.median, &figure.unit),
            number(baseline.min, &figure.unit),
            number(baseline.max, &figure.unit),
            figure.unit,
            change,
        ));
    }
    out.push('\n');
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
        assert!(!report.contains("## Against"), "{report}");
        assert!(
            report.contains("| deploy: no-op | 11.0 ms (1.10x) | 11.0 ms (1.10x) |"),
            "{report}"
        );
    }

    #[test]
    fn a_figure_more_than_ten_percent_worse_than_its_baseline_is_marked() {
        let ms = |v: u64| Duration::from_millis(v);
        let against = |median: f64| Floor {
            what: "main (abc1234)".into(),
            median,
            min: median,
            max: median,
        };
        let mut slower = Figure::time("deploy", "no-op deploy", 500, &[ms(12)], None);
        slower.baseline = Some(against(10.0));
        let mut same = Figure::time("deploy", "status", 500, &[ms(11)], None);
        same.baseline = Some(against(10.0));
        let mut fewer_rows = Figure::rate("seed", "first seed", 100, &[80.0], None);
        fewer_rows.baseline = Some(against(100.0));
        let mut more_rows = Figure::rate("seed", "re-seed", 100, &[120.0], None);
        more_rows.baseline = Some(against(100.0));
        assert!(slower.is_worse() && fewer_rows.is_worse());
        assert!(!same.is_worse() && !more_rows.is_worse());
        let machine = Machine {
            cpu: "cpu".into(),
            cores: 2,
            memory_gib: 24.0,
            postgres: "15".into(),
            rustc: "rustc".into(),
            commit: "def".into(),
            date: "today".into(),
        };
        let report = render(
            &machine,
            &Plan::quick(),
            &[slower, same, fewer_rows, more_rows],
        );
        assert!(report.contains("## Against main (abc1234)"), "{report}");
        assert!(report.contains("2 of 4 figures marked"), "{report}");
        assert!(
            report.contains("| no-op deploy | 500 | 12.0 [12.0-12.0] ms | 10.0 [10.0-10.0] ms | **1.20 worse** |"),
            "{report}"
        );
        assert!(
            report.contains("| status | 500 | 11.0 [11.0-11.0] ms | 10.0 [10.0-10.0] ms | 1.10 |"),
            "{report}"
        );
        assert!(
            report.contains(
                "| first seed | 100 | 80 [80-80] rows/s | 100 [100-100] rows/s | **1.25 worse** |"
            ),
            "{report}"
        );
    }

    #[test]
    fn the_compared_commit_is_unpacked_once_in_its_own_directory_and_an_unknown_one_refused() {
        let workspace = crate::scaffold::workspace_root();
        let refused = Against::prepare(&workspace, "no-such-branch-anywhere").unwrap_err();
        assert!(
            refused
                .to_string()
                .contains("`no-such-branch-anywhere` is no commit")
                && refused.to_string().contains("git fetch"),
            "{refused}"
        );
        let against = Against::prepare(&workspace, "HEAD").unwrap();
        let manifest = against.sources.join("Cargo.toml");
        let written = std::fs::metadata(&manifest).unwrap().modified().unwrap();
        assert!(against.label.starts_with("HEAD ("), "{}", against.label);
        assert!(
            against.target.ends_with("target") && !against.target.starts_with(&against.sources)
        );
        assert!(
            against
                .sources
                .join("migration-runner/migrations.sum")
                .is_file()
        );
        let again = Against::prepare(&workspace, "HEAD").unwrap();
        assert_eq!(again.sources, against.sources);
        assert_eq!(
            std::fs::metadata(&manifest).unwrap().modified().unwrap(),
            written
        );
    }
}
