//! What the linter reports: one finding per rule per statement, with its
//! severity, the reason, the safe alternative, and the allow-comment that
//! exempts it, if any.

use std::fmt;

use serde::Serialize;

/// How much a finding matters: an `Error` fails `lint` (and `check`) unless
/// an allow-comment with a reason exempts it; a `Warning` is reported only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of deployment the SQL must run on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// One PostgreSQL server.
    #[default]
    Plain,
    /// Citus (distributed PostgreSQL): some constraints cannot be created.
    Citus,
}

/// One rule broken by one statement of one migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The rule's id (`lint::rules()` lists them all).
    pub rule: &'static str,
    pub severity: Severity,
    pub migration: String,
    /// Index of the statement in the migration's recorded script (0-based);
    /// 0 for findings about the source file itself (see `line`).
    pub statement_index: usize,
    /// For findings about the migration's source (its comments): the
    /// 1-based line.
    pub line: Option<usize>,
    /// What is wrong, in one line: the reason.
    pub message: String,
    /// The safe alternative.
    pub fix: String,
    /// The reason given by the allow-comment that exempts this finding.
    pub allowed: Option<String>,
}

impl Finding {
    /// Whether the finding fails the lint: an error nothing exempts.
    pub fn blocks(&self) -> bool {
        self.severity == Severity::Error && self.allowed.is_none()
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = match self.line {
            Some(line) => format!("line {line}"),
            None => format!("statement {}", self.statement_index + 1),
        };
        write!(
            f,
            "{}[{}] {} ({at}): {}; fix: {}",
            self.severity, self.rule, self.migration, self.message, self.fix
        )?;
        if let Some(reason) = &self.allowed {
            write!(f, " (allowed: {reason})")?;
        }
        Ok(())
    }
}
