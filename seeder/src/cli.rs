//! `cargo xtask seed`: the flags, and the entry point xtask calls with the
//! database it chose.

use migration_runner::Exit;
use schema_core::seeding::{MAX_SCALE, Profile};

use crate::error::SeedError;
use crate::report::SeedReport;
use crate::run::{SeedOptions, Seeder};
use crate::{migrations, workspace_seeds};

/// The `--profile` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ProfileName {
    /// RBAC roles, permissions and grants, and one admin user (admin@example.com).
    Minimal,
    /// Tens to hundreds of realistic rows in every table.
    #[default]
    Demo,
    /// `--scale N` users and proportional rows in every table, streamed in batches.
    Load,
}

/// `cargo xtask seed` flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SeedArgs {
    /// How much data to seed.
    #[arg(long, value_enum, default_value_t = ProfileName::Demo)]
    pub profile: ProfileName,

    /// Users to seed with `--profile load` (1 to 100,000,000); every other
    /// table scales with it.
    #[arg(
        long,
        value_name = "N",
        value_parser = parse_scale,
        allow_negative_numbers = true,
        required_if_eq("profile", "load")
    )]
    pub scale: Option<u64>,

    /// Seed only this schema (and the schemas it depends on).
    #[arg(long, value_name = "NAME")]
    pub schema: Option<String>,

    /// Do all the work in transactions that are rolled back: report what
    /// would change, write nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Apply pending migrations first instead of refusing to seed.
    #[arg(long)]
    pub migrate: bool,

    /// Reset sample rows that are present but differ (edited by people or the
    /// application) to the seed's values. Without it they are left alone;
    /// reference data (roles, permissions, grants) is always kept equal to
    /// the code.
    #[arg(long)]
    pub overwrite: bool,
}

/// `--scale`: a whole number of users, 1 to [`MAX_SCALE`].
fn parse_scale(value: &str) -> Result<u64, String> {
    match value.trim().parse::<u64>() {
        Ok(scale) if (1..=MAX_SCALE).contains(&scale) => Ok(scale),
        _ => Err(scale_range(value)),
    }
}

fn scale_range(value: &str) -> String {
    format!("`--scale` takes a whole number of users from 1 to 100,000,000, not `{value}`")
}

impl SeedArgs {
    /// The profile the flags ask for; `--scale` goes with `--profile load` only.
    pub fn profile(&self) -> Result<Profile, SeedError> {
        match (self.profile, self.scale) {
            (ProfileName::Load, Some(scale)) if !(1..=MAX_SCALE).contains(&scale) => {
                Err(SeedError::Usage(scale_range(&scale.to_string())))
            }
            (ProfileName::Load, Some(scale)) => Ok(Profile::Load { scale }),
            (ProfileName::Load, None) => Err(SeedError::Usage(
                "`--profile load` needs `--scale N` (the number of users, for example `--scale 100000`)".to_owned(),
            )),
            (_, Some(_)) => Err(SeedError::Usage(
                "`--scale` only applies to `--profile load`; drop it or add `--profile load`".to_owned(),
            )),
            (ProfileName::Minimal, None) => Ok(Profile::Minimal),
            (ProfileName::Demo, None) => Ok(Profile::Demo),
        }
    }
}

/// Seeds the database at `database_url` as `args` say, prints the report to
/// stdout (progress bars go to stderr; a closed stdout is ignored), and
/// returns the exit code: 0 when every schema was seeded (or, with
/// `--dry-run`, would be).
///
/// On `Err`, print the error and exit with [`SeedError::exit_code`].
pub async fn run(args: SeedArgs, database_url: &str) -> Result<u8, SeedError> {
    let report = seed(args, database_url).await?;
    migration_runner::output::text(report.render());
    Ok(Exit::Success.code())
}

/// [`run`] without printing the report: what xtask's `seed` does, for tests.
pub async fn seed(args: SeedArgs, database_url: &str) -> Result<SeedReport, SeedError> {
    let profile = args.profile()?;
    if args.migrate && args.dry_run {
        return Err(SeedError::Usage(
            "`--dry-run` writes nothing, so it cannot apply migrations with `--migrate`; run \
             `cargo xtask migrate` first"
                .to_owned(),
        ));
    }
    if args.migrate {
        let applied = migrations::apply_pending(database_url).await?;
        if applied > 0 {
            eprintln!("applied {applied} pending migration(s)");
        }
    }
    let seeder = Seeder::connect(database_url, workspace_seeds()).await?;
    let outcome = seeder
        .run(&SeedOptions {
            profile,
            schema: args.schema,
            dry_run: args.dry_run,
            check_migrations: true,
            progress: true,
            overwrite: args.overwrite,
            ..SeedOptions::default()
        })
        .await;
    let closed = seeder.close().await;
    let report = outcome?;
    closed?;
    Ok(report)
}
