//! Test support: one migration of crate `academy` to lint, built up case by
//! case, and the assertion every rule's test makes (it fires on SQL that
//! breaks it, stays silent on the safe alternative, and each finding names
//! its migration, statement, reason, fix and catalogued severity).

use crate::{Finding, LintInput, Target, lint, rules};

/// The name every case's findings carry.
pub(crate) const NAME: &str = "m20990101_000000_academy_case";

/// One migration of crate `academy` to lint.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Case {
    pub statements: &'static [&'static str],
    pub declared: &'static [&'static str],
    pub source: Option<&'static str>,
    pub transactional: bool,
    pub target: Target,
}

/// A transactional migration of these statements, linted for plain PostgreSQL.
pub(crate) const fn sql(statements: &'static [&'static str]) -> Case {
    Case {
        statements,
        declared: &[],
        source: None,
        transactional: true,
        target: Target::Plain,
    }
}

impl Case {
    pub(crate) const fn outside_transaction(mut self) -> Self {
        self.transactional = false;
        self
    }

    pub(crate) const fn declaring(mut self, schemas: &'static [&'static str]) -> Self {
        self.declared = schemas;
        self
    }

    pub(crate) const fn with_source(mut self, source: &'static str) -> Self {
        self.source = Some(source);
        self
    }

    pub(crate) const fn on(mut self, target: Target) -> Self {
        self.target = target;
        self
    }

    pub(crate) fn lint(&self) -> Vec<Finding> {
        let statements: Vec<String> = self.statements.iter().map(|s| (*s).to_owned()).collect();
        let declared: Vec<String> = self.declared.iter().map(|s| (*s).to_owned()).collect();
        lint(&LintInput {
            name: NAME,
            schema: "academy",
            declared_schemas: &declared,
            statements: &statements,
            source: self.source,
            target: self.target,
            transactional: self.transactional,
        })
    }
}

/// The rule ids of `findings`, in order.
pub(crate) fn rule_ids(findings: &[Finding]) -> Vec<&'static str> {
    findings.iter().map(|f| f.rule).collect()
}

/// `rule` fires on `breaking` and not on `safe`; each finding of `breaking`
/// names the case's migration and a statement of it, says why and how to fix
/// it on one line each, and has the severity the catalog gives it. Returns
/// what went wrong, empty when nothing did.
pub(crate) fn problems(rule: &str, breaking: &Case, safe: &Case) -> Vec<String> {
    let mut problems = Vec::new();
    let found = breaking.lint();
    if !found.iter().any(|f| f.rule == rule) {
        problems.push(format!(
            "{rule} did not fire on {:?}: {:?}",
            breaking.statements,
            rule_ids(&found)
        ));
    }
    for finding in &found {
        let well_formed = finding.migration == NAME
            && finding.statement_index < breaking.statements.len().max(1)
            && !finding.message.is_empty()
            && !finding.message.contains('\n')
            && !finding.fix.is_empty()
            && !finding.fix.contains('\n');
        if !well_formed {
            problems.push(format!("{rule}: a malformed finding {finding:?}"));
        }
        let catalogued =
            rules::find(finding.rule).map(|info| rules::severity(info, breaking.target));
        if catalogued != Some(finding.severity) {
            problems.push(format!(
                "{rule}: {} has severity {:?}, the catalog says {catalogued:?}",
                finding.rule, finding.severity
            ));
        }
    }
    let found = safe.lint();
    if found.iter().any(|f| f.rule == rule) {
        problems.push(format!(
            "{rule} fired on the safe {:?}: {found:?}",
            safe.statements
        ));
    }
    problems
}

/// [`problems`], asserted empty.
pub(crate) fn assert_rule(rule: &str, breaking: Case, safe: Case) {
    let problems = problems(rule, &breaking, &safe);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
