//! A table created earlier in the same transactional migration has no rows
//! and no other session can see it yet: what squawk says about locking or
//! scanning an existing table does not apply to it (squawk knows this for
//! some rules, not for all, and matches tables by bare name).

use std::collections::BTreeSet;

use crate::sql_objects::TableName;

use super::{RawFinding, StatementObjects};

/// squawk rules about the rows or the lock of a table that already exists.
const ABOUT_EXISTING_ROWS: [&str; 9] = [
    "adding-not-nullable-field",
    "adding-required-field",
    "adding-field-with-default",
    "changing-column-type",
    "constraint-missing-not-valid",
    "adding-foreign-key-constraint",
    "require-concurrent-index-creation",
    "disallowed-unique-constraint",
    "adding-serial-primary-key-field",
];

/// Drops those findings for statements that only touch tables created
/// before them in the same transactional migration.
pub(super) fn exempt(
    findings: Vec<RawFinding>,
    statements: &[StatementObjects],
    transactional: bool,
) -> Vec<RawFinding> {
    if !transactional {
        return findings;
    }
    // For each statement, the tables created before it.
    let mut created: BTreeSet<TableName> = BTreeSet::new();
    let mut created_before = Vec::with_capacity(statements.len());
    for statement in statements {
        created_before.push(created.clone());
        created.extend(statement.objects.created_tables.iter().cloned());
    }
    findings
        .into_iter()
        .filter(|finding| {
            if !ABOUT_EXISTING_ROWS.contains(&finding.rule.id) {
                return true;
            }
            let (Some(statement), Some(fresh)) = (
                statements.get(finding.statement_index),
                created_before.get(finding.statement_index),
            ) else {
                return true;
            };
            let altered = &statement.objects.altered_tables;
            altered.is_empty() || !altered.is_subset(fresh)
        })
        .collect()
}
