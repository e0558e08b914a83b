//! The runtime roles: their per-deployment names ([`role_names`]) and the
//! grants the applied migrations declare for them against what the catalog
//! says they hold ([`grants`]).
//!
//! It may import `exit`, `sql_objects` and `source` (a planned step's SQL);
//! never the history table, Citus, deploy, the gate, operations or the CLI.

pub mod grants;
pub mod role_names;
