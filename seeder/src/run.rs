//! Running the seeds: one transaction per schema, in dependency order, each
//! table streamed batch by batch through its upsert, all on ONE session.
//!
//! - The session holds `pg_temp.seed_id_map` (seed id → id of the row that
//!   was already there under the same natural key), filled as tables are
//!   seeded and read by every later foreign-key column, so references follow
//!   rows made outside the seeder (see [`crate::upsert`]). It is the
//!   seeder's only DDL: a temporary table, private to the session.
//! - A schema's transaction takes a transaction-level advisory lock first, so
//!   concurrent seeders take turns per schema: the second one waits, then
//!   finds every row unchanged.
//! - A failure rolls back only the schema being seeded; the schemas before it
//!   stay committed and a rerun finishes the job.
//! - A dry run does the same work inside one outer transaction (each schema
//!   in a savepoint, so later schemas see earlier ones' rows) and rolls it
//!   back at the end.
//! - Batches are generated and encoded on a blocking thread while the
//!   previous batch is in the database, through a channel of two batches, so
//!   memory stays flat whatever the scale.

use std::time::{Duration, Instant};

use migration_runner::Session;
use schema_core::seeding::{Profile, SchemaSeed, TableSeed};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, Statement,
    TransactionTrait, Value,
};
use tokio::sync::mpsc;

use crate::error::SeedError;
use crate::report::{self, Counts, SeedReport, TableReport};
use crate::upsert::{self, EncodedBatch, Outcome, Upsert};
use crate::{foreign_keys, migrations, order};

/// The advisory lock every seeder takes per schema transaction (distinct
/// from the migration runner's). ASCII "seeder!!".
pub const LOCK_KEY: i64 = 0x7365_6564_6572_2121;

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
}

impl Default for SeedOptions {
    fn default() -> Self {
        Self {
            profile: Profile::Demo,
            schema: None,
            dry_run: false,
            check_migrations: true,
            progress: false,
            overwrite: false,
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

        let mut report = SeedReport {
            profile: options.profile,
            dry_run: options.dry_run,
            overwrite: options.overwrite,
            schemas: Vec::with_capacity(plan.len()),
            empty,
            tables: Vec::new(),
            elapsed: Duration::ZERO,
        };
        // The id map lives as long as the session; each run starts it empty.
        for sql in [upsert::CREATE_ID_MAP, "DELETE FROM pg_temp.seed_id_map"] {
            self.db
                .execute_unprepared(sql)
                .await
                .map_err(SeedError::database("preparing the session's seed id map"))?;
        }
        // Until a row is found under another id, there is nothing to resolve.
        let mut map_empty = true;
        let outer = if options.dry_run {
            Some(
                self.db
                    .begin()
                    .await
                    .map_err(SeedError::database("starting the dry run's transaction"))?,
            )
        } else {
            None
        };
        for (schema, tables) in plan {
            let schema_error = |source| SeedError::Schema {
                schema: schema.to_owned(),
                source,
            };
            let txn = match &outer {
                Some(outer) => outer.begin().await,
                None => self.db.begin().await,
            }
            .map_err(schema_error)?;
            let seeded = async {
                lock(&txn, schema, options.progress)
                    .await
                    .map_err(schema_error)?;
                let mut reports = Vec::with_capacity(tables.len());
                for (table, statement) in tables {
                    let seeded =
                        seed_table(&txn, schema, table, statement, map_empty, options.progress)
                            .await?;
                    map_empty &= seeded.counts.adopted == 0;
                    reports.push(seeded);
                }
                Ok::<_, SeedError>(reports)
            }
            .await;
            match seeded {
                Ok(reports) => {
                    // In a dry run this releases the savepoint; the outer
                    // transaction is rolled back below.
                    txn.commit().await.map_err(schema_error)?;
                    report.tables.extend(reports);
                    report.schemas.push(schema.to_owned());
                }
                Err(err) => {
                    // Best effort: the error that caused it is the one to report,
                    // and dropping the transaction rolls it back anyway.
                    let _ = txn.rollback().await;
                    return Err(err);
                }
            }
        }
        if let Some(outer) = outer {
            outer
                .rollback()
                .await
                .map_err(SeedError::database("rolling back the dry run"))?;
        }
        report.elapsed = started.elapsed();
        Ok(report)
    }
}

/// Waits for the seed lock, saying so when another seeder holds it.
async fn lock(
    txn: &DatabaseTransaction,
    schema: &str,
    verbose: bool,
) -> Result<(), sea_orm::DbErr> {
    let statement = |function: &str| {
        Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!("SELECT {function}($1) AS locked"),
            [Value::from(LOCK_KEY)],
        )
    };
    let got = txn
        .query_one_raw(statement("pg_try_advisory_xact_lock"))
        .await?
        .map(|row| row.try_get::<bool>("", "locked"))
        .transpose()?
        .unwrap_or(false);
    if !got {
        if verbose {
            eprintln!("waiting for another seeder to finish before seeding schema `{schema}`");
        }
        tracing::info!(schema, "waiting for the seed lock held by another seeder");
        txn.execute_raw(statement("pg_advisory_xact_lock")).await?;
    }
    Ok(())
}

/// Streams one table's batches through its upsert.
async fn seed_table(
    txn: &DatabaseTransaction,
    schema: &str,
    table: TableSeed,
    statement: Upsert,
    mut map_empty: bool,
    progress: bool,
) -> Result<TableReport, SeedError> {
    let started = Instant::now();
    let name = table.table;
    let ownership = table.ownership;
    let columns = table.columns;
    let bar = report::progress_bar(name, table.estimated_rows, progress);
    let (sender, mut receiver) = mpsc::channel::<Result<EncodedBatch, SeedError>>(PIPELINE_DEPTH);
    let mut batches = table.batches;
    let producer = tokio::task::spawn_blocking(move || {
        for batch in batches.by_ref() {
            let encoded = upsert::encode(name, columns, &batch);
            let failed = encoded.is_err();
            // A closed channel means the writer stopped (an error): stop too.
            if sender.blocking_send(encoded).is_err() || failed {
                break;
            }
        }
    });

    let mut counts = Counts::default();
    let mut written = 0_u64;
    while let Some(encoded) = receiver.recv().await {
        let encoded = match encoded {
            Ok(encoded) => encoded,
            Err(SeedError::InvalidSeed { table, problem }) => {
                return Err(SeedError::InvalidRow {
                    schema: schema.to_owned(),
                    table,
                    problem,
                });
            }
            Err(other) => return Err(other),
        };
        let rows = encoded.rows;
        let table_error = |source| SeedError::Table {
            schema: schema.to_owned(),
            table: name.to_owned(),
            rows_written: written,
            source,
        };
        let row = txn
            .query_one_raw(statement.statement(encoded, !map_empty))
            .await
            .map_err(table_error)?;
        let outcome = match row {
            Some(row) => {
                let count = |column: &str| {
                    row.try_get::<i64>("", column)
                        .map(i64::unsigned_abs)
                        .map_err(table_error)
                };
                Outcome {
                    inserted: count("inserted")?,
                    updated: count("updated")?,
                    unchanged: count("unchanged")?,
                    absent: count("absent")?,
                    adopted: count("adopted")?,
                }
            }
            None => Outcome::default(),
        };
        map_empty &= outcome.adopted == 0;
        counts.add(Counts::from_outcome(rows, outcome));
        written += rows;
        bar.inc(rows);
    }
    bar.finish_and_clear();
    if let Err(join) = producer.await {
        return Err(SeedError::InvalidRow {
            schema: schema.to_owned(),
            table: name.to_owned(),
            problem: format!("generating its rows failed: {join}"),
        });
    }
    Ok(TableReport {
        schema: schema.to_owned(),
        table: name.to_owned(),
        ownership,
        counts,
        elapsed: started.elapsed(),
    })
}
