//! `data-in-migration`: a migration changes structure; writing rows is a
//! backfill's job (it can be batched, retried and run apart from deploys).

use super::rules::{self, DATA_IN_MIGRATION};
use super::{LintInput, RawFinding, StatementObjects};

pub(crate) fn check(_input: &LintInput<'_>, statements: &[StatementObjects]) -> Vec<RawFinding> {
    let rule = rules::find(DATA_IN_MIGRATION).expect("in the catalog");
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
            RawFinding {
                rule,
                statement_index: s.index,
                message: format!("{what} in a structural migration"),
                fix: rule.fix.to_owned(),
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
            "data-in-migration",
            sql(&["UPDATE academy.courses SET title = initcap(title)"]),
            sql(&["ALTER TABLE academy.courses ADD COLUMN summary text"]),
        );
    }
}
