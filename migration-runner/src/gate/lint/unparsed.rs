//! `unparsed-statement`: SQL the parser (squawk's grammar of PostgreSQL)
//! refuses cannot be checked by any rule, and would fail on the server anyway.

use super::rules::{self, UNPARSED_STATEMENT};
use super::{RawFinding, StatementObjects};

pub(super) fn check(statements: &[StatementObjects]) -> Vec<RawFinding> {
    let rule = rules::find(UNPARSED_STATEMENT).expect("in the catalog");
    statements
        .iter()
        .flat_map(|s| {
            s.objects.unparsed.iter().map(move |unparsed| RawFinding {
                rule,
                statement_index: s.index,
                message: format!("the SQL parser refuses it: {}", unparsed.error),
                fix: rule.fix.to_owned(),
            })
        })
        .collect()
}
