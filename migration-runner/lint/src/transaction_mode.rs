//! `refused-in-transaction`: the CONCURRENTLY forms, VACUUM and a few other
//! statements fail inside a transaction block, and the runner wraps every
//! migration in one unless its `use_transaction()` returns `Some(false)`.

use super::rules::RuleInfo;
use super::{LintInput, RawFinding, StatementObjects};

pub(crate) fn check(
    rule: &'static RuleInfo,
    input: &LintInput<'_>,
    statements: &[StatementObjects],
) -> Vec<RawFinding> {
    if !input.transactional {
        return Vec::new();
    }
    statements
        .iter()
        .filter(|s| s.objects.refused_in_transaction)
        .map(|s| {
            RawFinding::new(
                rule,
                s.index,
                "PostgreSQL refuses this statement inside a transaction block, and this \
                      migration runs in one (its `use_transaction()` does not return `Some(false)`)"
                    .to_owned(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::case::{rule_ids, sql};

    #[test]
    fn fires_on_what_breaks_it_and_not_on_the_safe_alternative() {
        crate::case::assert_rule(
            "refused-in-transaction",
            sql(&["CREATE INDEX CONCURRENTLY IF NOT EXISTS courses_title_idx ON academy.courses (title)"]),
            sql(&["CREATE INDEX CONCURRENTLY IF NOT EXISTS courses_title_idx ON academy.courses (title)"])
                .outside_transaction(),
        );
    }

    #[test]
    fn every_statement_postgres_refuses_in_a_transaction_is_flagged_in_a_transactional_migration() {
        for statement in [
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS courses_title_idx ON academy.courses (title)",
            "DROP INDEX CONCURRENTLY IF EXISTS academy.courses_title_idx",
            "REINDEX INDEX CONCURRENTLY academy.courses_title_idx",
            "ALTER TABLE academy.events DETACH PARTITION academy.events_2024 CONCURRENTLY",
            "VACUUM academy.courses",
        ] {
            let statements: &'static [&'static str] = Box::leak(Box::new([statement]));
            let found = sql(statements).lint();
            assert!(
                rule_ids(&found).contains(&"refused-in-transaction"),
                "{statement}: {found:?}"
            );
            let found = sql(statements).outside_transaction().lint();
            assert!(
                !rule_ids(&found).contains(&"refused-in-transaction"),
                "{statement}: {found:?}"
            );
        }
    }
}
