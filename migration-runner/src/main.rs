//! The release binary: the same commands as `cargo xtask migrate`, for CI/CD
//! and production, where there is no cargo and no local cluster.

use std::process::ExitCode;

use clap::Parser;
use migration_runner::cli::{self, MigrateArgs};
use migration_runner::connect::{DatabaseTarget, UrlSource};

#[derive(Debug, Parser)]
#[command(
    name = "migration-runner",
    version,
    about = "Apply the global migration history to DATABASE_URL"
)]
struct Cli {
    /// The database to migrate (also read from DATABASE_URL or a .env file).
    #[arg(long, global = true, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    #[command(flatten)]
    migrate: MigrateArgs,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let _ = dotenvy::dotenv();
    let args = Cli::parse();
    let target = args.database_url.clone().map(|url| DatabaseTarget {
        url,
        source: UrlSource::Environment,
    });
    if target.is_none() && args.migrate.needs_database() {
        eprintln!(
            "error: DATABASE_URL is not set; the release binary never starts a local database: set \
             DATABASE_URL (or pass --database-url), or use `cargo xtask migrate` for local development"
        );
        return ExitCode::from(3);
    }
    let url = target.as_ref().map(|t| t.url.clone()).unwrap_or_default();
    match cli::run(
        args.migrate,
        target.as_ref(),
        migration_runner::scaffold::workspace_root(),
    )
    .await
    {
        Ok(code) => ExitCode::from(code),
        Err(err) => cli::fail(&err.to_string(), &url, err.exit_code()),
    }
}
