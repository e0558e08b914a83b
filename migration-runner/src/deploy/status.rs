//! Comparing the code's history with the database's: each migration's state,
//! and the integrity problems that make the runner refuse to apply anything.

use std::collections::HashMap;
use std::fmt;

use serde::Serialize;

use crate::history::{History, HistoryRow, RowState, TableState};
use crate::source::catalog::Catalog;

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
    /// Its history row cannot be trusted: a state this runner never writes,
    /// or a checksum that was blanked.
    Unreadable,
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
            State::Unreadable => "unreadable",
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
    /// Pending, and its `up` emits no statement yet (a fresh `migrate new`).
    pub unwritten: bool,
}

/// What the code emits for one migration now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChecksum {
    pub checksum: String,
    /// How many statements its `up` emits.
    pub statements: usize,
}

/// The checksum of each code migration, or why it has none.
pub type Checksums = HashMap<String, Result<CodeChecksum, String>>;

/// Whether a pending migration that sorts before applied ones is a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutOfOrder {
    Refuse,
    /// `up --allow-out-of-order`: it is pending, and applied as such.
    Allow,
}

/// The whole comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    pub migrations: Vec<Entry>,
    pub problems: Vec<IntegrityProblem>,
    /// How the code disagrees with the sum file it was built with.
    pub sum: Vec<String>,
    /// Pending contract migrations waiting for their backfills.
    pub waiting: Vec<crate::backfill::gate::Waiting>,
}

impl Inspection {
    pub fn compare(
        catalog: &Catalog,
        history: &History,
        checksums: &Checksums,
        out_of_order: OutOfOrder,
    ) -> Self {
        // A row of ours without a checksum was blanked by hand; rows adopted
        // from sea-orm's own table get theirs on the next `up`.
        let ours = history.table == TableState::Current;
        let history = history.rows.as_slice();
        let by_name: HashMap<&str, &HistoryRow> =
            history.iter().map(|r| (r.name.as_str(), r)).collect();
        // The catalog is in global order: the newest migration in history is
        // the last one with a row, and "sorts before it" means "comes earlier".
        let newest_applied = catalog.migrations().iter().rposition(|m| {
            by_name
                .get(m.name.as_str())
                .is_some_and(|r| r.state.is_present())
        });

        let mut migrations = Vec::new();
        let mut problems = Vec::new();
        for (position, migration) in catalog.migrations().iter().enumerate() {
            let row = by_name.get(migration.name.as_str()).copied();
            let checksum = checksums.get(&migration.name).cloned();
            let code = checksum.clone().and_then(Result::ok);
            let current = code.as_ref().map(|c| c.checksum.clone());
            let krate = migration.schema.to_owned();
            let state = match (row, &checksum) {
                (Some(row), _) if matches!(row.state, RowState::Unknown(_)) => {
                    problems.push(IntegrityProblem::UnknownState {
                        name: migration.name.clone(),
                        krate: krate.clone(),
                        state: row.state.as_str().to_owned(),
                    });
                    State::Unreadable
                }
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
                        krate: krate.clone(),
                        state: row.state.as_str().to_owned(),
                        transactional: migration.transactional(),
                    });
                    State::Failed
                }
                (Some(row), _)
                    if row.state == RowState::Applied && ours && row.checksum.is_empty() =>
                {
                    problems.push(IntegrityProblem::BlankChecksum {
                        name: migration.name.clone(),
                        krate: krate.clone(),
                    });
                    State::Unreadable
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
                    if let Some(newest) = newest.filter(|_| out_of_order == OutOfOrder::Refuse) {
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
            let in_history = row.filter(|r| r.state.is_present());
            let unwritten = matches!(state, State::Pending | State::OutOfOrder)
                && code.as_ref().is_some_and(|c| c.statements == 0);
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
                note: if unwritten {
                    Some("not written yet: its `up` emits no statement".to_owned())
                } else {
                    row.and_then(|r| r.note.clone())
                },
                unwritten,
            });
        }
        let in_code: std::collections::HashSet<&str> = catalog
            .migrations()
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        for row in history {
            if !in_code.contains(row.name.as_str()) && row.state.is_present() {
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
                    unwritten: false,
                });
            }
        }
        Self {
            migrations,
            problems,
            sum: Vec::new(),
            waiting: Vec::new(),
        }
    }

    /// Every code migration applied with its current checksum, as the
    /// history digest showed: what `compare` finds then, with the details
    /// (when, how long, notes) of the rows in `rows` only.
    /// Every catalog migration applied as the code has it (the no-op
    /// check's verdict); `rows` are the history rows read (all, or the
    /// newest few for a summary): only those entries carry their row's
    /// details and a checksum (`checksum_of` the catalog position and name),
    /// so a summary of a long history builds no more than it shows.
    pub(crate) fn all_applied(
        catalog: &Catalog,
        checksum_of: impl Fn(usize, &str) -> Option<String>,
        rows: &HashMap<&str, &HistoryRow>,
    ) -> Self {
        let migrations = catalog
            .migrations()
            .iter()
            .enumerate()
            .map(|(position, migration)| {
                let row = rows.get(migration.name.as_str()).copied();
                let checksum = row.and_then(|_| checksum_of(position, &migration.name));
                Entry {
                    name: migration.name.clone(),
                    schema: migration.schema.to_owned(),
                    state: State::Applied,
                    applied_at: row.map(|r| r.applied_on.to_rfc3339()),
                    execution_ms: row.map(|r| r.execution_ms),
                    applied_checksum: checksum.clone(),
                    checksum,
                    transactional: migration.transactional(),
                    out_of_order_allowed: row.is_some_and(|r| r.out_of_order),
                    note: row.and_then(|r| r.note.clone()),
                    unwritten: false,
                }
            })
            .collect();
        Self {
            migrations,
            problems: Vec::new(),
            sum: Vec::new(),
            waiting: Vec::new(),
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

    /// The integrity problems and the sum file's disagreements with the code:
    /// everything that makes the exit code 2.
    pub fn problem_count(&self) -> usize {
        self.problems.len() + self.sum.len()
    }

    /// 0: every migration applied and intact; 1: only pending migrations remain; 2: any integrity problem.
    pub fn exit_code(&self) -> u8 {
        if !self.problems.is_empty() || !self.sum.is_empty() {
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
        state: String,
        transactional: bool,
    },
    UnknownState {
        name: String,
        krate: String,
        state: String,
    },
    BlankChecksum {
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
            IntegrityProblem::Failed {
                name,
                krate,
                state,
                transactional: false,
            } => write!(
                f,
                "migration `{name}` in crate `{krate}` is non-transactional and did not finish (history says \
                 `{state}`: it crashed or failed midway); check what it left behind, then `cargo xtask migrate \
                 resolve --rolled-back {name}` to retry it or `--applied {name}` if it completed"
            ),
            IntegrityProblem::Failed {
                name,
                krate,
                state,
                transactional: true,
            } => write!(
                f,
                "migration `{name}` in crate `{krate}` runs in a transaction, yet history says `{state}`: the \
                 runner never leaves such a row, so the history table was edited by hand (or by another tool); \
                 check whether its objects exist, then `cargo xtask migrate resolve --rolled-back {name}` to \
                 make it pending or `--applied {name}` if it completed"
            ),
            IntegrityProblem::UnknownState { name, krate, state } => write!(
                f,
                "migration `{name}` in crate `{krate}` has state `{state}` in history, which this runner never \
                 writes (edited by hand, or by a newer runner); set it back to `applied`, or resolve it with \
                 `cargo xtask migrate resolve --applied {name}` or `--rolled-back {name}`"
            ),
            IntegrityProblem::BlankChecksum { name, krate } => write!(
                f,
                "migration `{name}` in crate `{krate}` is applied but its checksum in history is blank (edited by \
                 hand), so edits to it can no longer be detected; if the database really matches the code, \
                 re-record it with `cargo xtask migrate resolve --applied {name}`"
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

impl IntegrityProblem {
    /// The migration the problem is about.
    pub fn name(&self) -> &str {
        match self {
            IntegrityProblem::Changed { name, .. }
            | IntegrityProblem::Missing { name, .. }
            | IntegrityProblem::OutOfOrder { name, .. }
            | IntegrityProblem::Failed { name, .. }
            | IntegrityProblem::UnknownState { name, .. }
            | IntegrityProblem::BlankChecksum { name, .. }
            | IntegrityProblem::Invalid { name, .. } => name,
        }
    }
}

#[cfg(test)]
mod tests {
    use sea_orm_migration::prelude::*;

    use super::*;
    use crate::source::catalog::SchemaSource;

    struct Named(&'static str, bool);

    impl MigrationName for Named {
        fn name(&self) -> &str {
            self.0
        }
    }

    #[async_trait::async_trait]
    impl MigrationTrait for Named {
        #[allow(elided_lifetimes_in_paths)]
        async fn up(&self, _: &SchemaManager) -> Result<(), DbErr> {
            Ok(())
        }

        fn use_transaction(&self) -> Option<bool> {
            (!self.1).then_some(false)
        }
    }

    const A: &str = "m20250101_000000_core_a";
    const B: &str = "m20250102_000000_core_b";
    const C: &str = "m20250103_000000_core_c";

    fn catalog(non_transactional: &[&str]) -> Catalog {
        let migrations = [A, B, C]
            .into_iter()
            .map(|name| {
                Box::new(Named(name, !non_transactional.contains(&name))) as Box<dyn MigrationTrait>
            })
            .collect();
        Catalog::new(vec![SchemaSource::new("core", "core", migrations)]).unwrap()
    }

    fn row(name: &str, state: &str, checksum: &str) -> HistoryRow {
        HistoryRow {
            name: name.to_owned(),
            schema: "core".to_owned(),
            checksum: checksum.to_owned(),
            state: match state {
                "applied" => RowState::Applied,
                "running" => RowState::Running,
                "failed" => RowState::Failed,
                "rolled_back" => RowState::RolledBack,
                other => RowState::Unknown(other.to_owned()),
            },
            execution_ms: 1,
            applied_on: chrono::DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z").unwrap(),
            out_of_order: false,
            note: None,
        }
    }

    fn code(name: &str) -> CodeChecksum {
        CodeChecksum {
            checksum: format!("sum-{name}"),
            statements: 1,
        }
    }

    fn checksums() -> Checksums {
        [A, B, C]
            .into_iter()
            .map(|n| (n.to_owned(), Ok(code(n))))
            .collect()
    }

    struct Case {
        what: &'static str,
        rows: Vec<HistoryRow>,
        table: TableState,
        checksums: Checksums,
        allow_out_of_order: bool,
        non_transactional: &'static [&'static str],
        states: [State; 3],
        problems: &'static [&'static str],
        exit: u8,
    }

    fn case(what: &'static str, rows: Vec<HistoryRow>) -> Case {
        Case {
            what,
            rows,
            table: TableState::Current,
            checksums: checksums(),
            allow_out_of_order: false,
            non_transactional: &[],
            states: [State::Pending; 3],
            problems: &[],
            exit: 1,
        }
    }

    #[test]
    fn comparing_code_with_history() {
        let applied = |name: &str| row(name, "applied", &format!("sum-{name}"));
        let cases = vec![
            case("empty history: all pending", vec![]),
            Case {
                states: [State::Applied; 3],
                exit: 0,
                ..case("all applied", vec![applied(A), applied(B), applied(C)])
            },
            Case {
                states: [State::Applied, State::Changed, State::Pending],
                problems: &["changed"],
                exit: 2,
                ..case(
                    "edited after apply",
                    vec![applied(A), row(B, "applied", "old")],
                )
            },
            Case {
                states: [State::OutOfOrder, State::Applied, State::Pending],
                problems: &["out_of_order"],
                exit: 2,
                ..case("a gap before the newest applied", vec![applied(B)])
            },
            Case {
                states: [State::Pending, State::Applied, State::Pending],
                allow_out_of_order: true,
                ..case("a gap, allowed", vec![applied(B)])
            },
            Case {
                states: [State::Applied, State::Pending, State::Pending],
                problems: &["missing"],
                exit: 2,
                ..case(
                    "deleted from code",
                    vec![applied(A), applied("m20250104_000000_core_gone")],
                )
            },
            Case {
                states: [State::Applied, State::Failed, State::Pending],
                non_transactional: &[B],
                problems: &["failed"],
                exit: 2,
                ..case(
                    "non-transactional crash",
                    vec![applied(A), row(B, "running", "")],
                )
            },
            Case {
                states: [State::Applied, State::Failed, State::Pending],
                problems: &["failed"],
                exit: 2,
                ..case(
                    "running row for a transactional one",
                    vec![applied(A), row(B, "running", "")],
                )
            },
            Case {
                states: [State::Applied, State::Unreadable, State::Pending],
                problems: &["unknown_state"],
                exit: 2,
                ..case("unknown state", vec![applied(A), row(B, "done", "sum-b")])
            },
            Case {
                states: [State::Applied, State::Unreadable, State::Pending],
                problems: &["blank_checksum"],
                exit: 2,
                ..case("blanked checksum", vec![applied(A), row(B, "applied", "")])
            },
            Case {
                table: TableState::SeaOrm,
                states: [State::Applied, State::Applied, State::Pending],
                ..case(
                    "adopted rows carry no checksum yet",
                    vec![row(A, "applied", ""), row(B, "applied", "")],
                )
            },
            Case {
                states: [State::Applied, State::Pending, State::Pending],
                ..case(
                    "rolled back is pending again",
                    vec![applied(A), row(B, "rolled_back", "")],
                )
            },
            Case {
                checksums: {
                    let mut sums = checksums();
                    sums.insert(C.to_owned(), Err("reads the database".to_owned()));
                    sums
                },
                states: [State::Applied, State::Applied, State::Invalid],
                problems: &["invalid"],
                exit: 2,
                ..case("code cannot be checksummed", vec![applied(A), applied(B)])
            },
        ];
        for case in cases {
            let history = History {
                rows: case.rows,
                table: case.table,
                digest_current: false,
            };
            let inspection = Inspection::compare(
                &catalog(case.non_transactional),
                &history,
                &case.checksums,
                if case.allow_out_of_order {
                    OutOfOrder::Allow
                } else {
                    OutOfOrder::Refuse
                },
            );
            let states: Vec<State> = inspection
                .migrations
                .iter()
                .take(3)
                .map(|e| e.state)
                .collect();
            assert_eq!(states, case.states, "{}", case.what);
            let problems: Vec<String> = inspection
                .problems
                .iter()
                .map(|p| {
                    serde_json::to_value(p).unwrap()["problem"]
                        .as_str()
                        .unwrap()
                        .to_owned()
                })
                .collect();
            assert_eq!(problems, case.problems, "{}", case.what);
            assert_eq!(inspection.exit_code(), case.exit, "{}", case.what);
        }
    }

    #[test]
    fn a_running_row_is_described_by_its_transaction_mode() {
        let text = |transactional| {
            IntegrityProblem::Failed {
                name: B.to_owned(),
                krate: "core".to_owned(),
                state: "running".to_owned(),
                transactional,
            }
            .to_string()
        };
        assert!(text(false).contains("is non-transactional and did not finish"));
        assert!(text(true).contains("runs in a transaction, yet history says `running`"));
        assert!(!text(true).contains("non-transactional"));
    }

    #[test]
    fn an_empty_pending_migration_is_unwritten_not_a_problem() {
        let mut sums = checksums();
        sums.insert(
            C.to_owned(),
            Ok(CodeChecksum {
                checksum: "empty".to_owned(),
                statements: 0,
            }),
        );
        let history = History {
            rows: vec![],
            table: TableState::Absent,
            digest_current: false,
        };
        let inspection = Inspection::compare(&catalog(&[]), &history, &sums, OutOfOrder::Refuse);
        assert!(inspection.problems.is_empty());
        assert_eq!(inspection.exit_code(), 1);
        assert!(inspection.migrations[2].unwritten);
        assert!(!inspection.migrations[1].unwritten);
    }
}
