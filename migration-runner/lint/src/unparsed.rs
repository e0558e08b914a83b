//! `unparsed-statement`: SQL the parser (squawk's grammar of PostgreSQL)
//! refuses cannot be checked by any rule, and would fail on the server anyway.

use super::rules::RuleInfo;
use super::{LintInput, RawFinding, StatementObjects};

pub(crate) fn check(
    rule: &'static RuleInfo,
    _input: &LintInput<'_>,
    statements: &[StatementObjects],
) -> Vec<RawFinding> {
    statements
        .iter()
        .flat_map(|s| {
            s.objects.unparsed.iter().map(move |unparsed| {
                RawFinding::new(
                    rule,
                    s.index,
                    format!("the SQL parser refuses it: {}", unparsed.error),
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::case::sql;

    #[test]
    fn fires_on_what_breaks_it_and_not_on_the_safe_alternative() {
        crate::case::assert_rule(
            "unparsed-statement",
            sql(&["ALTER TABLE academy.courses ADD COLUMN"]),
            sql(&["ALTER TABLE academy.courses ADD COLUMN summary text"]),
        );
    }
}
