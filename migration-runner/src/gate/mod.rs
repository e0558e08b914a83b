//! The gate: what a pull request or an operator asks before deploying.
//! `migrate check --base` ([`check`]), `migrate lint` ([`lint`]),
//! `migrate drift` ([`drift`]), `migrate diff` ([`diff`]), the entities against the migrations
//! ([`entity_check`]), all comparing databases as a [`crate::model`] and
//! replaying history into throwaway databases ([`scratch`]), and who owns
//! each schema ([`owners`], CODEOWNERS) and whether they approved a pull
//! request ([`approvals`], through the code host's API); the schema map's
//! document ([`map`]).
//!
//! It may import deploy and every layer below it; never operations or the
//! CLI.

pub mod approvals;
pub mod check;
pub mod diff;
pub mod drift;
pub mod entity_check;
pub mod lint;
pub mod map;
pub mod owners;
pub mod scratch;
