//! A table created earlier in the same transactional migration has no rows
//! and no other session can see it yet: what squawk says about locking or
//! scanning an existing table does not apply to it (squawk knows this for
//! some rules, not for all, and matches tables by bare name).

use std::collections::BTreeSet;

use sql_objects::TableName;

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

#[cfg(test)]
mod tests {
    use crate::case::{rule_ids, sql};

    #[test]
    fn what_a_table_created_in_the_same_migration_needs_is_not_flagged() {
        // A table created earlier in the same transaction has no rows and no
        // reader yet: nothing to lock out or scan.
        const FRESH: &[&str] = &[
            "CREATE TABLE academy.classes (id uuid PRIMARY KEY, owner_id uuid NOT NULL, title text)",
            "CREATE INDEX classes_owner_idx ON academy.classes (owner_id)",
            "ALTER TABLE academy.classes ADD CONSTRAINT classes_owner_fk FOREIGN KEY (owner_id) REFERENCES core.users (id)",
            "ALTER TABLE academy.classes ALTER COLUMN title SET NOT NULL",
            "ALTER TABLE academy.classes ADD COLUMN code text NOT NULL",
        ];
        let found = sql(FRESH).lint();
        assert!(found.is_empty(), "{found:?}");
        // Outside a transaction the table is visible (and writable) between
        // statements, so the rules apply again.
        let found = sql(FRESH).outside_transaction().lint();
        let ids = rule_ids(&found);
        assert!(
            ids.contains(&"require-concurrent-index-creation"),
            "{ids:?}"
        );
        assert!(ids.contains(&"adding-required-field"), "{ids:?}");
        // The same statements on a table that already exists are flagged.
        let found = sql(&FRESH[1..]).lint();
        let ids = rule_ids(&found);
        for id in [
            "require-concurrent-index-creation",
            "adding-foreign-key-constraint",
            "adding-not-nullable-field",
            "adding-required-field",
        ] {
            assert!(ids.contains(&id), "{id}: {ids:?}");
        }
    }
}
