//! The operator's commands, shared by `cargo xtask migrate` and the release
//! binary so production runs exactly the code developers run: the flags
//! (validated when parsed), one function per command, and their rendering.
//! Every command's exit code comes from the one table in [`crate::exit`].

use std::io::IsTerminal as _;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};

use crate::catalog::Catalog;
use crate::connect::{self, ConnectError, ConnectSettings, DatabaseTarget};
use crate::drift::Shadow;
use crate::error::{Result, VerifyError};
use crate::executor::DdlLimits;
use crate::exit::Exit;
use crate::render::{
    Rows, STATUS_TAIL, ms, print_plan, print_script, print_status, write_status_json,
};
use crate::runner::{DownOptions, Planned, Resolution, Runner, RunnerOptions, UpOptions};
use crate::say;

/// PostgreSQL's `lock_timeout` is an `int` of milliseconds.
const MAX_WAIT_SECS: u64 = 2_147_483;

/// `migrate [up] [--to NAME] [--dry-run]` and its subcommands.
#[derive(Debug, Clone, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct MigrateArgs {
    #[command(subcommand)]
    pub command: Option<MigrateCommand>,
    /// Flags of `up`, the default command.
    #[command(flatten)]
    pub up: UpArgs,
    #[command(flatten)]
    pub connect: ConnectArgs,
    #[command(flatten)]
    pub roles: RoleArgs,
}

/// The runtime roles' names for this deployment (see [`crate::role_names`]).
#[derive(Debug, Clone, Args)]
pub struct RoleArgs {
    /// Name of each schema's read-write runtime role; `{schema}` stands for the
    /// schema [default: {schema}_app, or what the database recorded].
    #[arg(
        long,
        global = true,
        env = "MIGRATION_APP_ROLE_TEMPLATE",
        value_name = "TEMPLATE",
        value_parser = crate::role_names::parse_template(crate::role_names::Template::App)
    )]
    pub app_role_template: Option<String>,
    /// Name of each schema's read-only reporting role [default:
    /// {schema}_reporting, or what the database recorded].
    #[arg(
        long,
        global = true,
        env = "MIGRATION_REPORTING_ROLE_TEMPLATE",
        value_name = "TEMPLATE",
        value_parser = crate::role_names::parse_template(crate::role_names::Template::Reporting)
    )]
    pub reporting_role_template: Option<String>,
}

/// How to reach the database.
#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    /// Seconds to wait for the database to accept a connection.
    #[arg(
        long,
        global = true,
        env = "DATABASE_CONNECT_TIMEOUT",
        default_value_t = 10,
        value_name = "SECONDS",
        value_parser = clap::value_parser!(u64).range(1..=3600)
    )]
    pub connect_timeout: u64,
}

/// The migration lock.
#[derive(Debug, Clone, Args)]
pub struct LockArgs {
    /// Seconds to wait for another deploy's migration lock before giving up.
    #[arg(
        long,
        env = "MIGRATION_LOCK_TIMEOUT",
        default_value_t = 60,
        value_name = "SECONDS",
        value_parser = clap::value_parser!(u64).range(1..=MAX_WAIT_SECS)
    )]
    pub lock_timeout: u64,
}

/// How long DDL may wait for table locks.
#[derive(Debug, Clone, Args)]
pub struct DdlArgs {
    /// Seconds a migration's statement may wait for a table lock before the
    /// migration is rolled back and retried (readers never queue behind it longer).
    #[arg(
        long,
        env = "MIGRATION_DDL_LOCK_TIMEOUT",
        default_value_t = 5,
        value_name = "SECONDS",
        value_parser = clap::value_parser!(u64).range(1..=MAX_WAIT_SECS)
    )]
    pub ddl_lock_timeout: u64,
    /// How many times a migration that could not get its table locks is retried.
    #[arg(
        long,
        env = "MIGRATION_DDL_RETRIES",
        default_value_t = 3,
        value_name = "N",
        value_parser = clap::value_parser!(u32).range(0..=20)
    )]
    pub ddl_retries: u32,
}

impl DdlArgs {
    fn limits(&self) -> DdlLimits {
        DdlLimits {
            lock_timeout: Duration::from_secs(self.ddl_lock_timeout),
            retries: self.ddl_retries,
        }
    }
}

#[derive(Debug, Clone, Subcommand)]
pub enum MigrateCommand {
    /// Apply pending migrations in global order (the default).
    Up(UpArgs),
    /// One line per migration; exit 0 all applied, 1 pending remain, 2 integrity problem.
    Status {
        /// Print one JSON object (its shape is documented in the README).
        #[arg(long)]
        json: bool,
        /// Also compare the database with its replayed history (see `drift`).
        #[arg(long)]
        drift: bool,
        /// Print every migration (without it, the newest applied ones and every one not applied).
        #[arg(long)]
        all: bool,
    },
    /// The pull-request gate against a base branch: linear, untouched history, no parallel
    /// changes to the same tables, sum file current; exit 2 on any problem.
    Check {
        /// The base branch (a git ref, e.g. `origin/main`).
        #[arg(long, value_name = "REF")]
        base: String,
        /// Print the problems as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Lint the SQL of the migrations a branch adds (all of them without --base); exit 2 on errors.
    Lint {
        /// Lint only the migrations added over this git ref (e.g. `origin/main`).
        #[arg(long, value_name = "REF")]
        base: Option<String>,
        /// Hold the migrations to what a Citus cluster can create.
        #[arg(long)]
        citus: bool,
        /// Print the findings as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Compare the owned schemas with a replay of the applied history; exit 2 on any difference.
    Drift {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// An empty database to replay into, when the role may not create one.
        #[arg(long, value_name = "URL")]
        shadow_url: Option<String>,
    },
    /// The pending migrations in order, each with the exact SQL it will run.
    Plan,
    /// Roll back applied migrations (refused when APP_ENV=production without --allow-destructive).
    Down(DownArgs),
    /// Record a manual resolution in history.
    Resolve(ResolveArgs),
    /// Check the connected role's privileges for the pending migrations.
    Preflight {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Data changes run after deploy in short batches: list, run, status, pause, resume, cancel.
    Backfill(crate::backfill::cli::BackfillArgs),
    /// Feature flags (the flags table the application reads): list, set.
    Flag(crate::backfill::cli::FlagArgs),
    /// Backups: backup, restore, verify-backup (see docs/RUNBOOK.md).
    Db(crate::operations::cli::DbArgs),
}

#[derive(Debug, Clone, Args)]
pub struct UpArgs {
    /// Apply pending migrations up to and including NAME.
    #[arg(long, value_name = "NAME")]
    pub to: Option<String>,
    /// Print what would be applied, with its SQL, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Apply pending migrations that sort before applied ones (recorded in history).
    #[arg(long)]
    pub allow_out_of_order: bool,
    #[command(flatten)]
    pub lock: LockArgs,
    #[command(flatten)]
    pub ddl: DdlArgs,
}

#[derive(Debug, Clone, Args)]
pub struct DownArgs {
    /// Roll back every migration applied after NAME (NAME stays applied).
    #[arg(long, value_name = "NAME")]
    pub to: Option<String>,
    /// Print the SQL and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Allow `down` when APP_ENV=production.
    #[arg(long)]
    pub allow_destructive: bool,
    /// Do not ask for confirmation on a terminal.
    #[arg(long, short = 'y')]
    pub yes: bool,
    #[command(flatten)]
    pub lock: LockArgs,
    #[command(flatten)]
    pub ddl: DdlArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ResolveArgs {
    #[command(flatten)]
    pub target: ResolveTarget,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = false)]
pub struct ResolveTarget {
    /// Mark NAME applied without running it (adopting an existing database),
    /// or re-record its blanked checksum.
    #[arg(long, value_name = "NAME")]
    pub applied: Option<String>,
    /// Clear NAME's failed entry so it is pending again.
    #[arg(long, value_name = "NAME")]
    pub rolled_back: Option<String>,
}

/// Prints a failure with the URL's password scrubbed, and returns the exit code.
pub fn fail(message: &str, target: Option<&DatabaseTarget>, exit: Exit) -> std::process::ExitCode {
    let message = match target {
        Some(target) => target.scrub(message),
        None => message.to_owned(),
    };
    eprintln!("error: {}", connect::printable(&message));
    exit.into()
}

/// `migrate check`: compares the code with the base branch, read from git in
/// the checkout around the current directory.
pub async fn check(base: &str, json: bool, target: &DatabaseTarget) -> Result<Exit> {
    let workspace = workspace_around_cwd()?;
    let sides = crate::check::read_sides(&workspace, base)?;
    let catalog = Catalog::workspace()?;
    let admin = connect::open(target, &ConnectSettings::new("migration-runner check")).await?;
    let report = crate::check::run(
        crate::check::Branch {
            workspace: &workspace,
            catalog: &catalog,
            sources: crate::catalog::workspace_sources(),
            entities: crate::registry::entity_sources(),
        },
        &sides,
        admin.connection(),
        target,
    )
    .await;
    let _ = admin.close().await;
    let report = report?;
    let (added, problems) = (report.added, &report.problems);
    if json {
        say!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "base": base,
                "added": added,
                "problems": problems.iter().map(|p| serde_json::json!({"detail": p, "message": p.to_string()})).collect::<Vec<_>>(),
                "warnings": report.warnings,
            }))
            .unwrap_or_default()
        );
    } else {
        for line in report.text(base) {
            say!("{line}");
        }
    }
    Ok(report.exit())
}

/// The commands that read only the code and git: run without a database.
/// `None` for every other command.
pub async fn run_offline(command: Option<&MigrateCommand>) -> Option<Result<Exit>> {
    match command {
        Some(MigrateCommand::Lint { base, citus, json }) => {
            Some(lint(base.as_deref(), *citus, *json).await)
        }
        _ => None,
    }
}

/// `migrate lint`: every migration (or those added over `base`), no database needed.
pub async fn lint(base: Option<&str>, citus: bool, json: bool) -> Result<Exit> {
    let workspace = workspace_around_cwd()?;
    let catalog = Catalog::workspace()?;
    let added: Option<Vec<String>> = match base {
        Some(base) => {
            let sides = crate::check::read_sides(&workspace, base)?;
            let code = crate::sum::compute(&catalog).await?;
            Some(
                crate::check::added_over(&sides, &code)
                    .iter()
                    .map(|e| e.name.clone())
                    .collect(),
            )
        }
        None => None,
    };
    let target = if citus {
        crate::lint::Target::Citus
    } else {
        crate::lint::Target::Plain
    };
    let findings = crate::lint::lint_catalog(&catalog, &workspace, target, |name| {
        added
            .as_ref()
            .is_none_or(|added| added.iter().any(|a| a == name))
    })
    .await?;
    let linted = added.as_ref().map_or(catalog.migrations().len(), Vec::len);
    let blocking = findings.iter().filter(|f| f.blocks()).count();
    if json {
        say!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "linted": linted,
                "errors": blocking,
                "findings": findings,
            }))
            .unwrap_or_default()
        );
    } else {
        for finding in &findings {
            // The finding itself ends with its allow-comment's reason.
            match &finding.allowed {
                Some(_) => say!("  allowed: {finding}"),
                None => say!("  {finding}"),
            }
        }
        say!(
            "lint: {linted} migration(s), {blocking} error(s), {} finding(s) in all",
            findings.len()
        );
    }
    Ok(if blocking == 0 {
        Exit::Success
    } else {
        Exit::Refused
    })
}

fn workspace_around_cwd() -> Result<std::path::PathBuf> {
    let cwd = std::env::current_dir().map_err(|source| crate::error::MigrateError::Io {
        path: ".".into(),
        source,
    })?;
    Ok(
        crate::check::find_workspace(&cwd).ok_or_else(|| crate::check::CheckError::WorkingSum {
            problem: format!(
                "not found in {} or its parents; run this inside a checkout of the workspace",
                cwd.display()
            ),
        })?,
    )
}

/// Runs one command on the workspace's migrations.
pub async fn run(args: MigrateArgs, target: &DatabaseTarget) -> Result<Exit> {
    run_with(
        Catalog::workspace()?,
        &crate::catalog::workspace_sources,
        args,
        target,
    )
    .await
}

/// Runs one command on any catalog (the benchmark's generated history uses
/// this); `sources` gives the same migrations again, for replays (`drift`).
pub async fn run_with(
    catalog: Catalog,
    sources: &dyn Fn() -> Vec<crate::catalog::SchemaSource>,
    args: MigrateArgs,
    target: &DatabaseTarget,
) -> Result<Exit> {
    let command = match args.command.unwrap_or(MigrateCommand::Up(args.up)) {
        MigrateCommand::Backfill(backfill) => {
            return crate::backfill::cli::backfill(backfill, target, args.connect.connect_timeout)
                .await;
        }
        MigrateCommand::Flag(flag) => {
            return crate::backfill::cli::flag(flag, target, args.connect.connect_timeout).await;
        }
        MigrateCommand::Db(db) => {
            return crate::operations::cli::run(db.command, target, args.connect.connect_timeout)
                .await;
        }
        command => command,
    };
    let (lock, ddl) = match &command {
        MigrateCommand::Up(up) => (Some(&up.lock), Some(&up.ddl)),
        MigrateCommand::Down(down) => (Some(&down.lock), Some(&down.ddl)),
        MigrateCommand::Resolve(resolve) => (Some(&resolve.lock), None),
        _ => (None, None),
    };
    let options = RunnerOptions {
        lock_timeout: Duration::from_secs(lock.map_or(60, |l| l.lock_timeout)),
        ddl: ddl.map(DdlArgs::limits).unwrap_or_default(),
        role_templates: crate::role_names::ConfiguredTemplates {
            app: args.roles.app_role_template,
            reporting: args.roles.reporting_role_template,
        },
    };
    let settings = ConnectSettings {
        application: "migration-runner".to_owned(),
        timeout: Duration::from_secs(args.connect.connect_timeout),
    };
    let session = connect::open(target, &settings).await?;
    let runner = Runner::new(session, catalog, options).await?;
    let outcome = match command {
        MigrateCommand::Up(up) => up_command(&runner, up).await,
        MigrateCommand::Status { json, drift, all } => {
            let rows = if all { Rows::All } else { Rows::Summary };
            status_command(&runner, json, drift, rows, target, sources).await
        }
        MigrateCommand::Check { base, json } => check(&base, json, target).await,
        MigrateCommand::Lint { base, citus, json } => lint(base.as_deref(), citus, json).await,
        MigrateCommand::Drift { json, shadow_url } => {
            drift_command(&runner, json, shadow_url, target, sources).await
        }
        MigrateCommand::Plan => plan_command(&runner).await,
        MigrateCommand::Down(down) => down_command(&runner, down).await,
        MigrateCommand::Resolve(resolve) => resolve_command(&runner, resolve.target).await,
        MigrateCommand::Preflight { json } => preflight_command(&runner, json).await,
        MigrateCommand::Backfill(_) | MigrateCommand::Flag(_) | MigrateCommand::Db(_) => {
            unreachable!("dispatched above")
        }
    };
    runner.close().await;
    outcome
}

async fn up_command(runner: &Runner, up: UpArgs) -> Result<Exit> {
    let report = runner
        .up(&UpOptions {
            to: up.to,
            dry_run: up.dry_run,
            allow_out_of_order: up.allow_out_of_order,
        })
        .await?;
    if report.adopted > 0 {
        say!(
            "adopted {} applied migration(s) from an earlier history table: their checksums are now recorded",
            report.adopted
        );
    }
    if let Some(holder) = &report.lock_waited_for {
        say!(
            "waited {} for the migration lock held by {holder}",
            ms(report.lock_waited)
        );
    }
    if up.dry_run {
        if report.planned.is_empty() {
            say!(
                "dry run: nothing to apply ({} migrations already applied)",
                report.already_applied
            );
        } else {
            say!(
                "dry run: {} migration(s) would be applied; nothing was changed",
                report.planned.len()
            );
            crate::render::print_role_templates(&report.planned, runner.role_templates());
            print_plan(&report.planned);
        }
    } else if report.applied.is_empty() {
        say!(
            "nothing to apply: all {} migrations are applied (database is up to date, checked in {})",
            report.already_applied,
            ms(report.elapsed)
        );
        print_placed(&report.placed);
    } else {
        for applied in &report.applied {
            let retried = if applied.attempts > 1 {
                format!(" ({} attempts)", applied.attempts)
            } else {
                String::new()
            };
            say!(
                "applied  {:<60} {:<8} {:>3} statements  {:>6} ms{retried}",
                applied.name,
                applied.schema,
                applied.statements,
                applied.execution_ms
            );
        }
        print_placed(&report.placed);
        say!(
            "applied {} migration(s) in {} ({} were already applied)",
            report.applied.len(),
            ms(report.elapsed),
            report.already_applied
        );
    }
    if up.dry_run
        && let Some(placement) = &report.citus
    {
        print_placement(placement);
    }
    Ok(Exit::Success)
}

/// What a run placed on Citus.
fn print_placed(placed: &[crate::citus::Step]) {
    for step in placed {
        say!(
            "citus    {:<60} now a {} (after {})",
            step.object,
            step.kind.describe(),
            step.after_migration
        );
    }
}

/// What a run will place on Citus (`plan`, `up --dry-run`, `preflight`).
fn print_placement(placement: &crate::citus::PlannedPlacement) {
    say!(
        "-- on Citus {}: the runner adds these steps (recorded in {}; the migrations' SQL and checksums are unchanged)",
        placement.version,
        crate::citus::STEPS_TABLE
    );
    for (migration, tables) in &placement.reference_tables {
        for table in tables {
            say!(
                "--   after {migration}, in its transaction: SELECT create_reference_table('{table}');"
            );
        }
    }
    for table in &placement.unreferenced_tables {
        say!("--   at the end of the run: SELECT create_reference_table('{table}');");
    }
    for schema in &placement.distributed_schemas {
        say!("--   at the end of the run: SELECT citus_schema_distribute('{schema}');");
    }
    if placement.is_empty() {
        say!(
            "--   nothing: every `core` table is a reference table and every app schema is distributed"
        );
    }
    for blocker in &placement.blockers {
        say!("--   REFUSED: {blocker}");
    }
}

async fn status_command(
    runner: &Runner,
    json: bool,
    drift: bool,
    rows: Rows,
    target: &DatabaseTarget,
    sources: &dyn Fn() -> Vec<crate::catalog::SchemaSource>,
) -> Result<Exit> {
    // The summary needs the newest rows only: when history is exactly the
    // code, only those are read.
    let inspection = if json || drift || rows == Rows::All {
        runner.inspect().await?
    } else {
        runner.inspect_summary(STATUS_TAIL).await?
    };
    // Drift needs intact history; with problems, status reports those instead.
    let drifted = if drift && inspection.problems.is_empty() {
        Some(runner.drift(target, Shadow::Create, sources()).await?)
    } else {
        None
    };
    if json {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        // A closed pipe loses the output; the exit code still tells.
        let _ = write_status_json(&mut out, &inspection, target, drifted.as_ref());
    } else {
        print_status(&inspection, rows);
        if let Some(report) = &drifted {
            say!(
                "drift: {} difference(s) between the database and its {} applied migrations{}",
                report.lines().len(),
                report.applied,
                if report.is_clean() {
                    ""
                } else {
                    " (`migrate drift` lists them)"
                }
            );
        }
    }
    let drifted = drifted.is_some_and(|report| !report.is_clean());
    Ok(match inspection.exit_code() {
        0 if drifted => Exit::Refused,
        0 => Exit::Success,
        1 if drifted => Exit::Refused,
        1 => Exit::Pending,
        _ => Exit::Refused,
    })
}

async fn drift_command(
    runner: &Runner,
    json: bool,
    shadow_url: Option<String>,
    target: &DatabaseTarget,
    sources: &dyn Fn() -> Vec<crate::catalog::SchemaSource>,
) -> Result<Exit> {
    let shadow = match shadow_url {
        Some(url) => Shadow::Url(Box::new(
            DatabaseTarget::parse(&url, connect::UrlSource::Given).map_err(ConnectError::from)?,
        )),
        None => Shadow::Create,
    };
    let report = runner.drift(target, shadow, sources()).await?;
    if json {
        say!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else if report.is_clean() {
        say!(
            "no drift: schemas {} match their {} applied migrations{}{}",
            report.schemas.join(", "),
            report.applied,
            if report.placement.is_some() {
                ", and their placement on Citus is the runner's"
            } else {
                ""
            },
            report.pending_note()
        );
    } else {
        let lines = report.lines();
        say!(
            "drift: {} difference(s) between the database and its {} applied migrations{}:",
            lines.len(),
            report.applied,
            report.pending_note()
        );
        for line in lines {
            say!("  - {line}");
        }
    }
    Ok(if report.is_clean() {
        Exit::Success
    } else {
        Exit::Refused
    })
}

async fn plan_command(runner: &Runner) -> Result<Exit> {
    let started = Instant::now();
    let plan = runner.plan().await?;
    if plan.is_empty() {
        say!("-- nothing pending (checked in {})", ms(started.elapsed()));
    } else {
        let waiting = runner.waiting(&plan).await?;
        crate::render::print_role_templates(&plan, runner.role_templates());
        crate::render::print_plan_waiting(&plan, &waiting);
    }
    if let Some(placement) = runner.citus_placement(&plan).await? {
        print_placement(&placement);
    }
    Ok(Exit::Success)
}

async fn down_command(runner: &Runner, down: DownArgs) -> Result<Exit> {
    let app_env = std::env::var("APP_ENV").ok();
    if !down.dry_run && !down.yes && std::io::stdin().is_terminal() {
        let targets = runner.down_targets(down.to.as_deref()).await?;
        if targets.is_empty() {
            say!("nothing to roll back");
            return Ok(Exit::Success);
        }
        eprintln!(
            "this rolls back {} migration(s), dropping what they created and the data in it:",
            targets.len()
        );
        for name in &targets {
            eprintln!("  - {name}");
        }
        if !confirm("roll back?")? {
            return Err(VerifyError::Declined.into());
        }
    }
    let mut announce = |planned: &Planned| {
        say!("-- rolling back {} ({})", planned.name, planned.schema);
        print_script(&planned.script);
    };
    let report = runner
        .down(
            &DownOptions {
                to: down.to,
                dry_run: down.dry_run,
                allow_destructive: down.allow_destructive,
                app_env,
            },
            &mut announce,
        )
        .await?;
    if down.dry_run {
        say!(
            "dry run: {} migration(s) would be rolled back; nothing was changed",
            report.planned.len()
        );
    } else if report.rolled_back.is_empty() {
        say!("nothing to roll back");
    } else {
        for done in &report.rolled_back {
            say!(
                "rolled back  {:<60} {:<8} {:>6} ms",
                done.name,
                done.schema,
                done.execution_ms
            );
        }
    }
    Ok(Exit::Success)
}

/// Asks on the terminal; anything but `y`/`yes` is a no.
pub fn confirm(question: &str) -> Result<bool> {
    use std::io::Write as _;
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    if std::io::stdin().read_line(&mut answer).is_err() {
        return Ok(false);
    }
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

async fn resolve_command(runner: &Runner, target: ResolveTarget) -> Result<Exit> {
    let resolution = match (target.applied, target.rolled_back) {
        (Some(name), _) => Resolution::Applied(name),
        (None, Some(name)) => Resolution::RolledBack(name),
        (None, None) => unreachable!("clap requires one of the two"),
    };
    runner.resolve(&resolution).await?;
    match resolution {
        Resolution::Applied(name) => say!("recorded `{name}` as applied (it was not run)"),
        Resolution::RolledBack(name) => {
            say!("cleared the failed entry of `{name}`; it is pending again")
        }
    }
    Ok(Exit::Success)
}

async fn preflight_command(runner: &Runner, json: bool) -> Result<Exit> {
    let mut report = runner.preflight().await?;
    if report.history_readable {
        report.grants = runtime_grants(runner).await?;
    }
    if json {
        say!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else if report.missing.is_empty() {
        say!(
            "preflight passed: role `{}` can apply the {} pending migration(s){}",
            report.role,
            report.pending,
            if report.superuser { " (superuser)" } else { "" }
        );
    } else {
        say!(
            "preflight failed: role `{}` lacks {} privilege(s){}:",
            report.role,
            report.missing.len(),
            if report.history_readable {
                ""
            } else {
                " (history is unreadable, so every migration in the code was checked)"
            }
        );
        for missing in &report.missing {
            say!("  - {}\n      {}", missing.what, missing.fix);
        }
    }
    let citus_blockers = report.citus.as_ref().map_or(0, |p| p.blockers.len());
    if !json && let Some(placement) = &report.citus {
        print_placement(placement);
        if citus_blockers > 0 {
            say!(
                "preflight failed: {citus_blockers} foreign key(s) cannot exist on Citus (above, with what to do instead)"
            );
        }
    }
    if !json && !report.grants.is_empty() {
        say!(
            "runtime roles: {} grant(s) differ from what the applied migrations declare:",
            report.grants.len()
        );
        for mismatch in &report.grants {
            say!("  - {mismatch}");
        }
    } else if !json {
        say!("runtime roles: grants match what the applied migrations declare");
    }
    Ok(
        if report.missing.is_empty() && report.grants.is_empty() && citus_blockers == 0 {
            Exit::Success
        } else {
            Exit::Refused
        },
    )
}

/// The runtime roles' grants against the applied migrations' statements.
async fn runtime_grants(runner: &Runner) -> Result<Vec<crate::grants::GrantMismatch>> {
    let inspection = runner.inspect().await?;
    let capturer = crate::capture::Capturer::new().await?;
    let mut sql = Vec::new();
    for entry in &inspection.migrations {
        if entry.state != crate::status::State::Applied {
            continue;
        }
        if let Some(migration) = runner.catalog().get(&entry.name) {
            let script = capturer
                .record(migration, crate::capture::Direction::Up)
                .await?;
            sql.extend(script.statements.iter().map(|s| s.to_string()));
        }
    }
    crate::grants::check(runner.connection(), &sql, runner.role_templates())
        .await
        .map_err(|source| crate::error::MigrateError::Database {
            context: "reading the runtime roles' grants (preflight)",
            source,
        })
}
