//! Developer tooling around the migration engine, kept out of the release
//! binary. It owns the local PostgreSQL cluster used when `DATABASE_URL` is unset
//! (`local_pg`) and the local Citus cluster (`local_citus`), and their
//! commands (`cluster_cli`: `cargo xtask db start|stop|status|url|psql|reset`), a fresh database
//! per test (`testing`), writing new source files (`scaffold`: `migrate new`;
//! `dev`: `migrate dev`, the next migration from the entities; `codeowners`:
//! `.github/CODEOWNERS` from the schema crates' owners;
//! `new_schema`: `schema new`; `renumber` and `rebase`: bringing a branch's
//! migrations onto the base's moved history), and the benchmarks' figures and harness
//! (`bench`: `cargo xtask bench`).
//!
//! It depends on `migration-runner` (the engine) and the engine never
//! depends on it; xtask and the tests do.

pub mod bench;
pub mod cluster_cli;
pub mod codeowners;
pub mod dev;
pub mod local_citus;
pub mod local_pg;
pub mod new_schema;
pub mod rebase;
pub mod renumber;
pub mod scaffold;
pub mod sum_file;
pub mod target;
pub mod testing;

pub use target::resolve_or_start_local;

// What `migrate dev` writes, compiled with the unit tests so clippy
// (`--all-targets`) holds generated code to the workspace's lints, under the
// one allowance a schema crate's `mod migrations` has (sea-orm-migration's
// trait spells `&SchemaManager`); `dev`'s tests check that it writes exactly
// these.
#[cfg(test)]
#[allow(elided_lifetimes_in_paths)]
#[path = "../tests/golden/dev_contract.rs"]
mod golden_dev_contract;
#[cfg(test)]
#[allow(elided_lifetimes_in_paths)]
#[path = "../tests/golden/dev_migration.rs"]
mod golden_dev_migration;
