//! Running the seeds: one transaction per schema, in dependency order, each
//! table streamed into a staging table with binary `COPY` and moved into
//! place with one set-based upsert, all on ONE session.
//!
//! - The session holds `pg_temp.seed_id_map` (seed id → id of the row that
//!   was already there under the same natural key), filled as tables are
//!   seeded and read by every later foreign-key column, so references follow
//!   rows made outside the seeder (see [`crate::upsert`]). It and the staging
//!   tables (temporary, dropped when their transaction ends) are the seeder's
//!   only DDL, private to the session.
//! - A schema's transaction takes a transaction-level advisory lock first, so
//!   concurrent seeders take turns per schema: the second one waits, then
//!   finds every row unchanged.
//! - A failure rolls back only the schema being seeded (its staging tables
//!   with it); the schemas before it stay committed and a rerun finishes the
//!   job.
//! - A dry run does the same work inside one outer transaction (each schema
//!   in a savepoint, so later schemas see earlier ones' rows) and rolls it
//!   back at the end.
//! - Batches are generated and encoded on a blocking thread while the
//!   previous batch is on its way to the database, through a channel of two
//!   batches, so memory stays flat whatever the scale.
//! - `COPY` needs the driver's own connection: the seeding phase takes the
//!   session's one connection out of its pool (`sqlx`, under SeaORM) and
//!   issues every statement of the transactions on it.

use std::time::{Duration, Instant};

use migration_runner::Session;
use schema_core::seeding::{Batch, Column, Profile, SchemaSeed, TableSeed};
use std::sync::Arc;

use sea_orm::sqlx::pool::PoolConnection;
use sea_orm::sqlx::postgres::{PgArguments, PgConnection, Postgres};
use sea_orm::sqlx::{self, AssertSqlSafe, Row as _};
use sea_orm::{DatabaseConnection, DbErr, RuntimeErr};
use tokio::sync::mpsc;

use crate::error::SeedError;
use crate::report::{self, Counts, SeedReport, TableReport};
use crate::upsert::{
    self, Array, ArrayBatch, COPY_HEADER, COPY_TRAILER, EncodedBatch, Outcome, Upsert,
};
use crate::{foreign_keys, migrations, order};

/// The advisory lock every seeder takes per schema transaction (distinct
/// from the migration runner's). ASCII "seeder!!".
pub const LOCK_KEY: i64 = 0x7365_6564_6572_2121;

/// Set in each schema's transaction: the upserts' hash joins over whole
/// tables stay in memory instead of spilling to disk in batches.
const WORK_MEM: &str = "SET LOCAL work_mem = '64MB'";

/// Batches generated ahead of the one being written.
const PIPELINE_DEPTH: usize = 2;

/// How to run the seeds.
#[derive(Debug, Clone)]
pub struct SeedOptions {
    pub profile: Profile,
    /// Seed only this schema and the schemas it depends on.
    pub schema: Option<String>,
    /// Do everything, then roll it all back; the report says what would change.
    pub dry_run: bool,
    /// Refuse to run while migrations are pending (on by default).
    pub check_migrations: bool,
    /// Show progress bars on stderr for large tables (when it is a terminal).
    pub progress: bool,
    /// Reset present sample rows that differ to the seed's values (reference
    /// data is always kept equal to the code).
    pub overwrite: bool,
    /// A table that is not empty and estimated at more rows than this is
    /// staged with binary `COPY`; a smaller one with array parameters, one
    /// statement per batch ([`COPY_FROM_ROWS`] by default).
    pub copy_from_rows: u64,
}

/// Below this many rows, staging a table with array parameters beats
/// `COPY`: each `COPY` ends with two writes in a row, and over TCP the
/// second waits for the server's delayed ACK (about 40 ms; sqlx does not set
/// `TCP_NODELAY`), more than arrays cost over this many rows.
pub const COPY_FROM_ROWS: u64 = 250_000;

impl Default for SeedOptions {
    fn default() -> Self {
        Self {
            profile: Profile::Demo,
            schema: None,
            dry_run: false,
            check_migrations: true,
            progress: false,
            overwrite: false,
            copy_from_rows: COPY_FROM_ROWS,
        }
    }
}

/// Runs a set of schema seeds against one database, on one session.
pub struct Seeder {
    session: Session,
    db: DatabaseConnection,
    seeds: Vec<Box<dyn SchemaSeed>>,
}

impl std::fmt::Debug for Seeder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Seeder")
            .field(
                "schemas",
                &self.seeds.iter().map(|s| s.schema()).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Seeder {
    /// Runs on `session` (the runner's one-connection session: the id map
    /// and the locks live in it). Refuses seeds whose dependencies are
    /// unknown or cyclic, before anything touches the database.
    pub fn new(session: Session, seeds: Vec<Box<dyn SchemaSeed>>) -> Result<Self, SeedError> {
        order::resolve(&seeds, None)?;
        Ok(Self {
            db: session.connection().clone(),
            session,
            seeds,
        })
    }

    /// Opens the seeder's one session (a temp table or a lock taken in it is
    /// seen by every later statement of the run).
    pub async fn connect(
        database_url: &str,
        seeds: Vec<Box<dyn SchemaSeed>>,
    ) -> Result<Self, SeedError> {
        let session = migration_runner::connect(database_url, "seeder").await?;
        Self::new(session, seeds)
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The schemas in the order they are seeded (all of them, or `schema`
    /// and its dependencies).
    pub fn order(&self, schema: Option<&str>) -> Result<Vec<&'static str>, SeedError> {
        Ok(order::resolve(&self.seeds, schema)?
            .into_iter()
            .map(|index| self.seeds[index].schema())
            .collect())
    }

    /// Ends the session.
    pub async fn close(self) -> Result<(), SeedError> {
        self.session
            .close()
            .await
            .map_err(SeedError::database("closing the seeder's session"))
    }

    /// Seeds every schema (or `options.schema` and its dependencies).
    pub async fn run(&self, options: &SeedOptions) -> Result<SeedReport, SeedError> {
        let started = Instant::now();
        let order = order::resolve(&self.seeds, options.schema.as_deref())?;
        if options.check_migrations {
            migrations::ensure_applied(&self.session).await?;
        }
        foreign_keys::check(&self.db, &self.seeds, &order).await?;
        let schemas: Vec<&str> = order.iter().map(|&i| self.seeds[i].schema()).collect();
        let references = foreign_keys::columns(&self.db, &schemas).await?;

        // Describe and validate every table before writing anything.
        let mut plan = Vec::with_capacity(order.len());
        let mut empty = Vec::new();
        for &index in &order {
            let seed = &self.seeds[index];
            let schema = seed.schema();
            let mut tables = Vec::new();
            for table in seed.tables(&options.profile) {
                if table.schema() != schema {
                    return Err(SeedError::ForeignTable {
                        schema: schema.to_owned(),
                        table: table.table.to_owned(),
                    });
                }
                let foreign_keys = references.get(table.table).map_or(&[][..], Vec::as_slice);
                let statement = Upsert::new(&table, foreign_keys, options.overwrite)?;
                tables.push((table, statement));
            }
            if tables.is_empty() {
                // Nothing for this profile: no transaction, and not reported as seeded.
                empty.push(schema.to_owned());
            } else {
                plan.push((schema, tables));
            }
        }

        let seeded: Vec<(&'static str, schema_core::seeding::Ownership)> = plan
            .iter()
            .flat_map(|(_, tables)| {
                tables
                    .iter()
                    .map(|(table, _)| (table.table, table.ownership))
            })
            .collect();
        crate::privileges::check(&self.db, &seeded, options.overwrite).await?;

        let mut report = SeedReport {
            profile: options.profile,
            dry_run: options.dry_run,
            overwrite: options.overwrite,
            schemas: Vec::with_capacity(plan.len()),
            empty,
            tables: Vec::new(),
            elapsed: Duration::ZERO,
        };
        // The session's one connection, out of its pool until the end of the
        // run (every statement below goes through it).
        let mut conn = RunConnection {
            conn: self
                .db
                .get_postgres_connection_pool()
                .acquire()
                .await
                .map_err(|err| SeedError::Database {
                    context: "taking the seeder's session for the run".to_owned(),
                    source: db_err(err),
                })?,
            settled: false,
        };
        let seeded = seed_schemas(&mut conn.conn, plan, options, &mut report).await;
        // On error, best effort: the error that caused it is the one to
        // report. A connection that cannot even roll back stays unsettled
        // and is closed, never handed out again inside a transaction.
        conn.settled = seeded.is_ok() || execute(&mut conn.conn, "ROLLBACK").await.is_ok();
        drop(conn);
        seeded?;
        report.elapsed = started.elapsed();
        Ok(report)
    }
}

type Plan = Vec<(&'static str, Vec<(TableSeed, Upsert)>)>;

/// The session's connection, out of its pool for one run. Dropped before
/// the run settled it (an error it could not roll back, or the run's future
/// dropped midway), it is closed rather than returned to the pool inside a
/// transaction; the pool opens a fresh session when next asked.
struct RunConnection {
    conn: PoolConnection<Postgres>,
    settled: bool,
}

impl Drop for RunConnection {
    fn drop(&mut self) {
        if !self.settled {
            self.conn.close_on_drop();
        }
    }
}

/// Every schema of the plan, each in its transaction (or, in a dry run, in a
/// savepoint of one transaction rolled back at the end). On error the caller
/// rolls back whatever is open.
async fn seed_schemas(
    conn: &mut PgConnection,
    plan: Plan,
    options: &SeedOptions,
    report: &mut SeedReport,
) -> Result<(), SeedError> {
    // The id map lives as long as the session; each run starts it empty.
    for sql in [upsert::CREATE_ID_MAP, "DELETE FROM pg_temp.seed_id_map"] {
        execute(conn, sql)
            .await
            .map_err(SeedError::database("preparing the session's seed id map"))?;
    }
    // Until a row is found under another id, there is nothing to resolve.
    let mut map_empty = true;
    let (begin, end) = if options.dry_run {
        execute(conn, "BEGIN")
            .await
            .map_err(SeedError::database("starting the dry run's transaction"))?;
        // The savepoint is released, not committed; the outer transaction is
        // rolled back below.
        ("SAVEPOINT seed_schema", "RELEASE SAVEPOINT seed_schema")
    } else {
        ("BEGIN", "COMMIT")
    };
    for (schema, tables) in plan {
        let schema_error = |source| SeedError::Schema {
            schema: schema.to_owned(),
            source,
        };
        execute(conn, begin).await.map_err(schema_error)?;
        lock(conn, schema, options.progress)
            .await
            .map_err(schema_error)?;
        // The natural-key joins hash whole tables: give them the memory to
        // do it in one pass (for this transaction only).
        execute(conn, WORK_MEM).await.map_err(schema_error)?;
        let mut reports = Vec::with_capacity(tables.len());
        for (table, statement) in tables {
            let seeded = seed_table(conn, schema, table, statement, map_empty, options).await?;
            map_empty &= seeded.counts.adopted == 0;
            reports.push(seeded);
        }
        execute(conn, end).await.map_err(schema_error)?;
        report.tables.extend(reports);
        report.schemas.push(schema.to_owned());
    }
    if options.dry_run {
        execute(conn, "ROLLBACK")
            .await
            .map_err(SeedError::database("rolling back the dry run"))?;
    }
    Ok(())
}

/// A driver error as SeaORM's, the type every seeder error carries.
fn db_err(err: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(Arc::new(err)))
}

/// Runs `sql` (no parameters, no result) on `conn`.
async fn execute(conn: &mut PgConnection, sql: &str) -> Result<(), DbErr> {
    sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(conn)
        .await
        .map(|_| ())
        .map_err(db_err)
}

/// Waits for the seed lock, saying so when another seeder holds it.
async fn lock(conn: &mut PgConnection, schema: &str, verbose: bool) -> Result<(), DbErr> {
    let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
        .bind(LOCK_KEY)
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
    if !got {
        if verbose {
            eprintln!("waiting for another seeder to finish before seeding schema `{schema}`");
        }
        tracing::info!(schema, "waiting for the seed lock held by another seeder");
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(LOCK_KEY)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
    }
    Ok(())
}

/// The table being seeded, for its errors.
#[derive(Clone, Copy)]
struct At<'a> {
    schema: &'a str,
    table: &'static str,
}

impl At<'_> {
    fn failed(self, rows_written: u64) -> impl FnOnce(DbErr) -> SeedError {
        move |source| SeedError::Table {
            schema: self.schema.to_owned(),
            table: self.table.to_owned(),
            rows_written,
            source,
        }
    }

    /// A row the seed produced that cannot be sent: the schema is rolled back.
    fn malformed(self, err: SeedError) -> SeedError {
        match err {
            SeedError::InvalidSeed { table, problem } => SeedError::InvalidRow {
                schema: self.schema.to_owned(),
                table,
                problem,
            },
            other => other,
        }
    }
}

/// Generates and encodes a table's batches on a blocking thread, at most
/// [`PIPELINE_DEPTH`] ahead of the writer, so memory stays flat.
fn produce<T: Send + 'static>(
    table: &TableSeed,
    mut batches: schema_core::seeding::Batches,
    encode: fn(&'static str, &'static [Column], &Batch) -> Result<T, SeedError>,
) -> (
    tokio::task::JoinHandle<()>,
    mpsc::Receiver<Result<T, SeedError>>,
) {
    let (name, columns) = (table.table, table.columns);
    let (sender, receiver) = mpsc::channel::<Result<T, SeedError>>(PIPELINE_DEPTH);
    let producer = tokio::task::spawn_blocking(move || {
        for batch in batches.by_ref() {
            let result = encode(name, columns, &batch);
            let failed = result.is_err();
            // A closed channel means the writer stopped (an error): stop too.
            if sender.blocking_send(result).is_err() || failed {
                break;
            }
        }
    });
    (producer, receiver)
}

fn encode_copy(
    table: &'static str,
    columns: &'static [Column],
    batch: &Batch,
) -> Result<EncodedBatch, SeedError> {
    let mut encoded = EncodedBatch::default();
    upsert::encode(table, columns, batch, &mut encoded)?;
    Ok(encoded)
}

fn encode_arrays(
    table: &'static str,
    columns: &'static [Column],
    batch: &Batch,
) -> Result<ArrayBatch, SeedError> {
    upsert::encode_arrays(table, columns, batch)
}

/// Seeds one table: a small one batch by batch as array parameters, a
/// large one streamed with `COPY` (into a staging table, then upserted, or
/// straight in when the table is empty).
async fn seed_table(
    conn: &mut PgConnection,
    schema: &str,
    mut table: TableSeed,
    statement: Upsert,
    map_empty: bool,
    options: &SeedOptions,
) -> Result<TableReport, SeedError> {
    let started = Instant::now();
    let progress = options.progress;
    let at = At {
        schema,
        table: table.table,
    };
    let bar = report::progress_bar(at.table, table.estimated_rows, progress);
    let batches = std::mem::replace(&mut table.batches, Box::new(std::iter::empty()));
    // An empty table (and nothing to resolve) takes its rows as they are:
    // every row is absent, the upsert would insert them all.
    let direct = map_empty && {
        let empty: bool = sqlx::query_scalar(AssertSqlSafe(statement.is_empty.as_str()))
            .persistent(false)
            .fetch_one(&mut *conn)
            .await
            .map_err(|err| at.failed(0)(db_err(err)))?;
        empty
    };
    let mut written = 0_u64;
    let by_arrays = statement.inline || (!direct && table.estimated_rows <= options.copy_from_rows);
    let (producer, outcome) = if by_arrays {
        let (producer, receiver) = produce(&table, batches, encode_arrays);
        let outcome = seed_arrays(
            conn,
            at,
            &statement,
            direct,
            map_empty,
            receiver,
            &mut written,
            &bar,
        )
        .await;
        (producer, outcome)
    } else {
        let (producer, receiver) = produce(&table, batches, encode_copy);
        let outcome = seed_copy(
            conn,
            at,
            &statement,
            direct,
            map_empty,
            receiver,
            &mut written,
            &bar,
        )
        .await;
        (producer, outcome)
    };
    let outcome = outcome?;
    if let Err(join) = producer.await {
        return Err(SeedError::InvalidRow {
            schema: schema.to_owned(),
            table: at.table.to_owned(),
            problem: format!("generating its rows failed: {join}"),
        });
    }
    bar.finish_and_clear();
    Ok(TableReport {
        schema: schema.to_owned(),
        table: at.table.to_owned(),
        ownership: table.ownership,
        counts: Counts::from_outcome(written, outcome),
        elapsed: started.elapsed(),
    })
}

/// Binds one batch's arrays to `sql`, one parameter per column.
fn bind_arrays(
    sql: &str,
    arrays: Vec<Array>,
) -> sqlx::query::Query<'static, Postgres, PgArguments> {
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for array in arrays {
        query = match array {
            Array::Uuid(values) => query.bind(values),
            Array::Text(values) => query.bind(values),
            Array::SmallInt(values) => query.bind(values),
            Array::Integer(values) => query.bind(values),
            Array::BigInt(values) => query.bind(values),
            Array::Boolean(values) => query.bind(values),
            Array::TimestampTz(values) => query.bind(values),
        };
    }
    query
}

/// Each batch bound as one array per column, one round trip per batch: a
/// small table ([`Upsert::inline`]) is upserted (or, `direct`, inserted)
/// batch by batch; a larger one is staged batch by batch, then upserted in
/// one statement.
#[allow(clippy::too_many_arguments)]
async fn seed_arrays(
    conn: &mut PgConnection,
    at: At<'_>,
    statement: &Upsert,
    direct: bool,
    mut map_empty: bool,
    mut receiver: mpsc::Receiver<Result<ArrayBatch, SeedError>>,
    written: &mut u64,
    bar: &indicatif::ProgressBar,
) -> Result<Outcome, SeedError> {
    let staged = !statement.inline && !direct;
    if staged {
        execute(conn, &statement.create_stage)
            .await
            .map_err(at.failed(0))?;
    }
    let mut total = Outcome::default();
    while let Some(batch) = receiver.recv().await {
        let batch = batch.map_err(|err| at.malformed(err))?;
        let rows = batch.rows;
        let outcome = if staged {
            bind_arrays(&statement.stage_insert, batch.arrays)
                .persistent(false)
                .execute(&mut *conn)
                .await
                .map_err(|err| at.failed(*written)(db_err(err)))?;
            Outcome::default()
        } else if direct {
            let inserted = bind_arrays(&statement.insert_inline, batch.arrays)
                .execute(&mut *conn)
                .await
                .map_err(|err| at.failed(*written)(db_err(err)))?
                .rows_affected();
            Outcome {
                inserted,
                absent: inserted,
                ..Outcome::default()
            }
        } else {
            let row = bind_arrays(statement.inline_statement(!map_empty), batch.arrays)
                .fetch_one(&mut *conn)
                .await
                .map_err(|err| at.failed(*written)(db_err(err)))?;
            outcome(&row).map_err(at.failed(*written))?
        };
        map_empty &= outcome.adopted == 0;
        total.inserted += outcome.inserted;
        total.updated += outcome.updated;
        total.unchanged += outcome.unchanged;
        total.absent += outcome.absent;
        total.adopted += outcome.adopted;
        *written += rows;
        bar.inc(rows);
    }
    if staged {
        return upsert_staged(conn, statement, map_empty)
            .await
            .map_err(at.failed(*written));
    }
    Ok(total)
}

/// Streams the batches with binary `COPY` into a staging table and upserts
/// it in one statement, or (`direct`) straight into the empty table.
#[allow(clippy::too_many_arguments)]
async fn seed_copy(
    conn: &mut PgConnection,
    at: At<'_>,
    statement: &Upsert,
    direct: bool,
    map_empty: bool,
    mut receiver: mpsc::Receiver<Result<EncodedBatch, SeedError>>,
    written: &mut u64,
    bar: &indicatif::ProgressBar,
) -> Result<Outcome, SeedError> {
    if !direct {
        execute(conn, &statement.create_stage)
            .await
            .map_err(at.failed(0))?;
    }
    let copy_sql = if direct {
        &statement.copy_direct
    } else {
        &statement.copy
    };
    let mut copy = conn
        .copy_in_raw(copy_sql)
        .await
        .map_err(|err| at.failed(0)(db_err(err)))?;
    let mut header = Some(COPY_HEADER);
    while let Some(encoded) = receiver.recv().await {
        let encoded = match encoded {
            Ok(encoded) => encoded,
            Err(err) => {
                // Nothing of the table reaches the database; the caller rolls
                // the schema back.
                let _ = copy.abort("the seed produced a malformed row").await;
                return Err(at.malformed(err));
            }
        };
        // The header travels with the first batch: one write fewer.
        let bytes = match header.take() {
            Some(header) => [header, &encoded.bytes].concat(),
            None => encoded.bytes,
        };
        copy.send(bytes)
            .await
            .map_err(|err| at.failed(*written)(db_err(err)))?;
        *written += encoded.rows;
        bar.inc(encoded.rows);
    }
    let end = match header {
        Some(header) => [header, COPY_TRAILER].concat(),
        None => COPY_TRAILER.to_vec(),
    };
    copy.send(end)
        .await
        .map_err(|err| at.failed(*written)(db_err(err)))?;
    let copied = copy
        .finish()
        .await
        .map_err(|err| at.failed(*written)(db_err(err)))?;
    debug_assert_eq!(copied, *written);
    if direct {
        return Ok(Outcome {
            inserted: copied,
            absent: copied,
            ..Outcome::default()
        });
    }
    upsert_staged(conn, statement, map_empty)
        .await
        .map_err(at.failed(*written))
}

/// Moves the staged rows into the table, one statement, and reads its counts.
async fn upsert_staged(
    conn: &mut PgConnection,
    statement: &Upsert,
    map_empty: bool,
) -> Result<Outcome, DbErr> {
    let row = sqlx::query(AssertSqlSafe(statement.statement(!map_empty)))
        .persistent(false)
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
    outcome(&row)
}

/// The counts an upsert returns.
fn outcome(row: &sqlx::postgres::PgRow) -> Result<Outcome, DbErr> {
    let count = |column: &str| {
        row.try_get::<i64, _>(column)
            .map(i64::unsigned_abs)
            .map_err(db_err)
    };
    Ok(Outcome {
        inserted: count("inserted")?,
        updated: count("updated")?,
        unchanged: count("unchanged")?,
        absent: count("absent")?,
        adopted: count("adopted")?,
    })
}
