//! squawk's PostgreSQL rules, run over the whole migration at once (its
//! rules know, for example, that an index on a table created earlier in the
//! same migration needs no CONCURRENTLY), each violation mapped back to the
//! statement it is in.

use squawk_linter::{Linter, Version};
use squawk_syntax::SourceFile;

use super::RawFinding;
use super::rules::{self, Origin};

/// The oldest PostgreSQL the runner supports (it relies on
/// `client_connection_check_interval`, new in 14): squawk's version-aware
/// rules assume no newer server.
const PG_VERSION: &str = "14";

/// Runs every squawk rule of the catalog over `statements`.
pub(super) fn check(statements: &[String], transactional: bool) -> Vec<RawFinding> {
    let mut text = String::new();
    let mut starts = Vec::with_capacity(statements.len());
    for statement in statements {
        starts.push(text.len());
        let statement = statement.trim_end();
        text.push_str(statement);
        if !statement.ends_with(';') {
            text.push(';');
        }
        text.push('\n');
    }
    let enabled = rules::rules().iter().filter_map(|rule| match rule.origin {
        Origin::Squawk(rule) => Some(rule),
        Origin::Product | Origin::Comment => None,
    });
    let mut linter = Linter::from(enabled);
    linter.settings.pg_version = PG_VERSION.parse::<Version>().unwrap_or_default();
    linter.settings.assume_in_transaction = transactional;
    let parse = SourceFile::parse(&text);
    let findings: Vec<RawFinding> = linter
        .lint(&parse, &text)
        .into_iter()
        .filter_map(|violation| {
            let rule = rules::for_squawk(violation.code)?;
            let at = usize::from(violation.text_range.start());
            let statement_index = starts
                .partition_point(|&start| start <= at)
                .saturating_sub(1);
            Some(RawFinding::new(
                rule,
                statement_index,
                one_line(&violation.message),
            ))
        })
        .collect();
    // squawk reports a foreign key added without NOT VALID under both
    // rules; the foreign-key one says it better.
    let foreign_keys: Vec<usize> = findings
        .iter()
        .filter(|f| f.rule.id == "adding-foreign-key-constraint")
        .map(|f| f.statement_index)
        .collect();
    findings
        .into_iter()
        .filter(|f| {
            f.rule.id != "constraint-missing-not-valid"
                || !foreign_keys.contains(&f.statement_index)
        })
        .collect()
}

fn one_line(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    line.trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use crate::case::{Case, problems, rule_ids, sql};
    use crate::rules::{self, NOT_RUN, Origin};
    use crate::{Finding, Severity};

    /// Every squawk rule run: SQL that breaks it, and the safe alternative.
    fn cases() -> Vec<(&'static str, Case, Case)> {
        vec![
            (
                "require-concurrent-index-creation",
                sql(&["CREATE INDEX courses_title_idx ON academy.courses (title)"]),
                sql(&["CREATE INDEX CONCURRENTLY IF NOT EXISTS courses_title_idx ON academy.courses (title)"])
                    .outside_transaction(),
            ),
            (
                "require-concurrent-index-deletion",
                sql(&["DROP INDEX academy.courses_title_idx"]),
                sql(&["DROP INDEX CONCURRENTLY IF EXISTS academy.courses_title_idx"])
                    .outside_transaction(),
            ),
            (
                "require-concurrent-reindex",
                sql(&["REINDEX INDEX academy.courses_title_idx"]),
                sql(&["REINDEX INDEX CONCURRENTLY academy.courses_title_idx"]).outside_transaction(),
            ),
            (
                "require-concurrent-partition-detach",
                sql(&["ALTER TABLE academy.events DETACH PARTITION academy.events_2024"]),
                sql(&["ALTER TABLE academy.events DETACH PARTITION academy.events_2024 CONCURRENTLY"])
                    .outside_transaction(),
            ),
            (
                "constraint-missing-not-valid",
                sql(&["ALTER TABLE academy.courses ADD CONSTRAINT courses_price_check CHECK (price >= 0)"]),
                sql(&[
                    "ALTER TABLE academy.courses ADD CONSTRAINT courses_price_check CHECK (price >= 0) NOT VALID",
                ]),
            ),
            (
                "adding-foreign-key-constraint",
                sql(&[
                    "ALTER TABLE academy.courses ADD CONSTRAINT courses_owner_fk FOREIGN KEY (owner_id) REFERENCES core.users (id)",
                ]),
                sql(&[
                    "ALTER TABLE academy.courses ADD CONSTRAINT courses_owner_fk FOREIGN KEY (owner_id) REFERENCES core.users (id) NOT VALID",
                ]),
            ),
            (
                "adding-field-with-default",
                sql(&["ALTER TABLE academy.courses ADD COLUMN token uuid DEFAULT gen_random_uuid()"]),
                sql(&["ALTER TABLE academy.courses ADD COLUMN kind text DEFAULT 'live'"]),
            ),
            (
                "adding-not-nullable-field",
                sql(&["ALTER TABLE academy.courses ALTER COLUMN title SET NOT NULL"]),
                sql(&[
                    "ALTER TABLE academy.courses ADD CONSTRAINT courses_title_nn CHECK (title IS NOT NULL) NOT VALID",
                ]),
            ),
            (
                "adding-required-field",
                sql(&["ALTER TABLE academy.courses ADD COLUMN code text NOT NULL"]),
                sql(&["ALTER TABLE academy.courses ADD COLUMN code text NOT NULL DEFAULT ''"]),
            ),
            (
                "adding-serial-primary-key-field",
                sql(&["ALTER TABLE academy.courses ADD PRIMARY KEY (id)"]),
                sql(&["ALTER TABLE academy.courses ADD CONSTRAINT courses_pkey PRIMARY KEY USING INDEX courses_id_idx"]),
            ),
            (
                "disallowed-unique-constraint",
                sql(&["ALTER TABLE academy.courses ADD CONSTRAINT courses_slug_key UNIQUE (slug)"]),
                sql(&["ALTER TABLE academy.courses ADD CONSTRAINT courses_slug_key UNIQUE USING INDEX courses_slug_idx"]),
            ),
            (
                "changing-column-type",
                sql(&["ALTER TABLE academy.courses ALTER COLUMN price TYPE numeric"]),
                sql(&["ALTER TABLE academy.courses ADD COLUMN price_exact numeric"]),
            ),
            (
                "ban-alter-domain-with-add-constraint",
                sql(&["ALTER DOMAIN academy.seats ADD CONSTRAINT seats_positive CHECK (VALUE > 0)"]),
                sql(&["CREATE DOMAIN academy.seats AS bigint"]),
            ),
            (
                "renaming-column",
                sql(&["ALTER TABLE academy.courses RENAME COLUMN title TO name"]),
                sql(&["ALTER TABLE academy.courses ADD COLUMN name text"]),
            ),
            (
                "renaming-table",
                sql(&["ALTER TABLE academy.courses RENAME TO classes"]),
                sql(&["CREATE TABLE academy.classes (id uuid PRIMARY KEY)"]),
            ),
            (
                "ban-set-schema",
                sql(&["ALTER TABLE academy.courses SET SCHEMA academy_archive"]).declaring(&["academy_archive"]),
                sql(&["CREATE TABLE academy.classes (id uuid PRIMARY KEY)"]),
            ),
            (
                "ban-drop-column",
                sql(&["ALTER TABLE academy.courses DROP COLUMN legacy"]),
                sql(&["ALTER TABLE academy.courses ADD COLUMN legacy_v2 text"]),
            ),
            (
                "ban-drop-table",
                sql(&["DROP TABLE academy.courses"]),
                sql(&["CREATE TABLE academy.classes (id uuid PRIMARY KEY)"]),
            ),
            (
                "ban-drop-schema",
                sql(&["DROP SCHEMA academy CASCADE"]),
                sql(&["CREATE SCHEMA IF NOT EXISTS academy"]),
            ),
            (
                "ban-drop-database",
                sql(&["DROP DATABASE app"]),
                sql(&["CREATE SCHEMA IF NOT EXISTS academy"]),
            ),
            (
                "ban-drop-view",
                sql(&["DROP VIEW academy.course_titles"]),
                sql(&["CREATE VIEW academy.course_titles AS SELECT title FROM academy.courses"]),
            ),
            (
                "ban-drop-function",
                sql(&["DROP FUNCTION academy.seats_left(uuid)"]),
                sql(&["CREATE FUNCTION academy.seats_left(uuid) RETURNS bigint LANGUAGE sql AS 'SELECT 1::bigint'"]),
            ),
            (
                "ban-drop-type",
                sql(&["DROP TYPE academy.mood"]),
                sql(&["CREATE TYPE academy.mood AS ENUM ('calm')"]),
            ),
            (
                "ban-drop-sequence",
                sql(&["DROP SEQUENCE academy.ticket_numbers"]),
                sql(&["CREATE SEQUENCE academy.ticket_numbers"]),
            ),
            (
                "ban-drop-domain",
                sql(&["DROP DOMAIN academy.seats"]),
                sql(&["CREATE DOMAIN academy.seats AS bigint"]),
            ),
            (
                "ban-drop-extension",
                sql(&["DROP EXTENSION pgcrypto"]),
                sql(&["CREATE EXTENSION IF NOT EXISTS pgcrypto"]),
            ),
            (
                "ban-truncate-cascade",
                sql(&["TRUNCATE academy.courses CASCADE"]),
                sql(&["TRUNCATE academy.courses"]),
            ),
            (
                "ban-duplicate-column-assignments",
                sql(&["UPDATE academy.courses SET title = 'a', title = 'b'"]),
                sql(&["UPDATE academy.courses SET title = 'a'"]),
            ),
            (
                "identifier-too-long",
                sql(&[
                    "CREATE TABLE academy.a_table_name_that_goes_on_and_on_well_past_sixty_three_bytes_long (id uuid PRIMARY KEY)",
                ]),
                sql(&["CREATE TABLE academy.classes (id uuid PRIMARY KEY)"]),
            ),
            (
                "transaction-nesting",
                sql(&["BEGIN", "CREATE TABLE academy.classes (id uuid PRIMARY KEY)", "COMMIT"]),
                sql(&["CREATE TABLE academy.classes (id uuid PRIMARY KEY)"]),
            ),
            (
                "ban-uncommitted-transaction",
                sql(&["BEGIN", "CREATE TABLE academy.classes (id uuid PRIMARY KEY)"]).outside_transaction(),
                sql(&["BEGIN", "CREATE TABLE academy.classes (id uuid PRIMARY KEY)", "COMMIT"])
                    .outside_transaction(),
            ),
            (
                "ban-drop-not-null",
                sql(&["ALTER TABLE academy.courses ALTER COLUMN title DROP NOT NULL"]),
                sql(&["ALTER TABLE academy.courses ADD COLUMN subtitle text"]),
            ),
            (
                "ban-drop-default",
                sql(&["ALTER TABLE academy.courses ALTER COLUMN kind DROP DEFAULT"]),
                sql(&["ALTER TABLE academy.courses ADD COLUMN subtitle text"]),
            ),
            (
                "ban-drop-constraint",
                sql(&["ALTER TABLE academy.courses DROP CONSTRAINT courses_price_check"]),
                sql(&["ALTER TABLE academy.courses VALIDATE CONSTRAINT courses_price_check"]),
            ),
            (
                "ban-drop-generated-expression",
                sql(&["ALTER TABLE academy.courses ALTER COLUMN total DROP EXPRESSION"]),
                sql(&["ALTER TABLE academy.courses ADD COLUMN subtitle text"]),
            ),
            (
                "ban-alter-identity",
                sql(&["ALTER TABLE academy.courses ALTER COLUMN number ADD GENERATED ALWAYS AS IDENTITY"]),
                sql(&["ALTER TABLE academy.courses ADD COLUMN subtitle text"]),
            ),
            (
                "renaming-object",
                sql(&["ALTER TABLE academy.courses RENAME CONSTRAINT courses_price_check TO courses_price_min"]),
                sql(&["ALTER TABLE academy.courses ADD COLUMN subtitle text"]),
            ),
            (
                "ban-create-domain-with-constraint",
                sql(&["CREATE DOMAIN academy.seats AS bigint CHECK (VALUE > 0)"]),
                sql(&["CREATE DOMAIN academy.seats AS bigint"]),
            ),
            (
                "require-enum-value-ordering",
                sql(&["ALTER TYPE academy.mood ADD VALUE 'curious'"]),
                sql(&["ALTER TYPE academy.mood ADD VALUE 'curious' AFTER 'calm'"]),
            ),
            (
                "prefer-robust-stmts",
                sql(&["CREATE INDEX CONCURRENTLY courses_title_idx ON academy.courses (title)"]).outside_transaction(),
                sql(&["CREATE INDEX CONCURRENTLY IF NOT EXISTS courses_title_idx ON academy.courses (title)"])
                    .outside_transaction(),
            ),
            (
                "prefer-bigint-over-int",
                sql(&["CREATE TABLE academy.classes (id uuid PRIMARY KEY, seats integer)"]),
                sql(&["CREATE TABLE academy.classes (id uuid PRIMARY KEY, seats bigint)"]),
            ),
            (
                "prefer-bigint-over-smallint",
                sql(&["CREATE TABLE academy.classes (id uuid PRIMARY KEY, seats smallint)"]),
                sql(&["CREATE TABLE academy.classes (id uuid PRIMARY KEY, seats bigint)"]),
            ),
            (
                "prefer-identity",
                sql(&["CREATE TABLE academy.classes (id bigserial PRIMARY KEY)"]),
                sql(&["CREATE TABLE academy.classes (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY)"]),
            ),
            (
                "prefer-text-field",
                sql(&["CREATE TABLE academy.classes (id uuid PRIMARY KEY, name varchar(100))"]),
                sql(&["CREATE TABLE academy.classes (id uuid PRIMARY KEY, name text)"]),
            ),
            (
                "prefer-timestamp-tz",
                sql(&["CREATE TABLE academy.classes (id uuid PRIMARY KEY, starts_at timestamp)"]),
                sql(&["CREATE TABLE academy.classes (id uuid PRIMARY KEY, starts_at timestamptz)"]),
            ),
            (
                "ban-char-field",
                sql(&["CREATE TABLE academy.classes (id uuid PRIMARY KEY, code char(3))"]),
                sql(&["CREATE TABLE academy.classes (id uuid PRIMARY KEY, code text)"]),
            ),
        ]
    }

    #[test]
    fn every_squawk_rule_fires_on_what_breaks_it_and_not_on_the_safe_alternative() {
        let cases = cases();
        let failures: Vec<String> = cases
            .iter()
            .flat_map(|(rule, breaking, safe)| problems(rule, breaking, safe))
            .collect();
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        // The table covers every squawk rule of the catalog, and nothing else.
        let mut covered: Vec<&str> = cases.iter().map(|(rule, _, _)| *rule).collect();
        let mut catalog: Vec<&str> = rules::rules()
            .iter()
            .filter(|rule| matches!(rule.origin, Origin::Squawk(_)))
            .map(|rule| rule.id)
            .collect();
        covered.sort_unstable();
        catalog.sort_unstable();
        assert_eq!(covered, catalog);
    }

    #[test]
    fn severities_errors_block_and_warnings_do_not() {
        let error = |id: &str| rules::find(id).unwrap().severity == Severity::Error;
        for id in [
            "unqualified-table",
            "schema-ownership",
            "data-in-migration",
            "unparsed-statement",
            "allow-without-reason",
            "require-concurrent-index-creation",
            "constraint-missing-not-valid",
            "adding-foreign-key-constraint",
            "adding-field-with-default",
            "adding-not-nullable-field",
            "adding-required-field",
            "changing-column-type",
            "renaming-column",
            "ban-drop-column",
            "ban-drop-table",
        ] {
            assert!(error(id), "{id} should be an error");
        }
        for id in [
            "cross-schema-foreign-key",
            "prefer-bigint-over-int",
            "prefer-text-field",
            "ban-drop-not-null",
            "prefer-robust-stmts",
        ] {
            assert!(!error(id), "{id} should be a warning");
        }
        let found = sql(&["ALTER TABLE academy.courses ADD COLUMN seats integer"]).lint();
        assert_eq!(rule_ids(&found), vec!["prefer-bigint-over-int"]);
        assert!(found.iter().all(|f| !f.blocks()));
        let found = sql(&["ALTER TABLE academy.courses DROP COLUMN legacy"]).lint();
        assert!(found.iter().any(Finding::blocks));
    }

    #[test]
    fn the_timeout_rules_are_left_to_the_runner() {
        let not_run: Vec<&str> = NOT_RUN.iter().map(|(id, _)| *id).collect();
        for id in ["require-lock-timeout", "require-statement-timeout"] {
            assert!(not_run.contains(&id), "{id}");
            assert!(rules::find(id).is_none(), "{id}");
        }
        // A migration that sets no timeout of its own is not flagged: the
        // runner's lock_timeout covers every statement.
        let found = sql(&["ALTER TABLE academy.courses ADD COLUMN summary text"]).lint();
        assert!(found.is_empty(), "{found:?}");
        // Every squawk rule run is one squawk knows by that id.
        for rule in rules::rules() {
            if let Origin::Squawk(squawk) = rule.origin {
                assert_eq!(squawk.to_string(), rule.id);
            }
        }
    }
}
