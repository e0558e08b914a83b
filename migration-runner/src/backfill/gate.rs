//! Contract migrations wait on their backfills: a pending migration that a
//! backfill declares in `required_by` may be applied only when the ledger
//! says that backfill finished, or when it has nothing to do (its table does
//! not exist yet or is empty, or its "has work?" query says no), in which
//! case `up` records it finished and goes on. `status` and `plan` show what
//! waits.

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde::Serialize;

use super::error::BackfillError;
use super::ledger::{self, LedgerState};
use super::{Backfills, Registered};

/// A pending contract migration and the backfill it waits for.
#[derive(Debug, Clone, Serialize)]
pub struct Waiting {
    pub migration: String,
    pub backfill: String,
    /// The backfill's ledger state (`not started` without a row).
    pub state: String,
    pub rows_done: i64,
    pub rows_total: Option<i64>,
    /// The command that unblocks it.
    pub command: String,
    /// Extra advice (apply the migrations before it first, turn a flag on).
    pub hint: String,
}

impl std::fmt::Display for Waiting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let progress = match self.rows_total {
            Some(total) if total > 0 => format!(", {} of ~{total} rows", self.rows_done),
            _ => String::new(),
        };
        write!(
            f,
            "`{}` waits for backfill `{}` ({}{progress}): run `{}`{}",
            self.migration, self.backfill, self.state, self.command, self.hint
        )
    }
}

/// What a contract migration may do now.
pub(crate) enum Verdict<'a> {
    /// Its backfill finished (or it is no contract migration).
    Free,
    /// Nothing to do: record the backfill finished when the migration applies.
    NothingToDo(&'a Registered),
    Waiting(Waiting),
}

/// The verdict for one pending migration.
pub(crate) async fn verdict<'a, C: ConnectionTrait>(
    db: &C,
    backfills: &'a Backfills,
    migration: &str,
    earlier_pending: &[&str],
) -> Result<Verdict<'a>, BackfillError> {
    let Some(backfill) = backfills.required_by(migration) else {
        return Ok(Verdict::Free);
    };
    let name = backfill.inner.name();
    let row = ledger::load(db, name).await?;
    if row
        .as_ref()
        .is_some_and(|r| r.state == LedgerState::Finished)
    {
        return Ok(Verdict::Free);
    }
    let table = super::driver::quote_qualified(backfill.inner.table());
    let present = scalar_bool(
        db,
        Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT to_regclass($1) IS NOT NULL",
            [table.clone().into()],
        ),
    )
    .await?;
    // A table created by this run's migrations is empty: structural
    // migrations write no data.
    if !present {
        return Ok(Verdict::NothingToDo(backfill));
    }
    let mut hint = String::new();
    let has_work = match super::driver::has_work(db, backfill.inner.has_work_sql()).await {
        Ok(answer) => answer,
        Err(_) => {
            // The column it fills may come with a pending migration: then only an
            // empty table has nothing to do.
            let rows = scalar_bool(
                db,
                Statement::from_string(
                    DbBackend::Postgres,
                    format!("SELECT EXISTS (SELECT 1 FROM {table})"),
                ),
            )
            .await
            .map_err(|err| match err {
                BackfillError::PermissionDenied { source, .. } => BackfillError::TableUnreadable {
                    name: name.to_owned(),
                    migration: migration.to_owned(),
                    table: table.clone(),
                    source,
                },
                other => other,
            })?;
            if rows && !earlier_pending.is_empty() {
                hint = format!(
                    " after applying the migrations before it (`migrate up --to {}`)",
                    earlier_pending.last().copied().unwrap_or_default()
                );
            }
            rows
        }
    };
    if !has_work {
        return Ok(Verdict::NothingToDo(backfill));
    }
    if let Some(flag) = backfill.inner.flag()
        && !super::flags::is_on(db, flag).await?
    {
        hint.push_str(&format!(
            " (guarded by the flag `{flag}`, which is off: `flag set {flag} on` first)"
        ));
    }
    let state = row
        .as_ref()
        .map_or_else(|| "not started".to_owned(), |r| r.state.as_str().to_owned());
    Ok(Verdict::Waiting(Waiting {
        migration: migration.to_owned(),
        backfill: name.to_owned(),
        state,
        rows_done: row.as_ref().map_or(0, |r| r.rows_done),
        rows_total: row.as_ref().and_then(|r| r.rows_total),
        command: if row.as_ref().is_some_and(|r| {
            matches!(
                r.state,
                LedgerState::Paused | LedgerState::Cancelled | LedgerState::Failed
            )
        }) {
            format!("migration-runner backfill resume {name}")
        } else {
            format!("migration-runner backfill run {name}")
        },
        hint,
    }))
}

/// Every pending contract migration that waits, in order.
pub async fn waiting<C: ConnectionTrait>(
    db: &C,
    backfills: &Backfills,
    pending: &[&str],
) -> Result<Vec<Waiting>, BackfillError> {
    let mut found = Vec::new();
    for (index, migration) in pending.iter().enumerate() {
        if let Verdict::Waiting(waiting) =
            verdict(db, backfills, migration, &pending[..index]).await?
        {
            found.push(waiting);
        }
    }
    Ok(found)
}

/// Refuses the run when a contract migration in `pending` waits.
pub(crate) async fn refuse_waiting<C: ConnectionTrait>(
    db: &C,
    backfills: &Backfills,
    pending: &[&str],
) -> Result<(), BackfillError> {
    match waiting(db, backfills, pending).await?.into_iter().next() {
        Some(w) => Err(BackfillError::ContractWaiting {
            migration: w.migration,
            backfill: w.backfill,
            state: w.state,
            hint: w.hint,
        }),
        None => Ok(()),
    }
}

/// Right before a contract migration applies: records its backfill finished
/// when it had nothing to do, or refuses when rows now need it.
pub(crate) async fn before_apply<C: ConnectionTrait>(
    db: &C,
    backfills: &Backfills,
    migration: &str,
) -> Result<(), BackfillError> {
    match verdict(db, backfills, migration, &[]).await? {
        Verdict::Free => Ok(()),
        Verdict::NothingToDo(backfill) => {
            ledger::install(db).await?;
            ledger::mark_finished(
                db,
                backfill.inner.name(),
                backfill.schema,
                backfill.inner.table(),
                &format!("nothing to do when `{migration}` was applied"),
            )
            .await
        }
        Verdict::Waiting(w) => Err(BackfillError::ContractWaiting {
            migration: w.migration,
            backfill: w.backfill,
            state: w.state,
            hint: w.hint,
        }),
    }
}

async fn scalar_bool<C: ConnectionTrait>(
    db: &C,
    statement: Statement,
) -> Result<bool, BackfillError> {
    Ok(db
        .query_one_raw(statement)
        .await
        .map_err(|e| BackfillError::db("cannot check the backfill's table", e))?
        .and_then(|r| r.try_get_by_index::<bool>(0).ok())
        .unwrap_or(false))
}
