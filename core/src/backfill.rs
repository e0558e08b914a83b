//! The backfill contract: a data change kept out of structural migrations,
//! run after deploy by the engine (`migration-runner backfill run <name>`) in
//! short keyset batches. A schema crate declares its backfills next to its
//! migrations and lists them in its descriptor
//! ([`crate::schema_crate::SchemaCrate::backfills`]); the engine drives them
//! (ledger, batching, throttling, retries, pause/resume/cancel, progress).
//!
//! A backfill is plain SQL, so writing one is as short as a migration:
//!
//! ```
//! use schema_core::backfill::Backfill;
//!
//! struct FillSlugs;
//!
//! impl Backfill for FillSlugs {
//!     fn name(&self) -> &'static str { "academy_course_slugs" }
//!     fn description(&self) -> &'static str { "derives a slug for courses that have none" }
//!     fn table(&self) -> &'static str { "academy.courses" }
//!     fn batch_sql(&self) -> &'static str {
//!         "UPDATE academy.courses SET slug = lower(title) \
//!           WHERE id BETWEEN $1::uuid AND $2::uuid AND slug = ''"
//!     }
//!     fn has_work_sql(&self) -> &'static str {
//!         "SELECT EXISTS (SELECT 1 FROM academy.courses WHERE slug = '')"
//!     }
//! }
//! ```

/// One backfill. Every method but the SQL has a default.
pub trait Backfill: Send + Sync {
    /// Unique across the workspace; by convention `<schema>_<what>`.
    fn name(&self) -> &'static str;

    /// One line saying what it fills, for `backfill list`.
    fn description(&self) -> &'static str;

    /// The table it walks, schema-qualified (`academy.webinars`).
    fn table(&self) -> &'static str;

    /// The column it walks in order (keyset pagination, never OFFSET): a
    /// unique, indexed column, normally the primary key.
    fn key(&self) -> &'static str {
        "id"
    }

    /// Rows per batch to start with; the engine adapts it toward a target
    /// batch duration.
    fn batch_size(&self) -> u32 {
        1_000
    }

    /// The feature flag that must be on before it runs (`None`: unguarded).
    fn flag(&self) -> Option<&'static str> {
        None
    }

    /// What one batch does: SQL run with `$1` and `$2` bound, as text, to the
    /// first and last key of the batch's range (inclusive both ends; cast
    /// them to the key's type: `id BETWEEN $1::uuid AND $2::uuid`). It runs in
    /// the batch's short transaction, together with the ledger's update, and
    /// must be idempotent: running it again over the same range changes
    /// nothing more (filter on the rows that still need it).
    ///
    /// Prefer one plain `UPDATE` (or `DELETE`, `INSERT`) without `RETURNING`:
    /// the engine then runs it and the ledger's advance as one statement (one
    /// round trip); anything else (several statements, a function call) runs
    /// as a statement of its own. Either way the whole batch transaction is
    /// cut at the batch timeout, rolled back and retried smaller.
    fn batch_sql(&self) -> &'static str;

    /// A cheap query returning one boolean: whether any row still needs the
    /// backfill. It lets `migrate up` go on when there is nothing to do (a new
    /// database, or every row already satisfies it).
    fn has_work_sql(&self) -> &'static str;

    /// The contract migrations that need this backfill finished before they
    /// may be applied (for example one that makes the filled column `NOT
    /// NULL`). Declared here, so the migrations' SQL and checksums are
    /// untouched.
    fn required_by(&self) -> &'static [&'static str] {
        &[]
    }
}

/// For schema crates without backfills: `backfills: no_backfills`.
pub fn no_backfills() -> Vec<Box<dyn Backfill>> {
    Vec::new()
}
