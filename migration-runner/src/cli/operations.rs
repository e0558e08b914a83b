//! `db backup | restore | verify-backup`, for `cargo xtask db ...` and the
//! release binary (`migration-runner db ...`).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::cli::error::Result;
use crate::connect::{ConnectSettings, DatabaseTarget};
use crate::exit::Exit;
use crate::say;

use crate::operations::Progress;

/// `db ...` in the release binary.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    #[command(subcommand)]
    pub command: DbOperation,
}

/// The operator's database commands.
#[derive(Debug, Clone, Subcommand)]
pub enum DbOperation {
    /// A consistent pg_dump archive of the owned schemas and the kept `public`
    /// tables, with a manifest (`FILE.manifest.json`) beside it.
    Backup {
        /// The archive to write (default: backups/<database>-<UTC time>.dump).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Restore an archive into a new or empty database (never the one DATABASE_URL names).
    Restore {
        /// The archive `db backup` wrote (its manifest must be beside it).
        file: PathBuf,
        /// The database to restore into: a name on DATABASE_URL's server (created when
        /// absent), or a postgres:// URL.
        #[arg(long, value_name = "DATABASE")]
        into: String,
        /// Replace what a non-empty database holds.
        #[arg(long)]
        force: bool,
    },
    /// Restore an archive into a throwaway database and compare it with its manifest
    /// (rows and content hash of every table, the migration head), then `migrate status`.
    VerifyBackup {
        /// The archive `db backup` wrote.
        file: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs one operation against `target` (DATABASE_URL, or the local cluster for xtask).
pub async fn run(
    registry: &schema_core::schema_crate::Workspace,
    operation: DbOperation,
    target: &DatabaseTarget,
    connect_timeout: u64,
) -> Result<Exit> {
    let settings = ConnectSettings::with_timeout("migration-runner db", connect_timeout);
    match operation {
        DbOperation::Backup { out } => {
            let report = crate::operations::backup(
                registry,
                target,
                out.as_deref(),
                &settings,
                Progress::Show,
            )
            .await?;
            say!(
                "backed up {} tables ({} rows, migration head {}) to {} in {:.1} s",
                report.manifest.tables.len(),
                report.manifest.rows(),
                report.manifest.migration_head.as_deref().unwrap_or("none"),
                report.archive.display(),
                report.elapsed.as_secs_f64()
            );
            say!("manifest: {}", report.manifest_path.display());
            Ok(Exit::Success)
        }
        DbOperation::Restore { file, into, force } => {
            let report =
                crate::operations::restore(target, &file, &into, force, &settings, Progress::Show)
                    .await?;
            say!(
                "restored {} tables ({} rows) into {}database `{}` in {:.1} s; check it with \
                 `migrate status` against it before pointing anything at it",
                report.tables,
                report.rows,
                if report.created { "new " } else { "" },
                report.database,
                report.elapsed.as_secs_f64()
            );
            Ok(Exit::Success)
        }
        DbOperation::VerifyBackup { file, json } => {
            let report = crate::operations::verify_backup(
                registry,
                target,
                &file,
                &settings,
                Progress::Show,
            )
            .await?;
            if json {
                say!(
                    "{}",
                    serde_json::to_string_pretty(&report).unwrap_or_default()
                );
            } else if report.passed() {
                say!(
                    "verify-backup passed: {} tables ({} rows) match the manifest, migration head {}, \
                     `migrate status` exit {} (restore {:.1} s, in all {:.1} s)",
                    report.tables,
                    report.rows,
                    report.migration_head.as_deref().unwrap_or("none"),
                    report.status_exit_code.unwrap_or_default(),
                    report.restore_ms as f64 / 1000.0,
                    report.elapsed_ms as f64 / 1000.0
                );
            } else {
                say!(
                    "verify-backup FAILED: {} mismatch(es) between {} and its manifest:",
                    report.mismatches.len(),
                    report.archive.display()
                );
                for mismatch in &report.mismatches {
                    say!("  - {mismatch}");
                }
            }
            Ok(if report.passed() {
                Exit::Success
            } else {
                Exit::Refused
            })
        }
    }
}
