//! Comparing the code's history with the database's: each migration's state,
//! and the integrity problems that make the runner refuse to apply anything.

use std::collections::HashMap;
use std::fmt;

use serde::Serialize;

use crate::catalog::Catalog;
use crate::history::{HistoryRow, RowState};

/// Where one migration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Applied, and its SQL is still what was applied.
    Applied,
    /// Not applied yet, and it sorts after everything applied.
    Pending,
    /// Applied, but the code now emits different SQL (edited after deploy).
    Changed,
    /// In history but no longer in the code (deleted or renamed).
    Missing,
    /// Not applied, but sorts before the newest applied migration.
    OutOfOrder,
    /// A non-transactional migration that started and never finished.
    Failed,
    /// In the code, but its SQL cannot be checksummed (reads the database or varies per run).
    Invalid,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Applied => "applied",
            State::Pending => "pending",
            State::Changed => "changed",
            State::Missing => "missing",
            State::OutOfOrder => "out_of_order",
            State::Failed => "failed",
            State::Invalid => "invalid",
        }
    }
}

/// One line of `migrate status`.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub name: String,
    pub schema: String,
    pub state: State,
    /// When it was applied (RFC 3339), for rows in history.
    pub applied_at: Option<String>,
    pub execution_ms: Option<i64>,
    /// The checksum the code emits now (absent for missing migrations).
    pub checksum: Option<String>,
    /// The checksum recorded when it was applied.
    pub applied_checksum: Option<String>,
    pub transactional: bool,
    pub out_of_order_allowed: bool,
    pub note: Option<String>,
}

/// The checksum of each code migration, or why it has none.
pub type Checksums = HashMap<String, Result<String, String>>;

/// The whole comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    pub migrations: Vec<Entry>,
    pub problems: Vec<IntegrityProblem>,
}

impl Inspection {
    pub fn compare(
        catalog: &Catalog,
        history: &[HistoryRow],
        checksums: &Checksums,
        allow_out_of_order: bool,
    ) -> Self {
        let by_name: HashMap<&str, &HistoryRow> =
            history.iter().map(|r| (r.name.as_str(), r)).collect();
        // The catalog is in global order: the newest migration in history is
        // the last one with a row, and "sorts before it" means "comes earlier".
        let newest_applied = catalog.migrations().iter().rposition(|m| {
            by_name
                .get(m.name.as_str())
                .is_some_and(|r| r.state != RowState::RolledBack)
        });

        let mut migrations = Vec::new();
        let mut problems = Vec::new();
        for (position, migration) in catalog.migrations().iter().enumerate() {
            let row = by_name.get(migration.name.as_str()).copied();
            let checksum = checksums.get(&migration.name).cloned();
            let current = checksum.clone().and_then(Result::ok);
            let state = match (row, &checksum) {
                (_, Some(Err(reason))) => {
                    problems.push(IntegrityProblem::Invalid {
                        name: migration.name.clone(),
                        krate: migration.schema.to_owned(),
                        reason: reason.clone(),
                    });
                    State::Invalid
                }
                (Some(row), _) if matches!(row.state, RowState::Running | RowState::Failed) => {
                    problems.push(IntegrityProblem::Failed {
                        name: migration.name.clone(),
                        krate: migration.schema.to_owned(),
                    });
                    State::Failed
                }
                (Some(row), _) if row.state == RowState::Applied => {
                    let changed = !row.checksum.is_empty()
                        && current.as_deref().is_some_and(|now| now != row.checksum);
                    if changed {
                        problems.push(IntegrityProblem::Changed {
                            name: migration.name.clone(),
                            krate: migration.schema.to_owned(),
                        });
                        State::Changed
                    } else {
                        State::Applied
                    }
                }
                _ => {
                    let newest = newest_applied.filter(|newest| position < *newest);
                    if let Some(newest) = newest.filter(|_| !allow_out_of_order) {
                        problems.push(IntegrityProblem::OutOfOrder {
                            name: migration.name.clone(),
                            krate: migration.schema.to_owned(),
                            newest_applied: catalog.migrations()[newest].name.clone(),
                        });
                        State::OutOfOrder
                    } else {
                        State::Pending
                    }
                }
            };
            let in_history = row.filter(|r| r.state != RowState::RolledBack);
            migrations.push(Entry {
                name: migration.name.clone(),
                schema: migration.schema.to_owned(),
                state,
                applied_at: in_history.map(|r| r.applied_on.to_rfc3339()),
                execution_ms: in_history.map(|r| r.execution_ms),
                checksum: current,
                applied_checksum: in_history
                    .map(|r| r.checksum.clone())
                    .filter(|c| !c.is_empty()),
                transactional: migration.transactional(),
                out_of_order_allowed: row.is_some_and(|r| r.out_of_order),
                note: row.and_then(|r| r.note.clone()),
            });
        }
        let in_code: std::collections::HashSet<&str> = catalog
            .migrations()
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        for row in history {
            if !in_code.contains(row.name.as_str()) && row.state != RowState::RolledBack {
                problems.push(IntegrityProblem::Missing {
                    name: row.name.clone(),
                    krate: if row.schema.is_empty() {
                        "unknown".to_owned()
                    } else {
                        row.schema.clone()
                    },
                });
                migrations.push(Entry {
                    name: row.name.clone(),
                    schema: row.schema.clone(),
                    state: State::Missing,
                    applied_at: Some(row.applied_on.to_rfc3339()),
                    execution_ms: Some(row.execution_ms),
                    checksum: None,
                    applied_checksum: Some(row.checksum.clone()).filter(|c| !c.is_empty()),
                    transactional: true,
                    out_of_order_allowed: row.out_of_order,
                    note: row.note.clone(),
                });
            }
        }
        Self {
            migrations,
            problems,
        }
    }

    pub fn pending(&self) -> impl Iterator<Item = &Entry> {
        self.migrations
            .iter()
            .filter(|e| matches!(e.state, State::Pending | State::OutOfOrder))
    }

    pub fn applied_count(&self) -> usize {
        self.migrations
            .iter()
            .filter(|e| e.state == State::Applied)
            .count()
    }

    /// 0: every migration applied and intact; 1: only pending migrations remain; 2: any integrity problem.
    pub fn exit_code(&self) -> u8 {
        if !self.problems.is_empty() {
            2
        } else if self.pending().next().is_some() {
            1
        } else {
            0
        }
    }
}

/// Why the runner refuses to apply anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum IntegrityProblem {
    Changed {
        name: String,
        krate: String,
    },
    Missing {
        name: String,
        krate: String,
    },
    OutOfOrder {
        name: String,
        krate: String,
        newest_applied: String,
    },
    Failed {
        name: String,
        krate: String,
    },
    Invalid {
        name: String,
        krate: String,
        reason: String,
    },
}

impl fmt::Display for IntegrityProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntegrityProblem::Changed { name, krate } => write!(
                f,
                "migration `{name}` in crate `{krate}` was edited after it was applied (its SQL checksum \
                 changed); restore the file to what was deployed (`git log -p` on it) and put the change \
                 in a new migration"
            ),
            IntegrityProblem::Missing { name, krate } => write!(
                f,
                "migration `{name}` (crate `{krate}`) is in the database's history but no longer in the code \
                 (deleted or renamed); restore it under its original name"
            ),
            IntegrityProblem::OutOfOrder {
                name,
                krate,
                newest_applied,
            } => write!(
                f,
                "migration `{name}` in crate `{krate}` is pending but sorts before `{newest_applied}`, which \
                 is already applied (typical after merging a parallel branch); rename it with a newer timestamp \
                 (`cargo xtask migrate new` prints one), or apply it anyway with `--allow-out-of-order` \
                 (recorded in history)"
            ),
            IntegrityProblem::Failed { name, krate } => write!(
                f,
                "migration `{name}` in crate `{krate}` is non-transactional and did not finish (crashed or \
                 failed midway); check what it left behind, then `cargo xtask migrate resolve --rolled-back \
                 {name}` to retry it or `--applied {name}` if it completed"
            ),
            IntegrityProblem::Invalid {
                name,
                krate,
                reason,
            } => write!(
                f,
                "migration `{name}` in crate `{krate}` cannot be checksummed: {reason}"
            ),
        }
    }
}
