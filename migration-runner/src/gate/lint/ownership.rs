//! `schema-ownership`: a migration changes only its own schema and the
//! schemas its source declares (`// migrate: touches <schema>`). Reading
//! `core` or pointing a foreign key at it is what app schemas are meant to
//! do, so referencing `core` needs no declaration; changing it does.

use std::collections::BTreeSet;

use super::rules::{self, SCHEMA_OWNERSHIP};
use super::{LintInput, RawFinding, StatementObjects};

/// The shared schema every app schema may reference without declaring it.
const SHARED: &str = "core";

pub(super) fn check(input: &LintInput<'_>, statements: &[StatementObjects]) -> Vec<RawFinding> {
    let rule = rules::find(SCHEMA_OWNERSHIP).expect("in the catalog");
    let allowed: BTreeSet<&str> = std::iter::once(input.schema)
        .chain(input.declared_schemas.iter().map(String::as_str))
        .collect();
    let mut findings = Vec::new();
    for statement in statements {
        let objects = &statement.objects;
        let foreign: Vec<&str> = objects
            .schemas
            .iter()
            .map(String::as_str)
            .filter(|schema| !allowed.contains(schema))
            .filter(|schema| *schema != SHARED || objects.changed_schemas.contains(*schema))
            .collect();
        if foreign.is_empty() {
            continue;
        }
        let list = foreign
            .iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let changes = foreign
            .iter()
            .any(|schema| objects.changed_schemas.contains(*schema));
        let verb = if changes { "changes" } else { "references" };
        findings.push(RawFinding {
            rule,
            statement_index: statement.index,
            message: format!(
                "{verb} schema {list}, which crate `{}` does not own and this migration does not declare",
                input.schema
            ),
            fix: format!(
                "move it to a migration of the owning crate, or declare the cross-schema step with \
                 `// migrate: touches {}` in the migration's source",
                foreign.join(", ")
            ),
        });
    }
    findings
}
