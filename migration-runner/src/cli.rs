//! The operator's commands, shared by `cargo xtask migrate` and the release
//! binary so production runs exactly the code developers run.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};

use crate::capture::Script;
use crate::catalog::Catalog;
use crate::connect::{self, DatabaseTarget};
use crate::error::Result;
use crate::runner::{DownOptions, Planned, Resolution, Runner, RunnerOptions, UpOptions};
use crate::scaffold;
use crate::status::{Inspection, State};

/// `migrate [up] [--to NAME] [--dry-run]` and its subcommands.
#[derive(Debug, Clone, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct MigrateArgs {
    #[command(subcommand)]
    pub command: Option<MigrateCommand>,
    /// Flags of `up`, the default command.
    #[command(flatten)]
    pub up: UpArgs,
    /// Seconds to wait for another deploy's migration lock before giving up.
    #[arg(
        long,
        global = true,
        env = "MIGRATION_LOCK_TIMEOUT",
        default_value_t = 60,
        value_name = "SECONDS"
    )]
    pub lock_timeout: u64,
}

#[derive(Debug, Clone, Subcommand)]
pub enum MigrateCommand {
    /// Apply pending migrations in global order (the default).
    Up(UpArgs),
    /// One line per migration; exit 0 all applied, 1 pending remain, 2 integrity problem.
    Status {
        /// Machine-readable output (documented in the README).
        #[arg(long)]
        json: bool,
    },
    /// The pending migrations in order, each with the exact SQL it will run.
    Plan,
    /// Write a new migration file in a schema's crate and register it.
    New {
        /// The schema (crate) that owns the migration: core, academy, talent, vacancy.
        schema: String,
        /// What it does, in words: `add webinar capacity`.
        #[arg(required = true, num_args = 1..)]
        description: Vec<String>,
    },
    /// Roll back applied migrations (refused when APP_ENV=production without --allow-destructive).
    Down(DownArgs),
    /// Record a manual resolution in history.
    Resolve(ResolveArgs),
    /// Check the connected role's privileges for the pending migrations.
    Preflight {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Default, Args)]
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
}

#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = false)]
pub struct ResolveArgs {
    /// Mark NAME applied without running it (adopting an existing database).
    #[arg(long, value_name = "NAME")]
    pub applied: Option<String>,
    /// Clear NAME's failed entry so it is pending again.
    #[arg(long, value_name = "NAME")]
    pub rolled_back: Option<String>,
}

impl MigrateArgs {
    /// `new` works on files only; every other command needs a database.
    pub fn needs_database(&self) -> bool {
        !matches!(self.command, Some(MigrateCommand::New { .. }))
    }
}

/// Prints a failure with the URL's password scrubbed, and returns the exit code.
pub fn fail(message: &str, url: &str, code: u8) -> std::process::ExitCode {
    eprintln!("error: {}", connect::scrub(message, url));
    std::process::ExitCode::from(code)
}

/// Runs one command on the workspace's migrations and returns the process exit code.
pub async fn run(
    args: MigrateArgs,
    target: Option<&DatabaseTarget>,
    workspace: PathBuf,
) -> Result<u8> {
    run_with(Catalog::workspace()?, args, target, workspace).await
}

/// Runs one command on any catalog (the benchmark's generated history uses this).
pub async fn run_with(
    catalog: Catalog,
    args: MigrateArgs,
    target: Option<&DatabaseTarget>,
    workspace: PathBuf,
) -> Result<u8> {
    let command = args.command.unwrap_or(MigrateCommand::Up(args.up));
    if let MigrateCommand::New {
        schema,
        description,
    } = &command
    {
        let path = scaffold::new_migration(&catalog, &workspace, schema, &description.join(" "))?;
        println!("{}", path.display());
        return Ok(0);
    }
    let target = target.expect("every command but `new` is given a database");
    let db = connect::connect(&target.url, "migration-runner").await?;
    let runner = Runner::new(
        db,
        catalog,
        RunnerOptions {
            lock_timeout: Duration::from_secs(args.lock_timeout),
        },
    )
    .await?;
    match command {
        MigrateCommand::Up(up) => {
            let report = runner
                .up(&UpOptions {
                    to: up.to,
                    dry_run: up.dry_run,
                    allow_out_of_order: up.allow_out_of_order,
                    skip_preflight: false,
                })
                .await?;
            if report.adopted > 0 {
                println!(
                    "adopted {} applied migration(s) from an earlier history table: their checksums are now recorded",
                    report.adopted
                );
            }
            if let Some(holder) = &report.lock_waited_for {
                println!(
                    "waited {} for the migration lock held by {holder}",
                    ms(report.lock_waited)
                );
            }
            if up.dry_run {
                if report.planned.is_empty() {
                    println!(
                        "dry run: nothing to apply ({} migrations already applied)",
                        report.already_applied
                    );
                } else {
                    println!(
                        "dry run: {} migration(s) would be applied; nothing was changed",
                        report.planned.len()
                    );
                    print_plan(&report.planned);
                }
            } else if report.applied.is_empty() {
                println!(
                    "nothing to apply: all {} migrations are applied (database is up to date, checked in {})",
                    report.already_applied,
                    ms(report.elapsed)
                );
            } else {
                for applied in &report.applied {
                    println!(
                        "applied  {:<60} {:<8} {:>3} statements  {:>8}",
                        applied.name,
                        applied.schema,
                        applied.statements,
                        ms(applied.elapsed)
                    );
                }
                println!(
                    "applied {} migration(s) in {} ({} were already applied)",
                    report.applied.len(),
                    ms(report.elapsed),
                    report.already_applied
                );
            }
            Ok(0)
        }
        MigrateCommand::Status { json } => {
            let inspection = runner.inspect().await?;
            if json {
                println!("{}", status_json(&inspection, target));
            } else {
                print_status(&inspection);
            }
            Ok(inspection.exit_code())
        }
        MigrateCommand::Plan => {
            let started = Instant::now();
            let plan = runner.plan().await?;
            if plan.is_empty() {
                println!("-- nothing pending (checked in {})", ms(started.elapsed()));
            } else {
                print_plan(&plan);
            }
            Ok(0)
        }
        MigrateCommand::Down(down) => {
            let mut announce = |planned: &Planned| {
                println!("-- rolling back {} ({})", planned.name, planned.schema);
                print_script(&planned.script);
            };
            let report = runner
                .down(
                    &DownOptions {
                        to: down.to,
                        dry_run: down.dry_run,
                        allow_destructive: down.allow_destructive,
                        app_env: std::env::var("APP_ENV").ok(),
                    },
                    &mut announce,
                )
                .await?;
            if down.dry_run {
                println!(
                    "dry run: {} migration(s) would be rolled back; nothing was changed",
                    report.planned.len()
                );
            } else if report.rolled_back.is_empty() {
                println!("nothing to roll back");
            } else {
                for done in &report.rolled_back {
                    println!(
                        "rolled back  {:<60} {:<8} {:>8}",
                        done.name,
                        done.schema,
                        ms(done.elapsed)
                    );
                }
            }
            Ok(0)
        }
        MigrateCommand::Resolve(resolve) => {
            let resolution = match (resolve.applied, resolve.rolled_back) {
                (Some(name), _) => Resolution::Applied(name),
                (None, Some(name)) => Resolution::RolledBack(name),
                (None, None) => unreachable!("clap requires one of the two"),
            };
            runner.resolve(&resolution).await?;
            match resolution {
                Resolution::Applied(name) => {
                    println!("recorded `{name}` as applied (it was not run)")
                }
                Resolution::RolledBack(name) => {
                    println!("cleared the failed entry of `{name}`; it is pending again")
                }
            }
            Ok(0)
        }
        MigrateCommand::Preflight { json } => {
            let report = runner.preflight().await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).unwrap_or_default()
                );
            } else if report.missing.is_empty() {
                println!(
                    "preflight passed: role `{}` can apply the {} pending migration(s){}",
                    report.role,
                    report.pending,
                    if report.superuser { " (superuser)" } else { "" }
                );
            } else {
                println!(
                    "preflight failed: role `{}` lacks {} privilege(s):",
                    report.role,
                    report.missing.len()
                );
                for missing in &report.missing {
                    println!("  - {}\n      {}", missing.what, missing.fix);
                }
            }
            Ok(if report.missing.is_empty() { 0 } else { 2 })
        }
        MigrateCommand::New { .. } => unreachable!("handled above"),
    }
}

fn ms(duration: Duration) -> String {
    if duration >= Duration::from_secs(1) {
        format!("{:.2} s", duration.as_secs_f64())
    } else {
        format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
    }
}

fn print_plan(plan: &[Planned]) {
    for planned in plan {
        println!(
            "-- {} (schema {}, {}{}, checksum {})",
            planned.name,
            planned.schema,
            if planned.transactional {
                "in a transaction"
            } else {
                "NOT in a transaction"
            },
            if planned.out_of_order {
                ", out of order"
            } else {
                ""
            },
            &planned.script.checksum()[..12]
        );
        print_script(&planned.script);
    }
}

fn print_script(script: &Script) {
    for line in script.sql_lines() {
        println!("{line}");
    }
    println!();
}

fn print_status(inspection: &Inspection) {
    let mut table = Table::new();
    table.load_preset(UTF8_BORDERS_ONLY);
    table.set_header(["state", "schema", "migration", "applied at", "ms"]);
    for entry in &inspection.migrations {
        table.add_row([
            entry.state.as_str().to_owned(),
            entry.schema.clone(),
            entry.name.clone(),
            entry
                .applied_at
                .clone()
                .map(|at| at.chars().take(19).collect::<String>().replace('T', " "))
                .unwrap_or_default(),
            entry
                .execution_ms
                .map(|ms| ms.to_string())
                .unwrap_or_default(),
        ]);
    }
    println!("{table}");
    let count = |state: State| {
        inspection
            .migrations
            .iter()
            .filter(|e| e.state == state)
            .count()
    };
    println!(
        "{} applied, {} pending, {} problem(s)",
        count(State::Applied),
        inspection.pending().count(),
        inspection.problems.len()
    );
    for problem in &inspection.problems {
        println!("  - {problem}");
    }
}

/// The documented `status --json` shape.
pub fn status_json(inspection: &Inspection, target: &DatabaseTarget) -> String {
    let value = serde_json::json!({
        "database": target.redacted(),
        "exit_code": inspection.exit_code(),
        "summary": {
            "applied": inspection.applied_count(),
            "pending": inspection.pending().count(),
            "problems": inspection.problems.len(),
        },
        "migrations": inspection.migrations,
        "problems": inspection.problems.iter().map(|p| serde_json::json!({
            "detail": p,
            "message": p.to_string(),
        })).collect::<Vec<_>>(),
    });
    serde_json::to_string_pretty(&value).unwrap_or_default()
}
