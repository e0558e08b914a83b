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
pub mod capture;
pub mod catalog;
pub mod check;
pub mod citus;
pub mod cli;
pub mod connect;
pub mod db_error;
pub mod drift;
pub mod entity_check;
pub mod error;
pub mod executor;
pub mod exit;
pub mod grants;
pub(crate) mod held;
pub mod history;
pub mod lint;
pub mod lock;
pub mod name;
pub mod operations;
pub mod output;
#[cfg(test)]
mod parser_corpus;
pub mod plan;
pub mod preflight;
pub mod render;
pub mod role_names;
pub mod runner;
pub mod schema_model;
pub mod scratch;
pub mod script;
pub mod sql_objects;
pub mod status;
pub mod sum;
pub mod verify;

pub use catalog::{Catalog, SchemaSource};
pub use connect::{DatabaseTarget, Session, connect, redact_url};
pub use error::{MigrateError, Result};
pub use exit::Exit;
pub use runner::{DownOptions, Resolution, Runner, RunnerOptions, UpOptions, migrate_workspace};
pub use schema_core::schema_crate::Workspace;
pub use status::{Inspection, State};
