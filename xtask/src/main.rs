//! `cargo xtask`: the front door. It parses flags and calls the library
//! crates; it holds no logic of its own beyond choosing the database.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use migration_runner::cli::{self as migrate_cli, MigrateArgs};
use migration_runner::connect::{self, DatabaseTarget};
use migration_runner::local_pg::{APP_DATABASE, LocalCluster};

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    about = "Develop and deploy the multi-schema database"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply migrations (default), or inspect and manage the history.
    Migrate(MigrateArgs),
    /// Seed every schema (core first) with idempotent upserts.
    Seed(seeder::SeedArgs),
    /// Manage the local PostgreSQL cluster used when DATABASE_URL is unset.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
}

#[derive(Debug, Subcommand)]
enum DbCommand {
    /// Initialise (first time) and start the local cluster.
    Start,
    /// Stop the local cluster (and the tests' cluster).
    Stop,
    /// Where the cluster lives, whether it runs, and on which port.
    Status,
    /// Print the connection URL (password redacted unless --show-password).
    Url {
        #[arg(long)]
        show_password: bool,
    },
    /// Open psql on the application database.
    Psql {
        /// Extra arguments for psql, after `--`.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Drop and recreate the application database (empty, unmigrated).
    Reset,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match cli.command {
        Command::Migrate(args) => runtime.block_on(migrate(args)),
        Command::Seed(args) => runtime.block_on(seed(args)),
        Command::Db { command } => match db(command) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("error: {err:#}");
                ExitCode::FAILURE
            }
        },
    }
}

async fn migrate(args: MigrateArgs) -> ExitCode {
    let target = if args.needs_database() {
        match database().await {
            Ok(target) => Some(target),
            Err(code) => return code,
        }
    } else {
        None
    };
    let url = target.as_ref().map(|t| t.url.clone()).unwrap_or_default();
    let workspace = migration_runner::scaffold::workspace_root();
    match migrate_cli::run(args, target.as_ref(), workspace).await {
        Ok(code) => ExitCode::from(code),
        Err(err) => migrate_cli::fail(&err.to_string(), &url, err.exit_code()),
    }
}

async fn seed(args: seeder::SeedArgs) -> ExitCode {
    let target = match database().await {
        Ok(target) => target,
        Err(code) => return code,
    };
    match seeder::cli::run(args, &target.url).await {
        Ok(code) => ExitCode::from(code),
        Err(err) => migrate_cli::fail(&err.to_string(), &target.url, err.exit_code()),
    }
}

/// `DATABASE_URL`, or the local cluster (started on demand); says which on stderr.
async fn database() -> Result<DatabaseTarget, ExitCode> {
    match connect::resolve_or_start_local().await {
        Ok(target) => {
            eprintln!("database: {} ({})", target.redacted(), describe(&target));
            Ok(target)
        }
        Err(err) => {
            eprintln!("error: {err}");
            Err(ExitCode::from(3))
        }
    }
}

fn describe(target: &DatabaseTarget) -> &'static str {
    match target.source {
        connect::UrlSource::Environment => "from DATABASE_URL",
        connect::UrlSource::DotEnv => "from DATABASE_URL in .env",
        connect::UrlSource::LocalCluster => {
            "local cluster under target/postgres; `cargo xtask db status`"
        }
    }
}

fn db(command: DbCommand) -> Result<()> {
    let cluster = LocalCluster::for_project().context("finding the local PostgreSQL cluster")?;
    match command {
        DbCommand::Start => {
            cluster
                .ensure_running()
                .context("starting the local cluster")?;
            println!(
                "running: {}",
                connect::redact_url(&cluster.url(APP_DATABASE)?)
            );
        }
        DbCommand::Stop => {
            // The tests' cluster too: nothing of ours keeps running.
            let tests = LocalCluster::for_tests().context("finding the test cluster")?;
            for (label, cluster) in [("local cluster", &cluster), ("test cluster", &tests)] {
                let stopped = cluster
                    .stop()
                    .with_context(|| format!("stopping the {label}"))?;
                println!(
                    "{label}: {}",
                    if stopped { "stopped" } else { "not running" }
                );
            }
        }
        DbCommand::Status => {
            let status = cluster.status();
            println!("directory:   {}", status.root.display());
            println!("binaries:    {}", status.bin_dir.display());
            println!("initialised: {}", status.initialised);
            println!("running:     {}", status.running);
            println!(
                "port:        {}",
                status.port.map_or("-".to_owned(), |p| p.to_string())
            );
            println!("server user: {}", status.runs_as);
            if connect::configured_url().is_some() {
                println!("note:        DATABASE_URL is set, so commands use it, not this cluster");
            }
        }
        DbCommand::Url { show_password } => {
            cluster
                .ensure_running()
                .context("starting the local cluster")?;
            let url = cluster.url(APP_DATABASE)?;
            println!(
                "{}",
                if show_password {
                    url
                } else {
                    connect::redact_url(&url)
                }
            );
        }
        DbCommand::Psql { args } => {
            cluster
                .ensure_running()
                .context("starting the local cluster")?;
            let url = cluster.url(APP_DATABASE)?;
            let status = std::process::Command::new(cluster.psql())
                .arg(&url)
                .args(args)
                .status()
                .context("running psql")?;
            anyhow::ensure!(status.success(), "psql exited with {status}");
        }
        DbCommand::Reset => {
            cluster
                .ensure_running()
                .context("starting the local cluster")?;
            cluster
                .drop_database(APP_DATABASE)
                .context("dropping the application database")?;
            cluster
                .create_database(APP_DATABASE)
                .context("creating the application database")?;
            println!("reset: `{APP_DATABASE}` is empty; run `cargo xtask migrate`");
        }
    }
    Ok(())
}
