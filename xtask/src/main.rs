//! `cargo xtask`: the front door. It parses flags and calls the library
//! crates; it holds no logic of its own beyond choosing the database.

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use migration_dev::scaffold;
use migration_runner::cli::{
    self as migrate_cli, ConnectArgs, MigrateArgs, MigrateCommand, RoleArgs, UpArgs,
};
use migration_runner::connect::{self, DatabaseTarget};
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
        command: migration_dev::cluster_cli::DbCommand,
    },
    /// Add a schema crate for a new team.
    Schema {
        #[command(subcommand)]
        command: SchemaCommand,
    },
    /// Data changes run after deploy in short batches: list, run, status, pause, resume, cancel.
    Backfill {
        #[command(flatten)]
        args: migration_runner::cli::backfill::BackfillArgs,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Feature flags (the flags table the application reads): list, set.
    Flag {
        #[command(flatten)]
        args: migration_runner::cli::backfill::FlagArgs,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Benchmarks against the floor measured in the same run, on a fresh
    /// local cluster (release build); writes target/bench/report.md and .json.
    Bench {
        /// Small sizes only, to check the harness (minutes instead of a quarter hour).
        #[arg(long)]
        quick: bool,
        /// Also build this git ref (branch, tag, commit) in its own target directory and
        /// run it in the same session: each figure beside it, those >10% worse marked.
        #[arg(long, value_name = "REF")]
        against: Option<String>,
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
        /// Its owning team (`@org/team`), written to its manifest; repeat for several.
        #[arg(long = "owner", value_name = "TEAM", required = true)]
        owners: Vec<String>,
    },
    /// The database as its teams see it: one self-contained page, written to
    /// target/schema-map/ (or Mermaid, dot, JSON; `--format markdown` writes docs/SCHEMA.md).
    Map {
        #[command(flatten)]
        args: migration_runner::cli::map::MapArgs,
        #[command(flatten)]
        connect: ConnectArgs,
    },
}

/// The flags `schema map` does not take, as their defaults (and environment).
#[derive(Debug, Parser)]
struct EngineDefaults {
    #[command(flatten)]
    up: UpArgs,
    #[command(flatten)]
    roles: RoleArgs,
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
    /// Write the next migration from the entity changes, in the crate of the schema it
    /// changes, and apply it to the local database (see `migrate diff` for the SQL alone).
    Dev(migration_dev::dev::DevArgs),
    /// Rewrite migration-runner/migrations.sum from the code (after writing a migration).
    Hash,
    /// Give this branch's migrations that sort before the base's newest fresh timestamps.
    Renumber {
        /// The base branch (a git ref, e.g. `origin/main`).
        #[arg(long, value_name = "REF")]
        base: String,
    },
    /// Bring this branch's migrations onto the base's moved history: rebase (or finish the
    /// rebase or merge under way), merge the sum file and registries from both sides,
    /// renumber, rehash, commit, then `check --base`.
    Rebase(migration_dev::rebase::RebaseArgs),
    #[command(flatten)]
    Engine(MigrateCommand),
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
            command: migration_dev::cluster_cli::DbCommand::Operation(operation),
        } => runtime.block_on(async {
            let target = match database(configured).await {
                Ok(target) => target,
                Err(code) => return code,
            };
            let timeout = connect::ConnectSettings::DEFAULT_TIMEOUT.as_secs();
            let done =
                migration_runner::cli::operations::run(&registry, operation, &target, timeout);
            finish(done.await, &target)
        }),
        Command::Db { command } => migration_dev::cluster_cli::run(command, configured).into(),
        Command::Schema {
            command: SchemaCommand::New { name, owners },
        } => runtime.block_on(new_schema(&name, &owners)),
        Command::Schema {
            command: SchemaCommand::Map { args, connect },
        } => runtime.block_on(schema_map(args, connect, configured)),
        Command::Backfill { args, connect } => runtime.block_on(async {
            let target = match database(configured).await {
                Ok(target) => target,
                Err(code) => return code,
            };
            let done = migration_runner::cli::backfill::backfill(
                &registry,
                args,
                &target,
                connect.connect_timeout,
            );
            finish(done.await, &target)
        }),
        Command::Bench { quick, against } => {
            let workspace = scaffold::workspace_root();
            match migration_dev::bench::command(&workspace, quick, against.as_deref()) {
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
            let done = migration_runner::cli::backfill::flag(
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
fn finish(
    outcome: migration_runner::cli::error::Result<Exit>,
    target: &DatabaseTarget,
) -> ExitCode {
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
        Some(XtaskMigrateCommand::Dev(_)) => Some("dev"),
        Some(XtaskMigrateCommand::Rebase(_)) => Some("rebase"),
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
        Some(XtaskMigrateCommand::Rebase(rebase_args)) => return rebase(&rebase_args),
        Some(XtaskMigrateCommand::Dev(dev)) => {
            return match database(configured).await {
                Ok(target) => dev_migration(&dev, &target).await,
                Err(code) => code,
            };
        }
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

async fn dev_migration(args: &migration_dev::dev::DevArgs, target: &DatabaseTarget) -> ExitCode {
    let workspace = scaffold::workspace_root();
    let outcome =
        migration_dev::dev::run(args, target, &schema_registry::workspace(), &workspace).await;
    match outcome {
        Ok(migration_dev::dev::Outcome::NothingToWrite) => {
            say!("no change: the entities describe what the migrations build; nothing written");
            Exit::Success.into()
        }
        Ok(migration_dev::dev::Outcome::Written(migration)) => {
            print_written(&migration);
            Exit::Success.into()
        }
        Ok(migration_dev::dev::Outcome::Scaffolded {
            expand,
            contract,
            backfills,
        }) => {
            print_written(&expand);
            say!("{}", contract.display());
            eprintln!(
                "the change is unsafe for rows a table may hold, so it is split: the expand migration \
                 (above), then the backfill(s) [{}] in the crate's backfills.rs (write the value \
                 where it says so, then `cargo xtask backfill run <name>`), then the contract \
                 migration, which `migrate up` applies once they finished",
                backfills.join(", ")
            );
            Exit::Success.into()
        }
        Err(err) => migrate_cli::fail(&err.to_string(), Some(target), err.exit()),
    }
}

/// A migration `dev` wrote: its path, its SQL, whether it was applied.
fn print_written(migration: &migration_dev::dev::WrittenMigration) {
    say!("{}", migration.path.display());
    for sql in &migration.up {
        say!("  {sql};");
    }
    if migration.applied {
        say!("applied to the local database");
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

/// `schema map`: `migrate map` writing into target/schema-map/ (docs/ for SCHEMA.md).
async fn schema_map(
    mut args: migration_runner::cli::map::MapArgs,
    connect: ConnectArgs,
    configured: Result<Option<DatabaseTarget>, connect::ConfigError>,
) -> ExitCode {
    if args.out.as_os_str() == "." {
        let folder = if args.format == migration_runner::cli::map::MapFormat::Markdown {
            "docs"
        } else {
            "target/schema-map"
        };
        args.out = scaffold::workspace_root().join(folder);
    }
    let defaults = EngineDefaults::parse_from(["schema-map"]);
    let target = match database(configured).await {
        Ok(target) => target,
        Err(code) => return code,
    };
    let args = MigrateArgs {
        command: Some(MigrateCommand::Map(args)),
        up: defaults.up,
        connect,
        roles: defaults.roles,
    };
    finish(
        migrate_cli::run(args, &target, &schema_registry::workspace()).await,
        &target,
    )
}

/// `migrate rebase`: the git and file work here; the rehash and the check
/// through cargo, which rebuilds the code the rebase brought.
fn rebase(args: &migration_dev::rebase::RebaseArgs) -> ExitCode {
    use migration_dev::rebase;
    let catalog = match Catalog::workspace(&schema_registry::workspace()) {
        Ok(catalog) => catalog,
        Err(err) => return migrate_cli::fail(&err.to_string(), None, err.exit()),
    };
    let workspace = scaffold::workspace_root();
    let rebased = match rebase::rebase(&workspace, &catalog, args, &mut rebase::rehash_with_cargo) {
        Ok(rebased) => rebased,
        Err(err) => return migrate_cli::fail(&err.to_string(), None, err.exit()),
    };
    for line in rebased.lines() {
        say!("{line}");
    }
    match rebase::check_with_cargo(&workspace, &rebased.onto) {
        Ok(code) => ExitCode::from(code),
        Err(err) => migrate_cli::fail(&err, None, Exit::Failed),
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
            let catalog = match Catalog::workspace(&schema_registry::workspace()) {
                Ok(catalog) => catalog,
                Err(err) => return migrate_cli::fail(&err.to_string(), None, err.exit()),
            };
            match migration_dev::codeowners::write(&workspace, &catalog) {
                Ok((path, unowned)) => {
                    say!("{}", path.display());
                    for schema in unowned {
                        eprintln!(
                            "schema `{schema}` names no owner: add `[package.metadata.schema] owners` to its Cargo.toml (`migrate check` refuses it)"
                        );
                    }
                    Exit::Success.into()
                }
                Err(err) => migrate_cli::fail(&err.to_string(), None, Exit::Failed),
            }
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

async fn new_schema(name: &str, owners: &[String]) -> ExitCode {
    let workspace = scaffold::workspace_root();
    match migration_dev::new_schema::new_schema(&workspace, name, owners).await {
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
