//! Deploying: the orchestrator ([`runner`]: `up`, `down`, `resolve`, and the
//! read-only `inspect`, `plan`, `preflight`), verifying history before any
//! command reads or changes it ([`verify`], [`status`]), the privileges a plan
//! needs ([`preflight`]), and the one executor that runs a migration's
//! statements both ways ([`executor`]). Its errors are gathered in
//! [`error::MigrateError`], what the orchestrator returns.
//!
//! It may import every layer below it (foundation, `sql_objects`, `connect`,
//! `source`, `history`, `roles`, `citus`, `backfill`); never the gate,
//! operations or the CLI.

pub mod error;
pub mod executor;
pub mod preflight;
pub mod runner;
pub mod status;
pub mod verify;
