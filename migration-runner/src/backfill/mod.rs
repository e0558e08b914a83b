//! Backfills: data changes kept out of structural migrations, run after
//! deploy in short keyset batches, idempotent, resumable, throttled, behind
//! feature flags, and tied to the contract migrations that need them.
//!
//! The contract (`schema_core::backfill::Backfill`) lives in the schema
//! crates, registered through their descriptors; the engine owns the rest:
//! the ledger and flags tables in `public` ([`ledger`], [`flags`]), the
//! driver ([`driver`]: batches, timeouts, retries, pause/cancel), the gate
//! that holds contract migrations back ([`gate`]) and its errors ([`error`]).
//!
//! It may import the foundation (`exit`, `output`), `connect`, `source`,
//! `history` (a backfill needs its contract migration applied) and the SQL
//! reader (`sql-objects`); never roles,
//! Citus, deploy, the gate, operations or the CLI (whose `backfill` and `flag`
//! commands live in `cli/backfill.rs`).

pub mod driver;
pub mod error;
pub mod flags;
pub mod gate;
pub mod ledger;

use schema_core::backfill::Backfill;

pub use driver::{Outcome, Progress, RunOptions, RunReport};
pub use error::BackfillError;

/// One backfill and the schema crate that declares it.
pub struct Registered {
    pub schema: &'static str,
    pub inner: Box<dyn Backfill>,
}

/// Every backfill of the workspace (or of a test), names unique.
pub struct Backfills {
    items: Vec<Registered>,
}

impl Backfills {
    /// Refuses a name declared twice.
    pub fn new(
        sources: Vec<schema_core::schema_crate::BackfillSource>,
    ) -> Result<Self, BackfillError> {
        let mut items: Vec<Registered> = Vec::new();
        for source in sources {
            for inner in source.backfills {
                if let Some(first) = items.iter().find(|r| r.inner.name() == inner.name()) {
                    return Err(BackfillError::Duplicate {
                        name: inner.name().to_owned(),
                        first: first.schema.to_owned(),
                        second: source.schema.to_owned(),
                    });
                }
                items.push(Registered {
                    schema: source.schema,
                    inner,
                });
            }
        }
        items.sort_by_key(|r| r.inner.name());
        Ok(Self { items })
    }

    /// The workspace's backfills, as the registry projects them.
    pub fn workspace(
        workspace: &schema_core::schema_crate::Workspace,
    ) -> Result<Self, BackfillError> {
        Self::new((workspace.backfills)())
    }

    /// No backfills: a catalog of a test's or a benchmark's own migrations.
    pub fn none() -> Self {
        Self { items: Vec::new() }
    }

    /// The backfills of the workspace `catalog` was built from (none for a
    /// catalog of other migrations).
    pub fn of(catalog: &crate::source::catalog::Catalog) -> Result<Self, BackfillError> {
        catalog.source().map_or(Ok(Self::none()), Self::workspace)
    }

    pub fn all(&self) -> &[Registered] {
        &self.items
    }

    /// The backfill named `name`, with a hint when there is none.
    pub fn get(&self, name: &str) -> Result<&Registered, BackfillError> {
        self.items
            .iter()
            .find(|r| r.inner.name() == name)
            .ok_or_else(|| BackfillError::Unknown {
                name: crate::connect::printable(name),
                hint: if self.items.is_empty() {
                    "the workspace declares no backfills".to_owned()
                } else {
                    format!(
                        "the backfills are {}; `backfill list` shows them",
                        self.items
                            .iter()
                            .map(|r| format!("`{}`", r.inner.name()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                },
            })
    }

    /// The backfill a contract migration needs, if any.
    pub fn required_by(&self, migration: &str) -> Option<&Registered> {
        self.items
            .iter()
            .find(|r| r.inner.required_by().contains(&migration))
    }
}
