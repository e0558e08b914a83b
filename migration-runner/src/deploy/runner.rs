//! The orchestrator: `up`, `down`, `resolve`, and the read-only `inspect`,
//! `plan` and `preflight`, all on the run's one [`Session`]. Every command
//! that reads or changes history verifies it first, the same way
//! ([`Verification`]); the [`Executor`] runs the statements.

use std::time::{Duration, Instant};

use crate::connect::Session;
use crate::deploy::error::{MigrateError, Result, VerifyError};
use crate::deploy::executor::{DdlLimits, Executor, Step};
use crate::deploy::preflight::{self, PreflightReport};
use crate::deploy::status::{Inspection, State};
pub use crate::deploy::verify::Verification;
use crate::deploy::verify::{self, Compared};
use crate::history::lock;
use crate::history::{self, NewRow, RowState};
use crate::source::capture::{Capturer, Direction, Script};
use crate::source::catalog::{Catalog, Migration};

/// Settings shared by every command that writes.
#[derive(Debug, Clone)]
pub struct RunnerOptions {
    /// How long to wait for another deploy's lock before giving up.
    pub lock_timeout: Duration,
    /// How long a migration's statement may wait for a table lock, and how
    /// often the migration is retried.
    pub ddl: DdlLimits,
    /// The runtime roles' name templates the run was given (`None`: the
    /// recorded ones, else the defaults); see [`crate::roles::role_names`].
    pub role_templates: crate::roles::role_names::ConfiguredTemplates,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        Self {
            lock_timeout: Duration::from_secs(60),
            ddl: DdlLimits::default(),
            role_templates: Default::default(),
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
}

pub use crate::source::plan::Planned;

#[derive(Debug, Clone)]
pub struct AppliedMigration {
    pub name: String,
    pub schema: String,
    /// What history records for it.
    pub execution_ms: i64,
    pub statements: usize,
    pub attempts: u32,
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
    /// On a Citus cluster: what the run placed (reference tables, distributed
    /// schemas), or on `--dry-run` what it would place.
    pub citus: Option<crate::citus::PlannedPlacement>,
    pub placed: Vec<crate::citus::Step>,
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
    /// Schemas a rolled-back migration would drop but the history did not
    /// create (they existed, owned by another role, before it ran): kept.
    pub kept_schemas: Vec<KeptSchema>,
}

/// A `DROP SCHEMA` left out of a `down`, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptSchema {
    pub schema: String,
    pub migration: String,
    /// The schema's owner, and the role that applied the migration.
    pub owner: String,
    pub applied_by: String,
}

/// What `resolve` records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Mark as applied without running it (adopting an existing database),
    /// or re-record the checksum of a row whose checksum was blanked.
    Applied(String),
    /// Clear a failed entry so the migration is pending again.
    RolledBack(String),
}

impl Resolution {
    fn name(&self) -> &str {
        match self {
            Resolution::Applied(name) | Resolution::RolledBack(name) => name,
        }
    }
}

pub struct Runner {
    catalog: Catalog,
    session: Session,
    capturer: Capturer,
    options: RunnerOptions,
    /// The backfills contract migrations wait for.
    backfills: crate::backfill::Backfills,
    /// The runtime roles' name templates in force, resolved (and set on the
    /// session) on first use: a no-op reads the recorded ones in its one
    /// statement instead.
    role_templates: tokio::sync::OnceCell<crate::roles::role_names::RoleTemplates>,
    /// Whether the database has Citus, when a no-op statement has read it.
    citus_seen: std::sync::OnceLock<bool>,
}

/// Whether an inspection reads which contract migrations wait for backfills.
#[derive(Debug, Clone, Copy)]
enum Waiting {
    Read,
    Skip,
}

impl Runner {
    /// Takes the run's one session: only [`crate::connect::open`] makes one.
    ///
    /// ```no_run
    /// # async fn f(session: migration_runner::Session) {
    /// use migration_runner::{Catalog, Runner};
    /// let catalog = Catalog::workspace(&schema_registry::workspace()).unwrap();
    /// let runner = Runner::new(session, catalog, Default::default()).await;
    /// # }
    /// ```
    ///
    /// A pool, whose statements may land on different sessions, does not compile:
    ///
    /// ```compile_fail
    /// # async fn f(pool: sea_orm::DatabaseConnection) {
    /// use migration_runner::{Catalog, Runner};
    /// let catalog = Catalog::workspace(&schema_registry::workspace()).unwrap();
    /// let runner = Runner::new(pool, catalog, Default::default()).await;
    /// # }
    /// ```
    pub async fn new(session: Session, catalog: Catalog, options: RunnerOptions) -> Result<Self> {
        let backfills = crate::backfill::Backfills::of(&catalog)?;
        Ok(Self {
            catalog,
            session,
            capturer: Capturer::new().await?,
            options,
            backfills,
            role_templates: tokio::sync::OnceCell::new(),
            citus_seen: std::sync::OnceLock::new(),
        })
    }

    /// The runtime roles' name templates in force for this database, read
    /// once: refuses configured templates that differ from the recorded
    /// ones, and sets the ones in force on the session for the runtime-roles
    /// migrations.
    pub async fn role_templates(&self) -> Result<&crate::roles::role_names::RoleTemplates> {
        self.role_templates
            .get_or_try_init(|| {
                crate::roles::role_names::resolve(
                    self.session.connection(),
                    &self.options.role_templates,
                    self.catalog.schemas(),
                )
            })
            .await
            .map_err(MigrateError::from)
    }

    /// Takes in what a no-op statement read beside its verdict: keeps
    /// whether Citus is there, and refuses configured role templates that
    /// differ from the recorded ones (the refusal of
    /// [`Runner::role_templates`], without its round trips).
    fn accept_no_op(&self, found: &verify::NoOp) -> Result<()> {
        let _ = self.citus_seen.set(found.citus);
        crate::roles::role_names::in_force(
            &self.options.role_templates,
            found.recorded_templates.clone(),
            self.catalog.schemas(),
        )?;
        Ok(())
    }

    /// Holds contract migrations to these backfills instead of the workspace's.
    pub fn with_backfills(mut self, backfills: crate::backfill::Backfills) -> Self {
        self.backfills = backfills;
        self
    }

    /// The pending contract migrations of `plan` that wait for their backfills.
    pub async fn waiting(&self, plan: &[Planned]) -> Result<Vec<crate::backfill::gate::Waiting>> {
        let pending: Vec<&str> = plan.iter().map(|p| p.name.as_str()).collect();
        let db = self.session.connection();
        Ok(crate::backfill::gate::waiting(db, &self.backfills, &pending).await?)
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Ends the run's session.
    pub async fn close(self) {
        let _ = self.session.close().await;
    }

    /// Compares code and history without taking the lock or writing anything.
    /// Problems are reported in the inspection, not refused: this is `status`.
    /// When the history digest shows every migration applied as it is now,
    /// the rows are read in the digest's one statement, and nothing else.
    pub async fn inspect(&self) -> Result<Inspection> {
        self.inspection(usize::MAX, Waiting::Read).await
    }

    /// Each migration's state, without what `status` adds about backfills
    /// (which reads their tables): for commands that need only the history.
    pub(crate) async fn inspect_history(&self) -> Result<Inspection> {
        self.inspection(usize::MAX, Waiting::Skip).await
    }

    /// What `status` prints without `--all`: as [`Runner::inspect`], but when
    /// history is exactly the code only the newest `tail` rows are read.
    pub async fn inspect_summary(&self, tail: usize) -> Result<Inspection> {
        self.inspection(tail, Waiting::Read).await
    }

    /// The digest's shortcut (the newest `tail` rows when history is exactly
    /// the code), else history read and compared in full, with the contract
    /// migrations' waits when `waiting` asks for them.
    async fn inspection(&self, tail: usize, waiting: Waiting) -> Result<Inspection> {
        if let Some((inspection, found)) =
            verify::inspect_unchanged(self.connection(), &self.catalog, &self.capturer, tail).await
        {
            self.accept_no_op(&found)?;
            return Ok(inspection);
        }
        self.role_templates().await?;
        match waiting {
            Waiting::Read => self.inspect_in_full().await,
            Waiting::Skip => Ok(self.verified(Verification::Report).await?.inspection),
        }
    }

    /// [`Runner::inspect`] without the digest's shortcut: history read and
    /// compared in full.
    pub(crate) async fn inspect_in_full(&self) -> Result<Inspection> {
        let mut inspection = self.verified(Verification::Report).await?.inspection;
        let pending: Vec<&str> = inspection.pending().map(|e| e.name.as_str()).collect();
        let db = self.session.connection();
        let waiting = crate::backfill::gate::waiting(db, &self.backfills, &pending).await?;
        inspection.waiting = waiting;
        Ok(inspection)
    }

    /// The run's connection, for the commands built on the runner (drift).
    pub(crate) fn connection(&self) -> &sea_orm::DatabaseConnection {
        self.session.connection()
    }

    pub(crate) async fn verified(&self, verification: Verification<'_>) -> Result<Compared> {
        verify::compare(
            self.session.connection(),
            &self.catalog,
            &self.capturer,
            verification,
        )
        .await
        .map_err(MigrateError::from)
    }

    /// The pending migrations in order, each with its exact SQL; refuses as
    /// `up` does when history has a problem.
    pub async fn plan(&self) -> Result<Vec<Planned>> {
        let db = self.session.connection();
        if let Some(found) = verify::unchanged(db, &self.catalog, &self.capturer, false).await {
            self.accept_no_op(&found)?;
            return Ok(Vec::new());
        }
        self.role_templates().await?;
        let mut compared = self.verified(Verification::Strict).await?;
        Ok(self.planned(&compared.inspection, &mut compared.scripts, None))
    }

    /// Runs `work` holding the migration lock, and releases it whatever the outcome.
    async fn locked<T>(
        &self,
        work: impl Future<Output = Result<T>>,
    ) -> Result<(T, lock::Acquired)> {
        let db = self.session.connection();
        let acquired = lock::acquire(db, self.options.lock_timeout).await?;
        let outcome = work.await;
        let released = lock::release(db).await;
        let value = outcome?;
        released?;
        Ok((value, acquired))
    }

    /// Checks the connected role's privileges for the pending migrations,
    /// after verifying history. A role that cannot read the history gets every
    /// missing privilege in one report: history access, and what every
    /// migration in the code would need (what is pending cannot be known).
    pub async fn preflight(&self) -> Result<PreflightReport> {
        let db = self.session.connection();
        match self.plan().await {
            Ok(plan) => {
                let mut report = preflight::check(db, &plan).await?;
                preflight::backfill_tables(db, &plan, &self.backfills, &mut report).await?;
                report.citus = self.citus_placement(&plan).await?;
                Ok(report)
            }
            Err(MigrateError::History(crate::deploy::error::HistoryError::PermissionDenied {
                ..
            })) => {
                let all = self.all_as_pending().await?;
                let mut report = preflight::check(db, &all).await?;
                report.history_readable = false;
                if !report.missing.iter().any(|m| m.is_history_access()) {
                    report.missing.push(preflight::history_access(&report.role));
                }
                // History access first: without it nothing else can be checked exactly.
                report.missing.sort_by_key(|m| !m.is_history_access());
                Ok(report)
            }
            Err(err) => Err(err),
        }
    }

    /// On a Citus cluster, what applying `plan` will place and what would
    /// block it; `None` on plain PostgreSQL.
    pub async fn citus_placement(
        &self,
        plan: &[Planned],
    ) -> Result<Option<crate::citus::PlannedPlacement>> {
        if self.citus_seen.get() == Some(&false) {
            return Ok(None);
        }
        let db = self.session.connection();
        Ok(crate::citus::plan_placement(db, plan, self.catalog.schemas()).await?)
    }

    /// Every migration in the code, as if none were applied.
    async fn all_as_pending(&self) -> Result<Vec<Planned>> {
        let mut plan = Vec::with_capacity(self.catalog.migrations().len());
        for migration in self.catalog.migrations() {
            let script = self.capturer.record(migration, Direction::Up).await?;
            plan.push(Planned {
                name: migration.name.clone(),
                schema: migration.schema.to_owned(),
                transactional: migration.transactional(),
                out_of_order: false,
                unwritten: script.statements.is_empty(),
                script,
            });
        }
        Ok(plan)
    }

    /// Applies every pending migration (or up to `--to`), under the lock.
    pub async fn up(&self, options: &UpOptions) -> Result<UpReport> {
        let started = Instant::now();
        // -- the no-op deploy (history digest; see `verify::unchanged`) --
        let db = self.session.connection();
        if let Some(found) = verify::unchanged(db, &self.catalog, &self.capturer, true).await
            && !(found.citus && crate::citus::needs_placement(db, self.catalog.schemas()).await?)
        {
            self.accept_no_op(&found)?;
            if let Some(to) = &options.to {
                self.catalog.require(to)?;
            }
            return Ok(UpReport {
                already_applied: found.applied,
                elapsed: started.elapsed(),
                ..UpReport::default()
            });
        }
        // -- end of the no-op deploy --
        let (mut report, acquired) = self.locked(self.up_locked(options)).await?;
        report.lock_waited = acquired.waited;
        report.lock_waited_for = acquired.waited_for;
        report.elapsed = started.elapsed();
        Ok(report)
    }

    async fn up_locked(&self, options: &UpOptions) -> Result<UpReport> {
        let db = self.session.connection();
        let role_templates = self.role_templates().await?;
        let verification = if options.allow_out_of_order {
            Verification::AllowOutOfOrder
        } else {
            Verification::Strict
        };
        // An absent history table reads as empty: the preflight below must be
        // able to say "cannot create it" before anything is written.
        let Compared {
            history,
            inspection,
            mut scripts,
        } = self.verified(verification).await?;
        let limit = options
            .to
            .as_deref()
            .map(|to| self.catalog.require(to))
            .transpose()?;
        let plan = self.planned(&inspection, &mut scripts, limit);
        if let Some(stub) = plan.iter().find(|planned| planned.unwritten) {
            return Err(VerifyError::Unwritten {
                name: stub.name.clone(),
                krate: stub.schema.clone(),
            }
            .into());
        }
        // Privileges first: the gate below reads the backfills' tables.
        if !plan.is_empty() {
            let mut report = preflight::check(db, &plan).await?;
            preflight::backfill_tables(db, &plan, &self.backfills, &mut report).await?;
            if !report.missing.is_empty() {
                return Err(VerifyError::Preflight(report.missing).into());
            }
        }
        let pending: Vec<&str> = plan.iter().map(|p| p.name.as_str()).collect();
        crate::backfill::gate::refuse_waiting(db, &self.backfills, &pending).await?;
        // On Citus, keys it would refuse are found before anything is applied.
        let citus = crate::citus::plan_placement(db, &plan, self.catalog.schemas()).await?;
        if let Some(placement) = &citus
            && !placement.blockers.is_empty()
        {
            return Err(crate::citus::CitusError::Incompatible {
                blockers: placement.blockers.clone(),
            }
            .into());
        }
        let mut report = UpReport {
            already_applied: inspection.applied_count(),
            citus: citus.clone(),
            ..UpReport::default()
        };
        if options.dry_run {
            report.planned = plan;
            return Ok(report);
        }
        // Rows adopted from sea-orm's own history table carry no checksum:
        // record today's, so later edits are caught from here on.
        let adopted: Vec<(&str, &str, &str)> = inspection
            .migrations
            .iter()
            .filter(|e| e.state == State::Applied && e.applied_checksum.is_none())
            .filter_map(|e| Some((e.name.as_str(), e.schema.as_str(), e.checksum.as_deref()?)))
            .collect();
        history.install(db, &adopted).await?;
        report.adopted = adopted.len();
        crate::roles::role_names::record(db, role_templates).await?;
        let placing = citus
            .as_ref()
            .is_some_and(|placement| !placement.is_empty());
        if plan.is_empty() && !placing {
            return Ok(report);
        }
        let newest_applied = inspection
            .migrations
            .iter()
            .rev()
            .find(|entry| entry.state == State::Applied)
            .map(|entry| entry.name.clone())
            .unwrap_or_default();
        let mut executor = Executor::hold(db, self.options.ddl).await?;
        if citus.is_some() {
            executor = executor.placing_on_citus();
        }
        executor.set_lock_timeout().await?;
        for planned in plan {
            crate::backfill::gate::before_apply(
                executor.connection(),
                &self.backfills,
                &planned.name,
            )
            .await?;
            let checksum = planned.script.checksum();
            let done = executor
                .run(&Step {
                    name: &planned.name,
                    schema: &planned.schema,
                    transactional: planned.transactional,
                    direction: Direction::Up,
                    script: &planned.script,
                    checksum: &checksum,
                    out_of_order: planned.out_of_order,
                })
                .await?;
            report.applied.push(AppliedMigration {
                name: planned.name,
                schema: planned.schema,
                execution_ms: done.execution_ms,
                statements: done.statements,
                attempts: done.attempts,
            });
        }
        report.placed = executor.placed();
        // The session's connection goes back to its pool.
        drop(executor);
        if placing {
            let after = report
                .applied
                .last()
                .map_or(newest_applied, |applied| applied.name.clone());
            report
                .placed
                .extend(crate::citus::finish_run(db, self.catalog.schemas(), &after).await?);
        }
        Ok(report)
    }

    /// Rolls back the newest applied migration, or everything after `--to`,
    /// after verifying history. `announce` sees each migration's SQL before it runs.
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
            return Err(VerifyError::DestructiveRefused.into());
        }
        Ok(self.locked(self.down_locked(options, announce)).await?.0)
    }

    /// The migrations `down` would roll back, newest first, after verifying history.
    pub async fn down_targets(&self, to: Option<&str>) -> Result<Vec<String>> {
        let compared = self.verified(Verification::Strict).await?;
        Ok(self
            .targets(&compared.inspection, to)?
            .into_iter()
            .map(|m| m.name.clone())
            .collect())
    }

    fn targets(&self, inspection: &Inspection, to: Option<&str>) -> Result<Vec<&Migration>> {
        // `inspection.migrations` starts with the catalog's migrations, in order.
        let applied: Vec<&Migration> = self
            .catalog
            .migrations()
            .iter()
            .zip(&inspection.migrations)
            .filter(|(_, entry)| entry.state == State::Applied)
            .map(|(migration, _)| migration)
            .collect();
        Ok(match to {
            Some(to) => {
                let keep = self.catalog.require(to)?;
                applied
                    .into_iter()
                    .filter(|m| self.catalog.position(&m.name).is_some_and(|p| p > keep))
                    .rev()
                    .collect()
            }
            None => applied.into_iter().last().into_iter().collect(),
        })
    }

    async fn down_locked(
        &self,
        options: &DownOptions,
        announce: &mut dyn FnMut(&Planned),
    ) -> Result<DownReport> {
        // The runtime roles' `down` steps read the templates too.
        self.role_templates().await?;
        let compared = self.verified(Verification::Strict).await?;
        let targets = self.targets(&compared.inspection, options.to.as_deref())?;
        let mut report = DownReport::default();
        let mut planned_steps = Vec::with_capacity(targets.len());
        for migration in targets {
            let script = self
                .capturer
                .record_verified(migration, Direction::Down)
                .await?;
            planned_steps.push(Planned {
                name: migration.name.clone(),
                schema: migration.schema.to_owned(),
                transactional: migration.transactional(),
                out_of_order: false,
                unwritten: false,
                script,
            });
        }
        let db = self.session.connection();
        for planned in &mut planned_steps {
            report
                .kept_schemas
                .extend(keep_schemas_not_created(db, planned).await?);
        }
        let mut executor = Executor::hold(db, self.options.ddl).await?;
        if !options.dry_run && !planned_steps.is_empty() {
            executor.set_lock_timeout().await?;
        }
        for planned in planned_steps {
            announce(&planned);
            if options.dry_run {
                report.planned.push(planned);
                continue;
            }
            let done = executor
                .run(&Step {
                    name: &planned.name,
                    schema: &planned.schema,
                    transactional: planned.transactional,
                    direction: Direction::Down,
                    script: &planned.script,
                    checksum: "",
                    out_of_order: false,
                })
                .await?;
            report.rolled_back.push(AppliedMigration {
                name: planned.name,
                schema: planned.schema,
                execution_ms: done.execution_ms,
                statements: done.statements,
                attempts: done.attempts,
            });
        }
        Ok(report)
    }

    /// Records a resolution in history, under the lock, after verifying every
    /// other migration's history.
    pub async fn resolve(&self, resolution: &Resolution) -> Result<()> {
        self.locked(self.resolve_locked(resolution)).await?;
        Ok(())
    }

    async fn resolve_locked(&self, resolution: &Resolution) -> Result<()> {
        let db = self.session.connection();
        let name = resolution.name();
        let migration = self.catalog.get(name);
        if migration.is_none() && matches!(resolution, Resolution::Applied(_)) {
            self.catalog.require(name)?;
        }
        let compared = self.verified(Verification::Resolving(name)).await?;
        compared.history.install(db, &[]).await?;
        let row = compared.history.rows.iter().find(|r| r.name == name);
        match resolution {
            Resolution::Applied(name) => {
                let migration = migration.expect("checked above");
                if row.is_some_and(|r| r.state == RowState::Applied && !r.checksum.is_empty()) {
                    return Err(VerifyError::AlreadyApplied { name: name.clone() }.into());
                }
                let script = self
                    .capturer
                    .record_verified(migration, Direction::Up)
                    .await?;
                history::record(
                    db,
                    NewRow {
                        name,
                        schema: migration.schema,
                        checksum: &script.checksum(),
                        state: RowState::Applied,
                        execution_ms: row.map_or(0, |r| r.execution_ms),
                        out_of_order: false,
                        note: Some(if row.is_some() {
                            "resolve --applied: history row re-recorded from the code"
                        } else {
                            "resolve --applied: marked applied without running it"
                        }),
                    },
                )
                .await
                .map_err(Into::into)
            }
            Resolution::RolledBack(name) => {
                let row = row.ok_or_else(|| VerifyError::NotInHistory { name: name.clone() })?;
                if matches!(row.state, RowState::Applied | RowState::RolledBack) {
                    return Err(VerifyError::NotFailed {
                        name: name.clone(),
                        state: row.state.as_str().to_owned(),
                    }
                    .into());
                }
                history::set_state(
                    db,
                    name,
                    RowState::RolledBack,
                    row.execution_ms,
                    Some("resolve --rolled-back: failed entry cleared; pending again"),
                )
                .await
                .map_err(Into::into)
            }
        }
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
            .map(|(position, ((migration, entry), script))| Planned {
                name: migration.name.clone(),
                schema: migration.schema.to_owned(),
                transactional: migration.transactional(),
                // With `--allow-out-of-order` the state is `Pending`: look at positions.
                out_of_order: newest_applied.is_some_and(|newest| position < newest),
                unwritten: entry.unwritten,
                script: script.take().unwrap_or(Script {
                    statements: Vec::new(),
                }),
            })
            .collect()
    }
}

/// Connects to `url`, applies the workspace's pending migrations (all, or as
/// `options` say) under the lock, and closes the connection: what the seeder's
/// `--migrate` and the tests' fresh databases need.
pub async fn migrate_workspace(
    url: &str,
    application: &str,
    options: &UpOptions,
    workspace: &schema_core::schema_crate::Workspace,
) -> Result<UpReport> {
    let session = crate::connect::connect(url, application).await?;
    let runner = Runner::new(
        session,
        Catalog::workspace(workspace)?,
        RunnerOptions::default(),
    )
    .await?;
    let report = runner.up(options).await;
    runner.close().await;
    report
}

/// Takes out of `planned` (a `down`) each `DROP SCHEMA` of a schema the
/// history did not create: one owned by another role than the one that
/// applied the migration existed before it (its `CREATE SCHEMA IF NOT
/// EXISTS` did nothing), so rolling the migration back leaves it.
async fn keep_schemas_not_created(
    db: &sea_orm::DatabaseConnection,
    planned: &mut Planned,
) -> Result<Vec<KeptSchema>> {
    use sea_orm::{ConnectionTrait as _, DbBackend, Statement};
    let mut kept = Vec::new();
    let mut statements = Vec::with_capacity(planned.script.statements.len());
    for statement in std::mem::take(&mut planned.script.statements) {
        let dropped = sql_objects::objects(&statement.to_string()).dropped_schemas;
        let mut keep_statement = true;
        for schema in dropped {
            let row = db
                .query_one_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    format!(
                        "SELECT pg_get_userbyid(n.nspowner)::text AS owner, h.applied_by \
                           FROM pg_namespace n, {} h \
                          WHERE n.nspname = $1 AND h.version = $2",
                        crate::history::TABLE
                    ),
                    [schema.clone().into(), planned.name.clone().into()],
                ))
                .await
                .map_err(|source| MigrateError::Database {
                    context: "reading who owns a schema `down` would drop",
                    source,
                })?;
            let Some(row) = row else { continue };
            let read = |column: &str| {
                row.try_get::<String>("", column)
                    .map_err(|source| MigrateError::Database {
                        context: "reading who owns a schema `down` would drop",
                        source,
                    })
            };
            let (owner, applied_by) = (read("owner")?, read("applied_by")?);
            if owner != applied_by {
                keep_statement = false;
                kept.push(KeptSchema {
                    schema,
                    migration: planned.name.clone(),
                    owner,
                    applied_by,
                });
            }
        }
        if keep_statement {
            statements.push(statement);
        }
    }
    planned.script.statements = statements;
    Ok(kept)
}
