//! `data-in-migration`: a migration changes structure; writing rows is a
//! backfill's job (it can be batched, retried and run apart from deploys).

use super::rules::RuleInfo;
use super::{LintInput, RawFinding, StatementObjects};

pub(crate) fn check(
    rule: &'static RuleInfo,
    _input: &LintInput<'_>,
    statements: &[StatementObjects],
) -> Vec<RawFinding> {
    statements
        .iter()
        .filter(|s| s.objects.writes_data)
        .map(|s| {
            let tables: Vec<String> = s
                .objects
                .written_tables
                .iter()
                .map(|(schema, table)| format!("`{schema}.{table}`"))
                .collect();
            let what = if tables.is_empty() {
                "moves data (COPY)".to_owned()
            } else {
                format!("writes rows of {}", tables.join(", "))
            };
            RawFinding::new(rule, s.index, format!("{what} in a structural migration"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::case::sql;

    #[test]
    fn fires_on_what_breaks_it_and_not_on_the_safe_alternative() {
        crate::case::assert_rule(
            "data-in-migration",
            sql(&["UPDATE academy.courses SET title = initcap(title)"]),
            sql(&["ALTER TABLE academy.courses ADD COLUMN summary text"]),
        );
    }
}
