//! The upsert statement for one table, and the encoding of a batch into its
//! parameters.
//!
//! One statement per batch (here `core.user_roles`, sample data, whose
//! `user_id` and `role_id` are foreign keys):
//!
//! ```text
//! WITH seed AS (                         -- the batch, references resolved
//!   SELECT s."id",
//!          coalesce((SELECT m.actual_id FROM pg_temp.seed_id_map m WHERE m.seed_id = s."user_id"), s."user_id") AS "user_id",
//!          coalesce((SELECT m.actual_id FROM pg_temp.seed_id_map m WHERE m.seed_id = s."role_id"), s."role_id") AS "role_id"
//!   FROM unnest($1::uuid[], $2::uuid[], $3::uuid[]) AS s("id", "user_id", "role_id")
//! ), matched AS (                        -- the row already there with the same natural key, if any
//!   SELECT seed.*, e.id AS existing_id, (e.values) IS DISTINCT FROM (seed.values) AS differs
//!   FROM seed LEFT JOIN LATERAL (SELECT t.* FROM "core"."user_roles" t
//!                                WHERE t."user_id" = seed."user_id" AND t."role_id" = seed."role_id" LIMIT 1) e ON true
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
//!   reference data (and with `--overwrite`); sample data leaves it alone.
//! - **Never collide**: an absent row whose id (or another unique value) is
//!   already taken, typically a seeded row whose natural key was edited by
//!   hand, is skipped and reported, never a primary-key error.
//!
//! Counts: unchanged = present and equal; left alone = batch − inserted −
//! updated − unchanged (present and different but not overwritten, plus the
//! skipped). Each column travels as ONE array parameter, whatever the batch
//! size, far below PostgreSQL's 65,535 bind-parameter limit; the arrays are
//! sent in PostgreSQL's text array format (`{"a",NULL}`) because sea-query's
//! array values cannot carry NULL elements. The natural-key lookup is a
//! `LATERAL … LIMIT 1` so it is always an index probe per row, never a scan
//! of a large table per batch.

use std::fmt::Write as _;

use schema_core::seeding::{Batch, Cell, Column, Ownership, SqlType, TableSeed};
use sea_orm::{DbBackend, Statement, Value};

use crate::error::SeedError;

/// Columns the seeder manages itself: never seeded, never compared.
const BOOKKEEPING: &[&str] = &["created_at", "updated_at"];

/// The session's map from seed ids to the ids of rows that were already
/// there under the same natural key (see [`crate::run`]).
pub const ID_MAP: &str = "pg_temp.seed_id_map";

/// The statement that creates [`ID_MAP`] for the session (if needed).
pub const CREATE_ID_MAP: &str = "CREATE TEMPORARY TABLE IF NOT EXISTS seed_id_map \
     (seed_id uuid PRIMARY KEY, actual_id uuid NOT NULL)";

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

/// The statement for one table; bind an [`EncodedBatch`] to run it.
#[derive(Debug, Clone)]
pub struct Upsert {
    pub table: &'static str,
    pub columns: &'static [Column],
    pub present: Present,
    /// The seeded columns resolved through [`ID_MAP`] (its foreign keys).
    pub references: Vec<&'static str>,
    pub sql: String,
    /// The same statement without resolving references, for when the id map
    /// is empty (nothing was found under another id so far in the run: the
    /// usual case), which spares a lookup per reference per row.
    pub direct_sql: String,
}

/// One batch as the statement's parameters.
#[derive(Debug, Clone)]
pub struct EncodedBatch {
    pub rows: u64,
    pub arrays: Vec<String>,
}

/// What one statement did to its batch.
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
    /// Validates the table's description and builds its statement as its
    /// ownership says, without foreign keys to resolve.
    pub fn for_table(table: &TableSeed) -> Result<Self, SeedError> {
        Self::new(table, &[], false)
    }

    /// Validates the table's description and builds its statement:
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
        Ok(Self {
            table: table.table,
            columns: table.columns,
            present,
            sql: build_sql(
                schema,
                name,
                table.columns,
                table.conflict,
                &references,
                present,
            ),
            direct_sql: build_sql(schema, name, table.columns, table.conflict, &[], present),
            references,
        })
    }

    /// The statement with `batch`'s parameters bound; `resolve` is false
    /// when the id map is known to be empty.
    pub fn statement(&self, batch: EncodedBatch, resolve: bool) -> Statement {
        let sql = if resolve { &self.sql } else { &self.direct_sql };
        Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql.clone(),
            batch.arrays.into_iter().map(Value::from),
        )
    }

    /// Encodes `batch` column by column, checking each row's shape and types.
    pub fn encode(&self, batch: &Batch) -> Result<EncodedBatch, SeedError> {
        encode(self.table, self.columns, batch)
    }
}

fn build_sql(
    schema: &str,
    table: &str,
    columns: &[Column],
    conflict: &[&str],
    references: &[&str],
    present: Present,
) -> String {
    let target = format!("{}.{}", quote(schema), quote(table));
    let list = |names: &[&str], prefix: &str| {
        names
            .iter()
            .map(|name| format!("{prefix}{}", quote(name)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let names: Vec<&str> = columns.iter().map(|c| c.name).collect();
    let arrays = columns
        .iter()
        .enumerate()
        .map(|(index, column)| format!("${}::{}[]", index + 1, column.ty.sql()))
        .collect::<Vec<_>>()
        .join(", ");
    let resolved = names
        .iter()
        .map(|name| {
            let column = quote(name);
            if references.contains(name) {
                format!(
                    "coalesce((SELECT m.actual_id FROM {ID_MAP} m WHERE m.seed_id = s.{column}), \
                     s.{column}) AS {column}"
                )
            } else {
                format!("s.{column}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let key_match = conflict
        .iter()
        .map(|key| format!("t.{0} = seed.{0}", quote(key)))
        .collect::<Vec<_>>()
        .join(" AND ");
    let updatable: Vec<&str> = names
        .iter()
        .copied()
        .filter(|name| *name != "id" && !conflict.contains(name))
        .collect();
    let (existing, differs) = if updatable.is_empty() {
        // Every seeded value is part of the key: a present row cannot differ.
        ("t.\"id\"".to_owned(), "false".to_owned())
    } else {
        (
            format!("t.\"id\", {}", list(&updatable, "t.")),
            format!(
                "({}) IS DISTINCT FROM ({})",
                list(&updatable, "e."),
                list(&updatable, "seed.")
            ),
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
    let all = list(&names, "");
    format!(
        "WITH seed AS (SELECT {resolved} FROM unnest({arrays}) AS s({all})), \
         matched AS (SELECT seed.*, e.\"id\" AS existing_id, {differs} AS differs FROM seed \
         LEFT JOIN LATERAL (SELECT {existing} FROM {target} t WHERE {key_match} LIMIT 1) e ON true), \
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

/// Turns rows into one PostgreSQL text-format array per column.
pub fn encode(table: &str, columns: &[Column], batch: &Batch) -> Result<EncodedBatch, SeedError> {
    let mut arrays: Vec<String> = columns
        .iter()
        .map(|_| {
            let mut array = String::with_capacity(batch.len() * 16 + 2);
            array.push('{');
            array
        })
        .collect();
    for (index, row) in batch.iter().enumerate() {
        if row.len() != columns.len() {
            return Err(SeedError::InvalidSeed {
                table: table.to_owned(),
                problem: format!(
                    "row {index} of a batch has {} values but the table seeds {} columns",
                    row.len(),
                    columns.len()
                ),
            });
        }
        for ((cell, column), array) in row.iter().zip(columns).zip(arrays.iter_mut()) {
            if !column.ty.accepts(cell) {
                return Err(SeedError::InvalidSeed {
                    table: table.to_owned(),
                    problem: format!(
                        "row {index} of a batch has {cell:?} in column `{}`, which is {}",
                        column.name,
                        column.ty.sql()
                    ),
                });
            }
            if index > 0 {
                array.push(',');
            }
            push_element(array, cell);
        }
    }
    for array in &mut arrays {
        array.push('}');
    }
    Ok(EncodedBatch {
        rows: batch.len() as u64,
        arrays,
    })
}

/// Appends one array element: `NULL`, or the value double-quoted with `"`
/// and `\` escaped, which is safe for every type's text input.
fn push_element(array: &mut String, cell: &Cell) {
    match cell {
        Cell::Null => array.push_str("NULL"),
        Cell::Text(text) => {
            array.push('"');
            for c in text.chars() {
                if c == '"' || c == '\\' {
                    array.push('\\');
                }
                array.push(c);
            }
            array.push('"');
        }
        // None of these can contain a quote or a backslash.
        Cell::Uuid(uuid) => {
            let _ = write!(array, "\"{}\"", uuid.hyphenated());
        }
        Cell::Int(int) => {
            let _ = write!(array, "\"{int}\"");
        }
        Cell::Bool(flag) => array.push_str(if *flag { "\"t\"" } else { "\"f\"" }),
        Cell::Timestamp(at) => {
            let _ = write!(array, "\"{}\"", at.format("%Y-%m-%dT%H:%M:%S%.6fZ"));
        }
    }
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
                    "FROM unnest($1::uuid[], $2::text[], $3::text[]) AS s(\"id\", \"key\", \"name\")",
                    "SELECT s.\"id\", s.\"key\", s.\"name\" FROM unnest",
                    "LEFT JOIN LATERAL (SELECT t.\"id\", t.\"name\" FROM \"core\".\"roles\" t \
                     WHERE t.\"key\" = seed.\"key\" LIMIT 1) e ON true",
                    "(e.\"name\") IS DISTINCT FROM (seed.\"name\") AS differs",
                    "UPDATE \"core\".\"roles\" AS t SET \"name\" = m.\"name\", \"updated_at\" = now() \
                     FROM matched m WHERE t.\"id\" = m.existing_id AND m.differs",
                    "(SELECT count(*) FROM updated) AS updated",
                    "INSERT INTO \"core\".\"roles\" (\"id\", \"key\", \"name\") SELECT \"id\", \"key\", \"name\" \
                     FROM matched WHERE existing_id IS NULL ON CONFLICT DO NOTHING",
                    "INSERT INTO pg_temp.seed_id_map (seed_id, actual_id) SELECT \"id\", existing_id \
                     FROM matched WHERE existing_id <> \"id\"",
                ],
                lacks: &["coalesce", "ON CONFLICT (\"key\")"],
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
                    "coalesce((SELECT m.actual_id FROM pg_temp.seed_id_map m WHERE m.seed_id = s.\"user_id\"), \
                     s.\"user_id\") AS \"user_id\"",
                    "coalesce((SELECT m.actual_id FROM pg_temp.seed_id_map m WHERE m.seed_id = s.\"role_id\"), \
                     s.\"role_id\") AS \"role_id\"",
                    "(SELECT t.\"id\" FROM \"core\".\"user_roles\" t \
                     WHERE t.\"user_id\" = seed.\"user_id\" AND t.\"role_id\" = seed.\"role_id\" LIMIT 1)",
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
                    "s.\"id\", coalesce((SELECT m.actual_id FROM pg_temp.seed_id_map m \
                     WHERE m.seed_id = s.\"user_id\"), s.\"user_id\") AS \"user_id\", s.\"headline\", s.\"owner_id\"",
                    "(e.\"headline\", e.\"owner_id\") IS DISTINCT FROM (seed.\"headline\", seed.\"owner_id\")",
                ],
                lacks: &[
                    "m.seed_id = s.\"headline\"",
                    "m.seed_id = s.\"owner_id\"",
                    "m.seed_id = s.\"id\"",
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
                    "t.\"we\"\"ird\" = seed.\"we\"\"ird\"",
                    "$3::smallint[]",
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
            // One bind parameter per column, whatever the batch size.
            let parameters = (1..=case.table.columns.len() + 1)
                .filter(|n| upsert.sql.contains(&format!("${n}::")))
                .count();
            assert_eq!(parameters, case.table.columns.len(), "{}", case.what);
        }
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

    #[test]
    fn encoding_table() {
        const ALL: &[Column] = &[
            ID,
            Column::new("text", SqlType::Text),
            Column::new("int", SqlType::Integer),
            Column::new("flag", SqlType::Boolean),
            Column::new("at", SqlType::TimestampTz),
        ];
        let at: DateTime<Utc> = DateTime::from_timestamp(1_736_154_000, 123_456_000).unwrap();
        let id = Uuid::from_u128(1);
        let cases: Vec<(Vec<Cell>, [&str; 5])> = vec![
            (
                vec![
                    id.into(),
                    "plain".into(),
                    7_i32.into(),
                    true.into(),
                    at.into(),
                ],
                [
                    "{\"00000000-0000-0000-0000-000000000001\"}",
                    "{\"plain\"}",
                    "{\"7\"}",
                    "{\"t\"}",
                    "{\"2025-01-06T09:00:00.123456Z\"}",
                ],
            ),
            (
                vec![
                    id.into(),
                    r#"a "quoted" \ {braced}, NULL"#.into(),
                    (-1_i64).into(),
                    false.into(),
                    Cell::Null,
                ],
                [
                    "{\"00000000-0000-0000-0000-000000000001\"}",
                    r#"{"a \"quoted\" \\ {braced}, NULL"}"#,
                    "{\"-1\"}",
                    "{\"f\"}",
                    "{NULL}",
                ],
            ),
            (
                vec![id.into(), "".into(), Cell::Null, Cell::Null, Cell::Null],
                [
                    "{\"00000000-0000-0000-0000-000000000001\"}",
                    "{\"\"}",
                    "{NULL}",
                    "{NULL}",
                    "{NULL}",
                ],
            ),
        ];
        for (row, expected) in cases {
            let encoded = encode("t.t", ALL, &vec![row.clone()]).unwrap();
            assert_eq!(encoded.rows, 1);
            assert_eq!(encoded.arrays, expected, "{row:?}");
        }
        let two = encode(
            "t.t",
            &ALL[..2],
            &vec![vec![id.into(), "a".into()], vec![id.into(), Cell::Null]],
        )
        .unwrap();
        assert_eq!(two.rows, 2);
        assert_eq!(two.arrays[1], "{\"a\",NULL}");
        let empty = encode("t.t", ALL, &Vec::new()).unwrap();
        assert_eq!((empty.rows, empty.arrays[0].as_str()), (0, "{}"));

        let short = encode("t.t", ALL, &vec![vec![id.into()]]).unwrap_err();
        assert!(
            short
                .to_string()
                .contains("has 1 values but the table seeds 5 columns"),
            "{short}"
        );
        let mistyped = encode("t.t", &ALL[..2], &vec![vec![id.into(), 3_i32.into()]]).unwrap_err();
        assert!(
            mistyped
                .to_string()
                .contains("in column `text`, which is text"),
            "{mistyped}"
        );
    }
}
