//! `schema-ownership`: a migration changes only its own schema and the
//! schemas its source declares (`// migrate: touches <schema>`). Reading
//! `core` or pointing a foreign key at it is what app schemas are meant to
//! do, so referencing `core` needs no declaration; changing it does.

use std::collections::BTreeSet;

use super::rules::RuleInfo;
use super::{LintInput, RawFinding, StatementObjects};

/// The shared schema every app schema may reference without declaring it.
const SHARED: &str = "core";

pub(crate) fn check(
    rule: &'static RuleInfo,
    input: &LintInput<'_>,
    statements: &[StatementObjects],
) -> Vec<RawFinding> {
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
        let list = super::allow::quoted(&foreign);
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

#[cfg(test)]
mod tests {
    use crate::case::{rule_ids, sql};
    use crate::declared_schemas;

    #[test]
    fn fires_on_what_breaks_it_and_not_on_the_safe_alternative() {
        crate::case::assert_rule(
            "schema-ownership",
            sql(&["ALTER TABLE talent.profiles ADD COLUMN summary text"]),
            sql(&["ALTER TABLE talent.profiles ADD COLUMN summary text"]).declaring(&["talent"]),
        );
    }

    #[test]
    fn declared_schemas_widen_ownership_and_core_may_be_referenced() {
        let source = "//! Links courses to talent profiles.\n// migrate: touches talent\n";
        assert_eq!(declared_schemas(source), vec!["talent"]);

        let changes_talent: &[&str] = &["ALTER TABLE talent.profiles ADD COLUMN mentor boolean"];
        let found = sql(changes_talent).lint();
        let ownership = found.iter().find(|f| f.rule == "schema-ownership").unwrap();
        assert!(
            ownership.message.contains("`talent`"),
            "{}",
            ownership.message
        );
        assert!(
            ownership.fix.contains("// migrate: touches talent"),
            "{}",
            ownership.fix
        );
        assert!(sql(changes_talent).declaring(&["talent"]).lint().is_empty());

        // Pointing a foreign key at core is what app schemas do; changing core is not.
        let references_core: &[&str] = &[
            "CREATE TABLE academy.mentors (id uuid PRIMARY KEY, user_id uuid NOT NULL REFERENCES core.users (id))",
        ];
        assert!(sql(references_core).lint().is_empty());
        let changes_core: &[&str] = &["ALTER TABLE core.users ADD COLUMN mentor boolean"];
        assert_eq!(
            rule_ids(&sql(changes_core).lint()),
            vec!["schema-ownership"]
        );
        // Reading another app schema (a view over it) is touching it too.
        let reads_vacancy: &[&str] =
            &["CREATE VIEW academy.open_roles AS SELECT id FROM vacancy.vacancies"];
        assert_eq!(
            rule_ids(&sql(reads_vacancy).lint()),
            vec!["schema-ownership"]
        );
        assert!(sql(reads_vacancy).declaring(&["vacancy"]).lint().is_empty());
    }
}
