//! The release binary: the same commands as `cargo xtask migrate`, for CI/CD
//! and production, where there is no cargo and no local cluster. It carries
//! the engine only: no local cluster, no scaffolding, no test helpers.

use std::process::ExitCode;

use clap::Parser;
use migration_runner::Exit;
use migration_runner::cli::{self, MigrateArgs};
use migration_runner::connect::{self, DatabaseTarget, UrlSource};

#[derive(Debug, Parser)]
#[command(
    name = "migration-runner",
    version,
    about = "Apply the global migration history to DATABASE_URL"
)]
struct Cli {
    /// The database to migrate (default: DATABASE_URL from the environment or a .env file).
    #[arg(long, global = true, value_name = "URL")]
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
    // Read before `.env` is loaded, so its source is named correctly.
    let configured = connect::configured_target();
    if let Err(err) = connect::load_dotenv() {
        return cli::fail(&err.to_string(), None, Exit::Usage);
    }
    let args = match Cli::try_parse() {
        Ok(args) => args,
        Err(err) => return usage(&err),
    };
    if let Some(cli::MigrateCommand::Completions { shell }) = &args.migrate.command {
        use clap::CommandFactory as _;
        cli::print_completions(*shell, &mut Cli::command(), "migration-runner");
        return Exit::Success.into();
    }
    let registry = schema_registry::workspace();
    if let Some(outcome) = cli::run_offline(args.migrate.command.as_ref(), &registry).await {
        return match outcome {
            Ok(exit) => exit.into(),
            Err(err) => cli::fail(&err.to_string(), None, err.exit()),
        };
    }
    let target = match args.database_url.as_deref() {
        Some(url) => DatabaseTarget::parse(url, UrlSource::Flag).map(Some),
        None => configured,
    };
    let target = match target {
        Ok(Some(target)) => target,
        Ok(None) => {
            return cli::fail(&connect::ConfigError::Unset.to_string(), None, Exit::Usage);
        }
        Err(err) => return cli::fail(&err.to_string(), None, Exit::Usage),
    };
    match cli::run_release(args.migrate, &target, &registry).await {
        Ok(exit) => exit.into(),
        Err(err) => cli::fail(&err.to_string(), Some(&target), err.exit()),
    }
}

/// `--help` and `--version` succeed; any other parse error is a usage error.
fn usage(err: &clap::Error) -> ExitCode {
    let _ = err.print();
    if err.use_stderr() {
        Exit::Usage.into()
    } else {
        Exit::Success.into()
    }
}
