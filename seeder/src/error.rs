//! The seeder's error type: every message is lowercase, names the schema or
//! table involved, and says how to fix it.

use migration_runner::connect::ConnectError;
use migration_runner::{Exit, MigrateError};
use sea_orm::DbErr;

/// Everything the seeder can refuse or fail at.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error(
        "schema `{schema}` has seeds registered twice; register each schema crate's `seeds()` once"
    )]
    DuplicateSchema { schema: String },

    #[error(
        "schema `{schema}` declares a dependency on `{dependency}`, which has no registered seeds \
         (registered: {registered}); fix the name in its `depends_on`, or register that crate's `seeds()` \
         in `seeder::workspace_seeds`"
    )]
    UnknownDependency {
        schema: String,
        dependency: String,
        registered: String,
    },

    #[error(
        "the seed dependencies form a cycle: {cycle}; a schema can only reference schemas seeded before it, \
         so remove one of these `depends_on` entries"
    )]
    Cycle { cycle: String },

    #[error(
        "there are no seeds for schema `{schema}` (known: {registered}); pass one of those to `--schema`"
    )]
    UnknownSchema { schema: String, registered: String },

    #[error(
        "table `{table}` has foreign key `{constraint}` to `{target}`, but the seeds of schema `{schema}` do not \
         declare a dependency on schema `{target_schema}`; add \"{target_schema}\" to `depends_on` in the \
         `{schema}` crate's seeds so it is seeded first"
    )]
    UndeclaredForeignKey {
        schema: String,
        table: String,
        constraint: String,
        target: String,
        target_schema: String,
    },

    #[error(
        "the seeds of schema `{schema}` include table `{table}`, which is outside that schema; a schema crate \
         seeds only its own tables: move it to the crate that owns it"
    )]
    ForeignTable { schema: String, table: String },

    #[error(
        "seed for table `{table}` is malformed: {problem}; fix the table's seed in its schema crate"
    )]
    InvalidSeed { table: String, problem: String },

    #[error(
        "seed for table `{table}` produced a malformed row: {problem}; the whole `{schema}` schema was rolled \
         back (schemas seeded before it stay committed): fix the table's seed in its schema crate"
    )]
    InvalidRow {
        schema: String,
        table: String,
        problem: String,
    },

    #[error(transparent)]
    Connect(ConnectError),

    #[error(
        "refusing to seed: {count} migration(s) pending ({names}); run `cargo xtask migrate` first, \
         or pass `--migrate` to apply them before seeding"
    )]
    PendingMigrations { count: usize, names: String },

    #[error(
        "refusing to seed: the migration history has problems: {problems}; `cargo xtask migrate status` \
         explains each and how to fix it"
    )]
    MigrationHistory { problems: String },

    #[error("applying pending migrations before seeding (`--migrate`): {0}")]
    Migrate(Box<MigrateError>),

    #[error("checking the migration history before seeding: {0}")]
    History(Box<MigrateError>),

    #[error(
        "refusing to seed: role `{role}` lacks privileges the seeds need; nothing was written: grant them \
         (as the tables' owner or a superuser), then seed again:\n  {}",
        fixes.join("\n  ")
    )]
    MissingPrivileges { role: String, fixes: Vec<String> },

    #[error(
        "seeding table `{table}` failed after {rows_written} of its rows were sent: {source}; the whole \
         `{schema}` schema was rolled back (schemas seeded before it stay committed): fix the seed or the data \
         and run the seeder again"
    )]
    Table {
        schema: String,
        table: String,
        rows_written: u64,
        #[source]
        source: DbErr,
    },

    #[error(
        "seeding schema `{schema}`: {source}; nothing of `{schema}` was committed: run the seeder again"
    )]
    Schema {
        schema: String,
        #[source]
        source: DbErr,
    },

    #[error(
        "{context}: {source}; check that the database is reachable and the role can read the catalog"
    )]
    Database {
        context: String,
        #[source]
        source: DbErr,
    },

    #[error("invalid arguments: {0}")]
    Usage(String),
}

impl From<ConnectError> for SeedError {
    fn from(err: ConnectError) -> Self {
        SeedError::Connect(err)
    }
}

impl SeedError {
    /// Applying pending migrations (`--migrate`) failed.
    pub(crate) fn migrate(err: MigrateError) -> Self {
        SeedError::Migrate(Box::new(err))
    }

    /// Reading the history, to see whether migrations are pending, failed.
    pub(crate) fn history(err: MigrateError) -> Self {
        SeedError::History(Box::new(err))
    }
}

impl SeedError {
    /// Where this error sits in the one exit table every command follows:
    /// refused before writing anything (bad seeds, cycles, unknown schema,
    /// pending migrations or history problems) is [`Exit::Refused`]; a seed
    /// that failed and was rolled back, or a connection lost midway, is
    /// [`Exit::Failed`]; a database that cannot be reached is
    /// [`Exit::Unavailable`]; bad flags are [`Exit::Usage`].
    pub fn exit(&self) -> Exit {
        match self {
            SeedError::DuplicateSchema { .. }
            | SeedError::UnknownDependency { .. }
            | SeedError::Cycle { .. }
            | SeedError::UnknownSchema { .. }
            | SeedError::UndeclaredForeignKey { .. }
            | SeedError::ForeignTable { .. }
            | SeedError::InvalidSeed { .. }
            | SeedError::PendingMigrations { .. }
            | SeedError::MissingPrivileges { .. }
            | SeedError::MigrationHistory { .. } => Exit::Refused,
            SeedError::Connect(ConnectError::Config(_)) => Exit::Usage,
            SeedError::Connect(_) => Exit::Unavailable,
            SeedError::Migrate(err) | SeedError::History(err) => err.exit(),
            SeedError::InvalidRow { .. }
            | SeedError::Table { .. }
            | SeedError::Schema { .. }
            | SeedError::Database { .. } => Exit::Failed,
            SeedError::Usage(_) => Exit::Usage,
        }
    }

    /// The process exit code, [`SeedError::exit`] as a number.
    pub fn exit_code(&self) -> u8 {
        self.exit().code()
    }

    pub(crate) fn database(context: impl Into<String>) -> impl FnOnce(DbErr) -> SeedError {
        let context = context.into();
        move |source| SeedError::Database { context, source }
    }
}
