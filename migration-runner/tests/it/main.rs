//! The runner's integration tests: every behaviour against a real PostgreSQL
//! (a local cluster the tests start themselves), one fresh database per test.

// `#[async_trait]` needs `&SchemaManager` spelled exactly as `MigrationTrait` declares it.
#![allow(elided_lifetimes_in_paths)]

mod support;
mod tidy;

mod approvals;
mod backfill;
mod catalog_order;
mod check;
mod cli;
mod concurrency;
mod dev;
mod diff;
mod digest;
mod drift;
mod every_command_verifies;
mod foundation;
mod integrity;
mod lint;
mod local_cluster;
mod operations;
mod operator;
mod operator_input;
mod preflight;
mod rebase;
mod redaction;
mod robustness;
mod roles;
mod tls;
