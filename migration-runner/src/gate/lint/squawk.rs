//! squawk's PostgreSQL rules, run over the whole migration at once (its
//! rules know, for example, that an index on a table created earlier in the
//! same migration needs no CONCURRENTLY), each violation mapped back to the
//! statement it is in.

use squawk_linter::{Linter, Version};
use squawk_syntax::SourceFile;

use super::RawFinding;
use super::rules::{self, Origin};

/// The oldest PostgreSQL the runner supports (it relies on
/// `client_connection_check_interval`, new in 14): squawk's version-aware
/// rules assume no newer server.
const PG_VERSION: &str = "14";

/// Runs every squawk rule of the catalog over `statements`.
pub(super) fn check(statements: &[String], transactional: bool) -> Vec<RawFinding> {
    let mut text = String::new();
    let mut starts = Vec::with_capacity(statements.len());
    for statement in statements {
        starts.push(text.len());
        let statement = statement.trim_end();
        text.push_str(statement);
        if !statement.ends_with(';') {
            text.push(';');
        }
        text.push('\n');
    }
    let enabled = rules::rules().iter().filter_map(|rule| match rule.origin {
        Origin::Squawk(rule) => Some(rule),
        Origin::Product => None,
    });
    let mut linter = Linter::from(enabled);
    linter.settings.pg_version = PG_VERSION.parse::<Version>().unwrap_or_default();
    linter.settings.assume_in_transaction = transactional;
    let parse = SourceFile::parse(&text);
    let findings: Vec<RawFinding> = linter
        .lint(&parse, &text)
        .into_iter()
        .filter_map(|violation| {
            let rule = rules::for_squawk(violation.code)?;
            let at = usize::from(violation.text_range.start());
            let statement_index = starts
                .partition_point(|&start| start <= at)
                .saturating_sub(1);
            Some(RawFinding {
                rule,
                statement_index,
                message: one_line(&violation.message),
                fix: rule.fix.to_owned(),
            })
        })
        .collect();
    // squawk reports a foreign key added without NOT VALID under both
    // rules; the foreign-key one says it better.
    let foreign_keys: Vec<usize> = findings
        .iter()
        .filter(|f| f.rule.id == "adding-foreign-key-constraint")
        .map(|f| f.statement_index)
        .collect();
    findings
        .into_iter()
        .filter(|f| {
            f.rule.id != "constraint-missing-not-valid"
                || !foreign_keys.contains(&f.statement_index)
        })
        .collect()
}

fn one_line(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    line.trim_end_matches('.').to_owned()
}
