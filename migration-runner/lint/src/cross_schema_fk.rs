//! `cross-schema-foreign-key`: app schemas reference `core` identities, not
//! each other. A warning on one PostgreSQL server; an error on Citus, which
//! cannot create a foreign key between two schemas' distributed tables.

use super::rules::RuleInfo;
use super::{LintInput, RawFinding, StatementObjects};

/// Schemas every app schema may point at: the shared identities, and
/// `public` (which no team owns).
const SHARED: [&str; 2] = ["core", "public"];

pub(crate) fn check(
    rule: &'static RuleInfo,
    _input: &LintInput<'_>,
    statements: &[StatementObjects],
) -> Vec<RawFinding> {
    let mut findings = Vec::new();
    for statement in statements {
        for ((from_schema, from), (to_schema, to)) in &statement.objects.foreign_keys {
            let app = |schema: &str| !SHARED.contains(&schema);
            if from_schema != to_schema && app(from_schema) && app(to_schema) {
                findings.push(RawFinding::new(rule, statement.index, format!(
                        "foreign key from `{from_schema}.{from}` to `{to_schema}.{to}` ties app schemas \
                         `{from_schema}` and `{to_schema}` together (Citus cannot create it)"
                    )));
            }
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use crate::case::{rule_ids, sql};
    use crate::{Severity, Target};

    #[test]
    fn fires_on_what_breaks_it_and_not_on_the_safe_alternative() {
        crate::case::assert_rule(
            "cross-schema-foreign-key",
            sql(&[
                "CREATE TABLE academy.mentors (id uuid PRIMARY KEY, profile_id uuid REFERENCES talent.profiles (id))",
            ]),
            sql(&[
                "CREATE TABLE academy.mentors (id uuid PRIMARY KEY, user_id uuid REFERENCES core.users (id))",
            ]),
        );
    }

    #[test]
    fn a_foreign_key_between_app_schemas_is_a_warning_on_postgres_and_an_error_on_citus() {
        let statements: &[&str] = &[
            "ALTER TABLE academy.mentors ADD CONSTRAINT mentors_profile_fk FOREIGN KEY (profile_id) REFERENCES talent.profiles (id) NOT VALID",
        ];
        let plain = sql(statements).declaring(&["talent"]).lint();
        assert_eq!(rule_ids(&plain), vec!["cross-schema-foreign-key"]);
        assert_eq!(plain[0].severity, Severity::Warning);
        assert!(
            plain[0]
                .message
                .contains("`academy.mentors` to `talent.profiles`"),
            "{}",
            plain[0].message
        );
        let citus = sql(statements)
            .declaring(&["talent"])
            .on(Target::Citus)
            .lint();
        assert_eq!(rule_ids(&citus), vec!["cross-schema-foreign-key"]);
        assert_eq!(citus[0].severity, Severity::Error);
        assert!(citus[0].blocks());
        // To core (or within one schema) it is fine on both.
        for target in [Target::Plain, Target::Citus] {
            let found = sql(&[
                "ALTER TABLE academy.mentors ADD CONSTRAINT mentors_user_fk FOREIGN KEY (user_id) REFERENCES core.users (id) NOT VALID",
                "ALTER TABLE academy.mentors ADD CONSTRAINT mentors_course_fk FOREIGN KEY (course_id) REFERENCES academy.courses (id) NOT VALID",
            ])
            .on(target)
            .lint();
            assert!(found.is_empty(), "{target:?}: {found:?}");
        }
    }
}
