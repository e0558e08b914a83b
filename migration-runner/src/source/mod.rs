//! The source layer: the global history as the code declares it, before any
//! database is involved. It owns the merged order of every schema crate's
//! migrations ([`catalog`]), recording a migration's SQL without a server
//! ([`capture`], [`script`]), the sum file ([`sum`]) and a planned step
//! ([`plan`]).
//!
//! It may import `exit`, `name`, `connect` (for [`connect::db_error`] only)
//! and `sql_objects`; never the history table, a phase that judges a plan
//! (roles, Citus, deploy), the gate, operations or the CLI.
//!
//! [`connect::db_error`]: crate::connect::db_error

pub mod capture;
pub mod catalog;
pub mod plan;
pub mod script;
pub mod sum;
