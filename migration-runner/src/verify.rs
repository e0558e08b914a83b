//! Verifying history: comparing the code's migrations with the database's
//! history, the same way for every command that reads or changes it. The
//! code side is recorded without a server (pending migrations twice, to prove
//! them deterministic); [`Verification`] says which problems a command may
//! proceed with.

use std::collections::HashMap;

use sea_orm::DatabaseConnection;

use crate::capture::{Capturer, Direction, Script};
use crate::catalog::{Catalog, Migration};
use crate::error::{MigrateError, Result, VerifyError};
use crate::history::{self, History, HistoryRow, RowState};
use crate::status::{Checksums, CodeChecksum, Inspection, IntegrityProblem, OutOfOrder};

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
    crate::sum::compare_checksums(file, code)
        .into_iter()
        .map(|mismatch| {
            format!(
                "{mismatch}: run `cargo xtask migrate hash` and commit {} (or, for a migration \
                 applied anywhere, restore what it was)",
                crate::sum::PATH
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
) -> Result<Compared> {
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
        return Err(VerifyError::Integrity(refused).into());
    }
    Ok(Compared {
        history,
        inspection,
        scripts,
    })
}

/// The checksum of every code migration (pending ones recorded twice to
/// prove they are deterministic), and the scripts of the pending ones.
async fn checksums(
    catalog: &Catalog,
    capturer: &Capturer,
    history: &[HistoryRow],
) -> (Checksums, Vec<Option<Script>>) {
    let rows: HashMap<&str, &HistoryRow> = history.iter().map(|r| (r.name.as_str(), r)).collect();
    let migrations = catalog.migrations();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let checked: Vec<Checked> = if workers < 2 || migrations.len() < PARALLEL_CHECKSUMS_FROM {
        let mut checked = Vec::with_capacity(migrations.len());
        for migration in migrations {
            let row = rows.get(migration.name.as_str()).copied();
            checked.push(check(capturer, migration, row).await);
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

/// Below this many migrations, threads cost more than they save.
const PARALLEL_CHECKSUMS_FROM: usize = 200;

/// One migration's checksum (or why it has none) and, when pending, its script.
type Checked = (Result<CodeChecksum, String>, Option<Script>);

async fn check(capturer: &Capturer, migration: &Migration, row: Option<&HistoryRow>) -> Checked {
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
            let code = CodeChecksum {
                checksum,
                statements: script.statements.len(),
            };
            (Ok(code), (!applied).then_some(script))
        }
        Err(err) => (Err(reason(&err)), None),
    }
}

fn check_on_own_thread(part: &[Migration], rows: &HashMap<&str, &HistoryRow>) -> Vec<Checked> {
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

fn reason(err: &MigrateError) -> String {
    use crate::error::CatalogError;
    match err {
        MigrateError::Catalog(CatalogError::NonDeterministic { problem, .. }) => {
            format!(
                "it {problem}; structural migrations must be deterministic and data work belongs in a backfill"
            )
        }
        MigrateError::Catalog(CatalogError::Capture {
            direction, source, ..
        }) => format!(
            "its `{direction}` step fails when recorded without a database: {}",
            crate::db_error::describe(source)
        ),
        other => other.to_string(),
    }
}
