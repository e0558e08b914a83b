//! `cross-schema-foreign-key`: app schemas reference `core` identities, not
//! each other. A warning on one PostgreSQL server; an error on Citus, which
//! cannot create a foreign key between two schemas' distributed tables.

use super::rules::{self, CROSS_SCHEMA_FOREIGN_KEY};
use super::{RawFinding, StatementObjects};

/// Schemas every app schema may point at: the shared identities, and
/// `public` (which no team owns).
const SHARED: [&str; 2] = ["core", "public"];

pub(super) fn check(statements: &[StatementObjects]) -> Vec<RawFinding> {
    let rule = rules::find(CROSS_SCHEMA_FOREIGN_KEY).expect("in the catalog");
    let mut findings = Vec::new();
    for statement in statements {
        for ((from_schema, from), (to_schema, to)) in &statement.objects.foreign_keys {
            let app = |schema: &str| !SHARED.contains(&schema);
            if from_schema != to_schema && app(from_schema) && app(to_schema) {
                findings.push(RawFinding {
                    rule,
                    statement_index: statement.index,
                    message: format!(
                        "foreign key from `{from_schema}.{from}` to `{to_schema}.{to}` ties app schemas \
                         `{from_schema}` and `{to_schema}` together (Citus cannot create it)"
                    ),
                    fix: rule.fix.to_owned(),
                });
            }
        }
    }
    findings
}
