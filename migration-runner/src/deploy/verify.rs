//! Verifying history: comparing the code's migrations with the database's
//! history, the same way for every command that reads or changes it. The
//! code side is recorded without a server (pending migrations twice, to prove
//! them deterministic); [`Verification`] says which problems a command may
//! proceed with.

use std::collections::HashMap;

use sea_orm::DatabaseConnection;

use crate::deploy::preflight::MissingPrivilege;
use crate::deploy::status::{Checksums, CodeChecksum, Inspection, IntegrityProblem, OutOfOrder};
use crate::history::{self, History, HistoryError, HistoryRow, RowState};
use crate::source::capture::{Capturer, Direction, RecordedUp, Script};
use crate::source::catalog::{Catalog, Migration};

/// Which integrity problems a command may proceed with. Every command
/// verifies; only these exceptions, each made for its case, relax it.
#[derive(Debug, Clone, Copy)]
pub enum Verification<'a> {
    /// Nothing refuses: the problems are reported (`status`).
    Report,
    /// Any problem refuses.
    Strict,
    /// `up --allow-out-of-order`: pending migrations before applied ones are applied.
    AllowOutOfOrder,
    /// `resolve NAME`: problems about NAME are what it resolves.
    Resolving(&'a str),
}

/// The code compared with history.
pub(crate) struct Compared {
    pub history: History,
    pub inspection: Inspection,
    /// The scripts of the pending migrations, in catalog order.
    pub scripts: Vec<Option<Script>>,
}

/// How the code disagrees with the catalog's sum file, from the checksums
/// already computed (equal SQL touches equal tables).
fn sum_disagreements(catalog: &Catalog, checksums: &Checksums) -> Vec<String> {
    let file = match catalog.expected_sum() {
        None => return Vec::new(),
        Some(Err(err)) => return vec![err.to_string()],
        Some(Ok(file)) => file,
    };
    let code = catalog.migrations().iter().map(|migration| {
        let checksum = checksums
            .get(&migration.name)
            .and_then(|c| c.as_ref().ok())
            .map(|c| c.checksum.as_str());
        (migration.name.as_str(), checksum)
    });
    crate::source::sum::compare_checksums(file, code)
        .into_iter()
        .map(|mismatch| {
            format!(
                "{mismatch}: run `cargo xtask migrate hash` and commit {} (or, for a migration \
                 applied anywhere, restore what it was)",
                crate::source::sum::PATH
            )
        })
        .collect()
}

/// Reads history and compares it with the code; refuses the problems the
/// verification does not allow. `Report` refuses nothing (`status`).
pub(crate) async fn compare(
    db: &DatabaseConnection,
    catalog: &Catalog,
    capturer: &Capturer,
    verification: Verification<'_>,
) -> Result<Compared, VerifyError> {
    let history = history::load(db).await?;
    let (checksums, scripts) = checksums(catalog, capturer, &history.rows).await;
    let out_of_order = match verification {
        Verification::AllowOutOfOrder => OutOfOrder::Allow,
        _ => OutOfOrder::Refuse,
    };
    let mut inspection = Inspection::compare(catalog, &history, &checksums, out_of_order);
    if matches!(verification, Verification::Report) {
        inspection.sum = sum_disagreements(catalog, &checksums);
    }
    let refused: Vec<IntegrityProblem> = inspection
        .problems
        .iter()
        .filter(|problem| match verification {
            Verification::Report => false,
            Verification::Resolving(name) => problem.name() != name,
            _ => true,
        })
        .cloned()
        .collect();
    if !refused.is_empty() {
        return Err(VerifyError::Integrity(refused));
    }
    Ok(Compared {
        history,
        inspection,
        scripts,
    })
}

/// Every code migration's `up` recorded once, with its checksum, in catalog
/// order: recorded on the first call of the process and remembered by the
/// capturer. Recording is pure CPU (no server involved): a long history is
/// spread over the cores, each worker with its own recorder.
pub(crate) async fn recorded_ups<'c>(
    catalog: &Catalog,
    capturer: &'c Capturer,
) -> &'c [(String, RecordedUp)] {
    let migrations = catalog.migrations();
    if let Some(ups) = capturer.remembered_ups(migrations.iter().map(|m| m.name.as_str())) {
        return ups;
    }
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let recorded: Vec<RecordedUp> = if workers < 2 || migrations.len() < PARALLEL_RECORDING_FROM {
        let mut recorded = Vec::with_capacity(migrations.len());
        for migration in migrations {
            recorded.push(record_up(capturer, migration).await);
        }
        recorded
    } else {
        std::thread::scope(|scope| {
            let workers: Vec<_> = migrations
                .chunks(migrations.len().div_ceil(workers))
                .map(|part| scope.spawn(move || record_on_own_thread(part)))
                .collect();
            workers
                .into_iter()
                .flat_map(|worker| worker.join().expect("a recording worker panicked"))
                .collect()
        })
    };
    capturer.remember_ups(
        migrations
            .iter()
            .map(|m| m.name.clone())
            .zip(recorded)
            .collect(),
    )
}

/// Below this many migrations, threads cost more than they save.
const PARALLEL_RECORDING_FROM: usize = 200;

async fn record_up(capturer: &Capturer, migration: &Migration) -> RecordedUp {
    match capturer.record(migration, Direction::Up).await {
        Ok(script) => {
            let checksum = script.checksum();
            Ok((script, checksum))
        }
        Err(err) => Err(reason(&err)),
    }
}

fn record_on_own_thread(part: &[Migration]) -> Vec<RecordedUp> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a single-threaded runtime");
    runtime.block_on(async {
        let capturer = match Capturer::new().await {
            Ok(capturer) => capturer,
            Err(err) => return part.iter().map(|_| Err(err.to_string())).collect(),
        };
        let mut recorded = Vec::with_capacity(part.len());
        for migration in part {
            recorded.push(record_up(&capturer, migration).await);
        }
        recorded
    })
}

/// The digest history must have when every code migration is applied as it
/// is now; `None` when one cannot be recorded (the full comparison says why).
fn recorded_digest(ups: &[(String, RecordedUp)]) -> Option<history::Digest> {
    let mut rows = Vec::with_capacity(ups.len());
    for (name, recorded) in ups {
        let (_, checksum) = recorded.as_ref().ok()?;
        rows.push((name.as_str(), checksum.as_str()));
    }
    Some(history::Digest::of(rows))
}

/// What the no-op check needs of the code: its digest and each migration's
/// checksum. From the sum file when the catalog takes it as the record (no
/// migration recorded: flat in history length), else recorded.
enum CodeRecord<'c> {
    Sum(&'c crate::source::sum::SumRecord),
    Recorded(&'c [(String, RecordedUp)]),
}

impl<'c> CodeRecord<'c> {
    async fn of(catalog: &'c Catalog, capturer: &'c Capturer) -> Self {
        match catalog.sum_record() {
            Some(record) => CodeRecord::Sum(record),
            None => CodeRecord::Recorded(recorded_ups(catalog, capturer).await),
        }
    }

    fn digest(&self) -> Option<history::Digest> {
        match self {
            CodeRecord::Sum(record) => Some(history::Digest {
                rows: record.rows,
                lanes: record.lanes,
            }),
            CodeRecord::Recorded(ups) => recorded_digest(ups),
        }
    }
}

/// What the no-op check read beside its verdict, in its one statement.
pub(crate) struct NoOp {
    /// How many migrations history holds, all applied as the code has them.
    pub applied: usize,
    /// The rows the check was asked to show.
    pub rows: Vec<HistoryRow>,
    /// The runtime roles' name templates recorded in the database.
    pub recorded_templates: Option<(crate::roles::role_names::RoleTemplates, String)>,
    /// The database has the Citus extension.
    pub citus: bool,
}

/// The one-statement check: `Some` when history is exactly the code's
/// migrations, all applied with today's checksums (see
/// [`history::unchanged`]), with the rows `shown` asks for and what else a
/// no-op needs (the recorded role templates, whether Citus is there);
/// `None` when the full comparison must run. With `lock`, `None` also when
/// another session holds the migration lock.
async fn check_unchanged(
    db: &DatabaseConnection,
    code: &CodeRecord<'_>,
    lock: bool,
    shown: history::Shown<'_>,
) -> Option<NoOp> {
    let digest = code.digest()?;
    let templates = crate::roles::role_names::recorded_sql();
    let extras = [templates.as_str(), crate::citus::DETECT_SQL];
    let found = history::unchanged(db, &digest, lock, shown, &extras).await?;
    Some(NoOp {
        applied: digest.rows,
        rows: found.rows,
        recorded_templates: crate::roles::role_names::parse_recorded(found.extras[0].as_deref()),
        citus: found.extras[1].is_some(),
    })
}

/// The no-op check of `up` and `plan` (no rows shown).
pub(crate) async fn unchanged(
    db: &DatabaseConnection,
    catalog: &Catalog,
    capturer: &Capturer,
    lock: bool,
) -> Option<NoOp> {
    let code = CodeRecord::of(catalog, capturer).await;
    check_unchanged(db, &code, lock, history::Shown::Nothing).await
}

/// `status` when the digest shows history is exactly the code: every
/// migration applied, only the rows of the newest `tail` read (every row when
/// `tail` covers the catalog: `--all`, `--json`). `None` when the full
/// comparison must run.
pub(crate) async fn inspect_unchanged(
    db: &DatabaseConnection,
    catalog: &Catalog,
    capturer: &Capturer,
    tail: usize,
) -> Option<(Inspection, NoOp)> {
    let code = CodeRecord::of(catalog, capturer).await;
    let migrations = catalog.migrations();
    let shown: Vec<&str> = migrations[migrations.len().saturating_sub(tail)..]
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    let shown = if shown.len() == migrations.len() {
        history::Shown::Every
    } else {
        history::Shown::Named(&shown)
    };
    let mut found = check_unchanged(db, &code, false, shown).await?;
    let rows = std::mem::take(&mut found.rows);
    let by_name: HashMap<&str, &HistoryRow> = rows.iter().map(|r| (r.name.as_str(), r)).collect();
    let inspection = match &code {
        // The sum file as the record agrees with itself by definition.
        CodeRecord::Sum(record) => Inspection::all_applied(
            catalog,
            |position, _| Some(record.entries[position].2.to_owned()),
            &by_name,
        ),
        CodeRecord::Recorded(ups) => {
            let checksums = checksums_of(ups);
            let checksum_of = |_: usize, name: &str| {
                let code = checksums.get(name)?.as_ref().ok()?;
                Some(code.checksum.clone())
            };
            let mut inspection = Inspection::all_applied(catalog, checksum_of, &by_name);
            inspection.sum = sum_disagreements(catalog, &checksums);
            inspection
        }
    };
    Some((inspection, found))
}

fn checksums_of(ups: &[(String, RecordedUp)]) -> Checksums {
    ups.iter()
        .map(|(name, recorded)| {
            let code = recorded.as_ref().map(|(script, checksum)| CodeChecksum {
                checksum: checksum.clone(),
                statements: script.statements.len(),
            });
            (name.clone(), code.map_err(Clone::clone))
        })
        .collect()
}

/// The checksum of every code migration (pending ones recorded a second time
/// to prove them deterministic, as are applied ones whose checksum changed),
/// and the scripts of the pending ones.
async fn checksums(
    catalog: &Catalog,
    capturer: &Capturer,
    history: &[HistoryRow],
) -> (Checksums, Vec<Option<Script>>) {
    let rows: HashMap<&str, &HistoryRow> = history.iter().map(|r| (r.name.as_str(), r)).collect();
    let ups = recorded_ups(catalog, capturer).await;
    let migrations = catalog.migrations();
    let mut checksums = Checksums::with_capacity(migrations.len());
    let mut scripts = Vec::with_capacity(migrations.len());
    for (migration, (_, recorded)) in migrations.iter().zip(ups) {
        let row = rows.get(migration.name.as_str()).copied();
        let (checksum, script) = check(capturer, migration, row, recorded).await;
        checksums.insert(migration.name.clone(), checksum);
        scripts.push(script);
    }
    (checksums, scripts)
}

/// One migration's checksum (or why it has none) and, when pending, its script.
type Checked = (Result<CodeChecksum, String>, Option<Script>);

async fn check(
    capturer: &Capturer,
    migration: &Migration,
    row: Option<&HistoryRow>,
    recorded: &RecordedUp,
) -> Checked {
    let (script, checksum) = match recorded {
        Ok(recorded) => recorded,
        Err(reason) => return (Err(reason.clone()), None),
    };
    let applied = row.is_some_and(|r| r.state == RowState::Applied);
    // A pending migration is recorded twice; a changed checksum may be an
    // edit or a migration that varies per run: tell them apart before
    // calling it an edit.
    let changed = row.is_some_and(|r| applied && !r.checksum.is_empty() && r.checksum != *checksum);
    if (!applied || changed)
        && let Err(err) = capturer
            .record_again(migration, Direction::Up, script)
            .await
    {
        return (Err(reason(&err)), None);
    }
    let code = CodeChecksum {
        checksum: checksum.clone(),
        statements: script.statements.len(),
    };
    (Ok(code), (!applied).then(|| script.clone()))
}

fn reason(err: &crate::source::catalog::CatalogError) -> String {
    use crate::source::catalog::CatalogError;
    match err {
        CatalogError::NonDeterministic { problem, .. } => {
            format!(
                "it {problem}; structural migrations must be deterministic and data work belongs in a backfill"
            )
        }
        CatalogError::Capture {
            direction, source, ..
        } => format!(
            "its `{direction}` step fails when recorded without a database: {}",
            crate::connect::db_error::describe(source)
        ),
        other => other.to_string(),
    }
}

/// Refusals after comparing the code with history, before anything changes.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Reading the history to compare failed.
    #[error(transparent)]
    History(#[from] HistoryError),

    #[error("history integrity check failed; nothing was changed:\n{}", format_lines(.0))]
    Integrity(Vec<IntegrityProblem>),

    #[error(
        "migration `{name}` in crate `{krate}` has no statements yet (written by `migrate new` and not \
         filled in); nothing was applied: write its `up` and `down` in {krate}/src/migrations/{name}.rs, \
         or delete the file and its line in mod.rs; `--to` can stop before it"
    )]
    Unwritten { name: String, krate: String },

    #[error(
        "the connected role lacks privileges the pending migrations need; nothing was applied:\n{}\n  \
         run the statements above as the owner or a superuser, then retry",
        format_lines(.0)
    )]
    Preflight(Vec<MissingPrivilege>),

    #[error(
        "`migrate down` is destructive and APP_ENV is `production`; forward-fix with a new migration instead, \
         or pass `--allow-destructive` if you really mean to drop data"
    )]
    DestructiveRefused,

    #[error("not confirmed; nothing was changed (pass `--yes` to skip the question)")]
    Declined,

    #[error("migration `{name}` is already applied; nothing to resolve")]
    AlreadyApplied { name: String },

    #[error(
        "migration `{name}` is {state}, not failed; `resolve --rolled-back` only clears failed entries \
         (use `cargo xtask migrate down` to undo an applied migration)"
    )]
    NotFailed { name: String, state: String },

    #[error("migration `{name}` has no history entry; nothing to resolve")]
    NotInHistory { name: String },
}

pub(crate) fn format_lines<T: std::fmt::Display>(lines: &[T]) -> String {
    lines
        .iter()
        .map(|line| format!("  - {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}
