//! `cargo xtask`: the front door. It parses flags and calls the library
//! crates; it holds no logic of its own beyond choosing the database.

use std::io::IsTerminal as _;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use migration_dev::local_citus::CitusCluster;
use migration_dev::local_pg::{APP_DATABASE, LocalCluster};
use migration_dev::scaffold;
use migration_dev::target::LocalKind;
use migration_runner::cli::{
    self as migrate_cli, ConnectArgs, MigrateArgs, MigrateCommand, RoleArgs, UpArgs,
};
use migration_runner::connect::{self, DatabaseTarget, UrlSource};
use migration_runner::{Catalog, Exit, say};

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    version,
    about = "Develop and deploy the multi-schema database"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply migrations (default), or inspect and manage the history.
    Migrate(XtaskMigrateArgs),
    /// Seed every schema (core first) with idempotent upserts.
    Seed(seeder::SeedArgs),
    /// Manage the local PostgreSQL cluster used when DATABASE_URL is unset.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
    /// Add a schema crate for a new team.
    Schema {
        #[command(subcommand)]
        command: SchemaCommand,
    },
    /// Data changes run after deploy in short batches: list, run, status, pause, resume, cancel.
    Backfill {
        #[command(flatten)]
        args: migration_runner::backfill::cli::BackfillArgs,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Feature flags (the flags table the application reads): list, set.
    Flag {
        #[command(flatten)]
        args: migration_runner::backfill::cli::FlagArgs,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Benchmarks against the floor measured in the same run, on a fresh
    /// local cluster (release build); writes target/bench/report.md and .json.
    Bench {
        /// Small sizes only, to check the harness (minutes instead of a quarter hour).
        #[arg(long)]
        quick: bool,
    },
    /// Print a completion script for a shell, for `xtask` as an alias of `cargo xtask`:
    /// `alias xtask='cargo xtask'; source <(cargo xtask completions bash)`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
enum SchemaCommand {
    /// Write `<name>/` (crate, the migration that creates the schema, empty
    /// entities and seeds) and register it; it builds, migrates and seeds as is.
    New {
        /// The PostgreSQL schema (and directory): lowercase letters, digits, `_`.
        name: String,
    },
}

/// `migrate`: the engine's commands, plus `new`, which writes source files
/// and so exists only here, never in the release binary.
#[derive(Debug, Args)]
struct XtaskMigrateArgs {
    #[command(subcommand)]
    command: Option<XtaskMigrateCommand>,
    #[command(flatten)]
    up: UpArgs,
    #[command(flatten)]
    connect: ConnectArgs,
    #[command(flatten)]
    roles: RoleArgs,
}

#[derive(Debug, Subcommand)]
enum XtaskMigrateCommand {
    /// Write a new (empty) migration file in a schema's crate and register it.
    New {
        /// The schema (crate) that owns the migration: core, academy, talent, vacancy.
        schema: String,
        /// What it does, in words: `add webinar capacity`.
        #[arg(required = true, num_args = 1..)]
        description: Vec<String>,
    },
    /// Rewrite migration-runner/migrations.sum from the code (after writing a migration).
    Hash,
    /// Give this branch's migrations that sort before the base's newest fresh timestamps.
    Renumber {
        /// The base branch (a git ref, e.g. `origin/main`).
        #[arg(long, value_name = "REF")]
        base: String,
    },
    #[command(flatten)]
    Engine(MigrateCommand),
}

#[derive(Debug, Subcommand)]
enum DbCommand {
    /// Initialise (first time) and start the local cluster.
    Start {
        /// A local Citus cluster instead (a coordinator and two workers under
        /// `target/citus`), used by every command from then on; `db start`
        /// without it goes back to plain PostgreSQL.
        #[arg(long)]
        citus: bool,
    },
    /// Stop the local clusters (and the tests' clusters).
    Stop,
    /// Where the cluster lives and whether it runs; exit 1 when it is stopped.
    Status,
    /// Print the URL commands use (DATABASE_URL if set, else the local cluster's).
    Url {
        /// Print the password instead of `***`.
        #[arg(long)]
        show_password: bool,
    },
    /// Open psql on the application database.
    Psql {
        /// Extra arguments for psql, after `--`.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Drop and recreate the local application database (empty, unmigrated).
    Reset {
        /// Do not ask for confirmation on a terminal.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    #[command(flatten)]
    Operation(migration_runner::operations::cli::DbOperation),
}

fn main() -> ExitCode {
    // Read before `.env` is loaded, so its source is named correctly.
    let configured = connect::configured_target();
    if let Err(err) = connect::load_dotenv() {
        return migrate_cli::fail(&err.to_string(), None, Exit::Usage);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                Exit::Usage.into()
            } else {
                Exit::Success.into()
            };
        }
    };
    let registry = schema_registry::workspace();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match cli.command {
        Command::Completions { shell }
        | Command::Migrate(XtaskMigrateArgs {
            command: Some(XtaskMigrateCommand::Engine(MigrateCommand::Completions { shell })),
            ..
        }) => {
            use clap::CommandFactory as _;
            migrate_cli::print_completions(shell, &mut Cli::command(), "xtask");
            Exit::Success.into()
        }
        Command::Migrate(args) => runtime.block_on(migrate(args, configured)),
        Command::Seed(args) => runtime.block_on(seed(args, configured)),
        Command::Db {
            command: DbCommand::Operation(operation),
        } => runtime.block_on(async {
            let target = match database(configured).await {
                Ok(target) => target,
                Err(code) => return code,
            };
            let timeout = connect::ConnectSettings::DEFAULT_TIMEOUT.as_secs();
            let done =
                migration_runner::operations::cli::run(&registry, operation, &target, timeout);
            finish(done.await, &target)
        }),
        Command::Db { command } => db(command, configured),
        Command::Schema {
            command: SchemaCommand::New { name },
        } => runtime.block_on(new_schema(&name)),
        Command::Backfill { args, connect } => runtime.block_on(async {
            let target = match database(configured).await {
                Ok(target) => target,
                Err(code) => return code,
            };
            let done = migration_runner::backfill::cli::backfill(
                &registry,
                args,
                &target,
                connect.connect_timeout,
            );
            finish(done.await, &target)
        }),
        Command::Bench { quick } => {
            let plan = if quick {
                migration_dev::bench::Plan::quick()
            } else {
                migration_dev::bench::Plan::default()
            };
            match migration_dev::bench::run(&scaffold::workspace_root(), &plan) {
                Ok(report) => {
                    say!("{}", report.display());
                    Exit::Success.into()
                }
                Err(err) => migrate_cli::fail(&err.to_string(), None, Exit::Failed),
            }
        }
        Command::Flag { args, connect } => runtime.block_on(async {
            let target = match database(configured).await {
                Ok(target) => target,
                Err(code) => return code,
            };
            let done = migration_runner::backfill::cli::flag(
                &registry,
                args,
                &target,
                connect.connect_timeout,
            );
            finish(done.await, &target)
        }),
    }
}

/// The exit code of a command, printing its error (password scrubbed).
fn finish(outcome: migration_runner::Result<Exit>, target: &DatabaseTarget) -> ExitCode {
    match outcome {
        Ok(exit) => exit.into(),
        Err(err) => migrate_cli::fail(&err.to_string(), Some(target), err.exit()),
    }
}

async fn migrate(
    args: XtaskMigrateArgs,
    configured: Result<Option<DatabaseTarget>, connect::ConfigError>,
) -> ExitCode {
    let source_command = match &args.command {
        Some(XtaskMigrateCommand::New { .. }) => Some("new"),
        Some(XtaskMigrateCommand::Hash) => Some("hash"),
        Some(XtaskMigrateCommand::Renumber { .. }) => Some("renumber"),
        _ => None,
    };
    if let Some(name) = source_command
        && let Some(flag) = args.up.given_flags().first()
    {
        let err = migrate_cli::misplaced_flag(flag, name);
        return migrate_cli::fail(&err.to_string(), None, err.exit());
    }
    let command = match args.command {
        Some(XtaskMigrateCommand::New {
            schema,
            description,
        }) => return new_migration(&schema, &description.join(" ")),
        Some(XtaskMigrateCommand::Hash) => return hash().await,
        Some(XtaskMigrateCommand::Renumber { base }) => return renumber(&base),
        Some(XtaskMigrateCommand::Engine(command)) => {
            if let Some(outcome) =
                migrate_cli::run_offline(Some(&command), &schema_registry::workspace()).await
            {
                return match outcome {
                    Ok(exit) => exit.into(),
                    Err(err) => migrate_cli::fail(&err.to_string(), None, err.exit()),
                };
            }
            Some(command)
        }
        None => None,
    };
    let target = match database(configured).await {
        Ok(target) => target,
        Err(code) => return code,
    };
    let args = MigrateArgs {
        command,
        up: args.up,
        connect: args.connect,
        roles: args.roles,
    };
    match migrate_cli::run(args, &target, &schema_registry::workspace()).await {
        Ok(exit) => exit.into(),
        Err(err) => migrate_cli::fail(&err.to_string(), Some(&target), err.exit()),
    }
}

fn renumber(base: &str) -> ExitCode {
    let catalog = match Catalog::workspace(&schema_registry::workspace()) {
        Ok(catalog) => catalog,
        Err(err) => return migrate_cli::fail(&err.to_string(), None, err.exit()),
    };
    match migration_dev::renumber::renumber(&scaffold::workspace_root(), &catalog, base) {
        Ok(renamed) if renamed.is_empty() => {
            say!("nothing to renumber: every migration of this branch sorts after `{base}`");
            Exit::Success.into()
        }
        Ok(renamed) => {
            for (old, new) in &renamed {
                say!("renamed {old} -> {new}");
            }
            Exit::Success.into()
        }
        Err(err) => migrate_cli::fail(&err.to_string(), None, Exit::Usage),
    }
}

async fn hash() -> ExitCode {
    let workspace = scaffold::workspace_root();
    match migration_dev::sum_file::write(&workspace).await {
        Ok(written) => {
            say!(
                "{} ({} migrations)",
                written.path.display(),
                written.migrations
            );
            Exit::Success.into()
        }
        Err(err) => migrate_cli::fail(&err.to_string(), None, err.exit()),
    }
}

fn new_migration(schema: &str, description: &str) -> ExitCode {
    let catalog = match Catalog::workspace(&schema_registry::workspace()) {
        Ok(catalog) => catalog,
        Err(err) => return migrate_cli::fail(&err.to_string(), None, err.exit()),
    };
    let workspace = scaffold::workspace_root();
    match scaffold::new_migration(&catalog, &workspace, schema, description) {
        Ok(path) => {
            let name = path.file_stem().unwrap_or_default().to_string_lossy();
            if let Err(err) = migration_dev::sum_file::add_empty(&workspace, &name, schema) {
                return migrate_cli::fail(&err.to_string(), None, err.exit());
            }
            say!("{}", path.display());
            eprintln!(
                "written empty: `migrate status` warns and `migrate up` refuses it until its `up` has content"
            );
            Exit::Success.into()
        }
        Err(err) => migrate_cli::fail(&err.to_string(), None, Exit::Usage),
    }
}

async fn new_schema(name: &str) -> ExitCode {
    let workspace = scaffold::workspace_root();
    match migration_dev::new_schema::new_schema(&workspace, name).await {
        Ok(written) => {
            say!("{}", written.crate_dir.display());
            say!("  {}", written.migration);
            for edited in &written.edited {
                say!("  registered in {}", edited.display());
            }
            eprintln!(
                "next: `cargo xtask migrate` creates schema `{name}`; add tables with `cargo xtask migrate new {name} <what>`"
            );
            Exit::Success.into()
        }
        Err(err) => migrate_cli::fail(&err.to_string(), None, Exit::Usage),
    }
}

async fn seed(
    args: seeder::SeedArgs,
    configured: Result<Option<DatabaseTarget>, connect::ConfigError>,
) -> ExitCode {
    let target = match database(configured).await {
        Ok(target) => target,
        Err(code) => return code,
    };
    match seeder::cli::run(args, &target.url).await {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!(
                "error: {}",
                connect::printable(&target.scrub(&err.to_string()))
            );
            ExitCode::from(err.exit_code())
        }
    }
}

/// `DATABASE_URL`, or the local cluster (started on demand); says which on stderr.
async fn database(
    configured: Result<Option<DatabaseTarget>, connect::ConfigError>,
) -> Result<DatabaseTarget, ExitCode> {
    let chosen = match configured {
        Ok(Some(target)) => Ok(target),
        Ok(None) => migration_dev::resolve_or_start_local().await,
        Err(err) => Err(err.into()),
    };
    match chosen {
        Ok(target) => {
            eprintln!("database: {} ({})", target.redacted(), target.source);
            Ok(target)
        }
        Err(err) => Err(migrate_cli::fail(
            &err.to_string(),
            None,
            match err {
                migration_dev::target::TargetError::Config(_) => Exit::Usage,
                migration_dev::target::TargetError::Local(_)
                | migration_dev::target::TargetError::Citus(_) => Exit::Unavailable,
            },
        )),
    }
}

fn db(
    command: DbCommand,
    configured: Result<Option<DatabaseTarget>, connect::ConfigError>,
) -> ExitCode {
    let cluster = match LocalCluster::for_project() {
        Ok(cluster) => cluster,
        Err(err) => return migrate_cli::fail(&err.to_string(), None, Exit::Unavailable),
    };
    if migration_dev::target::chosen_local() == LocalKind::Citus
        || matches!(command, DbCommand::Start { citus: true })
    {
        let citus = match CitusCluster::for_project() {
            Ok(citus) => citus,
            Err(err) => return migrate_cli::fail(&err.to_string(), None, Exit::Unavailable),
        };
        if let Some(outcome) = citus_db_command(&citus, &cluster, &command, &configured) {
            return match outcome {
                Ok(exit) => exit.into(),
                Err((message, exit)) => migrate_cli::fail(&message, None, exit),
            };
        }
    }
    match db_command(&cluster, command, configured) {
        Ok(exit) => exit.into(),
        Err((message, exit)) => migrate_cli::fail(&message, None, exit),
    }
}

type DbResult = Result<Exit, (String, Exit)>;

/// The `db` commands that differ for the local Citus cluster; `None` for
/// those that do not (stop, and the backup operations).
fn citus_db_command(
    citus: &CitusCluster,
    plain: &LocalCluster,
    command: &DbCommand,
    configured: &Result<Option<DatabaseTarget>, connect::ConfigError>,
) -> Option<DbResult> {
    let failed = |context: &str| {
        let context = context.to_owned();
        move |err: migration_dev::local_citus::CitusError| {
            (format!("{context}: {err}"), Exit::Unavailable)
        }
    };
    let url = || {
        citus
            .ensure_running()
            .map_err(failed("starting the local Citus cluster"))?;
        citus.url(APP_DATABASE).map_err(failed("reading its URL"))
    };
    let outcome = match command {
        DbCommand::Start { citus: true } => url().and_then(|url| {
            migration_dev::target::choose_local(LocalKind::Citus)
                .map_err(|err| (format!("recording the local cluster: {err}"), Exit::Failed))?;
            say!("running (Citus coordinator and {} workers): {}", citus.workers().len(), connect::redact_url(&url));
            say!("every command now uses it; `cargo xtask db start` goes back to plain PostgreSQL");
            Ok(Exit::Success)
        }),
        DbCommand::Status => {
            say!("local cluster: Citus (chosen by `db start --citus`), under {}", citus.root().display());
            for node in citus.status() {
                say!(
                    "  {:<12} running: {:<5} port: {}",
                    node.name,
                    node.status.running,
                    node.status.port.map_or("-".to_owned(), |p| p.to_string())
                );
            }
            if let Ok(Some(target)) = configured {
                say!("note: {} is set, so commands use it, not this cluster", target.source);
            }
            Ok(if citus.is_running() { Exit::Success } else { Exit::Pending })
        }
        DbCommand::Url { show_password } if !matches!(configured, Ok(Some(_))) => {
            url().map(|url| {
                eprintln!("from the local Citus cluster's coordinator");
                say!("{}", if *show_password { url } else { connect::redact_url(&url) });
                Exit::Success
            })
        }
        DbCommand::Psql { args } => url().and_then(|url| {
            let status = std::process::Command::new(plain.psql())
                .arg(&url)
                .args(args)
                .status()
                .map_err(|err| (format!("running psql: {err}"), Exit::Failed))?;
            if status.success() {
                Ok(Exit::Success)
            } else {
                Err((format!("psql exited with {status}"), Exit::Failed))
            }
        }),
        DbCommand::Reset { yes } => url().and_then(|_| {
            if !yes && std::io::stdin().is_terminal() {
                eprintln!("this drops the local database `{APP_DATABASE}` on every Citus node with all its data");
                if !migrate_cli::confirm("reset it?").unwrap_or(false) {
                    return Err((
                        "not confirmed; nothing was changed (pass `--yes` to skip the question)".to_owned(),
                        Exit::Refused,
                    ));
                }
            }
            citus
                .drop_database(APP_DATABASE)
                .and_then(|()| citus.create_database(APP_DATABASE))
                .map_err(failed("recreating the application database"))?;
            say!("reset: `{APP_DATABASE}` is empty on every Citus node; run `cargo xtask migrate`");
            Ok(Exit::Success)
        }),
        _ => return None,
    };
    Some(outcome)
}

fn db_command(
    cluster: &LocalCluster,
    command: DbCommand,
    configured: Result<Option<DatabaseTarget>, connect::ConfigError>,
) -> DbResult {
    let unavailable = |context: &str| {
        let context = context.to_owned();
        move |err: migration_dev::local_pg::LocalPgError| {
            (format!("{context}: {err}"), Exit::Unavailable)
        }
    };
    match command {
        DbCommand::Start { .. } => {
            cluster
                .ensure_running()
                .map_err(unavailable("starting the local cluster"))?;
            migration_dev::target::choose_local(LocalKind::Postgres)
                .map_err(|err| (format!("recording the local cluster: {err}"), Exit::Failed))?;
            let url = cluster
                .url(APP_DATABASE)
                .map_err(unavailable("reading its URL"))?;
            say!("running: {}", connect::redact_url(&url));
        }
        DbCommand::Stop => {
            // The tests' clusters too: nothing of ours keeps running.
            let tests =
                LocalCluster::for_tests().map_err(unavailable("finding the test cluster"))?;
            for (label, cluster) in [("local cluster", cluster), ("test cluster", &tests)] {
                let stopped = cluster
                    .stop()
                    .map_err(unavailable(&format!("stopping the {label}")))?;
                say!(
                    "{label}: {}",
                    if stopped { "stopped" } else { "not running" }
                );
            }
            for (label, citus) in [
                ("local Citus cluster", CitusCluster::for_project()),
                ("Citus test cluster", CitusCluster::for_tests()),
            ] {
                // Only a cluster that was ever initialised has anything to stop.
                if let Ok(citus) = citus
                    && citus.coordinator().is_initialised()
                {
                    let stopped = citus.stop().map_err(|err| {
                        (format!("stopping the {label}: {err}"), Exit::Unavailable)
                    })?;
                    say!(
                        "{label}: {}",
                        if stopped { "stopped" } else { "not running" }
                    );
                }
            }
        }
        DbCommand::Status => {
            let status = cluster.status();
            say!("directory:   {}", status.root.display());
            say!("binaries:    {}", status.bin_dir.display());
            say!("initialised: {}", status.initialised);
            say!("running:     {}", status.running);
            say!(
                "port:        {}",
                status.port.map_or("-".to_owned(), |p| p.to_string())
            );
            say!("server user: {}", status.runs_as);
            if let Ok(Some(target)) = &configured {
                say!(
                    "note:        {} is set, so commands use it, not this cluster",
                    target.source
                );
            }
            return Ok(if status.running {
                Exit::Success
            } else {
                Exit::Pending
            });
        }
        DbCommand::Url { show_password } => {
            let target = match configured {
                Ok(Some(target)) => target,
                Ok(None) => {
                    cluster
                        .ensure_running()
                        .map_err(unavailable("starting the local cluster"))?;
                    let url = cluster
                        .url(APP_DATABASE)
                        .map_err(unavailable("reading its URL"))?;
                    DatabaseTarget::parse(&url, UrlSource::LocalCluster)
                        .map_err(|err| (err.to_string(), Exit::Usage))?
                }
                Err(err) => return Err((err.to_string(), Exit::Usage)),
            };
            eprintln!("from {}", target.source);
            say!(
                "{}",
                if show_password {
                    target.url.clone()
                } else {
                    target.redacted()
                }
            );
        }
        DbCommand::Psql { args } => {
            cluster
                .ensure_running()
                .map_err(unavailable("starting the local cluster"))?;
            let url = cluster
                .url(APP_DATABASE)
                .map_err(unavailable("reading its URL"))?;
            let status = std::process::Command::new(cluster.psql())
                .arg(&url)
                .args(args)
                .status()
                .map_err(|err| (format!("running psql: {err}"), Exit::Failed))?;
            if !status.success() {
                return Err((format!("psql exited with {status}"), Exit::Failed));
            }
        }
        DbCommand::Operation(_) => unreachable!("dispatched in main"),
        DbCommand::Reset { yes } => {
            if !yes && std::io::stdin().is_terminal() {
                eprintln!(
                    "this drops the local database `{APP_DATABASE}` under {} with all its data",
                    cluster.root().display()
                );
                let confirmed = migrate_cli::confirm("reset it?").unwrap_or(false);
                if !confirmed {
                    return Err((
                        "not confirmed; nothing was changed (pass `--yes` to skip the question)"
                            .to_owned(),
                        Exit::Refused,
                    ));
                }
            }
            cluster
                .ensure_running()
                .map_err(unavailable("starting the local cluster"))?;
            cluster
                .drop_database(APP_DATABASE)
                .map_err(unavailable("dropping the application database"))?;
            cluster
                .create_database(APP_DATABASE)
                .map_err(unavailable("creating the application database"))?;
            say!("reset: `{APP_DATABASE}` is empty; run `cargo xtask migrate`");
        }
    }
    Ok(Exit::Success)
}
