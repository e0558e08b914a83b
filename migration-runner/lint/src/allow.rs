//! Allow-comments: a line `// lint: allow <rule-id>[, <rule-id>...] -- <reason>`
//! in a migration's source exempts those rules for that migration. The
//! reason is required: an allow without one exempts nothing and is itself an
//! error, and so is a `// lint:` comment naming no rule or an unknown one.
//!
//! Only whole-line comments count (`//`, `///` or `//!`, after indentation),
//! so text inside string literals is never read as a comment.

use super::rules;

/// A well-formed allow-comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allow {
    pub rules: Vec<String>,
    pub reason: String,
    /// 1-based line in the source.
    pub line: usize,
}

/// A `// lint:` comment that exempts nothing, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadComment {
    pub line: usize,
    pub rule: &'static str,
    pub problem: String,
}

/// The allow-comments of a migration's source, and the `// lint:` comments
/// that are malformed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allows {
    pub allows: Vec<Allow>,
    pub bad: Vec<BadComment>,
}

impl Allows {
    /// The reason a rule is allowed for, if it is.
    pub fn reason_for(&self, rule: &str) -> Option<&str> {
        self.allows
            .iter()
            .find(|allow| allow.rules.iter().any(|r| r == rule))
            .map(|allow| allow.reason.as_str())
    }
}

/// The text of a whole-line `//` comment, without its slashes.
pub(crate) fn line_comment(line: &str) -> Option<&str> {
    let rest = line.trim_start().strip_prefix("//")?;
    let rest = rest
        .strip_prefix('/')
        .or_else(|| rest.strip_prefix('!'))
        .unwrap_or(rest);
    Some(rest.trim())
}

/// Reads every `// lint:` comment of `source`.
pub fn parse(source: &str) -> Allows {
    let mut found = Allows::default();
    for (index, text) in source.lines().enumerate() {
        let line = index + 1;
        let Some(directive) = line_comment(text).and_then(|c| c.strip_prefix("lint:")) else {
            continue;
        };
        let directive = directive.trim();
        let Some(rest) = directive
            .strip_prefix("allow")
            .filter(|rest| rest.is_empty() || rest.starts_with(char::is_whitespace))
        else {
            found.bad.push(BadComment {
                line,
                rule: rules::INVALID_LINT_COMMENT,
                problem: format!(
                    "`// lint: {directive}` is not an allow-comment (`// lint: allow <rule> -- <reason>`)"
                ),
            });
            continue;
        };
        let (ids, reason) = match rest.split_once("--") {
            Some((ids, reason)) => (ids, reason.trim()),
            None => (rest, ""),
        };
        let ids: Vec<String> = ids
            .split(',')
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .collect();
        let unknown: Vec<&str> = ids
            .iter()
            .map(String::as_str)
            .filter(|id| rules::find(id).is_none())
            .collect();
        if ids.is_empty() || !unknown.is_empty() {
            let problem = if ids.is_empty() {
                "the allow-comment names no rule".to_owned()
            } else {
                format!("no rule is called {}", quoted(&unknown))
            };
            found.bad.push(BadComment {
                line,
                rule: rules::INVALID_LINT_COMMENT,
                problem,
            });
            continue;
        }
        if reason.is_empty() {
            found.bad.push(BadComment {
                line,
                rule: rules::ALLOW_WITHOUT_REASON,
                problem: format!(
                    "the allow-comment for {} gives no reason after `--`",
                    quoted(ids)
                ),
            });
            continue;
        }
        found.allows.push(Allow {
            rules: ids,
            reason: reason.to_owned(),
            line,
        });
    }
    found
}

/// `a`, `b`: each name in backticks, comma-separated.
pub(crate) fn quoted<T: std::fmt::Display>(names: impl IntoIterator<Item = T>) -> String {
    names
        .into_iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Severity;
    use crate::case::sql;

    #[test]
    fn reads_allows_with_reasons_and_refuses_the_rest() {
        let source = "\
//! A migration.
// lint: allow ban-drop-column -- nothing reads `legacy` since release 41
    /// lint: allow renaming-table, renaming-column --  the old names were never deployed
let s = \"// lint: allow ban-drop-table -- inside a string, on a code line\";
// lint: allow ban-drop-table
// lint: allow ban-drop-table --
// lint: allow -- a reason for nothing
// lint: allow no-such-rule -- typo
// lint: permit ban-drop-table -- wrong verb
// lint: allowban-drop-table -- glued
// an ordinary comment mentioning lint: allow ban-drop-table -- ignored
";
        let found = parse(source);
        assert_eq!(
            found.allows,
            vec![
                Allow {
                    rules: vec!["ban-drop-column".into()],
                    reason: "nothing reads `legacy` since release 41".into(),
                    line: 2,
                },
                Allow {
                    rules: vec!["renaming-table".into(), "renaming-column".into()],
                    reason: "the old names were never deployed".into(),
                    line: 3,
                },
            ]
        );
        let bad: Vec<(usize, &str)> = found.bad.iter().map(|b| (b.line, b.rule)).collect();
        assert_eq!(
            bad,
            vec![
                (5, rules::ALLOW_WITHOUT_REASON),
                (6, rules::ALLOW_WITHOUT_REASON),
                (7, rules::INVALID_LINT_COMMENT),
                (8, rules::INVALID_LINT_COMMENT),
                (9, rules::INVALID_LINT_COMMENT),
                (10, rules::INVALID_LINT_COMMENT),
            ]
        );
        assert_eq!(
            found.reason_for("renaming-column"),
            Some("the old names were never deployed")
        );
        assert_eq!(found.reason_for("ban-drop-table"), None);
    }

    #[test]
    fn an_allow_comment_without_a_reason_fires_and_a_reasoned_one_does_not() {
        crate::case::assert_rule(
            "allow-without-reason",
            sql(&["ALTER TABLE academy.courses DROP COLUMN legacy"])
                .with_source("// lint: allow ban-drop-column\n"),
            sql(&["ALTER TABLE academy.courses DROP COLUMN legacy"])
                .with_source("// lint: allow ban-drop-column -- unused since v3\n"),
        );
    }

    #[test]
    fn an_allow_comment_naming_no_rule_fires_and_a_valid_one_does_not() {
        crate::case::assert_rule(
            "invalid-lint-comment",
            sql(&["ALTER TABLE academy.courses DROP COLUMN legacy"])
                .with_source("// lint: allow ban-drop-colum -- typo\n"),
            sql(&["ALTER TABLE academy.courses DROP COLUMN legacy"])
                .with_source("// lint: allow ban-drop-column -- unused since v3\n"),
        );
    }

    #[test]
    fn an_allow_comment_with_a_reason_exempts_that_rule_only() {
        let source = "\
    //! Drops the column nobody reads.
    // lint: allow ban-drop-column -- no release since v3 reads `legacy`; backed up in OPS-12
    ";
        let found = sql(&[
            "ALTER TABLE academy.courses DROP COLUMN legacy",
            "ALTER TABLE academy.courses ALTER COLUMN title TYPE varchar(300)",
        ])
        .with_source(source)
        .lint();
        let dropped = found.iter().find(|f| f.rule == "ban-drop-column").unwrap();
        assert_eq!(
            dropped.allowed.as_deref(),
            Some("no release since v3 reads `legacy`; backed up in OPS-12")
        );
        assert!(!dropped.blocks());
        let retyped = found
            .iter()
            .find(|f| f.rule == "changing-column-type")
            .unwrap();
        assert_eq!(retyped.allowed, None);
        assert_eq!(retyped.statement_index, 1);
        assert!(retyped.blocks());
    }

    #[test]
    fn an_allow_comment_without_a_reason_exempts_nothing_and_is_an_error() {
        for source in [
            "// lint: allow ban-drop-column\n",
            "// lint: allow ban-drop-column --\n",
            "// lint: allow ban-drop-column --    \n",
        ] {
            let found = sql(&["ALTER TABLE academy.courses DROP COLUMN legacy"])
                .with_source(source)
                .lint();
            let meta = found
                .iter()
                .find(|f| f.rule == "allow-without-reason")
                .unwrap_or_else(|| panic!("{source:?}: {found:?}"));
            assert_eq!(meta.severity, Severity::Error);
            assert_eq!(meta.line, Some(1));
            assert!(meta.blocks());
            let dropped = found.iter().find(|f| f.rule == "ban-drop-column").unwrap();
            assert!(dropped.blocks(), "{source:?}");
        }
        // Nothing exempts the meta-rule itself.
        let found = sql(&["ALTER TABLE academy.courses DROP COLUMN legacy"])
            .with_source(
                "// lint: allow allow-without-reason -- try\n// lint: allow ban-drop-column\n",
            )
            .lint();
        let meta = found
            .iter()
            .find(|f| f.rule == "allow-without-reason")
            .unwrap();
        assert!(meta.blocks());
    }
}
