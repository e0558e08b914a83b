//! `backfill ...` and `flag ...`: the same commands in `cargo xtask` and the
//! release binary (`migration-runner backfill run <name>` after `up` in CD).

use std::io::IsTerminal as _;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand, ValueEnum};
use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};

use crate::backfill::driver;
use crate::backfill::ledger::{self, LedgerRow, LedgerState};
use crate::backfill::{BackfillError, Backfills, Outcome, Progress, RunOptions, RunReport};
use crate::cli::error::Result;
use crate::connect::{self, ConnectSettings, DatabaseTarget, Session};
use crate::exit::Exit;
use crate::say;

/// `backfill <command>`.
#[derive(Debug, Clone, Args)]
pub struct BackfillArgs {
    #[command(subcommand)]
    pub command: BackfillCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum BackfillCommand {
    /// Every backfill with its state and progress.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run (or continue) a backfill in short batches; exit 1 when stopped with work left.
    Run(RunArgs),
    /// One backfill's ledger (or every backfill's); exit 0 when finished, 1 when work is left.
    Status {
        name: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Stop a backfill after its current batch; `resume` continues it.
    Pause { name: String },
    /// Resume a paused, cancelled or failed backfill from where it stopped, and run it.
    Resume(RunArgs),
    /// Stop a backfill after its current batch and keep it from running until `resume`.
    Cancel { name: String },
    /// Record a backfill finished without running it (recorded with the reason).
    MarkFinished {
        name: String,
        /// Why (kept in the ledger's note).
        #[arg(long, required = true)]
        reason: String,
    },
}

/// How to run a backfill.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The backfill (`backfill list` names them).
    pub name: String,
    /// Rows in the first batch (then adapted toward --target-batch-ms).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub batch_size: Option<u32>,
    /// Milliseconds to sleep between batches.
    #[arg(long, value_name = "MS", default_value_t = driver::DEFAULT_SLEEP.as_millis() as u64, value_parser = clap::value_parser!(u64).range(0..=600_000))]
    pub sleep: u64,
    /// Stop after walking this many rows (`run` continues later).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_rows: Option<u64>,
    /// Say what would run, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The batch duration the batch size adapts toward, in milliseconds (at most half --statement-timeout).
    #[arg(long, value_name = "MS", default_value_t = driver::DEFAULT_TARGET_BATCH.as_millis() as u64, value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub target_batch_ms: u64,
    /// Longest a batch transaction may run, BEGIN to COMMIT (then it is rolled back and retried smaller), in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = driver::DEFAULT_BATCH_TIMEOUT.as_millis() as u64, value_parser = clap::value_parser!(u64).range(1..=2_147_483_647))]
    pub statement_timeout: u64,
    /// Longest a batch may wait for a lock (then it is retried), in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = driver::DEFAULT_LOCK_TIMEOUT.as_millis() as u64, value_parser = clap::value_parser!(u64).range(1..=2_147_483_647))]
    pub lock_timeout: u64,
    /// Retries of one batch after transient failures before the backfill stops as `failed`.
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub retries: u32,
}

impl RunArgs {
    fn options(&self, resume: bool) -> RunOptions {
        RunOptions {
            batch_size: self.batch_size,
            sleep: Duration::from_millis(self.sleep),
            max_rows: self.max_rows,
            target_batch: Duration::from_millis(self.target_batch_ms),
            statement_timeout: Duration::from_millis(self.statement_timeout),
            lock_timeout: Duration::from_millis(self.lock_timeout),
            retries: self.retries,
            resume,
        }
    }
}

/// `flag <command>`.
#[derive(Debug, Clone, Args)]
pub struct FlagArgs {
    #[command(subcommand)]
    pub command: FlagCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum FlagCommand {
    /// Every flag set in the database, and the flags backfills wait for.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Turn a flag on or off.
    Set {
        name: String,
        value: OnOff,
        /// Why (kept with the flag).
        #[arg(long)]
        note: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

async fn open(target: &DatabaseTarget, connect_timeout: u64) -> Result<Session> {
    let settings = ConnectSettings::with_timeout("migration-runner backfill", connect_timeout);
    Ok(connect::open(target, &settings).await?)
}

/// Runs one `backfill` command on the workspace's backfills.
pub async fn backfill(
    registry: &schema_core::schema_crate::Workspace,
    args: BackfillArgs,
    target: &DatabaseTarget,
    connect_timeout: u64,
) -> Result<Exit> {
    let backfills = Backfills::workspace(registry)?;
    backfill_with(&backfills, args, target, connect_timeout).await
}

/// Runs one `backfill` command on any set of backfills (tests use this).
pub async fn backfill_with(
    backfills: &Backfills,
    args: BackfillArgs,
    target: &DatabaseTarget,
    connect_timeout: u64,
) -> Result<Exit> {
    // Unknown names are usage errors before anything connects.
    match &args.command {
        BackfillCommand::Run(run) | BackfillCommand::Resume(run) => {
            backfills.get(&run.name)?;
        }
        BackfillCommand::Status {
            name: Some(name), ..
        }
        | BackfillCommand::Pause { name }
        | BackfillCommand::Cancel { name }
        | BackfillCommand::MarkFinished { name, .. } => {
            backfills.get(name)?;
        }
        _ => {}
    }
    let session = open(target, connect_timeout).await?;
    let db = session.connection();
    if let Err(err) = ledger::require_history(db).await {
        let _ = session.close().await;
        return Err(err.into());
    }
    let outcome = match args.command {
        BackfillCommand::List { json } => list(db, backfills, json, None).await,
        BackfillCommand::Status { name, json } => list(db, backfills, json, name.as_deref()).await,
        BackfillCommand::Run(run) => run_command(db, backfills, &run, false).await,
        BackfillCommand::Resume(run) => run_command(db, backfills, &run, true).await,
        BackfillCommand::Pause { name } => stop(db, backfills, &name, LedgerState::Paused).await,
        BackfillCommand::Cancel { name } => {
            stop(db, backfills, &name, LedgerState::Cancelled).await
        }
        BackfillCommand::MarkFinished { name, reason } => {
            mark_finished(db, backfills, &name, &reason).await
        }
    };
    let _ = session.close().await;
    outcome
}

/// Runs one `flag` command.
pub async fn flag(
    registry: &schema_core::schema_crate::Workspace,
    args: FlagArgs,
    target: &DatabaseTarget,
    connect_timeout: u64,
) -> Result<Exit> {
    if let FlagCommand::Set { name, .. } = &args.command {
        crate::backfill::flags::validate(name)?;
    }
    let backfills = Backfills::workspace(registry)?;
    let session = open(target, connect_timeout).await?;
    let db = session.connection();
    if let Err(err) = ledger::require_history(db).await {
        let _ = session.close().await;
        return Err(err.into());
    }
    let outcome = async {
        match args.command {
            FlagCommand::List { json } => {
                let rows = crate::backfill::flags::list(db).await?;
                let guarded: Vec<(&str, &str)> = backfills
                    .all()
                    .iter()
                    .filter_map(|b| Some((b.inner.flag()?, b.inner.name())))
                    .collect();
                if json {
                    say!(
                        "{}",
                        serde_json::to_string_pretty(&serde_json::json!({
                            "flags": rows,
                            "guarding": guarded.iter().map(|(flag, backfill)| serde_json::json!({"flag": flag, "backfill": backfill})).collect::<Vec<_>>(),
                        }))
                        .unwrap_or_default()
                    );
                    return Ok(Exit::Success);
                }
                let mut table = Table::new();
                table.load_preset(UTF8_BORDERS_ONLY);
                table.set_header(["flag", "state", "guards", "updated", "by", "note"]);
                let mut names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
                names.extend(guarded.iter().map(|(flag, _)| *flag));
                names.sort_unstable();
                names.dedup();
                for name in names {
                    let row = rows.iter().find(|r| r.name == name);
                    let guards: Vec<&str> = guarded
                        .iter()
                        .filter(|(flag, _)| *flag == name)
                        .map(|(_, backfill)| *backfill)
                        .collect();
                    table.add_row([
                        name.to_owned(),
                        match row {
                            Some(r) if r.enabled => "on".to_owned(),
                            Some(_) => "off".to_owned(),
                            None => "off (never set)".to_owned(),
                        },
                        guards.join(", "),
                        row.map(|r| r.updated_at.clone()).unwrap_or_default(),
                        row.map(|r| r.updated_by.clone()).unwrap_or_default(),
                        row.and_then(|r| r.note.clone()).unwrap_or_default(),
                    ]);
                }
                say!("{table}");
                Ok(Exit::Success)
            }
            FlagCommand::Set { name, value, note } => {
                let on = matches!(value, OnOff::On);
                crate::backfill::flags::set(db, &name, on, note.as_deref()).await?;
                say!("flag `{name}` is {}", if on { "on" } else { "off" });
                Ok(Exit::Success)
            }
        }
    }
    .await;
    let _ = session.close().await;
    outcome
}

fn percent(row: &LedgerRow) -> String {
    match row.rows_total {
        _ if row.state == LedgerState::Finished => "100%".to_owned(),
        Some(total) if total > 0 => format!(
            "{:.0}%",
            (row.rows_done as f64 * 100.0 / total as f64).min(99.0)
        ),
        _ => "-".to_owned(),
    }
}

async fn list(
    db: &sea_orm::DatabaseConnection,
    backfills: &Backfills,
    json: bool,
    only: Option<&str>,
) -> Result<Exit> {
    let rows = ledger::load_all(db).await?;
    let mut flags = Vec::new();
    for backfill in backfills.all() {
        flags.push(match backfill.inner.flag() {
            Some(flag) => Some((flag, crate::backfill::flags::is_on(db, flag).await?)),
            None => None,
        });
    }
    let selected: Vec<(usize, &crate::backfill::Registered)> = backfills
        .all()
        .iter()
        .enumerate()
        .filter(|(_, b)| only.is_none_or(|name| b.inner.name() == name))
        .collect();
    let unfinished = selected.iter().any(|(_, b)| {
        rows.iter()
            .find(|r| r.name == b.inner.name())
            .is_none_or(|r| r.state != LedgerState::Finished)
    });
    if json {
        let items: Vec<serde_json::Value> = selected
            .iter()
            .map(|(index, b)| {
                let row = rows.iter().find(|r| r.name == b.inner.name());
                serde_json::json!({
                    "name": b.inner.name(),
                    "schema": b.schema,
                    "table": b.inner.table(),
                    "description": b.inner.description(),
                    "flag": flags[*index].map(|(flag, on)| serde_json::json!({"name": flag, "on": on})),
                    "required_by": b.inner.required_by(),
                    "state": row.map_or("not_started", |r| r.state.as_str()),
                    "ledger": row,
                })
            })
            .collect();
        say!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "backfills": items }))
                .unwrap_or_default()
        );
    } else if let (Some(name), [(index, b)]) = (only, selected.as_slice()) {
        let row = rows.iter().find(|r| r.name == name);
        say!(
            "backfill     {name} (schema {}, table {})",
            b.schema,
            b.inner.table()
        );
        say!("             {}", b.inner.description());
        if let Some((flag, on)) = flags[*index] {
            say!("flag         {flag} ({})", if on { "on" } else { "off" });
        }
        if !b.inner.required_by().is_empty() {
            say!("required by  {}", b.inner.required_by().join(", "));
        }
        match row {
            None => say!("state        not started"),
            Some(r) => {
                say!("state        {}", r.state.as_str());
                say!(
                    "progress     {} of ~{} rows ({}), {} changed, {} batches",
                    r.rows_done,
                    r.rows_total.unwrap_or(0),
                    percent(r),
                    r.rows_changed,
                    r.batches
                );
                say!("cursor       {}", r.cursor.as_deref().unwrap_or("-"));
                say!(
                    "attempts     {} (retried batches: {})",
                    r.attempts,
                    r.retries
                );
                say!(
                    "started      {}\nfinished     {}",
                    r.started_at.as_deref().unwrap_or("-"),
                    r.finished_at.as_deref().unwrap_or("-")
                );
                if let Some(error) = &r.last_error {
                    say!("last error   {error}");
                }
                if let Some(note) = &r.note {
                    say!("note         {note}");
                }
            }
        }
    } else {
        let mut table = Table::new();
        table.load_preset(UTF8_BORDERS_ONLY);
        table.set_header([
            "backfill",
            "table",
            "flag",
            "state",
            "progress",
            "required by",
        ]);
        for (index, b) in &selected {
            let row = rows.iter().find(|r| r.name == b.inner.name());
            table.add_row([
                b.inner.name().to_owned(),
                b.inner.table().to_owned(),
                flags[*index]
                    .map(|(flag, on)| format!("{flag} ({})", if on { "on" } else { "off" }))
                    .unwrap_or_default(),
                row.map_or("not started".to_owned(), |r| r.state.as_str().to_owned()),
                row.map(|r| format!("{} rows ({})", r.rows_done, percent(r)))
                    .unwrap_or_default(),
                b.inner.required_by().join(", "),
            ]);
        }
        say!("{table}");
        for row in rows.iter().filter(|r| backfills.get(&r.name).is_err()) {
            say!(
                "  note: the ledger has `{}` ({}), which the code no longer declares",
                row.name,
                row.state.as_str()
            );
        }
    }
    Ok(if unfinished {
        Exit::Pending
    } else {
        Exit::Success
    })
}

async fn run_command(
    db: &sea_orm::DatabaseConnection,
    backfills: &Backfills,
    args: &RunArgs,
    resume: bool,
) -> Result<Exit> {
    let backfill = backfills.get(&args.name)?;
    let options = args.options(resume);
    if args.dry_run {
        return dry_run(db, backfill, &options).await;
    }
    if resume {
        // Make it runnable again first, so a resumed run is recorded as such.
        if let Some(row) = ledger::load(db, &args.name).await?
            && row.state == LedgerState::Finished
        {
            return Err(BackfillError::AlreadyFinished {
                name: args.name.clone(),
                action: "resume",
            }
            .into());
        }
    }
    let mut reporter = Reporter::new();
    let report =
        crate::backfill::driver::run(db, backfill, &options, &mut |p| reporter.show(p)).await;
    reporter.finish();
    let report = report?;
    print_report(&report);
    Ok(if report.outcome.left_work() {
        Exit::Pending
    } else {
        Exit::Success
    })
}

async fn dry_run(
    db: &sea_orm::DatabaseConnection,
    backfill: &crate::backfill::Registered,
    options: &RunOptions,
) -> Result<Exit> {
    let inner = &backfill.inner;
    let row = ledger::load(db, inner.name()).await?;
    let flag = match inner.flag() {
        Some(flag) => Some((flag, crate::backfill::flags::is_on(db, flag).await?)),
        None => None,
    };
    let has_work = crate::backfill::driver::has_work(db, inner.has_work_sql()).await;
    say!("dry run: nothing is changed");
    say!(
        "backfill `{}` walks {} by `{}` in batches of {} (adapting toward {} ms), {} ms between batches",
        inner.name(),
        inner.table(),
        inner.key(),
        options.batch_size.unwrap_or_else(|| inner.batch_size()),
        options.target_batch.as_millis(),
        options.sleep.as_millis()
    );
    say!(
        "state: {}{}",
        row.as_ref().map_or("not started", |r| r.state.as_str()),
        row.as_ref()
            .and_then(|r| r.cursor.as_ref())
            .map(|c| format!(", continues after key {c}"))
            .unwrap_or_default()
    );
    if let Some((flag, on)) = flag {
        say!(
            "flag `{flag}` is {}",
            if on { "on" } else { "off: `run` refuses" }
        );
    }
    match has_work {
        Ok(true) => say!("rows still need it"),
        Ok(false) => say!("no row needs it"),
        Err(err) => say!(
            "cannot tell whether rows need it: {}",
            crate::connect::db_error::describe(&err)
        ),
    }
    say!("each batch runs, with $1 and $2 the first and last key of its range:");
    say!("{}", inner.batch_sql());
    Ok(Exit::Success)
}

fn print_report(report: &RunReport) {
    let what = match report.outcome {
        Outcome::AlreadyFinished => {
            say!(
                "backfill `{}` is already finished; nothing to do",
                report.name
            );
            return;
        }
        Outcome::Finished => "finished",
        Outcome::Paused => "paused after its current batch (`backfill resume` continues)",
        Outcome::Cancelled => "cancelled after its current batch (`backfill resume` continues)",
        Outcome::MarkedFinished => "stopped: marked finished from another session",
        Outcome::MaxRows => "stopped at --max-rows (`backfill run` continues)",
    };
    let rate = report.rows as f64 / report.elapsed.as_secs_f64().max(1e-6);
    say!(
        "backfill `{}` {what}: {} rows walked ({} changed) in {} batches, {:.1} s, {:.0} rows/s{}; {} of ~{} rows done; longest batch {} ms (statement timeout {} ms){}",
        report.name,
        report.rows,
        report.changed,
        report.batches,
        report.elapsed.as_secs_f64(),
        rate,
        if report.retries > 0 {
            format!(", {} retried", report.retries)
        } else {
            String::new()
        },
        report.rows_done,
        report.rows_total.max(report.rows_done),
        report.longest_batch.as_millis(),
        report.statement_timeout.as_millis(),
        report
            .resumed_from
            .as_ref()
            .map(|c| format!("; continued after key {c}"))
            .unwrap_or_default()
    );
    if report.work_left_behind {
        say!(
            "  warning: rows written while it ran still need it (behind its cursor); is the application \
             writing the column for new rows yet? `backfill status {}` shows the ledger",
            report.name
        );
    }
}

async fn stop(
    db: &sea_orm::DatabaseConnection,
    backfills: &Backfills,
    name: &str,
    to: LedgerState,
) -> Result<Exit> {
    let backfill = backfills.get(name)?;
    ledger::install(db).await?;
    ledger::ensure(db, name, backfill.schema, backfill.inner.table()).await?;
    let row = ledger::load(db, name).await?.expect("ensured above");
    if row.state == LedgerState::Finished {
        return Err(BackfillError::AlreadyFinished {
            name: name.to_owned(),
            action: if to == LedgerState::Paused {
                "pause"
            } else {
                "cancel"
            },
        }
        .into());
    }
    // Waits at most for the running batch, whose transaction holds the row.
    ledger::set_state(db, name, &to, None).await?;
    say!(
        "{} `{name}`: a running backfill stops after its current batch; `backfill resume {name}` continues it",
        to.as_str()
    );
    Ok(Exit::Success)
}

async fn mark_finished(
    db: &sea_orm::DatabaseConnection,
    backfills: &Backfills,
    name: &str,
    reason: &str,
) -> Result<Exit> {
    let backfill = backfills.get(name)?;
    ledger::install(db).await?;
    ledger::mark_finished(
        db,
        name,
        backfill.schema,
        backfill.inner.table(),
        &format!("mark-finished: {reason}"),
    )
    .await?;
    say!("recorded `{name}` as finished (it was not run): {reason}");
    Ok(Exit::Success)
}

/// A progress bar on a terminal, a log line every few seconds otherwise.
struct Reporter {
    bar: Option<indicatif::ProgressBar>,
    last_line: Option<Instant>,
}

impl Reporter {
    fn new() -> Self {
        Self {
            bar: None,
            last_line: None,
        }
    }

    fn show(&mut self, progress: &Progress<'_>) {
        let total = u64::try_from(progress.rows_total).unwrap_or(0);
        let done = u64::try_from(progress.rows_done).unwrap_or(0);
        if std::io::stderr().is_terminal() {
            let bar = self.bar.get_or_insert_with(|| {
                let bar = indicatif::ProgressBar::new(total);
                bar.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{prefix} [{bar:30}] {pos}/{len} rows {per_sec} ETA {eta} {msg}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                bar.set_prefix(progress.name.to_owned());
                bar
            });
            bar.set_length(total.max(done));
            bar.set_position(done);
            bar.set_message(
                progress
                    .retrying
                    .clone()
                    .unwrap_or_else(|| format!("batch {}", progress.batch_size)),
            );
            return;
        }
        let due = self
            .last_line
            .is_none_or(|at| at.elapsed() >= Duration::from_secs(2));
        if let Some(retrying) = &progress.retrying {
            eprintln!("backfill {}: {retrying}", progress.name);
        } else if due {
            let left = total.saturating_sub(done) as f64;
            let eta = if progress.rate > 0.0 {
                format!("{:.0} s", left / progress.rate)
            } else {
                "-".to_owned()
            };
            eprintln!(
                "backfill {}: {done} of ~{total} rows, {:.0} rows/s, batch {}, ETA {eta}",
                progress.name, progress.rate, progress.batch_size
            );
            self.last_line = Some(Instant::now());
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
