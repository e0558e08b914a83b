//! The statements for one table: its session-private staging table, the
//! binary `COPY` that fills it, and the ONE set-based upsert that moves it
//! into the real table; plus the encoding of rows into `COPY`'s binary format.
//!
//! Per table (here `core.user_roles`, sample data, whose `user_id` and
//! `role_id` are foreign keys):
//!
//! ```text
//! CREATE TEMPORARY TABLE seed_stage_7 ("id" uuid, "user_id" uuid, "role_id" uuid) ON COMMIT DROP
//! COPY pg_temp.seed_stage_7 ("id", "user_id", "role_id") FROM STDIN (FORMAT binary)
//!                                        -- every row, streamed batch by batch
//! WITH seed AS (                         -- the staged rows, references resolved
//!   SELECT s."id", coalesce(m1.actual_id, s."user_id") AS "user_id", coalesce(m2.actual_id, s."role_id") AS "role_id"
//!   FROM pg_temp.seed_stage_7 s
//!   LEFT JOIN pg_temp.seed_id_map m1 ON m1.seed_id = s."user_id" LEFT JOIN pg_temp.seed_id_map m2 ON ...
//! ), matched AS (                        -- the row already there with the same natural key, if any
//!   SELECT seed.*, e."id" AS existing_id, (e.values) IS DISTINCT FROM (seed.values) AS differs
//!   FROM seed LEFT JOIN "core"."user_roles" e ON e."user_id" = seed."user_id" AND e."role_id" = seed."role_id"
//! ), adopted AS (                        -- remember its real id for later references
//!   INSERT INTO pg_temp.seed_id_map SELECT "id", existing_id FROM matched WHERE existing_id <> "id" ...
//! ), updated AS (                        -- reference data, or --overwrite: present and different
//!   UPDATE "core"."user_roles" t SET ..., "updated_at" = now() FROM matched m WHERE t.id = m.existing_id AND m.differs ...
//! ), inserted AS (                       -- absent: insert, unless its id or another unique value is taken
//!   INSERT INTO "core"."user_roles" (...) SELECT ... FROM matched WHERE existing_id IS NULL ON CONFLICT DO NOTHING ...
//! )
//! SELECT inserted, updated, unchanged, absent, adopted
//! ```
//!
//! - **Natural keys, not ids, decide**: a row made outside the seeder with
//!   the seed's natural key but another id is the row the seed describes. Its
//!   real id goes into the session's `seed_id_map` (seed id → actual id), and
//!   every later foreign-key column (found in the live catalog) is resolved
//!   through that map, so later seeds reference the real row.
//! - **Ownership** ([`Ownership`]): a present row that differs is updated for
//!   reference data (and with `--overwrite`); sample data leaves it alone. A
//!   present row equal to the seed is never written (its `xmin` stays).
//! - **Never collide**: an absent row whose id (or another unique value) is
//!   already taken, typically a seeded row whose natural key was edited by
//!   hand, is skipped and reported, never a primary-key error.
//!
//! Counts: unchanged = present and equal; left alone = rows − inserted −
//! updated − unchanged (present and different but not overwritten, plus the
//! skipped). The staging table is a temporary table of the seeder's session,
//! dropped when the schema's transaction ends (committed or rolled back), so a
//! failure midway leaves nothing behind. Rows travel in `COPY`'s binary
//! format: no text escaping at all (tabs, newlines, backslashes and quotes
//! are bytes like any other), typed values checked here before they are sent.
//! Being one statement over the whole table, the natural-key lookup is a
//! join the planner is free to hash, not a probe per row.
//!
//! Two shortcuts, same outcome:
//!
//! - **Empty table** (and an empty id map): every row is absent, so the
//!   rows go straight in with `COPY` (or one `INSERT` per batch), nothing to
//!   look up or compare.
//! - **Small table** (its rows fit in one batch): no `COPY` and no staging
//!   table; the same upsert reads `unnest($1::uuid[], $2::text[], …)`, one
//!   array parameter per column, one round trip per batch. A `COPY` needs
//!   two writes in a row (its data, then its end), and over TCP the second
//!   waits for the server's delayed ACK (about 40 ms) because sqlx does not
//!   set `TCP_NODELAY`: worth paying once for a large table, not for a small
//!   one. For the same reason the seeder fills the staging table of a
//!   medium table ([`crate::run::COPY_FROM_ROWS`]) with
//!   [`Upsert::stage_insert`], one array parameter per column per batch.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use schema_core::seeding::{BATCH_ROWS, Batch, Cell, Column, Ownership, SqlType, TableSeed};
use uuid::Uuid;

use crate::error::SeedError;

/// Columns the seeder manages itself: never seeded, never compared.
const BOOKKEEPING: &[&str] = &["created_at", "updated_at"];

/// The session's map from seed ids to the ids of rows that were already
/// there under the same natural key (see [`crate::run`]).
pub const ID_MAP: &str = "pg_temp.seed_id_map";

/// The statement that creates [`ID_MAP`] for the session (if needed).
pub const CREATE_ID_MAP: &str = "CREATE TEMPORARY TABLE IF NOT EXISTS seed_id_map \
     (seed_id uuid PRIMARY KEY, actual_id uuid NOT NULL)";

/// What opens a binary `COPY` stream: the signature, flags and header extension.
pub const COPY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// What closes a binary `COPY` stream: a tuple with -1 fields.
pub const COPY_TRAILER: &[u8] = &[0xff, 0xff];

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01T00:00:00Z).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// Staging tables get a number unique in the process, so two tables (even a
/// table listed twice) never share one within a transaction.
static STAGES: AtomicU64 = AtomicU64::new(0);

/// What to do with a row that is present (by natural key) and differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Present {
    /// Set it to the seed's values (reference data, or `--overwrite`).
    Update,
    /// Leave it as it is (sample data).
    Keep,
}

impl Present {
    pub fn of(ownership: Ownership, overwrite: bool) -> Self {
        match (ownership, overwrite) {
            (Ownership::Reference, _) | (Ownership::Sample, true) => Present::Update,
            (Ownership::Sample, false) => Present::Keep,
        }
    }
}

/// The statements for one table, run in this order on one session inside
/// the schema's transaction: [`Upsert::create_stage`], [`Upsert::copy`]
/// (fed with [`COPY_HEADER`], [`Upsert::encode`]d batches and
/// [`COPY_TRAILER`]), then [`Upsert::sql`] (or [`Upsert::direct_sql`]).
///
/// A table found empty ([`Upsert::is_empty`]) while the id map is empty
/// too takes the short way: [`Upsert::copy_direct`] streams the same bytes
/// straight into it (every row is absent, so the upsert would insert them
/// all; there is nothing to look up or compare).
#[derive(Debug, Clone)]
pub struct Upsert {
    pub table: &'static str,
    pub columns: &'static [Column],
    pub present: Present,
    /// The seeded columns resolved through [`ID_MAP`] (its foreign keys).
    pub references: Vec<&'static str>,
    /// The table, quoted (`"core"."users"`).
    pub target: String,
    /// Whether the table has no row at all (one boolean, `empty`).
    pub is_empty: String,
    /// Starts the binary `COPY` straight into the table, for when it is
    /// empty and the id map too: every row is absent, nothing to compare.
    pub copy_direct: String,
    /// The staging table, `pg_temp.seed_stage_<n>`.
    pub stage: String,
    /// Creates the staging table, dropped when the transaction ends.
    pub create_stage: String,
    /// Starts the binary `COPY` into the staging table.
    pub copy: String,
    /// Stages one batch bound as one array per column (instead of `COPY`).
    pub stage_insert: String,
    /// Whether the table's rows fit in one batch ([`BATCH_ROWS`]): then they
    /// travel as array parameters of one statement per batch (one round
    /// trip, no staging table) instead of a `COPY` stream.
    pub inline: bool,
    /// The upsert of one batch bound as one array per column ([`ArrayBatch`]).
    pub inline_sql: String,
    /// [`Upsert::inline_sql`] without resolving references.
    pub inline_direct_sql: String,
    /// Inserts one batch bound as arrays into the table as it is (the short
    /// way for an empty table, like [`Upsert::copy_direct`]).
    pub insert_inline: String,
    /// The set-based upsert from the staging table into the table; it
    /// returns one row of counts (see [`Outcome`]).
    pub sql: String,
    /// The same statement without resolving references, for when the id map
    /// is empty (nothing was found under another id so far in the run: the
    /// usual case), which spares a join per reference.
    pub direct_sql: String,
}

/// One batch in `COPY`'s binary format (tuples only: no header, no trailer).
#[derive(Debug, Clone, Default)]
pub struct EncodedBatch {
    pub rows: u64,
    pub bytes: Vec<u8>,
}

/// What the upsert did to a table's rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    pub inserted: u64,
    pub updated: u64,
    /// Present by natural key with exactly the seed's values.
    pub unchanged: u64,
    /// Absent by natural key (inserted, or skipped because its id or another
    /// unique value is taken).
    pub absent: u64,
    /// Present by natural key under another id (made outside the seeder).
    pub adopted: u64,
}

impl Upsert {
    /// Validates the table's description and builds its statements as its
    /// ownership says, without foreign keys to resolve.
    pub fn for_table(table: &TableSeed) -> Result<Self, SeedError> {
        Self::new(table, &[], false)
    }

    /// Validates the table's description and builds its statements:
    /// `foreign_keys` are the table's foreign-key columns (from the catalog;
    /// those the seed does not set are ignored), `overwrite` updates present
    /// sample rows too.
    pub fn new(
        table: &TableSeed,
        foreign_keys: &[String],
        overwrite: bool,
    ) -> Result<Self, SeedError> {
        let invalid = |problem: String| SeedError::InvalidSeed {
            table: table.table.to_owned(),
            problem,
        };
        let Some((schema, name)) = table.table.split_once('.') else {
            return Err(invalid(
                "the table name must be schema-qualified, like `core.users`".to_owned(),
            ));
        };
        match table.columns.first() {
            Some(column) if column.name == "id" && column.ty == SqlType::Uuid => {}
            _ => {
                return Err(invalid(
                    "the first column must be `id` of type uuid (from `seeding::id`)".to_owned(),
                ));
            }
        }
        for (index, column) in table.columns.iter().enumerate() {
            if table.columns[..index].iter().any(|c| c.name == column.name) {
                return Err(invalid(format!("column `{}` is listed twice", column.name)));
            }
            if BOOKKEEPING.contains(&column.name) {
                return Err(invalid(format!(
                    "column `{}` is bookkeeping the seeder maintains; remove it from the seed",
                    column.name
                )));
            }
        }
        if table.columns.len() > i16::MAX as usize {
            return Err(invalid(format!(
                "it seeds {} columns, more than a table can have",
                table.columns.len()
            )));
        }
        if table.conflict.is_empty() {
            return Err(invalid(
                "it declares no natural key (`conflict`): list the columns of a unique constraint"
                    .to_owned(),
            ));
        }
        if let Some(missing) = table
            .conflict
            .iter()
            .find(|key| !table.columns.iter().any(|c| c.name == **key))
        {
            return Err(invalid(format!(
                "natural-key column `{missing}` is not one of the seeded columns"
            )));
        }
        if let Some(id) = table.conflict.iter().find(|key| **key == "id") {
            return Err(invalid(format!(
                "the natural key cannot include `{id}`: ids are derived from the natural key"
            )));
        }
        let references: Vec<&'static str> = table
            .columns
            .iter()
            .filter(|c| c.name != "id" && c.ty == SqlType::Uuid)
            .map(|c| c.name)
            .filter(|name| foreign_keys.iter().any(|fk| fk == name))
            .collect();
        let present = Present::of(table.ownership, overwrite);
        let stage_name = format!("seed_stage_{}", STAGES.fetch_add(1, Ordering::Relaxed));
        let stage = format!("pg_temp.{stage_name}");
        let all = list(table.columns.iter().map(|c| c.name), "");
        let typed = table
            .columns
            .iter()
            .map(|c| format!("{} {}", quote(c.name), c.ty.sql()))
            .collect::<Vec<_>>()
            .join(", ");
        let target = format!("{}.{}", quote(schema), quote(name));
        let arrays = table
            .columns
            .iter()
            .enumerate()
            .map(|(index, column)| format!("${}::{}[]", index + 1, column.ty.sql()))
            .collect::<Vec<_>>()
            .join(", ");
        let unnest = format!("unnest({arrays}) AS s({all})");
        let staged = format!("{stage} s");
        let build = |source: &str, references: &[&str]| {
            build_sql(
                &target,
                source,
                table.columns,
                table.conflict,
                references,
                present,
            )
        };
        Ok(Self {
            table: table.table,
            columns: table.columns,
            present,
            is_empty: format!("SELECT NOT EXISTS (SELECT FROM {target}) AS empty"),
            copy_direct: format!("COPY {target} ({all}) FROM STDIN (FORMAT binary)"),
            create_stage: format!("CREATE TEMPORARY TABLE {stage_name} ({typed}) ON COMMIT DROP"),
            copy: format!("COPY {stage} ({all}) FROM STDIN (FORMAT binary)"),
            inline: table.estimated_rows <= BATCH_ROWS as u64,
            inline_sql: build(&unnest, &references),
            inline_direct_sql: build(&unnest, &[]),
            insert_inline: format!("INSERT INTO {target} ({all}) SELECT * FROM {unnest}"),
            stage_insert: format!("INSERT INTO {stage} ({all}) SELECT * FROM {unnest}"),
            sql: build(&staged, &references),
            direct_sql: build(&staged, &[]),
            target,
            stage,
            references,
        })
    }

    /// The upsert to run once the staging table is filled; `resolve` is
    /// false when the id map is known to be empty.
    pub fn statement(&self, resolve: bool) -> &str {
        if resolve { &self.sql } else { &self.direct_sql }
    }

    /// The upsert of one batch bound as arrays; `resolve` as above.
    pub fn inline_statement(&self, resolve: bool) -> &str {
        if resolve {
            &self.inline_sql
        } else {
            &self.inline_direct_sql
        }
    }

    /// Encodes `batch` into `COPY`'s binary format, checking each row's
    /// shape and types.
    pub fn encode(&self, batch: &Batch) -> Result<EncodedBatch, SeedError> {
        let mut encoded = EncodedBatch::default();
        encode(self.table, self.columns, batch, &mut encoded)?;
        Ok(encoded)
    }
}

/// `"a", "b"` with every name quoted and prefixed.
fn list<'a>(names: impl IntoIterator<Item = &'a str>, prefix: &str) -> String {
    names
        .into_iter()
        .map(|name| format!("{prefix}{}", quote(name)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The upsert reading its rows from `source` (`<staging table> s`, or
/// `unnest(<arrays>) AS s(<columns>)`).
fn build_sql(
    target: &str,
    source: &str,
    columns: &[Column],
    conflict: &[&str],
    references: &[&str],
    present: Present,
) -> String {
    let names: Vec<&str> = columns.iter().map(|c| c.name).collect();
    let mut joins = String::new();
    let resolved = names
        .iter()
        .map(|name| {
            let column = quote(name);
            match references.iter().position(|r| r == name) {
                Some(index) => {
                    let map = format!("m{}", index + 1);
                    joins.push_str(&format!(
                        " LEFT JOIN {ID_MAP} {map} ON {map}.seed_id = s.{column}"
                    ));
                    format!("coalesce({map}.actual_id, s.{column}) AS {column}")
                }
                None => format!("s.{column}"),
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let key_match = conflict
        .iter()
        .map(|key| format!("e.{0} = seed.{0}", quote(key)))
        .collect::<Vec<_>>()
        .join(" AND ");
    let updatable: Vec<&str> = names
        .iter()
        .copied()
        .filter(|name| *name != "id" && !conflict.contains(name))
        .collect();
    let differs = if updatable.is_empty() {
        // Every seeded value is part of the key: a present row cannot differ.
        "false".to_owned()
    } else {
        format!(
            "({}) IS DISTINCT FROM ({})",
            list(updatable.iter().copied(), "e."),
            list(updatable.iter().copied(), "seed.")
        )
    };
    let update = match present {
        Present::Update if !updatable.is_empty() => {
            let set = updatable
                .iter()
                .map(|name| format!("{0} = m.{0}", quote(name)))
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                ", updated AS (UPDATE {target} AS t SET {set}, \"updated_at\" = now() \
                 FROM matched m WHERE t.\"id\" = m.existing_id AND m.differs RETURNING 1)"
            )
        }
        _ => String::new(),
    };
    let updated = if update.is_empty() {
        "0::int8"
    } else {
        "(SELECT count(*) FROM updated)"
    };
    let all = list(names.iter().copied(), "");
    format!(
        "WITH seed AS (SELECT {resolved} FROM {source}{joins}), \
         matched AS (SELECT seed.*, e.\"id\" AS existing_id, {differs} AS differs FROM seed \
         LEFT JOIN {target} e ON {key_match}), \
         adopted AS (INSERT INTO {ID_MAP} (seed_id, actual_id) \
         SELECT \"id\", existing_id FROM matched WHERE existing_id <> \"id\" \
         ON CONFLICT (seed_id) DO UPDATE SET actual_id = excluded.actual_id RETURNING 1){update}, \
         inserted AS (INSERT INTO {target} ({all}) SELECT {all} FROM matched WHERE existing_id IS NULL \
         ON CONFLICT DO NOTHING RETURNING 1) \
         SELECT (SELECT count(*) FROM inserted) AS inserted, {updated} AS updated, \
         count(*) FILTER (WHERE existing_id IS NOT NULL AND NOT differs) AS unchanged, \
         count(*) FILTER (WHERE existing_id IS NULL) AS absent, \
         (SELECT count(*) FROM adopted) AS adopted FROM matched"
    )
}

/// A double-quoted SQL identifier.
pub fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// Checks one row's shape and every value's type and range: what the
/// encoders below rely on.
fn validate(table: &str, columns: &[Column], index: usize, row: &[Cell]) -> Result<(), SeedError> {
    let invalid = |problem: String| SeedError::InvalidSeed {
        table: table.to_owned(),
        problem,
    };
    if row.len() != columns.len() {
        return Err(invalid(format!(
            "row {index} of a batch has {} values but the table seeds {} columns",
            row.len(),
            columns.len()
        )));
    }
    for (cell, column) in row.iter().zip(columns) {
        let out_of_range = |value: String| {
            invalid(format!(
                "row {index} of a batch has {value} in column `{}`, out of range for {}",
                column.name,
                column.ty.sql()
            ))
        };
        match (column.ty, cell) {
            (_, Cell::Null)
            | (SqlType::Uuid, Cell::Uuid(_))
            | (SqlType::BigInt, Cell::Int(_))
            | (SqlType::Boolean, Cell::Bool(_)) => {}
            (SqlType::Text, Cell::Text(text)) => {
                if text.contains('\0') {
                    return Err(invalid(format!(
                        "row {index} of a batch has a NUL character in column `{}`, which \
                         PostgreSQL text cannot store",
                        column.name
                    )));
                }
                if i32::try_from(text.len()).is_err() {
                    return Err(out_of_range(format!("{} bytes", text.len())));
                }
            }
            (SqlType::SmallInt, Cell::Int(int)) if i16::try_from(*int).is_err() => {
                return Err(out_of_range(int.to_string()));
            }
            (SqlType::Integer, Cell::Int(int)) if i32::try_from(*int).is_err() => {
                return Err(out_of_range(int.to_string()));
            }
            (SqlType::SmallInt | SqlType::Integer, Cell::Int(_)) => {}
            (SqlType::TimestampTz, Cell::Timestamp(at)) => {
                if pg_micros(at).is_none() {
                    return Err(out_of_range(at.to_string()));
                }
            }
            _ => {
                return Err(invalid(format!(
                    "row {index} of a batch has {cell:?} in column `{}`, which is {}",
                    column.name,
                    column.ty.sql()
                )));
            }
        }
    }
    Ok(())
}

/// Microseconds since PostgreSQL's epoch, whole ones like the text form's
/// six digits (`None` when out of range).
fn pg_micros(at: &DateTime<Utc>) -> Option<i64> {
    at.timestamp()
        .checked_mul(1_000_000)
        .and_then(|m| m.checked_add(i64::from(at.timestamp_subsec_micros())))
        .and_then(|m| m.checked_sub(PG_EPOCH_MICROS))
}

/// Appends `batch` to `out` as binary `COPY` tuples, checking every row's
/// shape and every value's type and range.
pub fn encode(
    table: &str,
    columns: &[Column],
    batch: &Batch,
    out: &mut EncodedBatch,
) -> Result<(), SeedError> {
    let fields = i16::try_from(columns.len()).map_err(|_| SeedError::InvalidSeed {
        table: table.to_owned(),
        problem: format!("it seeds {} columns", columns.len()),
    })?;
    let bytes = &mut out.bytes;
    bytes.reserve(batch.len() * (2 + columns.len() * 20));
    for (index, row) in batch.iter().enumerate() {
        validate(table, columns, index, row)?;
        bytes.extend_from_slice(&fields.to_be_bytes());
        for (cell, column) in row.iter().zip(columns) {
            // Validated above: every value fits its column's type.
            match (column.ty, cell) {
                (SqlType::Uuid, Cell::Uuid(uuid)) => field(bytes, uuid.as_bytes()),
                (SqlType::Text, Cell::Text(text)) => field(bytes, text.as_bytes()),
                (SqlType::SmallInt, Cell::Int(int)) => {
                    field(
                        bytes,
                        &i16::try_from(*int).unwrap_or_default().to_be_bytes(),
                    );
                }
                (SqlType::Integer, Cell::Int(int)) => {
                    field(
                        bytes,
                        &i32::try_from(*int).unwrap_or_default().to_be_bytes(),
                    );
                }
                (SqlType::BigInt, Cell::Int(int)) => field(bytes, &int.to_be_bytes()),
                (SqlType::Boolean, Cell::Bool(flag)) => field(bytes, &[u8::from(*flag)]),
                (SqlType::TimestampTz, Cell::Timestamp(at)) => {
                    field(bytes, &pg_micros(at).unwrap_or_default().to_be_bytes());
                }
                _ => bytes.extend_from_slice(&(-1_i32).to_be_bytes()),
            }
        }
    }
    out.rows += batch.len() as u64;
    Ok(())
}

/// One non-NULL field: its length (validated to fit), then its bytes.
fn field(bytes: &mut Vec<u8>, value: &[u8]) {
    bytes.extend_from_slice(&i32::try_from(value.len()).unwrap_or(i32::MAX).to_be_bytes());
    bytes.extend_from_slice(value);
}

/// One column of a batch as an array parameter (binary, NULLs included).
#[derive(Debug, Clone, PartialEq)]
pub enum Array {
    Uuid(Vec<Option<Uuid>>),
    Text(Vec<Option<String>>),
    SmallInt(Vec<Option<i16>>),
    Integer(Vec<Option<i32>>),
    BigInt(Vec<Option<i64>>),
    Boolean(Vec<Option<bool>>),
    TimestampTz(Vec<Option<DateTime<Utc>>>),
}

/// One batch as one array per column, for [`Upsert::inline_sql`] and
/// [`Upsert::insert_inline`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ArrayBatch {
    pub rows: u64,
    pub arrays: Vec<Array>,
}

/// Turns `batch` into one array per column, checking every row's shape and
/// every value's type and range (the same checks as [`encode`]).
pub fn encode_arrays(
    table: &str,
    columns: &[Column],
    batch: &Batch,
) -> Result<ArrayBatch, SeedError> {
    let rows = batch.len();
    let mut arrays: Vec<Array> = columns
        .iter()
        .map(|column| match column.ty {
            SqlType::Uuid => Array::Uuid(Vec::with_capacity(rows)),
            SqlType::Text => Array::Text(Vec::with_capacity(rows)),
            SqlType::SmallInt => Array::SmallInt(Vec::with_capacity(rows)),
            SqlType::Integer => Array::Integer(Vec::with_capacity(rows)),
            SqlType::BigInt => Array::BigInt(Vec::with_capacity(rows)),
            SqlType::Boolean => Array::Boolean(Vec::with_capacity(rows)),
            SqlType::TimestampTz => Array::TimestampTz(Vec::with_capacity(rows)),
        })
        .collect();
    for (index, row) in batch.iter().enumerate() {
        validate(table, columns, index, row)?;
        for (cell, array) in row.iter().zip(arrays.iter_mut()) {
            // Validated above: every value fits its column's array.
            match (array, cell) {
                (Array::Uuid(values), Cell::Uuid(uuid)) => values.push(Some(*uuid)),
                (Array::Uuid(values), _) => values.push(None),
                (Array::Text(values), Cell::Text(text)) => values.push(Some(text.clone())),
                (Array::Text(values), _) => values.push(None),
                (Array::SmallInt(values), Cell::Int(int)) => {
                    values.push(i16::try_from(*int).ok());
                }
                (Array::SmallInt(values), _) => values.push(None),
                (Array::Integer(values), Cell::Int(int)) => values.push(i32::try_from(*int).ok()),
                (Array::Integer(values), _) => values.push(None),
                (Array::BigInt(values), Cell::Int(int)) => values.push(Some(*int)),
                (Array::BigInt(values), _) => values.push(None),
                (Array::Boolean(values), Cell::Bool(flag)) => values.push(Some(*flag)),
                (Array::Boolean(values), _) => values.push(None),
                (Array::TimestampTz(values), Cell::Timestamp(at)) => values.push(Some(*at)),
                (Array::TimestampTz(values), _) => values.push(None),
            }
        }
    }
    Ok(ArrayBatch {
        rows: rows as u64,
        arrays,
    })
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use schema_core::seeding::{Ownership, TableSeed};
    use uuid::Uuid;

    use super::*;

    const ID: Column = Column::new("id", SqlType::Uuid);
    const ROLE_COLUMNS: &[Column] = &[
        ID,
        Column::new("key", SqlType::Text),
        Column::new("name", SqlType::Text),
    ];
    const LINK_COLUMNS: &[Column] = &[
        ID,
        Column::new("user_id", SqlType::Uuid),
        Column::new("role_id", SqlType::Uuid),
    ];
    const PROFILE_COLUMNS: &[Column] = &[
        ID,
        Column::new("user_id", SqlType::Uuid),
        Column::new("headline", SqlType::Text),
        Column::new("owner_id", SqlType::Uuid),
    ];
    const ODD_COLUMNS: &[Column] = &[
        ID,
        Column::new("we\"ird", SqlType::Text),
        Column::new("level", SqlType::SmallInt),
    ];

    fn table(
        name: &'static str,
        ownership: Ownership,
        columns: &'static [Column],
        conflict: &'static [&'static str],
    ) -> TableSeed {
        TableSeed::from_rows(name, ownership, columns, conflict, Vec::new())
    }

    struct Case {
        what: &'static str,
        table: TableSeed,
        foreign_keys: &'static [&'static str],
        overwrite: bool,
        present: Present,
        references: &'static [&'static str],
        contains: &'static [&'static str],
        lacks: &'static [&'static str],
    }

    fn cases() -> Vec<Case> {
        use Ownership::{Reference, Sample};
        vec![
            Case {
                what: "reference data: present rows that differ are updated",
                table: table("core.roles", Reference, ROLE_COLUMNS, &["key"]),
                foreign_keys: &[],
                overwrite: false,
                present: Present::Update,
                references: &[],
                contains: &[
                    "WITH seed AS (SELECT s.\"id\", s.\"key\", s.\"name\" FROM pg_temp.seed_stage_",
                    "LEFT JOIN \"core\".\"roles\" e ON e.\"key\" = seed.\"key\")",
                    "(e.\"name\") IS DISTINCT FROM (seed.\"name\") AS differs",
                    "UPDATE \"core\".\"roles\" AS t SET \"name\" = m.\"name\", \"updated_at\" = now() \
                     FROM matched m WHERE t.\"id\" = m.existing_id AND m.differs",
                    "(SELECT count(*) FROM updated) AS updated",
                    "INSERT INTO \"core\".\"roles\" (\"id\", \"key\", \"name\") SELECT \"id\", \"key\", \"name\" \
                     FROM matched WHERE existing_id IS NULL ON CONFLICT DO NOTHING",
                    "INSERT INTO pg_temp.seed_id_map (seed_id, actual_id) SELECT \"id\", existing_id \
                     FROM matched WHERE existing_id <> \"id\"",
                ],
                lacks: &["coalesce", "ON CONFLICT (\"key\")", "$1"],
            },
            Case {
                what: "sample data: present rows are left alone",
                table: table("core.roles", Sample, ROLE_COLUMNS, &["key"]),
                foreign_keys: &[],
                overwrite: false,
                present: Present::Keep,
                references: &[],
                contains: &[
                    "0::int8 AS updated",
                    "(e.\"name\") IS DISTINCT FROM (seed.\"name\") AS differs",
                    "ON CONFLICT DO NOTHING",
                ],
                lacks: &["UPDATE \"core\"", "updated AS ("],
            },
            Case {
                what: "sample data with --overwrite: updated like reference data",
                table: table("core.roles", Sample, ROLE_COLUMNS, &["key"]),
                foreign_keys: &[],
                overwrite: true,
                present: Present::Update,
                references: &[],
                contains: &["UPDATE \"core\".\"roles\" AS t SET \"name\" = m.\"name\""],
                lacks: &["0::int8 AS updated"],
            },
            Case {
                what: "every column in the key: nothing can differ, nothing to update",
                table: table(
                    "core.user_roles",
                    Reference,
                    LINK_COLUMNS,
                    &["user_id", "role_id"],
                ),
                foreign_keys: &["role_id", "user_id"],
                overwrite: true,
                present: Present::Update,
                references: &["user_id", "role_id"],
                contains: &[
                    "coalesce(m1.actual_id, s.\"user_id\") AS \"user_id\"",
                    "coalesce(m2.actual_id, s.\"role_id\") AS \"role_id\"",
                    "LEFT JOIN pg_temp.seed_id_map m1 ON m1.seed_id = s.\"user_id\" \
                     LEFT JOIN pg_temp.seed_id_map m2 ON m2.seed_id = s.\"role_id\")",
                    "LEFT JOIN \"core\".\"user_roles\" e ON e.\"user_id\" = seed.\"user_id\" \
                     AND e.\"role_id\" = seed.\"role_id\")",
                    "false AS differs",
                    "0::int8 AS updated",
                ],
                lacks: &["updated AS (", "UPDATE \"core\"", "IS DISTINCT FROM"],
            },
            Case {
                what: "only seeded uuid columns that are foreign keys are resolved",
                table: table("talent.profiles", Sample, PROFILE_COLUMNS, &["user_id"]),
                foreign_keys: &["user_id", "headline", "not_seeded", "id"],
                overwrite: false,
                present: Present::Keep,
                references: &["user_id"],
                contains: &[
                    "SELECT s.\"id\", coalesce(m1.actual_id, s.\"user_id\") AS \"user_id\", \
                     s.\"headline\", s.\"owner_id\" FROM pg_temp.seed_stage_",
                    "(e.\"headline\", e.\"owner_id\") IS DISTINCT FROM (seed.\"headline\", seed.\"owner_id\")",
                ],
                lacks: &[
                    "m.seed_id = s.\"headline\"",
                    "seed_id = s.\"owner_id\"",
                    "seed_id = s.\"id\"",
                    "m2",
                ],
            },
            Case {
                what: "identifiers are quoted",
                table: table("odd.ta\"ble", Reference, ODD_COLUMNS, &["we\"ird"]),
                foreign_keys: &[],
                overwrite: false,
                present: Present::Update,
                references: &[],
                contains: &[
                    "\"odd\".\"ta\"\"ble\"",
                    "e.\"we\"\"ird\" = seed.\"we\"\"ird\"",
                ],
                lacks: &[],
            },
        ]
    }

    #[test]
    fn upsert_sql_table() {
        for case in cases() {
            let foreign_keys: Vec<String> =
                case.foreign_keys.iter().map(|s| (*s).to_owned()).collect();
            let upsert = Upsert::new(&case.table, &foreign_keys, case.overwrite)
                .unwrap_or_else(|err| panic!("{}: {err}", case.what));
            assert_eq!(upsert.present, case.present, "{}", case.what);
            assert_eq!(upsert.references, case.references, "{}", case.what);
            for piece in case.contains {
                assert!(
                    upsert.sql.contains(piece),
                    "{}: `{piece}` missing from\n{}",
                    case.what,
                    upsert.sql
                );
            }
            for piece in case.lacks {
                assert!(
                    !upsert.sql.contains(piece),
                    "{}: `{piece}` in\n{}",
                    case.what,
                    upsert.sql
                );
            }
            assert!(!upsert.direct_sql.contains("coalesce"), "{}", case.what);
            assert_eq!(
                upsert.direct_sql == upsert.sql,
                case.references.is_empty(),
                "{}",
                case.what
            );
            // Everything reads the staging table: no bind parameters at all.
            assert!(!upsert.sql.contains('$'), "{}", case.what);
            assert!(
                upsert.sql.contains(&format!("FROM {} s", upsert.stage)),
                "{}",
                case.what
            );
            // Small tables: one array parameter per column, whatever the batch size.
            let parameters = (1..=case.table.columns.len() + 1)
                .filter(|n| upsert.inline_sql.contains(&format!("${n}::")))
                .count();
            assert_eq!(parameters, case.table.columns.len(), "{}", case.what);
            assert!(upsert.inline_sql.contains(") AS s("), "{}", case.what);
            assert!(
                upsert.insert_inline.starts_with("INSERT INTO "),
                "{}",
                case.what
            );
            assert!(upsert.copy.starts_with(&format!("COPY {} (", upsert.stage)));
            assert!(upsert.copy.ends_with(") FROM STDIN (FORMAT binary)"));
        }
    }

    #[test]
    fn staging_tables_are_temporary_typed_and_unique() {
        let odd = Upsert::for_table(&table(
            "odd.ta\"ble",
            Ownership::Reference,
            ODD_COLUMNS,
            &["we\"ird"],
        ))
        .unwrap();
        let stage = odd.stage.strip_prefix("pg_temp.").unwrap();
        assert_eq!(
            odd.create_stage,
            format!(
                "CREATE TEMPORARY TABLE {stage} (\"id\" uuid, \"we\"\"ird\" text, \"level\" smallint) \
                 ON COMMIT DROP"
            )
        );
        assert_eq!(
            odd.copy,
            format!(
                "COPY pg_temp.{stage} (\"id\", \"we\"\"ird\", \"level\") FROM STDIN (FORMAT binary)"
            )
        );
        let again = Upsert::for_table(&table(
            "odd.ta\"ble",
            Ownership::Reference,
            ODD_COLUMNS,
            &["we\"ird"],
        ))
        .unwrap();
        assert_ne!(odd.stage, again.stage);
    }

    #[test]
    fn invalid_seeds_table() {
        const NO_ID: &[Column] = &[Column::new("key", SqlType::Text)];
        const TEXT_ID: &[Column] = &[Column::new("id", SqlType::Text)];
        const TWICE: &[Column] = &[
            ID,
            Column::new("key", SqlType::Text),
            Column::new("key", SqlType::Text),
        ];
        const BOOKKEEPING_COLUMN: &[Column] = &[
            ID,
            Column::new("key", SqlType::Text),
            Column::new("updated_at", SqlType::TimestampTz),
        ];
        use Ownership::Sample;
        let cases: Vec<(TableSeed, &str)> = vec![
            (
                table("roles", Sample, ROLE_COLUMNS, &["key"]),
                "must be schema-qualified",
            ),
            (
                table("core.roles", Sample, NO_ID, &["key"]),
                "first column must be `id` of type uuid",
            ),
            (
                table("core.roles", Sample, TEXT_ID, &["id"]),
                "first column must be `id` of type uuid",
            ),
            (
                table("core.roles", Sample, TWICE, &["key"]),
                "column `key` is listed twice",
            ),
            (
                table("core.roles", Sample, BOOKKEEPING_COLUMN, &["key"]),
                "column `updated_at` is bookkeeping",
            ),
            (
                table("core.roles", Sample, ROLE_COLUMNS, &[]),
                "declares no natural key",
            ),
            (
                table("core.roles", Sample, ROLE_COLUMNS, &["slug"]),
                "natural-key column `slug` is not one of the seeded columns",
            ),
            (
                table("core.roles", Sample, ROLE_COLUMNS, &["id"]),
                "the natural key cannot include `id`",
            ),
        ];
        for (seed, piece) in cases {
            let err = Upsert::new(&seed, &[], false).unwrap_err();
            assert!(
                matches!(err, SeedError::InvalidSeed { .. }) && err.to_string().contains(piece),
                "{}: expected `{piece}`, got: {err}",
                seed.table
            );
            assert_eq!(err.exit(), migration_runner::Exit::Refused);
        }
    }

    /// The binary tuples, field by field (the database round trip of tricky
    /// values is tested against a real server in `tests/seeder.rs`).
    #[test]
    fn encoding_table() {
        const ALL: &[Column] = &[
            ID,
            Column::new("text", SqlType::Text),
            Column::new("small", SqlType::SmallInt),
            Column::new("int", SqlType::Integer),
            Column::new("big", SqlType::BigInt),
            Column::new("flag", SqlType::Boolean),
            Column::new("at", SqlType::TimestampTz),
        ];
        let at: DateTime<Utc> = DateTime::from_timestamp(946_684_801, 123_456_789).unwrap();
        let id = Uuid::from_u128(1);
        let row = vec![
            id.into(),
            "a\t\"b\"\\\n".into(),
            (-2_i16).into(),
            7_i32.into(),
            (-1_i64).into(),
            true.into(),
            at.into(),
        ];
        let mut fixed = vec![0, 7, 0, 0, 0, 16];
        fixed.extend(id.as_bytes());
        fixed.extend([0, 0, 0, 7]);
        fixed.extend(b"a\t\"b\"\\\n");
        fixed.extend([0, 0, 0, 2, 0xff, 0xfe]);
        fixed.extend([0, 0, 0, 4, 0, 0, 0, 7]);
        fixed.extend([0, 0, 0, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        fixed.extend([0, 0, 0, 1, 1]);
        // One second and 123,456 microseconds after 2000-01-01 (nanoseconds cut).
        fixed.extend([0, 0, 0, 8]);
        fixed.extend(1_123_456_i64.to_be_bytes());
        let encoded = encode_one(ALL, row);
        assert_eq!(encoded.rows, 1);
        assert_eq!(encoded.bytes, fixed);

        let nulls = encode_one(
            ALL,
            vec![
                id.into(),
                Cell::Null,
                Cell::Null,
                Cell::Null,
                Cell::Null,
                Cell::Null,
                Cell::Null,
            ],
        );
        assert_eq!(&nulls.bytes[22..], [0xff; 24]);
        let empty = encode_one(&ALL[..2], vec![id.into(), "".into()]);
        assert_eq!(&empty.bytes[22..], [0, 0, 0, 0]);

        let two = Upsert::for_table(&table("t.t", Ownership::Sample, &ALL[..2], &["text"]))
            .unwrap()
            .encode(&vec![
                vec![id.into(), "a".into()],
                vec![id.into(), Cell::Null],
            ])
            .unwrap();
        assert_eq!(two.rows, 2);
        assert_eq!(two.bytes.len(), 2 * (2 + 4 + 16) + 5 + 4);

        let refused = |columns: &[Column], row: Vec<Cell>| {
            let mut out = EncodedBatch::default();
            encode("t.t", columns, &vec![row], &mut out)
                .unwrap_err()
                .to_string()
        };
        for (message, piece) in [
            (
                refused(ALL, vec![id.into()]),
                "has 1 values but the table seeds 7 columns",
            ),
            (
                refused(&ALL[..2], vec![id.into(), 3_i32.into()]),
                "in column `text`, which is text",
            ),
            (
                refused(&ALL[..3], vec![id.into(), Cell::Null, 40_000_i32.into()]),
                "has 40000 in column `small`, out of range for smallint",
            ),
            (
                refused(
                    &ALL[..4],
                    vec![id.into(), Cell::Null, Cell::Null, (1_i64 << 40).into()],
                ),
                "out of range for integer",
            ),
            (
                refused(&ALL[..2], vec![id.into(), "a\0b".into()]),
                "a NUL character in column `text`",
            ),
        ] {
            assert!(message.contains(piece), "`{piece}` missing from: {message}");
        }
    }

    #[test]
    fn array_encoding_checks_like_copy() {
        const COLUMNS: &[Column] = &[
            ID,
            Column::new("text", SqlType::Text),
            Column::new("small", SqlType::SmallInt),
            Column::new("at", SqlType::TimestampTz),
        ];
        let id = Uuid::from_u128(7);
        let at: DateTime<Utc> = DateTime::from_timestamp(1, 0).unwrap();
        let batch = vec![
            vec![id.into(), "a\tb".into(), 3_i16.into(), at.into()],
            vec![id.into(), Cell::Null, Cell::Null, Cell::Null],
        ];
        let arrays = encode_arrays("t.t", COLUMNS, &batch).unwrap();
        assert_eq!(arrays.rows, 2);
        assert_eq!(
            arrays.arrays,
            vec![
                Array::Uuid(vec![Some(id), Some(id)]),
                Array::Text(vec![Some("a\tb".to_owned()), None]),
                Array::SmallInt(vec![Some(3), None]),
                Array::TimestampTz(vec![Some(at), None]),
            ]
        );
        for (row, piece) in [
            (
                vec![id.into(), Cell::Null, 70_000_i32.into(), Cell::Null],
                "out of range for smallint",
            ),
            (
                vec![id.into(), "nul\0".into(), Cell::Null, Cell::Null],
                "NUL character",
            ),
            (
                vec![id.into()],
                "has 1 values but the table seeds 4 columns",
            ),
            (
                vec![id.into(), true.into(), Cell::Null, Cell::Null],
                "in column `text`, which is text",
            ),
        ] {
            let err = encode_arrays("t.t", COLUMNS, &vec![row]).unwrap_err();
            assert!(
                err.to_string().contains(piece),
                "`{piece}` missing from: {err}"
            );
        }
    }

    fn encode_one(columns: &[Column], row: Vec<Cell>) -> EncodedBatch {
        let mut out = EncodedBatch::default();
        encode("t.t", columns, &vec![row], &mut out).unwrap();
        out
    }
}
