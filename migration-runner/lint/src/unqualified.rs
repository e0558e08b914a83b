//! `unqualified-table`: every table a statement names carries its schema, so
//! `search_path` never decides where a migration's change lands.

use super::rules::RuleInfo;
use super::{LintInput, RawFinding, StatementObjects};

pub(crate) fn check(
    rule: &'static RuleInfo,
    input: &LintInput<'_>,
    statements: &[StatementObjects],
) -> Vec<RawFinding> {
    statements
        .iter()
        .filter(|s| !s.objects.unqualified_tables.is_empty())
        .map(|s| {
            let names = super::allow::quoted(&s.objects.unqualified_tables);
            let example = s
                .objects
                .unqualified_tables
                .iter()
                .next()
                .map_or_else(String::new, |name| {
                    format!(" (for example `{}.{name}`)", input.schema)
                });
            RawFinding {
                rule,
                statement_index: s.index,
                message: format!(
                    "{names} named without a schema: `search_path` decides which schema is meant"
                ),
                fix: format!("name each table with its schema{example}"),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::case::sql;

    #[test]
    fn fires_on_what_breaks_it_and_not_on_the_safe_alternative() {
        crate::case::assert_rule(
            "unqualified-table",
            sql(&["ALTER TABLE courses ADD COLUMN summary text"]),
            sql(&["ALTER TABLE academy.courses ADD COLUMN summary text"]),
        );
    }
}
