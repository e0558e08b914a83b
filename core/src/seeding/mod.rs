//! The seeding contract every schema crate implements and the seeder runs.
//!
//! A schema crate describes its seed data as [`TableSeed`]s grouped under one
//! [`SchemaSeed`]: which table, which columns (with their PostgreSQL types),
//! which columns form the natural key the upsert conflicts on, and a lazy
//! iterator of row batches. Seeds are DATA: they never touch the database and
//! never issue DDL. The seeder turns them into idempotent upserts.
//!
//! The rules that make seeding repeatable on every run and every machine:
//!
//! - ids come from [`id`] (UUID v5 over the table and the row's natural key),
//!   and a foreign key is computed the same way from the referenced row's
//!   natural key, never read back from the database;
//! - natural keys are built from row indices and fixed lists only, never from
//!   `fake` output, so upgrading `fake` rewrites values (updates) instead of
//!   creating duplicate rows;
//! - fake data comes from [`rng`], seeded per (table, row index), so any
//!   batch can be generated on its own and memory stays flat at any scale;
//! - dates are offsets from [`base_date`], never the clock.
//!
//! Every table also says what the seed owns of it ([`Ownership`]): reference
//! data the code defines and keeps equal to the code, or sample data that is
//! only inserted when absent, so re-seeding never reverts what people or the
//! application changed.
//!
//! This file is the contract; `data.rs` holds the deterministic helpers seeds
//! build rows with (ids, dates, random generators, picks).

mod data;

pub use data::*;

use chrono::{DateTime, SecondsFormat, Utc};
use uuid::Uuid;

/// How much data to seed.
///
/// Seeds must not overflow at any `Load` scale (estimates saturate); the CLI
/// caps `--scale` at [`MAX_SCALE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// RBAC roles, permissions and their grants, and one admin user.
    Minimal,
    /// Tens to hundreds of realistic rows in every table (the default).
    Demo,
    /// `scale` users and proportional rows in every table, for load tests.
    Load { scale: u64 },
}

impl Profile {
    pub fn name(&self) -> &'static str {
        match self {
            Profile::Minimal => "minimal",
            Profile::Demo => "demo",
            Profile::Load { .. } => "load",
        }
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Profile::Load { scale } => write!(f, "load (scale {scale})"),
            other => f.write_str(other.name()),
        }
    }
}

/// The largest `--scale` the CLI accepts: a hundred million users (and
/// proportional rows in every schema) is far beyond any load test yet small
/// enough that every count fits comfortably.
pub const MAX_SCALE: u64 = 100_000_000;

/// Rows per batch: the unit the seeder generates, encodes and sends at a
/// time (one `COPY` data message, or for a table that fits in one batch one
/// statement with an array parameter per column), so it bounds the seeder's
/// memory, never the rows a table can have.
pub const BATCH_ROWS: usize = 10_000;

/// The PostgreSQL types seed columns may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlType {
    Uuid,
    Text,
    SmallInt,
    Integer,
    BigInt,
    Boolean,
    TimestampTz,
}

impl SqlType {
    /// The type's SQL name, as used in casts.
    pub fn sql(self) -> &'static str {
        match self {
            SqlType::Uuid => "uuid",
            SqlType::Text => "text",
            SqlType::SmallInt => "smallint",
            SqlType::Integer => "integer",
            SqlType::BigInt => "bigint",
            SqlType::Boolean => "boolean",
            SqlType::TimestampTz => "timestamptz",
        }
    }

    /// Whether `cell` is a value of this type (NULL fits every type; the
    /// database enforces NOT NULL).
    pub fn accepts(self, cell: &Cell) -> bool {
        matches!(
            (self, cell),
            (_, Cell::Null)
                | (SqlType::Uuid, Cell::Uuid(_))
                | (SqlType::Text, Cell::Text(_))
                | (
                    SqlType::SmallInt | SqlType::Integer | SqlType::BigInt,
                    Cell::Int(_)
                )
                | (SqlType::Boolean, Cell::Bool(_))
                | (SqlType::TimestampTz, Cell::Timestamp(_))
        )
    }
}

/// One seeded column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub ty: SqlType,
}

impl Column {
    pub const fn new(name: &'static str, ty: SqlType) -> Self {
        Self { name, ty }
    }
}

/// One value of a seed row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Uuid(Uuid),
    Text(String),
    Int(i64),
    Bool(bool),
    Timestamp(DateTime<Utc>),
}

impl Cell {
    /// The value in PostgreSQL's text input format (`None` for NULL).
    pub fn to_sql_text(&self) -> Option<String> {
        match self {
            Cell::Null => None,
            Cell::Uuid(uuid) => Some(uuid.hyphenated().to_string()),
            Cell::Text(text) => Some(text.clone()),
            Cell::Int(int) => Some(int.to_string()),
            Cell::Bool(flag) => Some(if *flag { "t" } else { "f" }.to_owned()),
            Cell::Timestamp(at) => Some(at.to_rfc3339_opts(SecondsFormat::Micros, true)),
        }
    }
}

impl From<Uuid> for Cell {
    fn from(value: Uuid) -> Self {
        Cell::Uuid(value)
    }
}

impl From<String> for Cell {
    fn from(value: String) -> Self {
        Cell::Text(value)
    }
}

impl From<&str> for Cell {
    fn from(value: &str) -> Self {
        Cell::Text(value.to_owned())
    }
}

impl From<i16> for Cell {
    fn from(value: i16) -> Self {
        Cell::Int(value.into())
    }
}

impl From<i32> for Cell {
    fn from(value: i32) -> Self {
        Cell::Int(value.into())
    }
}

impl From<i64> for Cell {
    fn from(value: i64) -> Self {
        Cell::Int(value)
    }
}

impl From<bool> for Cell {
    fn from(value: bool) -> Self {
        Cell::Bool(value)
    }
}

impl From<DateTime<Utc>> for Cell {
    fn from(value: DateTime<Utc>) -> Self {
        Cell::Timestamp(value)
    }
}

impl<T: Into<Cell>> From<Option<T>> for Cell {
    fn from(value: Option<T>) -> Self {
        value.map_or(Cell::Null, Into::into)
    }
}

/// One row: a value per column, in the table's column order.
pub type Row = Vec<Cell>;
/// Rows sent to the database in one statement.
pub type Batch = Vec<Row>;
/// A lazy stream of batches: only the batch being generated is in memory.
pub type Batches = Box<dyn Iterator<Item = Batch> + Send>;

/// What a seed owns of the rows it describes, decided per table by the
/// schema crate. Rows are matched by natural key either way; only what
/// happens to a row that is already there and differs from the seed depends
/// on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// Reference data the code defines (roles, permissions, their links):
    /// authoritative. A present row is updated to the seed's values, so the
    /// table always equals the code (rows the seed does not list are kept).
    Reference,
    /// Sample data (users, courses, applications, ...): inserted when absent,
    /// left alone when present, whatever people or the application changed
    /// since. `--overwrite` resets present rows to the seed's values.
    Sample,
}

impl Ownership {
    pub fn name(self) -> &'static str {
        match self {
            Ownership::Reference => "reference",
            Ownership::Sample => "sample",
        }
    }
}

/// The seed data of one table.
pub struct TableSeed {
    /// Schema-qualified name, e.g. `core.users`.
    pub table: &'static str,
    /// What the seed owns of the table's rows.
    pub ownership: Ownership,
    /// Every seeded column, `id` first. Columns not listed keep their
    /// defaults (`created_at`, `updated_at`).
    pub columns: &'static [Column],
    /// The natural key (a unique constraint's columns) the upsert conflicts on.
    pub conflict: &'static [&'static str],
    /// Rows the batches will yield, for progress bars (an estimate).
    pub estimated_rows: u64,
    pub batches: Batches,
}

impl std::fmt::Debug for TableSeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableSeed")
            .field("table", &self.table)
            .field("ownership", &self.ownership)
            .field("columns", &self.columns)
            .field("conflict", &self.conflict)
            .field("estimated_rows", &self.estimated_rows)
            .finish_non_exhaustive()
    }
}

impl TableSeed {
    /// A table whose (small) rows are already in memory.
    pub fn from_rows(
        table: &'static str,
        ownership: Ownership,
        columns: &'static [Column],
        conflict: &'static [&'static str],
        rows: Vec<Row>,
    ) -> Self {
        let estimated_rows = rows.len() as u64;
        let mut rows = rows.into_iter();
        let batches = std::iter::from_fn(move || {
            let batch: Batch = rows.by_ref().take(BATCH_ROWS).collect();
            (!batch.is_empty()).then_some(batch)
        });
        Self {
            table,
            ownership,
            columns,
            conflict,
            estimated_rows,
            batches: Box::new(batches),
        }
    }

    /// A table generated lazily from row indices `0..indices`: `generate`
    /// pushes zero or more rows for each index. Batches hold about
    /// [`BATCH_ROWS`] rows, so memory does not grow with `indices`.
    pub fn generated<F>(
        table: &'static str,
        ownership: Ownership,
        columns: &'static [Column],
        conflict: &'static [&'static str],
        indices: u64,
        estimated_rows: u64,
        generate: F,
    ) -> Self
    where
        F: FnMut(u64, &mut Batch) + Send + 'static,
    {
        Self {
            table,
            ownership,
            columns,
            conflict,
            estimated_rows,
            batches: Box::new(Generated {
                next: 0,
                end: indices,
                generate,
            }),
        }
    }

    /// The schema part of [`TableSeed::table`].
    pub fn schema(&self) -> &'static str {
        self.table.split_once('.').map_or("", |(schema, _)| schema)
    }

    /// The table part of [`TableSeed::table`].
    pub fn name(&self) -> &'static str {
        self.table
            .split_once('.')
            .map_or(self.table, |(_, name)| name)
    }
}

struct Generated<F> {
    next: u64,
    end: u64,
    generate: F,
}

impl<F: FnMut(u64, &mut Batch)> Iterator for Generated<F> {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        let mut batch = Vec::with_capacity(BATCH_ROWS.min(4096));
        while self.next < self.end && batch.len() < BATCH_ROWS {
            (self.generate)(self.next, &mut batch);
            self.next += 1;
        }
        (!batch.is_empty()).then_some(batch)
    }
}

/// What a schema crate provides to the seeder.
pub trait SchemaSeed: Send + Sync {
    /// The PostgreSQL schema these seeds fill (the crate's `SCHEMA`).
    fn schema(&self) -> &'static str;

    /// Schemas whose rows these seeds reference; they are seeded first.
    /// Every foreign key into another schema must be declared here.
    fn depends_on(&self) -> &'static [&'static str];

    /// The tables to seed for `profile`, in an order that satisfies the
    /// schema's own foreign keys (referenced tables first).
    fn tables(&self, profile: &Profile) -> Vec<TableSeed>;
}
