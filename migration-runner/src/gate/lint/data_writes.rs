//! `data-in-migration`: a migration changes structure; writing rows is a
//! backfill's job (it can be batched, retried and run apart from deploys).

use super::rules::{self, DATA_IN_MIGRATION};
use super::{RawFinding, StatementObjects};

pub(super) fn check(statements: &[StatementObjects]) -> Vec<RawFinding> {
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
