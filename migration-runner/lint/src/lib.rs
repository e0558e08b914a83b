//! The migration linter (`migrate lint`): rules over the SQL a migration
//! emits, each with an id, a one-line reason and the safe alternative,
//! reported per migration and statement with a severity.
//!
//! It owns the rules, their catalog (`rules.rs`) and the one place a rule is
//! registered ([`PRODUCT_RULES`], beside squawk's own list); each rule's
//! tests sit in its file. It depends on `sql-objects` (reading the SQL),
//! `squawk-linter` and `squawk-syntax`, and never on the engine: the engine
//! records a migration's SQL and hands it over as a [`LintInput`].
//!
//! PostgreSQL's own rules come from `squawk-linter` (`squawk.rs`); the rules
//! this product needs on top read the statements with the same parser
//! (squawk's, through `sql_objects`): tables named without their schema,
//! schemas a migration does not own or declare, foreign keys between app
//! schemas, data written by a structural migration, and SQL the parser
//! refuses. A migration's
//! source may exempt a rule with `// lint: allow <rule> -- <reason>` (the
//! reason is required) and declare the other schemas it changes with
//! `// migrate: touches <schema>, ...`.

mod allow;
#[cfg(test)]
mod case;
mod cross_schema_fk;
mod data_writes;
mod finding;
mod fresh_tables;
mod ownership;
mod rules;
mod squawk;
mod touches;
mod transaction_mode;
mod unparsed;
mod unqualified;

pub use allow::{Allow, Allows, BadComment, parse as parse_allows};
pub use finding::{Finding, Severity, Target};
pub use rules::{
    ALLOW_WITHOUT_REASON, CROSS_SCHEMA_FOREIGN_KEY, DATA_IN_MIGRATION, INVALID_LINT_COMMENT,
    NOT_RUN, Origin, REFUSED_IN_TRANSACTION, RuleInfo, SCHEMA_OWNERSHIP, UNPARSED_STATEMENT,
    UNQUALIFIED_TABLE, find, rules, severity,
};
pub use touches::declared_schemas;

use sql_objects::Objects;

/// One migration to lint.
#[derive(Debug, Clone, Copy)]
pub struct LintInput<'a> {
    /// The migration's name.
    pub name: &'a str,
    /// The schema of the crate that owns it.
    pub schema: &'a str,
    /// Other schemas it declares it changes (`declared_schemas(source)`).
    pub declared_schemas: &'a [String],
    /// The SQL it emits, statement by statement, as `capture` records it.
    pub statements: &'a [String],
    /// The migration's `.rs` source, for allow-comments; `None` when unknown.
    pub source: Option<&'a str>,
    pub target: Target,
    /// Whether the runner wraps it in a transaction (`Migration::transactional`).
    pub transactional: bool,
}

/// How a rule of this product reads one migration.
pub(crate) type Check =
    fn(&'static RuleInfo, &LintInput<'_>, &[StatementObjects]) -> Vec<RawFinding>;

/// The product's rules, registered here and only here: each id (its reason,
/// fix and severity catalogued in `rules::RULES`) with its check, run in
/// this order. squawk's rules run after them, as `squawk.rs` lists.
pub(crate) const PRODUCT_RULES: &[(&str, Check)] = &[
    (UNPARSED_STATEMENT, unparsed::check),
    (UNQUALIFIED_TABLE, unqualified::check),
    (SCHEMA_OWNERSHIP, ownership::check),
    (CROSS_SCHEMA_FOREIGN_KEY, cross_schema_fk::check),
    (DATA_IN_MIGRATION, data_writes::check),
    (REFUSED_IN_TRANSACTION, transaction_mode::check),
];

/// A rule broken, before allow-comments and the migration's name are applied.
#[derive(Debug)]
pub(crate) struct RawFinding {
    pub rule: &'static RuleInfo,
    pub statement_index: usize,
    pub message: String,
    pub fix: String,
}

impl RawFinding {
    /// A finding with the rule's own fix.
    pub(crate) fn new(rule: &'static RuleInfo, statement_index: usize, message: String) -> Self {
        Self {
            rule,
            statement_index,
            message,
            fix: rule.fix.to_owned(),
        }
    }
}

/// What one statement touches, with its index in the script.
#[derive(Debug)]
pub(crate) struct StatementObjects {
    pub index: usize,
    pub objects: Objects,
}

/// Every finding for one migration, in statement order: the rules broken
/// (with `allowed` set when an allow-comment with a reason exempts them) and
/// the malformed `// lint:` comments of its source, which nothing exempts.
pub fn lint(input: &LintInput<'_>) -> Vec<Finding> {
    let statements: Vec<StatementObjects> = input
        .statements
        .iter()
        .enumerate()
        .map(|(index, sql)| StatementObjects {
            index,
            objects: sql_objects::objects(sql),
        })
        .collect();

    let mut raw: Vec<RawFinding> = PRODUCT_RULES
        .iter()
        .flat_map(|(id, check)| {
            check(
                rules::find(id).expect("registered rules are catalogued"),
                input,
                &statements,
            )
        })
        .collect();
    raw.extend(fresh_tables::exempt(
        squawk::check(input.statements, input.transactional),
        &statements,
        input.transactional,
    ));

    let allows = input.source.map(allow::parse).unwrap_or_default();
    let mut findings: Vec<Finding> = allows
        .bad
        .iter()
        .map(|bad| {
            let rule = rules::find(bad.rule).expect("in the catalog");
            Finding {
                rule: rule.id,
                severity: rules::severity(rule, input.target),
                migration: input.name.to_owned(),
                statement_index: 0,
                line: Some(bad.line),
                message: bad.problem.clone(),
                fix: rule.fix.to_owned(),
                allowed: None,
            }
        })
        .collect();
    raw.sort_by_key(|finding| finding.statement_index);
    findings.extend(raw.into_iter().map(|finding| Finding {
        rule: finding.rule.id,
        severity: rules::severity(finding.rule, input.target),
        migration: input.name.to_owned(),
        statement_index: finding.statement_index,
        line: None,
        message: finding.message,
        fix: finding.fix,
        allowed: allows.reason_for(finding.rule.id).map(str::to_owned),
    }));
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::sql;

    #[test]
    fn every_product_rule_of_the_catalog_is_registered_once() {
        let mut registered: Vec<&str> = PRODUCT_RULES.iter().map(|(id, _)| *id).collect();
        registered.sort_unstable();
        let before = registered.len();
        registered.dedup();
        assert_eq!(before, registered.len(), "a rule registered twice");
        let mut catalogued: Vec<&str> = rules()
            .iter()
            .filter(|rule| rule.origin == Origin::Product)
            .map(|rule| rule.id)
            .collect();
        catalogued.sort_unstable();
        assert_eq!(registered, catalogued);
    }

    #[test]
    fn findings_point_at_their_statement() {
        let findings = sql(&[
            "CREATE TABLE academy.a (id uuid PRIMARY KEY)",
            "ALTER TABLE academy.b ADD COLUMN c text NOT NULL",
            "INSERT INTO academy.a (id) VALUES (gen_random_uuid())",
        ])
        .lint();
        let at: Vec<(usize, &str)> = findings
            .iter()
            .map(|f| (f.statement_index, f.rule))
            .collect();
        assert_eq!(
            at,
            vec![(1, "adding-required-field"), (2, DATA_IN_MIGRATION)]
        );
    }

    #[test]
    fn a_clean_migration_has_no_finding() {
        assert!(
            sql(&[
                r#"CREATE TABLE "academy"."notes" ("id" uuid NOT NULL PRIMARY KEY, "user_id" uuid NOT NULL, CONSTRAINT "fk" FOREIGN KEY ("user_id") REFERENCES "core"."users" ("id"))"#,
                r#"CREATE INDEX "notes_user_idx" ON "academy"."notes" ("user_id")"#,
            ])
            .lint()
            .is_empty()
        );
    }
}
