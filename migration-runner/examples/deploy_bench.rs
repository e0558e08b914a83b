//! Benchmark: what every CI/CD run pays for a no-op deploy, and what a cold
//! deploy costs, over generated histories of several sizes.
//!
//! Each measurement is a whole process (start, connect, lock, read history,
//! verify, exit), running the same `cli::run_with` code as the release
//! binary, on a generated catalog that carries its sum file as the binary
//! carries the workspace's. The floor, measured in the same run, is `psql`
//! (the real binary, not Debian's Perl wrapper) reading what a no-op must
//! read and nothing more: the history's row count and newest version,
//! unaligned, one line (formatting every row of the history, as the floor
//! did before issue 24, is shown beside it: it grows with N and hid a
//! regression of the no-op); for the cold deploy, `psql -f` running the
//! `plan` output with what the runner adds around each migration, a
//! transaction and a history row (and as is, autocommit, beside it; best of
//! 5 fresh databases each after a CHECKPOINT, one from 5,000 migrations on).
//! The commands timed together run interleaved, round by round.
//!
//! ```text
//! cargo run --release -p migration-runner --example deploy_bench            # 12 500 2000 10000
//! cargo run --release -p migration-runner --example deploy_bench -- 500     # one size
//! cargo run --release -p migration-runner --example deploy_bench -- --json target/bench/deploy.json
//! ```
//!
//! With `--json PATH` it also writes its figures there; with
//! `--against-exe PATH --against-label TEXT` (what `cargo xtask bench
//! --against` passes) it times another commit's `deploy_bench` subject in the
//! same rounds; `--write-sum N PATH` writes the generated sum file, for
//! profiling the subject by hand.

#![allow(elided_lifetimes_in_paths)]

use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use migration_dev::local_pg::LocalCluster;
use migration_runner::cli::{self, MigrateArgs};
use migration_runner::connect::{DatabaseTarget, UrlSource};
#[path = "common/generated.rs"]
mod generated;

use generated::{generated_catalog, generated_sources};
use migration_runner::source::sum::SumFile;

const RUNS: usize = 40;
const COLD_RUNS: usize = 5;
/// More cold deploys than [`COLD_RUNS`] on a noisy machine (each is seconds at 2,000).
const COLD_RUNS_ENV: &str = "DEPLOY_BENCH_COLD_RUNS";

fn cold_runs() -> usize {
    std::env::var(COLD_RUNS_ENV)
        .ok()
        .and_then(|runs| runs.parse().ok())
        .filter(|runs| *runs > 0)
        .unwrap_or(COLD_RUNS)
}

#[derive(Debug, Parser)]
struct RunnerMode {
    #[command(flatten)]
    migrate: MigrateArgs,
}

/// The history size travels in the environment: the runner's own flags stay exactly the binary's.
const SIZE_ENV: &str = "DEPLOY_BENCH_MIGRATIONS";

/// The sum file of the generated history, for the subject to carry as the
/// release binary carries the workspace's.
const SUM_ENV: &str = "DEPLOY_BENCH_SUM";

/// From this many migrations on, one cold deploy each (the target is set at
/// 500 and 2,000; at 10,000 one takes about a minute).
const ONE_COLD_RUN_FROM: usize = 5000;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--as-runner") {
        return as_runner(&args[2..]);
    }
    // For profiling the subject by hand: the sum file it reads from `DEPLOY_BENCH_SUM`.
    if let [_, flag, size, path] = args.as_slice()
        && flag == "--write-sum"
    {
        std::fs::write(
            path,
            generated_sum(size.parse().expect("a history size")).render(),
        )
        .expect("write the sum file");
        return ExitCode::SUCCESS;
    }
    let mut sizes = Vec::new();
    let mut json = None;
    let mut against: Option<Against> = None;
    let mut against_label = None;
    let mut rest = args[1..].iter();
    while let Some(arg) = rest.next() {
        let mut value = |flag: &str| {
            rest.next().cloned().ok_or_else(|| {
                eprintln!("error: {flag} needs a value");
                ExitCode::from(64)
            })
        };
        match arg.as_str() {
            "--json" => match value("--json") {
                Ok(path) => json = Some(std::path::PathBuf::from(path)),
                Err(code) => return code,
            },
            "--against-exe" => match value("--against-exe") {
                Ok(exe) => {
                    against = Some(Against {
                        exe: exe.into(),
                        label: String::new(),
                    })
                }
                Err(code) => return code,
            },
            "--against-label" => match value("--against-label") {
                Ok(label) => against_label = Some(label),
                Err(code) => return code,
            },
            size => match size.parse() {
                Ok(size) => sizes.push(size),
                Err(_) => {
                    eprintln!(
                        "error: `{size}` is neither a history size nor --json PATH, --against-exe PATH, --against-label TEXT"
                    );
                    return ExitCode::from(64);
                }
            },
        }
    }
    if let Some(against) = &mut against {
        against.label = against_label.unwrap_or_else(|| against.exe.display().to_string());
    }
    if sizes.is_empty() {
        sizes = vec![12, 500, 2000, 10_000];
    }
    let figures = drive(sizes, against.as_ref());
    migration_dev::bench::write_figures(&as_figures(&figures));
    if let Some(path) = json {
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).expect("create the JSON file's directory");
        }
        let text = serde_json::to_string_pretty(&figures).expect("figures as JSON");
        std::fs::write(&path, text + "\n").expect("write the JSON file");
        println!("figures written to {}", path.display());
    }
    ExitCode::SUCCESS
}

/// Another commit's `deploy_bench`, whose `--as-runner` subject is timed
/// beside this one's (`cargo xtask bench --against`).
struct Against {
    exe: std::path::PathBuf,
    label: String,
}

/// The subject: exactly what the release binary does, on a generated
/// catalog, carrying the generated history's sum file as the binary carries
/// the workspace's.
fn as_runner(args: &[String]) -> ExitCode {
    let mode =
        RunnerMode::parse_from(std::iter::once("runner".to_owned()).chain(args.iter().cloned()));
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let size: usize = std::env::var(SIZE_ENV)
        .expect(SIZE_ENV)
        .parse()
        .expect("a number");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let target = DatabaseTarget::parse(&url, UrlSource::Environment).expect("a valid DATABASE_URL");
    let mut catalog = generated_catalog(size);
    if let Some(path) = std::env::var_os(SUM_ENV) {
        // Read as the binary reads its compiled-in text.
        let text = std::fs::read_to_string(&path).expect("the generated sum file");
        catalog = catalog
            .with_expected_sum_text(Box::leak(text.into_boxed_str()))
            .with_sum_as_record();
    }
    let exit = runtime
        .block_on(cli::run_with(
            catalog,
            &|| generated_sources(size),
            mode.migrate,
            &target,
        ))
        .unwrap_or_else(|err| {
            eprintln!("error: {err}");
            err.exit()
        });
    ExitCode::from(exit.code())
}

/// The generated history's sum file, as `migrate hash` writes the workspace's.
fn generated_sum(size: usize) -> SumFile {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime
        .block_on(migration_runner::source::capture::sum_file(
            &generated_catalog(size),
        ))
        .expect("the generated history's sum file")
}

/// Each size's figures (this tree's, and the compared commit's beside them).
fn drive(sizes: Vec<usize>, against: Option<&Against>) -> serde_json::Value {
    let cluster = LocalCluster::for_tests().expect("the test cluster");
    cluster.ensure_running().expect("start the test cluster");
    let exe = std::env::current_exe().unwrap();
    let psql = cluster.psql();
    let cold_runs = cold_runs();
    println!(
        "deploy benchmark: median [min-max] of {RUNS} whole-process runs (no-op, status, startup) and of {cold_runs} cold deploys{}",
        against.map_or(String::new(), |a| format!(
            ", each interleaved with {}'s",
            a.label
        ))
    );
    // The release binary itself (built beside this example by `cargo build --release`).
    let binary = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("migration-runner"))
        .filter(|path| path.exists())
        .expect("build the release binary first: cargo build --release -p migration-runner");
    let [startup, psql_startup] = measure([
        &mut || {
            let mut cmd = Command::new(&binary);
            cmd.arg("--version").stdout(Stdio::null());
            cmd
        },
        &mut || {
            let mut cmd = Command::new(&psql);
            cmd.arg("--version").stdout(Stdio::null());
            cmd
        },
    ]);
    println!(
        "binary startup (`--version`): {}; psql --version: {}",
        startup.show(),
        psql_startup.show()
    );
    let mut per_size = Vec::new();
    for size in sizes {
        let sum = generated_sum(size);
        let sum_file = std::env::temp_dir().join(format!("deploy-bench-{size}.sum"));
        std::fs::write(&sum_file, sum.render()).unwrap();
        let subject_of = |exe: &Path, url: &str, command: &[&str]| {
            let mut cmd = Command::new(exe);
            cmd.arg("--as-runner").args(command);
            cmd.env("DATABASE_URL", url)
                .env(SIZE_ENV, size.to_string())
                .env(SUM_ENV, &sum_file)
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            cmd
        };
        let subject = |url: &str, command: &[&str]| subject_of(&exe, url, command);
        let fresh = |label: &str| {
            let name = format!(
                "bench_{label}_{size}_{}",
                &uuid::Uuid::new_v4().simple().to_string()[..8]
            );
            cluster.create_database(&name).unwrap();
            (name.clone(), cluster.url(&name).unwrap())
        };

        // Cold deploys, and the same SQL through psql, each on fresh databases.
        let (plan_db, plan_url) = fresh("plan");
        let plan = subject(&plan_url, &["plan"])
            .stdout(Stdio::piped())
            .output()
            .unwrap();
        assert!(plan.status.success());
        cluster.drop_database(&plan_db).unwrap();
        let plan_file = std::env::temp_dir().join(format!("deploy-bench-plan-{size}.sql"));
        std::fs::write(&plan_file, &plan.stdout).unwrap();
        let plan_tx_file = std::env::temp_dir().join(format!("deploy-bench-plan-tx-{size}.sql"));
        std::fs::write(
            &plan_tx_file,
            with_transactions(&String::from_utf8_lossy(&plan.stdout)),
        )
        .unwrap();
        let runs = if size >= ONE_COLD_RUN_FROM {
            1
        } else {
            cold_runs
        };
        let mut cold_up = Vec::new();
        let mut cold_theirs = Vec::new();
        let mut cold_psql = Vec::new();
        let mut cold_psql_tx = Vec::new();
        let mut last_applied: Option<(String, String)> = None;
        let mut last_theirs: Option<(String, String)> = None;
        for _ in 0..runs {
            // A checkpoint before each timed run, so none pays for another's writes.
            let (db, url) = fresh("cold");
            checkpoint(&psql, &url);
            cold_up.push(ms(time(&mut subject(&url, &["up"]))));
            if let Some((old, _)) = last_applied.replace((db, url)) {
                cluster.drop_database(&old).unwrap();
            }
            if let Some(against) = against {
                let (db, url) = fresh("theirs");
                checkpoint(&psql, &url);
                cold_theirs.push(ms(time(&mut subject_of(&against.exe, &url, &["up"]))));
                if let Some((old, _)) = last_theirs.replace((db, url)) {
                    cluster.drop_database(&old).unwrap();
                }
            }
            for (file, samples) in [
                (&plan_file, &mut cold_psql),
                (&plan_tx_file, &mut cold_psql_tx),
            ] {
                let (floor_db, floor_url) = fresh("floor");
                checkpoint(&psql, &floor_url);
                samples.push(ms(time(
                    psql_command(&psql, &floor_url).arg("-f").arg(file),
                )));
                cluster.drop_database(&floor_db).unwrap();
            }
        }
        let (cold_db, cold_url) = last_applied.unwrap();
        let cold_up = Stats::of(cold_up);
        let cold_psql = Stats::of(cold_psql);
        let cold_psql_tx = Stats::of(cold_psql_tx);

        // No-op deploys and status over the applied history, each command's
        // runs interleaved with its floor's (and the other commit's).
        let floor_sql = "SELECT count(*), max(version) FROM public.seaql_migrations";
        // The other commit's runs (when compared) go in the same rounds.
        let their_url = last_theirs.as_ref().map(|(_, url)| url.clone());
        let theirs_of = |command: &'static str| {
            against
                .zip(their_url.clone())
                .map(|(against, url)| move || subject_of(&against.exe, &url, &[command]))
        };
        let mut up_theirs_command = theirs_of("up");
        let mut status_theirs_command = theirs_of("status");
        let ([up, floor, formatting_floor], up_theirs) = measure_beside(
            [
                &mut || subject(&cold_url, &["up"]),
                // What a no-op must read: how many migrations history holds, and the newest.
                &mut || {
                    let mut cmd = psql_command(&psql, &cold_url);
                    cmd.args(["-Atc", floor_sql]);
                    cmd
                },
                &mut || {
                    let mut cmd = psql_command(&psql, &cold_url);
                    cmd.args(["-c", "SELECT * FROM public.seaql_migrations"]);
                    cmd
                },
            ],
            up_theirs_command
                .as_mut()
                .map(|command| command as &mut dyn FnMut() -> Command),
        );
        let ([status, status_json], status_theirs) = measure_beside(
            [&mut || subject(&cold_url, &["status"]), &mut || {
                subject(&cold_url, &["status", "--json"])
            }],
            status_theirs_command
                .as_mut()
                .map(|command| command as &mut dyn FnMut() -> Command),
        );
        println!("N = {size}");
        let theirs = against.zip(up_theirs.zip(status_theirs)).map(
            |(against, (up_theirs, status_theirs))| {
                let cold_theirs = Stats::of(cold_theirs.clone());
                println!(
                    "  against {}: no-op up {}, status {}, cold up {}",
                    against.label,
                    up_theirs.show(),
                    status_theirs.show(),
                    cold_theirs.show()
                );
                serde_json::json!({
                    "label": against.label,
                    "noop_up": up_theirs.json(None),
                    "status": status_theirs.json(None),
                    "cold_up": cold_theirs.json(None),
                })
            },
        );
        println!(
            "  no-op up       {}  floor (psql reads count and newest version) {}  ratio {:.2}x  \
             (psql formatting every row {}, ratio {:.2}x)",
            up.show(),
            floor.show(),
            up.median / floor.median,
            formatting_floor.show(),
            up.median / formatting_floor.median
        );
        println!(
            "  status         {}  ratio to no-op up {:.2}x",
            status.show(),
            status.median / up.median
        );
        println!(
            "  status --json  {}  ratio to no-op up {:.2}x",
            status_json.show(),
            status_json.median / up.median
        );
        println!(
            "  cold up        {}  floor psql -f tx {}  ratio {:.2}x  (psql -f autocommit {}, ratio {:.2}x)",
            cold_up.show(),
            cold_psql_tx.show(),
            cold_up.median / cold_psql_tx.median,
            cold_psql.show(),
            cold_up.median / cold_psql.median
        );
        let mut entry = serde_json::json!({
            "n": size,
            "cold_runs": runs,
            "noop_up": up.json(Some(&floor)),
            "noop_floor_psql": floor.json(None),
            "noop_psql_formatting_every_row": formatting_floor.json(None),
            "status": status.json(Some(&up)),
            "status_json": status_json.json(Some(&up)),
            "cold_up": cold_up.json(Some(&cold_psql_tx)),
            "cold_floor_psql_tx": cold_psql_tx.json(None),
            "cold_psql_autocommit": cold_psql.json(None),
        });
        if let Some(theirs) = theirs {
            entry["against"] = theirs;
        }
        per_size.push(entry);
        cluster.drop_database(&cold_db).unwrap();
        if let Some((db, _)) = last_theirs {
            cluster.drop_database(&db).unwrap();
        }
        let _ = std::fs::remove_file(plan_file);
        let _ = std::fs::remove_file(plan_tx_file);
        let _ = std::fs::remove_file(sum_file);
    }
    serde_json::json!({
        "unit": "ms",
        "runs": RUNS,
        "cold_runs": cold_runs,
        "ratios": "noop_up to noop_floor_psql; status and status_json to noop_up; cold_up to cold_floor_psql_tx",
        "startup": {
            "binary": startup.json(Some(&psql_startup)),
            "psql": psql_startup.json(None),
        },
        "sizes": per_size,
    })
}

/// The figures in the shape `cargo xtask bench` reads (`$BENCH_JSON`).
fn as_figures(figures: &serde_json::Value) -> Vec<migration_dev::bench::Figure> {
    use migration_dev::bench::{Figure, Floor};
    let number = |value: &serde_json::Value, key: &str| value[key].as_f64().unwrap_or_default();
    let floor_of = |what: &str, stats: &serde_json::Value| Floor {
        what: what.to_owned(),
        median: number(stats, "median"),
        min: number(stats, "min"),
        max: number(stats, "max"),
    };
    let one = |what: &str,
               n: u64,
               runs: usize,
               stats: &serde_json::Value,
               floor: Option<(&str, &serde_json::Value)>,
               target: &str| Figure {
        bench: "deploy".to_owned(),
        what: what.to_owned(),
        n,
        unit: "ms".to_owned(),
        median: number(stats, "median"),
        min: number(stats, "min"),
        max: number(stats, "max"),
        runs,
        ratio: floor.map(|(_, floor)| number(stats, "median") / number(floor, "median")),
        floor: floor.map(|(what, floor)| floor_of(what, floor)),
        target: (!target.is_empty()).then(|| target.to_owned()),
        note: None,
        baseline: None,
    };
    let baseline = |size: &serde_json::Value, key: &str| {
        let theirs = &size["against"];
        let label = theirs["label"].as_str().unwrap_or_default();
        theirs.get(key).map(|stats| floor_of(label, stats))
    };
    let mut out = vec![one(
        "binary startup (--version)",
        0,
        RUNS,
        &figures["startup"]["binary"],
        Some(("psql --version", &figures["startup"]["psql"])),
        "",
    )];
    for size in figures["sizes"].as_array().into_iter().flatten() {
        let n = size["n"].as_u64().unwrap_or_default();
        let cold_runs = size["cold_runs"].as_u64().unwrap_or_default() as usize;
        let mut cold = one(
            "cold deploy",
            n,
            cold_runs,
            &size["cold_up"],
            Some((
                "psql -f, a transaction and history row per migration",
                &size["cold_floor_psql_tx"],
            )),
            if n == 500 || n == 2000 { "<= 1.05" } else { "" },
        );
        cold.baseline = baseline(size, "cold_up");
        out.push(cold);
        let mut noop = one(
            "no-op deploy",
            n,
            RUNS,
            &size["noop_up"],
            Some((
                "psql reading the history's count and newest version",
                &size["noop_floor_psql"],
            )),
            "<= 1.2",
        );
        noop.baseline = baseline(size, "noop_up");
        out.push(noop);
        let mut status = one(
            "status",
            n,
            RUNS,
            &size["status"],
            Some(("the no-op deploy", &size["noop_up"])),
            "<= 1.2",
        );
        status.baseline = baseline(size, "status");
        out.push(status);
        out.push(one(
            "status --json",
            n,
            RUNS,
            &size["status_json"],
            Some(("the no-op deploy", &size["noop_up"])),
            "",
        ));
    }
    out
}

/// The plan with what the runner adds around each migration: a transaction
/// and a history row (the fair floor for a cold deploy).
fn with_transactions(plan: &str) -> String {
    let mut out = String::from(
        "CREATE TABLE public.bench_history (version text PRIMARY KEY, applied_at bigint NOT NULL, checksum text NOT NULL);\n",
    );
    let mut current: Option<&str> = None;
    let close = |out: &mut String, name: &str| {
        out.push_str(&format!(
            "INSERT INTO public.bench_history VALUES ('{name}', extract(epoch FROM now())::bigint, 'x');\nCOMMIT;\n"
        ));
    };
    for line in plan.lines() {
        if let Some(name) = line
            .strip_prefix("-- ")
            .and_then(|rest| rest.split_whitespace().next())
        {
            if let Some(previous) = current.replace(name) {
                close(&mut out, previous);
            }
            out.push_str("BEGIN;\n");
        } else if !line.trim().is_empty() {
            out.push_str(line);
            out.push('\n');
        }
    }
    if let Some(last) = current {
        close(&mut out, last);
    }
    out
}

fn checkpoint(psql: &Path, url: &str) {
    time(psql_command(psql, url).args(["-c", "CHECKPOINT"]));
}

fn psql_command(psql: &Path, url: &str) -> Command {
    let mut cmd = Command::new(psql);
    cmd.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", url])
        .stdout(Stdio::null());
    cmd
}

struct Stats {
    median: f64,
    min: f64,
    max: f64,
}

impl Stats {
    fn of(mut samples: Vec<f64>) -> Self {
        samples.sort_by(f64::total_cmp);
        Stats {
            median: samples[samples.len() / 2],
            min: samples[0],
            max: samples[samples.len() - 1],
        }
    }

    /// Median, min and max in ms, and the ratio of the medians to `floor`'s.
    fn json(&self, floor: Option<&Stats>) -> serde_json::Value {
        let mut value = serde_json::json!({
            "median": self.median,
            "min": self.min,
            "max": self.max,
        });
        if let Some(floor) = floor {
            value["ratio"] = (self.median / floor.median).into();
        }
        value
    }

    fn show(&self) -> String {
        format!("{:.1} [{:.1}-{:.1}] ms", self.median, self.min, self.max)
    }
}

/// Each command's runs, interleaved round by round (one warm-up each
/// first), so the machine's drift reaches all of them alike.
fn measure<const K: usize>(commands: [&mut dyn FnMut() -> Command; K]) -> [Stats; K] {
    measure_beside(commands, None).0
}

/// [`measure`], with the other commit's command (when compared) in the
/// same rounds.
fn measure_beside<const K: usize>(
    mut commands: [&mut dyn FnMut() -> Command; K],
    mut theirs: Option<&mut dyn FnMut() -> Command>,
) -> ([Stats; K], Option<Stats>) {
    let mut ours: [Vec<f64>; K] = std::array::from_fn(|_| Vec::with_capacity(RUNS));
    let mut their_samples = Vec::with_capacity(RUNS);
    // Round 0 warms each command up and is not counted.
    for round in 0..=RUNS {
        for (command, samples) in commands.iter_mut().zip(ours.iter_mut()) {
            let took = ms(time(&mut command()));
            if round > 0 {
                samples.push(took);
            }
        }
        if let Some(command) = theirs.as_mut() {
            let took = ms(time(&mut command()));
            if round > 0 {
                their_samples.push(took);
            }
        }
    }
    let theirs = (!their_samples.is_empty()).then(|| Stats::of(their_samples));
    (ours.map(Stats::of), theirs)
}

fn time(command: &mut Command) -> Duration {
    let started = Instant::now();
    let output = command.output().unwrap();
    let elapsed = started.elapsed();
    assert!(
        output.status.success(),
        "{:?} failed: {}",
        command,
        String::from_utf8_lossy(&output.stderr)
    );
    elapsed
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
