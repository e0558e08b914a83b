//! `refused-in-transaction`: the CONCURRENTLY forms, VACUUM and a few other
//! statements fail inside a transaction block, and the runner wraps every
//! migration in one unless its `use_transaction()` returns `Some(false)`.

use super::rules::{self, REFUSED_IN_TRANSACTION};
use super::{LintInput, RawFinding, StatementObjects};

pub(super) fn check(input: &LintInput<'_>, statements: &[StatementObjects]) -> Vec<RawFinding> {
    if !input.transactional {
        return Vec::new();
    }
    let rule = rules::find(REFUSED_IN_TRANSACTION).expect("in the catalog");
    statements
        .iter()
        .filter(|s| s.objects.refused_in_transaction)
        .map(|s| RawFinding {
            rule,
            statement_index: s.index,
            message: "PostgreSQL refuses this statement inside a transaction block, and this \
                      migration runs in one (its `use_transaction()` does not return `Some(false)`)"
                .to_owned(),
            fix: rule.fix.to_owned(),
        })
        .collect()
}
