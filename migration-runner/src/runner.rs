//! Applying the global history: `up`, `down`, `resolve`, and the read-only
//! `inspect` and `plan`. Everything runs on one connection, so the advisory
//! lock, the history and the migrations share one session and no migration
//! pays for a reconnect.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, TransactionTrait};

use crate::capture::{Capturer, Direction, Script};
use crate::catalog::{Catalog, Migration};
use crate::error::{MigrateError, Result};
use crate::history::{self, History, NewRow, RowState};
use crate::lock;
use crate::preflight::{self, PreflightReport};
use crate::status::{Checksums, Inspection, State};

/// Settings shared by every command that writes.
#[derive(Debug, Clone)]
pub struct RunnerOptions {
    /// How long to wait for another deploy's lock before giving up.
    pub lock_timeout: Duration,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        Self {
            lock_timeout: Duration::from_secs(60),
        }
    }
}

/// `migrate up` flags.
#[derive(Debug, Clone, Default)]
pub struct UpOptions {
    /// Apply pending migrations up to and including this one.
    pub to: Option<String>,
    /// Report what would run, change nothing.
    pub dry_run: bool,
    /// Apply pending migrations that sort before applied ones (recorded in history).
    pub allow_out_of_order: bool,
    /// Skip the privilege preflight (it always runs otherwise).
    pub skip_preflight: bool,
}

/// A pending migration and the exact SQL it will run.
#[derive(Debug, Clone)]
pub struct Planned {
    pub name: String,
    pub schema: String,
    pub transactional: bool,
    pub out_of_order: bool,
    pub script: Script,
}

#[derive(Debug, Clone)]
pub struct AppliedMigration {
    pub name: String,
    pub schema: String,
    pub elapsed: Duration,
    pub statements: usize,
}

#[derive(Debug, Clone, Default)]
pub struct UpReport {
    pub applied: Vec<AppliedMigration>,
    /// Set on `--dry-run`: what would have been applied.
    pub planned: Vec<Planned>,
    pub already_applied: usize,
    /// Applied rows without a checksum (from sea-orm's own migrator) that got one.
    pub adopted: usize,
    pub lock_waited: Duration,
    pub lock_waited_for: Option<String>,
    pub elapsed: Duration,
}

/// `migrate down` flags.
#[derive(Debug, Clone, Default)]
pub struct DownOptions {
    /// Roll back everything applied after this migration (it stays applied).
    /// Without it, only the newest applied migration is rolled back.
    pub to: Option<String>,
    pub dry_run: bool,
    pub allow_destructive: bool,
    /// The deployment environment (`APP_ENV`); `production` refuses `down`.
    pub app_env: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct DownReport {
    pub rolled_back: Vec<AppliedMigration>,
    pub planned: Vec<Planned>,
}

/// What `resolve` records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Mark as applied without running it (adopting an existing database).
    Applied(String),
    /// Clear a failed entry so the migration is pending again.
    RolledBack(String),
}

pub struct Runner {
    catalog: Catalog,
    db: DatabaseConnection,
    capturer: Capturer,
    options: RunnerOptions,
}

impl Runner {
    /// Wraps a connection; the pool must have exactly one connection (see [`crate::connect`]).
    pub async fn new(
        db: DatabaseConnection,
        catalog: Catalog,
        options: RunnerOptions,
    ) -> Result<Self> {
        Ok(Self {
            catalog,
            db,
            capturer: Capturer::new().await?,
            options,
        })
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Compares code and history without taking the lock or writing anything.
    pub async fn inspect(&self) -> Result<Inspection> {
        Ok(self.compare(false).await?.1)
    }

    /// The pending migrations in order, each with its exact SQL.
    pub async fn plan(&self) -> Result<Vec<Planned>> {
        let (_, inspection, mut scripts) = self.compare(false).await?;
        Ok(self.planned(&inspection, &mut scripts, None))
    }

    /// Reads history and compares it with the code: the history as read, each
    /// migration's state, and the scripts of the pending ones.
    async fn compare(
        &self,
        allow_out_of_order: bool,
    ) -> Result<(History, Inspection, Vec<Option<Script>>)> {
        let history = history::load(&self.db).await?;
        let (checksums, scripts) = self.checksums(&history.rows).await;
        let inspection =
            Inspection::compare(&self.catalog, &history.rows, &checksums, allow_out_of_order);
        Ok((history, inspection, scripts))
    }

    /// Runs `work` holding the migration lock, and releases it whatever the outcome.
    async fn locked<T>(
        &self,
        work: impl Future<Output = Result<T>>,
    ) -> Result<(T, lock::Acquired)> {
        let acquired = lock::acquire(&self.db, self.options.lock_timeout).await?;
        let outcome = work.await;
        let released = lock::release(&self.db).await;
        let value = outcome?;
        released?;
        Ok((value, acquired))
    }

    /// Checks the connected role's privileges for the pending migrations.
    /// A role that cannot read the history still gets a report: the schema
    /// checks, and the grant that lets it read history (then pending
    /// migrations' needs can be checked too).
    pub async fn preflight(&self) -> Result<PreflightReport> {
        match self.plan().await {
            Ok(plan) => preflight::check(&self.db, &self.catalog, &plan).await,
            Err(MigrateError::Db(err)) if err.to_string().contains("permission denied") => {
                let mut report = preflight::check(&self.db, &self.catalog, &[]).await?;
                if !report
                    .missing
                    .iter()
                    .any(|m| m.what.contains("history table"))
                {
                    report.missing.push(preflight::history_access(&report.role));
                }
                Ok(report)
            }
            Err(err) => Err(err),
        }
    }

    /// Applies every pending migration (or up to `--to`), under the lock.
    pub async fn up(&self, options: &UpOptions) -> Result<UpReport> {
        let started = Instant::now();
        let (mut report, acquired) = self.locked(self.up_locked(options)).await?;
        report.lock_waited = acquired.waited;
        report.lock_waited_for = acquired.waited_for;
        report.elapsed = started.elapsed();
        Ok(report)
    }

    async fn up_locked(&self, options: &UpOptions) -> Result<UpReport> {
        // An absent history table reads as empty: the preflight below must be
        // able to say "cannot create it" before anything is written.
        let (history, inspection, mut scripts) = self.compare(options.allow_out_of_order).await?;
        if !inspection.problems.is_empty() {
            return Err(MigrateError::Integrity(inspection.problems));
        }
        let limit = options
            .to
            .as_deref()
            .map(|to| self.catalog.require(to))
            .transpose()?;
        let plan = self.planned(&inspection, &mut scripts, limit);
        if !options.skip_preflight && !plan.is_empty() {
            let report = preflight::check(&self.db, &self.catalog, &plan).await?;
            if !report.missing.is_empty() {
                return Err(MigrateError::Preflight(
                    report.missing.iter().map(ToString::to_string).collect(),
                ));
            }
        }
        let mut report = UpReport {
            already_applied: inspection.applied_count(),
            ..UpReport::default()
        };
        if options.dry_run {
            report.planned = plan;
            return Ok(report);
        }
        history.install(&self.db).await?;
        // Rows adopted from sea-orm's own history table carry no checksum:
        // record today's, so later edits are caught from here on.
        for entry in inspection
            .migrations
            .iter()
            .filter(|e| e.state == State::Applied)
        {
            if let (None, Some(checksum)) = (&entry.applied_checksum, &entry.checksum) {
                history::adopt(&self.db, &entry.name, &entry.schema, checksum).await?;
                report.adopted += 1;
            }
        }
        for planned in plan {
            report.applied.push(self.apply(&planned).await?);
        }
        Ok(report)
    }

    /// Rolls back the newest applied migration, or everything after `--to`.
    /// `announce` sees each migration's SQL before it runs.
    pub async fn down(
        &self,
        options: &DownOptions,
        announce: &mut dyn FnMut(&Planned),
    ) -> Result<DownReport> {
        let production = options
            .app_env
            .as_deref()
            .is_some_and(|env| env.eq_ignore_ascii_case("production"));
        if production && !options.allow_destructive {
            return Err(MigrateError::DestructiveRefused);
        }
        Ok(self.locked(self.down_locked(options, announce)).await?.0)
    }

    async fn down_locked(
        &self,
        options: &DownOptions,
        announce: &mut dyn FnMut(&Planned),
    ) -> Result<DownReport> {
        let history = history::load(&self.db).await?;
        let applied_names: std::collections::HashSet<&str> = history
            .rows
            .iter()
            .filter(|r| r.state == RowState::Applied)
            .map(|r| r.name.as_str())
            .collect();
        let applied: Vec<&Migration> = self
            .catalog
            .migrations()
            .iter()
            .filter(|m| applied_names.contains(m.name.as_str()))
            .collect();
        let targets: Vec<&Migration> = match options.to.as_deref() {
            Some(to) => {
                let keep = self.catalog.require(to)?;
                applied
                    .into_iter()
                    .filter(|m| self.catalog.position(&m.name).is_some_and(|p| p > keep))
                    .rev()
                    .collect()
            }
            None => applied.into_iter().last().into_iter().collect(),
        };
        let mut report = DownReport::default();
        for migration in targets {
            let script = self
                .capturer
                .record_verified(migration, Direction::Down)
                .await?;
            let planned = Planned {
                name: migration.name.clone(),
                schema: migration.schema.to_owned(),
                transactional: migration.transactional(),
                out_of_order: false,
                script,
            };
            announce(&planned);
            if options.dry_run {
                report.planned.push(planned);
                continue;
            }
            let started = Instant::now();
            let txn = self.db.begin().await?;
            for (index, statement) in planned.script.statements.iter().enumerate() {
                if let Err(err) = execute(&txn, statement).await {
                    txn.rollback().await?;
                    return Err(MigrateError::MigrationFailed {
                        name: planned.name,
                        schema: planned.schema,
                        statement_index: index + 1,
                        statement: statement.to_string(),
                        message: format!("rolling back: {err}"),
                    });
                }
            }
            history::delete(&txn, &planned.name).await?;
            txn.commit().await?;
            report.rolled_back.push(AppliedMigration {
                name: planned.name,
                schema: planned.schema,
                elapsed: started.elapsed(),
                statements: planned.script.statements.len(),
            });
        }
        Ok(report)
    }

    /// Records a resolution in history, under the lock.
    pub async fn resolve(&self, resolution: &Resolution) -> Result<()> {
        self.locked(self.resolve_locked(resolution)).await?;
        Ok(())
    }

    async fn resolve_locked(&self, resolution: &Resolution) -> Result<()> {
        let history = history::load(&self.db).await?;
        history.install(&self.db).await?;
        let history = history.rows;
        match resolution {
            Resolution::Applied(name) => {
                let migration =
                    self.catalog
                        .get(name)
                        .ok_or_else(|| MigrateError::UnknownMigration {
                            name: name.clone(),
                            hint: crate::catalog::suggest(
                                name,
                                self.catalog.migrations().iter().map(|m| m.name.as_str()),
                            ),
                        })?;
                if history
                    .iter()
                    .any(|r| &r.name == name && r.state == RowState::Applied)
                {
                    return Err(MigrateError::Resolve(format!(
                        "migration `{name}` is already applied; nothing to resolve"
                    )));
                }
                let script = self
                    .capturer
                    .record_verified(migration, Direction::Up)
                    .await?;
                history::record(
                    &self.db,
                    NewRow {
                        name,
                        schema: migration.schema,
                        checksum: &script.checksum(),
                        state: RowState::Applied,
                        execution_ms: 0,
                        out_of_order: false,
                        note: Some("resolve --applied: marked applied without running it"),
                    },
                )
                .await
            }
            Resolution::RolledBack(name) => {
                let row = history.iter().find(|r| &r.name == name).ok_or_else(|| {
                    MigrateError::Resolve(format!(
                        "migration `{name}` has no history entry; nothing to resolve"
                    ))
                })?;
                if !matches!(row.state, RowState::Running | RowState::Failed) {
                    return Err(MigrateError::Resolve(format!(
                        "migration `{name}` is {}, not failed; `resolve --rolled-back` only clears failed \
                         entries (use `cargo xtask migrate down` to undo an applied migration)",
                        row.state.as_str()
                    )));
                }
                history::set_state(
                    &self.db,
                    name,
                    RowState::RolledBack,
                    row.execution_ms,
                    Some("resolve --rolled-back: failed entry cleared; pending again"),
                )
                .await
            }
        }
    }

    /// The checksum of every code migration (pending ones recorded twice to
    /// prove they are deterministic), and the scripts of the pending ones.
    async fn checksums(&self, history: &[history::HistoryRow]) -> (Checksums, Vec<Option<Script>>) {
        let rows: HashMap<&str, &history::HistoryRow> =
            history.iter().map(|r| (r.name.as_str(), r)).collect();
        let migrations = self.catalog.migrations();
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        let checked: Vec<Checked> = if workers < 2 || migrations.len() < PARALLEL_CHECKSUMS_FROM {
            let mut checked = Vec::with_capacity(migrations.len());
            for migration in migrations {
                let row = rows.get(migration.name.as_str()).copied();
                checked.push(check(&self.capturer, migration, row).await);
            }
            checked
        } else {
            // Recording is pure CPU (no server involved): spread it over the cores,
            // each worker with its own recorder. It keeps a no-op deploy cheap as
            // the history grows.
            std::thread::scope(|scope| {
                let rows = &rows;
                let workers: Vec<_> = migrations
                    .chunks(migrations.len().div_ceil(workers))
                    .map(|part| scope.spawn(move || check_on_own_thread(part, rows)))
                    .collect();
                workers
                    .into_iter()
                    .flat_map(|worker| worker.join().expect("a checksum worker panicked"))
                    .collect()
            })
        };
        let mut checksums = Checksums::with_capacity(migrations.len());
        let mut scripts = Vec::with_capacity(migrations.len());
        for (migration, (checksum, script)) in migrations.iter().zip(checked) {
            checksums.insert(migration.name.clone(), checksum);
            scripts.push(script);
        }
        (checksums, scripts)
    }

    fn planned(
        &self,
        inspection: &Inspection,
        scripts: &mut [Option<Script>],
        limit: Option<usize>,
    ) -> Vec<Planned> {
        // `inspection.migrations` starts with the catalog's migrations, in order.
        let newest_applied = inspection
            .migrations
            .iter()
            .rposition(|e| e.state == State::Applied);
        self.catalog
            .migrations()
            .iter()
            .zip(&inspection.migrations)
            .zip(scripts.iter_mut())
            .enumerate()
            .filter(|(position, _)| limit.is_none_or(|limit| *position <= limit))
            .filter(|(_, ((_, entry), _))| {
                matches!(entry.state, State::Pending | State::OutOfOrder)
            })
            .map(|(position, ((migration, _), script))| Planned {
                name: migration.name.clone(),
                schema: migration.schema.to_owned(),
                transactional: migration.transactional(),
                // With `--allow-out-of-order` the state is `Pending`: look at positions.
                out_of_order: newest_applied.is_some_and(|newest| position < newest),
                script: script.take().unwrap_or(Script {
                    statements: Vec::new(),
                }),
            })
            .collect()
    }

    /// Applies one migration: in a transaction with its history row, or, for a
    /// migration that opted out, with a `running` row first so a crash shows.
    async fn apply(&self, planned: &Planned) -> Result<AppliedMigration> {
        let started = Instant::now();
        let checksum = planned.script.checksum();
        let row = |state, execution_ms| NewRow {
            name: &planned.name,
            schema: &planned.schema,
            checksum: &checksum,
            state,
            execution_ms,
            out_of_order: planned.out_of_order,
            note: planned
                .out_of_order
                .then_some("applied with --allow-out-of-order"),
        };
        if planned.transactional {
            let txn = self.db.begin().await?;
            for (index, statement) in planned.script.statements.iter().enumerate() {
                if let Err(err) = execute(&txn, statement).await {
                    txn.rollback().await?;
                    return Err(MigrateError::MigrationFailed {
                        name: planned.name.clone(),
                        schema: planned.schema.clone(),
                        statement_index: index + 1,
                        statement: statement.to_string(),
                        message: err.to_string(),
                    });
                }
            }
            history::record(&txn, row(RowState::Applied, elapsed_ms(started))).await?;
            txn.commit().await?;
        } else {
            history::record(&self.db, row(RowState::Running, 0)).await?;
            for (index, statement) in planned.script.statements.iter().enumerate() {
                if let Err(err) = execute(&self.db, statement).await {
                    let message = err.to_string();
                    history::set_state(
                        &self.db,
                        &planned.name,
                        RowState::Failed,
                        elapsed_ms(started),
                        Some(&message),
                    )
                    .await?;
                    return Err(MigrateError::NonTransactionalFailed {
                        name: planned.name.clone(),
                        schema: planned.schema.clone(),
                        statement_index: index + 1,
                        statement: statement.to_string(),
                        message,
                    });
                }
            }
            history::set_state(
                &self.db,
                &planned.name,
                RowState::Applied,
                elapsed_ms(started),
                None,
            )
            .await?;
        }
        Ok(AppliedMigration {
            name: planned.name.clone(),
            schema: planned.schema.clone(),
            elapsed: started.elapsed(),
            statements: planned.script.statements.len(),
        })
    }
}

/// Connects to `url`, applies the workspace's pending migrations (all, or as
/// `options` say) under the lock, and closes the connection: what the seeder's
/// `--migrate` and the tests' fresh databases need.
pub async fn migrate_workspace(
    url: &str,
    application: &str,
    options: &UpOptions,
) -> Result<UpReport> {
    let db = crate::connect(url, application).await?;
    let runner = Runner::new(db.clone(), Catalog::workspace()?, RunnerOptions::default()).await?;
    let report = runner.up(options).await?;
    db.close().await?;
    Ok(report)
}

/// Below this many migrations, threads cost more than they save.
const PARALLEL_CHECKSUMS_FROM: usize = 200;

/// One migration's checksum (or why it has none) and, when pending, its script.
type Checked = (Result<String, String>, Option<Script>);

async fn check(
    capturer: &Capturer,
    migration: &Migration,
    row: Option<&history::HistoryRow>,
) -> Checked {
    let applied = row.is_some_and(|r| r.state == RowState::Applied);
    let recorded = if applied {
        capturer.record(migration, Direction::Up).await
    } else {
        capturer.record_verified(migration, Direction::Up).await
    };
    match recorded {
        Ok(script) => {
            let checksum = script.checksum();
            // A changed checksum may be an edit or a migration that varies per
            // run: tell them apart before calling it an edit.
            if row.is_some_and(|r| applied && !r.checksum.is_empty() && r.checksum != checksum)
                && let Err(err) = capturer.record_verified(migration, Direction::Up).await
            {
                return (Err(reason(&err)), None);
            }
            (Ok(checksum), (!applied).then_some(script))
        }
        Err(err) => (Err(reason(&err)), None),
    }
}

fn check_on_own_thread(
    part: &[Migration],
    rows: &HashMap<&str, &history::HistoryRow>,
) -> Vec<Checked> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a single-threaded runtime");
    runtime.block_on(async {
        let capturer = match Capturer::new().await {
            Ok(capturer) => capturer,
            Err(err) => return part.iter().map(|_| (Err(err.to_string()), None)).collect(),
        };
        let mut checked = Vec::with_capacity(part.len());
        for migration in part {
            checked.push(
                check(
                    &capturer,
                    migration,
                    rows.get(migration.name.as_str()).copied(),
                )
                .await,
            );
        }
        checked
    })
}

/// One round trip per statement: parameterless SQL goes through the simple
/// query protocol (no prepare), which also accepts multi-statement text.
async fn execute<C: ConnectionTrait>(db: &C, statement: &Statement) -> Result<(), sea_orm::DbErr> {
    match statement.values {
        None => db.execute_unprepared(&statement.sql).await.map(drop),
        Some(_) => db.execute_raw(statement.clone()).await.map(drop),
    }
}

fn elapsed_ms(started: Instant) -> i64 {
    i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX)
}

fn reason(err: &MigrateError) -> String {
    match err {
        MigrateError::NonDeterministic { problem, .. } => {
            format!(
                "it {problem}; structural migrations must be deterministic and data work belongs in a backfill"
            )
        }
        MigrateError::Capture {
            direction, source, ..
        } => format!("its `{direction}` step fails when recorded without a database: {source}"),
        other => other.to_string(),
    }
}
