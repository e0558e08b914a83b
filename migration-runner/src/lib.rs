//! The migration engine: merges every schema crate's migrations into ONE
//! global history, applies it under an advisory lock with one transaction per
//! migration, records each in `public.seaql_migrations` with the checksum of
//! its SQL, and refuses edited, missing and out-of-order history.
//!
//! It owns the global order (nothing else knows it), the history table (only
//! it writes there), the lock, and the operator's commands shared by
//! `cargo xtask migrate` and the release binary. It knows the workspace only
//! as the `Workspace` (from `schema-core`) its callers hand it: it depends on
//! `schema-core` and never on a schema crate, the registry (`schema-registry`,
//! which only its release binary uses), the seeder, xtask, or developer
//! tooling: the local cluster, test databases and scaffolding live in
//! `migration-dev`, so the release binary carries none of them.

pub mod backfill;
pub mod citus;
pub mod cli;
pub mod connect;
pub mod deploy;
pub mod exit;
pub mod gate;
pub(crate) mod held;
pub mod history;
pub mod model;
pub mod name;
pub mod operations;
pub mod output;
#[cfg(test)]
mod parser_corpus;
pub mod roles;
pub mod source;

pub use connect::{DatabaseTarget, Session, connect, redact_url};
pub use deploy::error::{MigrateError, Result};
pub use deploy::runner::{
    DownOptions, Resolution, Runner, RunnerOptions, UpOptions, migrate_workspace,
};
pub use deploy::status::{Inspection, State};
pub use exit::Exit;
pub use schema_core::schema_crate::Workspace;
pub use source::catalog::{Catalog, SchemaSource};
