//! The runner's error type: every message is lowercase, names the migration
//! (and the crate that owns it) when there is one, and says how to fix it.

use std::path::PathBuf;

/// Everything the runner can refuse or fail at.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(
        "migration `{name}` in crate `{krate}` has a malformed name: {reason}; \
         names look like `mYYYYMMDD_HHMMSS_<schema>_<what>`, for example \
         `m20251008_120000_academy_add_webinar_capacity` (`cargo xtask migrate new <schema> <what>` writes one)"
    )]
    MalformedName {
        name: String,
        krate: String,
        reason: String,
    },

    #[error(
        "migration `{name}` lives in crate `{krate}` (schema `{owner}`) but its name says schema `{prefix}`; \
         a migration belongs to the schema its name starts with: move it to the `{prefix}` crate or rename it \
         to `m{timestamp}_{owner}_...`"
    )]
    WrongSchemaPrefix {
        name: String,
        krate: String,
        owner: String,
        prefix: String,
        timestamp: String,
    },

    #[error(
        "migration `{name}` is declared twice: in crate `{first}` (entry {first_index}) and in crate `{second}` \
         (entry {second_index}); every migration name must be unique across the workspace: rename one of them \
         with a newer timestamp"
    )]
    DuplicateName {
        name: String,
        first: String,
        first_index: usize,
        second: String,
        second_index: usize,
    },

    #[error(
        "schema `{schema}` is registered twice with the runner; each schema crate is listed once"
    )]
    DuplicateSchema { schema: String },

    #[error(
        "migration `{name}` in crate `{krate}` {problem}, so its checksum cannot be computed; structural \
         migrations must emit the same SQL on every run without reading the database: move data-dependent \
         or time-dependent work into a backfill"
    )]
    NonDeterministic {
        name: String,
        krate: String,
        problem: String,
    },

    #[error("migration `{name}` in crate `{krate}` failed in its `{direction}` step: {source}")]
    Capture {
        name: String,
        krate: String,
        direction: &'static str,
        #[source]
        source: sea_orm::DbErr,
    },

    #[error(
        "migration `{name}` (schema `{schema}`) failed at statement {statement_index} and was rolled back \
         (no changes and no history row were kept): {message}\n  statement: {statement}\n  fix the migration \
         and run `cargo xtask migrate` again"
    )]
    MigrationFailed {
        name: String,
        schema: String,
        statement_index: usize,
        statement: String,
        message: String,
    },

    #[error(
        "non-transactional migration `{name}` (schema `{schema}`) failed at statement {statement_index}: \
         {message}\n  statement: {statement}\n  its earlier statements stay applied and history marks it \
         `failed`: repair the database by hand, then `cargo xtask migrate resolve --rolled-back {name}` to \
         retry it or `--applied {name}` if you completed it"
    )]
    NonTransactionalFailed {
        name: String,
        schema: String,
        statement_index: usize,
        statement: String,
        message: String,
    },

    #[error("history integrity check failed; nothing was applied:\n{}", format_problems(.0))]
    Integrity(Vec<crate::status::IntegrityProblem>),

    #[error(
        "timed out after {waited_secs} s waiting for the migration lock held by {holder}; another deploy is \
         running: wait for it, or raise the wait with `--lock-timeout SECONDS`"
    )]
    LockTimeout { waited_secs: u64, holder: String },

    #[error("unknown migration `{name}`: {hint}")]
    UnknownMigration { name: String, hint: String },

    #[error(
        "`migrate down` is destructive and APP_ENV is `production`; forward-fix with a new migration instead, \
         or pass `--allow-destructive` if you really mean to drop data"
    )]
    DestructiveRefused,

    #[error("{0}")]
    Resolve(String),

    #[error(
        "the connected role lacks privileges the pending migrations need; nothing was applied:\n{}\n  \
         run the GRANTs above as the owner or a superuser, then retry",
        format_lines(.0)
    )]
    Preflight(Vec<String>),

    #[error("unknown schema `{schema}`; known schemas: {known}")]
    UnknownSchema { schema: String, known: String },

    #[error("cannot edit `{}`: {message}", path.display())]
    Scaffold { path: PathBuf, message: String },

    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
}

fn format_problems(problems: &[crate::status::IntegrityProblem]) -> String {
    format_lines(&problems.iter().map(ToString::to_string).collect::<Vec<_>>())
}

fn format_lines(lines: &[String]) -> String {
    lines
        .iter()
        .map(|line| format!("  - {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl MigrateError {
    /// The process exit code the operator's commands use for this error:
    /// 2 for integrity problems (as `status` reports them), 3 for anything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            MigrateError::Integrity(_) => 2,
            _ => 3,
        }
    }
}

pub type Result<T, E = MigrateError> = std::result::Result<T, E>;
