//! The operator's commands, shared by `cargo xtask migrate` and the release
//! binary so production runs exactly the code developers run: the flags
//! (validated when parsed), one function per command, and their rendering.
//! Every command's exit code comes from the one table in [`crate::exit`].
//!
//! It owns the flags, the commands, their rendering ([`render`]) and
//! [`error::CommandError`], where every layer's error is gathered once. It may
//! import every layer; no layer imports it, and it never holds a phase's
//! logic: only flags, dispatch, printing and the gathered error.

pub mod backfill;
pub mod error;
pub mod map;
pub mod operations;
pub mod owners;
pub mod render;

use std::io::IsTerminal as _;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};

use crate::cli::error::{CommandError, Result};
use crate::cli::render::{
    Rows, STATUS_TAIL, ms, print_plan, print_script, print_status, write_status_json,
};
use crate::connect::{self, ConnectError, ConnectSettings, DatabaseTarget};
use crate::deploy::error::MigrateError;
use crate::deploy::executor::DdlLimits;
use crate::deploy::runner::{DownOptions, Planned, Resolution, Runner, RunnerOptions, UpOptions};
use crate::deploy::verify::VerifyError;
use crate::exit::Exit;
use crate::gate::drift::Shadow;
use crate::say;
use crate::source::catalog::Catalog;
use schema_core::schema_crate::Workspace;

/// PostgreSQL's `lock_timeout` is an `int` of milliseconds.
const MAX_WAIT_SECS: u64 = 2_147_483;

/// `migrate [up] [--to NAME] [--dry-run]` and its subcommands. The flags of
/// `up` may stand before a subcommand too (`migrate --lock-timeout 5 up`);
/// there they count for the subcommands that take them, and one that does
/// not take a flag given there is a usage error naming where it belongs.
#[derive(Debug, Clone, Args)]
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

/// The runtime roles' names for this deployment (see [`crate::roles::role_names`]).
#[derive(Debug, Clone, Args)]
pub struct RoleArgs {
    /// Name of each schema's read-write runtime role; `{schema}` stands for the
    /// schema [default: {schema}_app, or what the database recorded].
    #[arg(
        long,
        global = true,
        env = "MIGRATION_APP_ROLE_TEMPLATE",
        value_name = "TEMPLATE",
        value_parser = crate::roles::role_names::parse_template(crate::roles::role_names::Template::App)
    )]
    pub app_role_template: Option<String>,
    /// Name of each schema's read-only reporting role [default:
    /// {schema}_reporting, or what the database recorded].
    #[arg(
        long,
        global = true,
        env = "MIGRATION_REPORTING_ROLE_TEMPLATE",
        value_name = "TEMPLATE",
        value_parser = crate::roles::role_names::parse_template(crate::roles::role_names::Template::Reporting)
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

/// How long a command waits for the migration lock, or for another
/// session's lock on the history table.
#[derive(Debug, Clone, Default, Args)]
pub struct LockArgs {
    /// Seconds to wait for another deploy's migration lock, or for a lock another
    /// session holds on the history table, before giving up [default: 60].
    #[arg(
        long,
        env = "MIGRATION_LOCK_TIMEOUT",
        value_name = "SECONDS",
        value_parser = clap::value_parser!(u64).range(1..=MAX_WAIT_SECS)
    )]
    pub lock_timeout: Option<u64>,
}

impl LockArgs {
    const DEFAULT_SECS: u64 = 60;

    /// This command's value, else the one given before the subcommand.
    fn or(&self, before: &LockArgs) -> LockArgs {
        LockArgs {
            lock_timeout: self.lock_timeout.or(before.lock_timeout),
        }
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.lock_timeout.unwrap_or(Self::DEFAULT_SECS))
    }
}

/// How long DDL may wait for table locks.
#[derive(Debug, Clone, Default, Args)]
pub struct DdlArgs {
    /// Seconds a migration's statement may wait for a table lock before the
    /// migration is rolled back and retried (readers never queue behind it longer) [default: 5].
    #[arg(
        long,
        env = "MIGRATION_DDL_LOCK_TIMEOUT",
        value_name = "SECONDS",
        value_parser = clap::value_parser!(u64).range(1..=MAX_WAIT_SECS)
    )]
    pub ddl_lock_timeout: Option<u64>,
    /// How many times a migration that could not get its table locks is retried [default: 3].
    #[arg(
        long,
        env = "MIGRATION_DDL_RETRIES",
        value_name = "N",
        value_parser = clap::value_parser!(u32).range(0..=20)
    )]
    pub ddl_retries: Option<u32>,
}

impl DdlArgs {
    /// This command's values, else the ones given before the subcommand.
    fn or(&self, before: &DdlArgs) -> DdlArgs {
        DdlArgs {
            ddl_lock_timeout: self.ddl_lock_timeout.or(before.ddl_lock_timeout),
            ddl_retries: self.ddl_retries.or(before.ddl_retries),
        }
    }

    fn limits(&self) -> DdlLimits {
        let defaults = DdlLimits::default();
        DdlLimits {
            lock_timeout: self
                .ddl_lock_timeout
                .map_or(defaults.lock_timeout, Duration::from_secs),
            retries: self.ddl_retries.unwrap_or(defaults.retries),
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
        #[command(flatten)]
        lock: LockArgs,
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
    /// The SQL that would bring the migrations to what the entities describe (what
    /// `migrate dev` writes), or one database to another with --from-url and --to-url.
    Diff(DiffArgs),
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
    /// The schemas the branch's migrations touch and whose owners must review them; with
    /// --require-approvals, exit 2 unless each one's owners approved the pull request.
    Owners(crate::cli::owners::OwnersArgs),
    /// The database as its teams see it, read-only: one self-contained HTML page (or
    /// Mermaid, dot, JSON, SCHEMA.md) from the live database or a replay of the history.
    Map(crate::cli::map::MapArgs),
    /// Compare the owned schemas with a replay of the applied history; exit 2 on any difference.
    Drift {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// An empty database to replay into, when the role may not create one.
        #[arg(long, value_name = "URL")]
        shadow_url: Option<String>,
        #[command(flatten)]
        lock: LockArgs,
    },
    /// The pending migrations in order, each with the exact SQL it will run.
    Plan {
        #[command(flatten)]
        lock: LockArgs,
    },
    /// Roll back applied migrations (refused when APP_ENV=production without --allow-destructive).
    Down(DownArgs),
    /// Record a manual resolution in history.
    Resolve(ResolveArgs),
    /// Check the connected role's privileges for the pending migrations.
    Preflight {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        lock: LockArgs,
    },
    /// Data changes run after deploy in short batches: list, run, status, pause, resume, cancel.
    Backfill(crate::cli::backfill::BackfillArgs),
    /// Feature flags (the flags table the application reads): list, set.
    Flag(crate::cli::backfill::FlagArgs),
    /// Backups: backup, restore, verify-backup (see docs/RUNBOOK.md).
    Db(crate::cli::operations::DbArgs),
    /// Print a completion script for a shell: `source <(migration-runner completions bash)`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
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

impl UpArgs {
    /// The flags of `up` given before a subcommand that takes none of them
    /// (`--ddl-*` and `--lock-timeout` are checked by the subcommand).
    fn up_only_flags(&self) -> Vec<&'static str> {
        let mut given = Vec::new();
        if self.to.is_some() {
            given.push("--to");
        }
        if self.dry_run {
            given.push("--dry-run");
        }
        if self.allow_out_of_order {
            given.push("--allow-out-of-order");
        }
        given
    }

    /// Every flag of `up` that was given (a usage error before a command
    /// that is not the engine's: `migrate new`, `hash`, `renumber`).
    pub fn given_flags(&self) -> Vec<&'static str> {
        let mut given = self.up_only_flags();
        if self.lock.lock_timeout.is_some() {
            given.push("--lock-timeout");
        }
        if self.ddl.ddl_lock_timeout.is_some() {
            given.push("--ddl-lock-timeout");
        }
        if self.ddl.ddl_retries.is_some() {
            given.push("--ddl-retries");
        }
        given
    }
}

/// A flag given before a subcommand that does not take it.
pub fn misplaced_flag(flag: &str, command: &str) -> CommandError {
    let belongs = match flag {
        "--lock-timeout" => "`up`, `down`, `resolve`, `status`, `plan`, `drift` and `preflight`",
        "--ddl-lock-timeout" | "--ddl-retries" => "`up` and `down`",
        _ => "`up`",
    };
    CommandError::Usage(format!(
        "`{flag}` is a flag of {belongs}, not of `{command}`: drop it, or write `migrate up {flag} …`"
    ))
}

impl MigrateArgs {
    /// The command to run, `up` by default, with the flags of `up` given
    /// before it counted where the command takes them (its own win).
    fn command_with_flags_before(&mut self) -> Result<MigrateCommand> {
        let before = self.up.clone();
        let Some(command) = self.command.take() else {
            return Ok(MigrateCommand::Up(before));
        };
        let name = command_name(&command);
        let mut command = command;
        for flag in before.given_flags() {
            let taken = match flag {
                "--lock-timeout" => command.lock_mut().is_some(),
                "--ddl-lock-timeout" | "--ddl-retries" => command.ddl_mut().is_some(),
                _ => matches!(command, MigrateCommand::Up(_)),
            };
            if !taken {
                return Err(misplaced_flag(flag, name));
            }
        }
        if let Some(lock) = command.lock_mut() {
            *lock = lock.or(&before.lock);
        }
        if let Some(ddl) = command.ddl_mut() {
            *ddl = ddl.or(&before.ddl);
        }
        if let MigrateCommand::Up(up) = &mut command {
            up.to = up.to.take().or(before.to);
            up.dry_run |= before.dry_run;
            up.allow_out_of_order |= before.allow_out_of_order;
        }
        Ok(command)
    }
}

impl MigrateCommand {
    /// The command's `--lock-timeout`, when it takes one.
    fn lock_mut(&mut self) -> Option<&mut LockArgs> {
        match self {
            MigrateCommand::Up(UpArgs { lock, .. })
            | MigrateCommand::Down(DownArgs { lock, .. })
            | MigrateCommand::Resolve(ResolveArgs { lock, .. })
            | MigrateCommand::Status { lock, .. }
            | MigrateCommand::Drift { lock, .. }
            | MigrateCommand::Plan { lock }
            | MigrateCommand::Preflight { lock, .. } => Some(lock),
            _ => None,
        }
    }

    /// The command's `--ddl-lock-timeout` and `--ddl-retries`, when it takes them.
    fn ddl_mut(&mut self) -> Option<&mut DdlArgs> {
        match self {
            MigrateCommand::Up(UpArgs { ddl, .. }) | MigrateCommand::Down(DownArgs { ddl, .. }) => {
                Some(ddl)
            }
            _ => None,
        }
    }
}

/// The subcommand as typed, for messages.
fn command_name(command: &MigrateCommand) -> &'static str {
    match command {
        MigrateCommand::Up(_) => "up",
        MigrateCommand::Status { .. } => "status",
        MigrateCommand::Check { .. } => "check",
        MigrateCommand::Diff(_) => "diff",
        MigrateCommand::Lint { .. } => "lint",
        MigrateCommand::Owners(_) => "owners",
        MigrateCommand::Map(_) => "map",
        MigrateCommand::Drift { .. } => "drift",
        MigrateCommand::Plan { .. } => "plan",
        MigrateCommand::Down(_) => "down",
        MigrateCommand::Resolve(_) => "resolve",
        MigrateCommand::Preflight { .. } => "preflight",
        MigrateCommand::Backfill(_) => "backfill",
        MigrateCommand::Flag(_) => "flag",
        MigrateCommand::Db(_) => "db",
        MigrateCommand::Completions { .. } => "completions",
    }
}

#[derive(Debug, Clone, Args)]
pub struct DiffArgs {
    /// Exit 2 when there is a difference (0 when none), as `git diff --exit-code`.
    #[arg(long)]
    pub exit_code: bool,
    /// Compare this database's owned schemas ... (needs --to-url).
    #[arg(long, value_name = "URL", requires = "to_url")]
    pub from_url: Option<String>,
    /// ... with this one's: the SQL printed turns the first into the second.
    #[arg(long, value_name = "URL", requires = "from_url")]
    pub to_url: Option<String>,
    /// A rename, never guessed: `schema.table.column=new_name` or `schema.table=schema.new_name`.
    #[arg(long, value_name = "FROM=TO", value_parser = crate::gate::diff::parse_rename)]
    pub rename: Vec<crate::model::ddl::Rename>,
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

/// `migrate diff`: prints the plan, each statement ended by `;`, or a comment
/// saying there is none.
pub async fn diff_command(
    args: DiffArgs,
    target: &DatabaseTarget,
    registry: &Workspace,
) -> Result<Exit> {
    let schemas: Vec<&str> = Catalog::workspace(registry)?.schemas().to_vec();
    let changes = match (&args.from_url, &args.to_url) {
        (Some(from), Some(to)) => {
            let read = |url: &str| {
                let url = url.to_owned();
                let schemas = schemas.clone();
                async move {
                    let target = DatabaseTarget::parse(&url, connect::UrlSource::Flag)
                        .map_err(|err| CommandError::Usage(err.to_string()))?;
                    let session =
                        connect::open(&target, &ConnectSettings::new("migration-runner diff"))
                            .await?;
                    let model =
                        crate::model::SchemaModel::read(session.connection(), &schemas).await;
                    let _ = session.close().await;
                    model.map_err(|source| CommandError::Database {
                        context: "reading the schemas to compare",
                        source,
                    })
                }
            };
            let (from, to) = (read(from).await?, read(to).await?);
            crate::gate::diff::between(&from, &to, &args.rename)
        }
        _ => {
            let admin =
                connect::open(target, &ConnectSettings::new("migration-runner diff")).await?;
            let models = crate::gate::entity_check::models(
                admin.connection(),
                target,
                crate::source::catalog::workspace_sources(registry),
                (registry.entities)(),
            )
            .await;
            let _ = admin.close().await;
            let (history, entities) = models.map_err(crate::gate::check::CheckError::from)?;
            crate::gate::diff::history_to_entities(&history, &entities, &args.rename)
        }
    };
    if changes.is_empty() {
        say!("-- no difference");
        return Ok(Exit::Success);
    }
    for change in &changes {
        say!("{};", change.sql);
    }
    Ok(if args.exit_code {
        Exit::Refused
    } else {
        Exit::Success
    })
}

/// `migrate check`: compares the code with the base branch, read from git in
/// the checkout around the current directory.
pub async fn check(
    base: &str,
    json: bool,
    target: &DatabaseTarget,
    registry: &Workspace,
) -> Result<Exit> {
    let workspace = workspace_around_cwd()?;
    let sides = crate::gate::check::read_sides(&workspace, base)?;
    let catalog = Catalog::workspace(registry)?;
    let admin = connect::open(target, &ConnectSettings::new("migration-runner check")).await?;
    let report = crate::gate::check::run(
        crate::gate::check::Branch {
            workspace: &workspace,
            catalog: &catalog,
            sources: crate::source::catalog::workspace_sources(registry),
            entities: (registry.entities)(),
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
                "reviews": report.reviews,
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
pub async fn run_offline(
    command: Option<&MigrateCommand>,
    registry: &Workspace,
) -> Option<Result<Exit>> {
    match command {
        Some(MigrateCommand::Lint { base, citus, json }) => {
            Some(lint(base.as_deref(), *citus, *json, registry).await)
        }
        Some(MigrateCommand::Owners(args)) => Some(owners::owners(args, registry).await),
        _ => None,
    }
}

/// `migrate lint`: every migration (or those added over `base`), no database needed.
pub async fn lint(
    base: Option<&str>,
    citus: bool,
    json: bool,
    registry: &Workspace,
) -> Result<Exit> {
    let workspace = workspace_around_cwd()?;
    let catalog = Catalog::workspace(registry)?;
    let added: Option<Vec<String>> = match base {
        Some(base) => Some(crate::gate::check::added_names(&workspace, &catalog, base).await?),
        None => None,
    };
    let target = if citus {
        migration_lint::Target::Citus
    } else {
        migration_lint::Target::Plain
    };
    let findings = crate::gate::lint::lint_catalog(&catalog, &workspace, target, |name| {
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

pub(crate) fn workspace_around_cwd() -> Result<std::path::PathBuf> {
    let cwd = std::env::current_dir().map_err(|source| CommandError::Io {
        path: ".".into(),
        source,
    })?;
    Ok(crate::gate::check::find_workspace(&cwd).ok_or_else(|| {
        crate::gate::check::CheckError::WorkingSum {
            problem: format!(
                "not found in {} or its parents; run this inside a checkout of the workspace",
                cwd.display()
            ),
        }
    })?)
}

/// Runs one command on the workspace's migrations (`registry`: what the
/// registry crate projects of the schema crates).
pub async fn run(args: MigrateArgs, target: &DatabaseTarget, registry: &Workspace) -> Result<Exit> {
    let sources = || crate::source::catalog::workspace_sources(registry);
    run_with(Catalog::workspace(registry)?, &sources, args, target).await
}

/// [`run`] for the release binary: its no-op check reads the code's
/// checksums from the sum file compiled into it (held to the code by the
/// gate and the tests) instead of recording every migration, so it stays
/// flat in history length ([`Catalog::with_sum_as_record`]). `cargo xtask`,
/// run in a tree being edited, records the code every time.
pub async fn run_release(
    args: MigrateArgs,
    target: &DatabaseTarget,
    registry: &Workspace,
) -> Result<Exit> {
    let sources = || crate::source::catalog::workspace_sources(registry);
    let catalog = Catalog::workspace(registry)?.with_sum_as_record();
    run_with(catalog, &sources, args, target).await
}

/// Runs one command on any catalog (the benchmark's generated history uses
/// this); `sources` gives the same migrations again, for replays (`drift`).
pub async fn run_with(
    catalog: Catalog,
    sources: &dyn Fn() -> Vec<crate::source::catalog::SchemaSource>,
    args: MigrateArgs,
    target: &DatabaseTarget,
) -> Result<Exit> {
    let mut args = args;
    let command = args.command_with_flags_before()?;
    // Backfills, flags, backups, check and lint read more of the workspace
    // than its migrations: a catalog of other migrations has none of it.
    let source = catalog.source().copied();
    let registry = || {
        source.ok_or_else(|| {
            CommandError::Usage(
                "this command needs the workspace's schema crates, and this catalog is not the workspace's"
                    .to_owned(),
            )
        })
    };
    let timeout = args.connect.connect_timeout;
    let command = match command {
        MigrateCommand::Backfill(backfill) => {
            return crate::cli::backfill::backfill(&registry()?, backfill, target, timeout).await;
        }
        MigrateCommand::Flag(flag) => {
            return crate::cli::backfill::flag(&registry()?, flag, target, timeout).await;
        }
        MigrateCommand::Db(db) => {
            return crate::cli::operations::run(&registry()?, db.command, target, timeout).await;
        }
        MigrateCommand::Completions { .. } => {
            return Err(CommandError::Usage(
                "`completions` is answered by the binary itself, before any database".to_owned(),
            ));
        }
        command => command,
    };
    let mut command = command;
    let lock = command.lock_mut().map(|l| l.clone()).unwrap_or_default();
    let ddl = command.ddl_mut().map(|d| d.clone()).unwrap_or_default();
    let options = RunnerOptions {
        lock_timeout: lock.timeout(),
        ddl: ddl.limits(),
        role_templates: crate::roles::role_names::ConfiguredTemplates {
            app: args.roles.app_role_template,
            reporting: args.roles.reporting_role_template,
        },
    };
    // The names the templates give each schema, before anything connects.
    for (which, template) in [
        (
            crate::roles::role_names::Template::App,
            &options.role_templates.app,
        ),
        (
            crate::roles::role_names::Template::Reporting,
            &options.role_templates.reporting,
        ),
    ] {
        if let Some(template) = template {
            crate::roles::role_names::validate(which, template, catalog.schemas())?;
        }
    }
    let settings = ConnectSettings {
        // Reading history waits for another session's lock on it no longer
        // than for the migration lock.
        lock_timeout: Some(options.lock_timeout),
        ..ConnectSettings::with_timeout("migration-runner", args.connect.connect_timeout)
    };
    let waited_secs = options.lock_timeout.as_secs();
    let session = connect::open(target, &settings).await?;
    let runner = match Runner::new(session.clone(), catalog, options).await {
        Ok(runner) => runner,
        Err(err) => return Err(name_history_lock_holder(err.into(), &session, waited_secs).await),
    };
    // Every command refuses role templates that differ from the recorded
    // ones; `up`, `status` and `plan` read them in their no-op statement.
    if !matches!(
        command,
        MigrateCommand::Up(_) | MigrateCommand::Status { .. } | MigrateCommand::Plan { .. }
    ) && let Err(err) = runner.role_templates().await
    {
        let err = name_history_lock_holder(err.into(), &session, waited_secs).await;
        runner.close().await;
        return Err(err);
    }
    let outcome = match command {
        MigrateCommand::Up(up) => up_command(&runner, up).await,
        MigrateCommand::Status {
            json, drift, all, ..
        } => {
            let rows = if all { Rows::All } else { Rows::Summary };
            status_command(&runner, json, drift, rows, target, sources).await
        }
        MigrateCommand::Check { base, json } => check(&base, json, target, &registry()?).await,
        MigrateCommand::Diff(diff) => diff_command(diff, target, &registry()?).await,
        MigrateCommand::Lint { base, citus, json } => {
            lint(base.as_deref(), citus, json, &registry()?).await
        }
        MigrateCommand::Owners(args) => owners::owners(&args, &registry()?).await,
        MigrateCommand::Map(map) => {
            map::map_command(&runner, map, target, &registry()?, sources).await
        }
        MigrateCommand::Drift {
            json, shadow_url, ..
        } => drift_command(&runner, json, shadow_url, target, sources).await,
        MigrateCommand::Plan { .. } => plan_command(&runner).await,
        MigrateCommand::Down(down) => down_command(&runner, down).await,
        MigrateCommand::Resolve(resolve) => resolve_command(&runner, resolve.target).await,
        MigrateCommand::Preflight { json, .. } => preflight_command(&runner, json).await,
        MigrateCommand::Backfill(_)
        | MigrateCommand::Flag(_)
        | MigrateCommand::Db(_)
        | MigrateCommand::Completions { .. } => {
            unreachable!("dispatched above")
        }
    };
    let outcome = match outcome {
        Err(err) => Err(name_history_lock_holder(err, &session, waited_secs).await),
        ok => ok,
    };
    runner.close().await;
    outcome
}

/// A history read that waited out the lock timeout, told as the lock wait
/// it was, naming the session that holds the table.
async fn name_history_lock_holder(
    err: CommandError,
    session: &connect::Session,
    waited_secs: u64,
) -> CommandError {
    match err.history_lock_timeout() {
        Ok(source) => {
            let holder = crate::history::lock::describe_table_holder(
                session.connection(),
                crate::history::TABLE,
            )
            .await
            .unwrap_or_else(|_| "another session".to_owned());
            MigrateError::from(crate::history::lock::LockError::HistoryLocked {
                table: crate::history::TABLE,
                waited_secs,
                holder,
                source,
            })
            .into()
        }
        Err(other) => other,
    }
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
            crate::cli::render::print_role_templates(
                &report.planned,
                runner.role_templates().await?,
            );
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
    sources: &dyn Fn() -> Vec<crate::source::catalog::SchemaSource>,
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
        Some(crate::gate::drift::run(runner, target, Shadow::Create, sources()).await?)
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
    sources: &dyn Fn() -> Vec<crate::source::catalog::SchemaSource>,
) -> Result<Exit> {
    let shadow = match shadow_url {
        Some(url) => Shadow::Url(Box::new(
            DatabaseTarget::parse(&url, connect::UrlSource::Given).map_err(ConnectError::from)?,
        )),
        None => Shadow::Create,
    };
    let report = crate::gate::drift::run(runner, target, shadow, sources()).await?;
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
        crate::cli::render::print_role_templates(&plan, runner.role_templates().await?);
        crate::cli::render::print_plan_waiting(&plan, &waiting);
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
    for kept in &report.kept_schemas {
        say!(
            "kept schema `{}`: `{}` did not create it (it is owned by `{}`, the migration was applied by `{}`), \
             so rolling it back leaves it; drop it by hand if it should go",
            kept.schema,
            kept.migration,
            connect::printable(&kept.owner),
            connect::printable(&kept.applied_by)
        );
    }
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
async fn runtime_grants(runner: &Runner) -> Result<Vec<crate::roles::grants::GrantMismatch>> {
    let inspection = runner.inspect_history().await?;
    let capturer = crate::source::capture::Capturer::new().await?;
    let mut sql = Vec::new();
    for entry in &inspection.migrations {
        if entry.state != crate::deploy::status::State::Applied {
            continue;
        }
        if let Some(migration) = runner.catalog().get(&entry.name) {
            let script = capturer
                .record(migration, crate::source::capture::Direction::Up)
                .await?;
            sql.extend(script.statements.iter().map(|s| s.to_string()));
        }
    }
    crate::roles::grants::check(runner.connection(), &sql, runner.role_templates().await?)
        .await
        .map_err(|source| CommandError::Database {
            context: "reading the runtime roles' grants (preflight)",
            source,
        })
}

/// Writes `shell`'s completion script for `command` (named `name` on the
/// command line) to stdout: clap's own generator, so it always matches the flags.
pub fn print_completions(shell: clap_complete::Shell, command: &mut clap::Command, name: &str) {
    let mut script = Vec::new();
    clap_complete::generate(shell, command, name, &mut script);
    crate::output::text(String::from_utf8_lossy(&script).into_owned());
}
