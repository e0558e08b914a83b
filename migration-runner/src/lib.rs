//! The migration runner: merges every schema crate's migrations into ONE
//! global history, applies it under an advisory lock with one transaction per
//! migration, records each in `public.seaql_migrations` with the checksum of
//! its SQL, and refuses edited, missing and out-of-order history.
//!
//! It owns the global order (nothing else knows it), the history table, the
//! lock, the operator's commands (shared by `cargo xtask migrate` and the
//! release binary) and the local PostgreSQL cluster used when `DATABASE_URL`
//! is unset. It depends on the schema crates and never on the seeder or xtask.

pub mod capture;
pub mod catalog;
pub mod cli;
pub mod connect;
pub mod error;
pub mod exit;
pub mod history;
pub mod local_pg;
pub mod lock;
pub mod name;
pub mod output;
pub mod preflight;
pub mod runner;
pub mod scaffold;
pub mod sql_objects;
pub mod status;
pub mod testing;

pub use catalog::{Catalog, SchemaSource};
pub use connect::{DatabaseTarget, connect, redact_url};
pub use error::{MigrateError, Result};
pub use exit::Exit;
pub use runner::{DownOptions, Resolution, Runner, RunnerOptions, UpOptions, migrate_workspace};
pub use status::{Inspection, State};
