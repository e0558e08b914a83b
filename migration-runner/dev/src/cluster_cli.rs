//! `cargo xtask db ...` for the local clusters: start, stop, status, url,
//! psql and reset, for the plain PostgreSQL cluster and the local Citus
//! cluster (`db start --citus`). xtask parses the flags ([`DbCommand`]) and
//! calls [`run`]; the backup operations (`db backup|restore|verify-backup`)
//! are the engine's and are dispatched by xtask itself.

use std::io::IsTerminal as _;

use clap::Subcommand;
use migration_runner::cli as migrate_cli;
use migration_runner::connect::{self, DatabaseTarget, UrlSource};
use migration_runner::{Exit, say};

use crate::local_citus::CitusCluster;
use crate::local_pg::{APP_DATABASE, LocalCluster};
use crate::target::LocalKind;

#[derive(Debug, Subcommand)]
pub enum DbCommand {
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
    Operation(migration_runner::cli::operations::DbOperation),
}

/// Runs one `db` command on the local clusters (`configured`: `DATABASE_URL`,
/// which `status` and `url` mention); prints what failed and returns the
/// exit code.
pub fn run(
    command: DbCommand,
    configured: Result<Option<DatabaseTarget>, connect::ConfigError>,
) -> Exit {
    match db(command, configured) {
        Ok(exit) => exit,
        Err((message, exit)) => {
            let _ = migrate_cli::fail(&message, None, exit);
            exit
        }
    }
}

fn db(
    command: DbCommand,
    configured: Result<Option<DatabaseTarget>, connect::ConfigError>,
) -> DbResult {
    let cluster =
        LocalCluster::for_project().map_err(|err| (err.to_string(), Exit::Unavailable))?;
    if crate::target::chosen_local() == LocalKind::Citus
        || matches!(command, DbCommand::Start { citus: true })
    {
        let citus =
            CitusCluster::for_project().map_err(|err| (err.to_string(), Exit::Unavailable))?;
        if let Some(outcome) = citus_db_command(&citus, &cluster, &command, &configured) {
            return outcome;
        }
    }
    db_command(&cluster, command, configured)
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
        move |err: crate::local_citus::CitusError| (format!("{context}: {err}"), Exit::Unavailable)
    };
    let url = || {
        citus
            .ensure_running()
            .map_err(failed("starting the local Citus cluster"))?;
        citus.url(APP_DATABASE).map_err(failed("reading its URL"))
    };
    let outcome = match command {
        DbCommand::Start { citus: true } => url().and_then(|url| {
            crate::target::choose_local(LocalKind::Citus)
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
        DbCommand::Psql { args } => url().and_then(|url| psql(plain, &url, args)),
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
        move |err: crate::local_pg::LocalPgError| (format!("{context}: {err}"), Exit::Unavailable)
    };
    let url = || {
        cluster
            .ensure_running()
            .map_err(unavailable("starting the local cluster"))?;
        cluster
            .url(APP_DATABASE)
            .map_err(unavailable("reading its URL"))
    };
    match command {
        DbCommand::Start { .. } => {
            let url = url()?;
            crate::target::choose_local(LocalKind::Postgres)
                .map_err(|err| (format!("recording the local cluster: {err}"), Exit::Failed))?;
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
                Ok(None) => DatabaseTarget::parse(&url()?, UrlSource::LocalCluster)
                    .map_err(|err| (err.to_string(), Exit::Usage))?,
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
        DbCommand::Psql { args } => return psql(cluster, &url()?, &args),
        DbCommand::Operation(_) => {
            return Err((
                "`db backup`, `restore` and `verify-backup` are the engine's commands, not the local cluster's"
                    .to_owned(),
                Exit::Usage,
            ));
        }
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

/// `psql` (the cluster's own binary) on `url` with the user's arguments.
fn psql(cluster: &LocalCluster, url: &str, args: &[String]) -> DbResult {
    let status = std::process::Command::new(cluster.psql())
        .arg(url)
        .args(args)
        .status()
        .map_err(|err| (format!("running psql: {err}"), Exit::Failed))?;
    if status.success() {
        Ok(Exit::Success)
    } else {
        Err((format!("psql exited with {status}"), Exit::Failed))
    }
}
