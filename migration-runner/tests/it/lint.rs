//! The migration linter: every rule fires on SQL that breaks it and stays
//! silent on the safe alternative; allow-comments need a reason; declared
//! schemas widen ownership; Citus turns the cross-schema foreign key into an
//! error; the safe alternatives run on a real PostgreSQL; and linting the
//! workspace's own history lints clean, its exceptions reasoned.

use std::path::Path;

use migration_dev::testing::TestDatabase;
use migration_runner::Catalog;
use migration_runner::gate::lint::{
    self, Finding, LintInput, Origin, Severity, Target, declared_schemas,
};
use sea_orm::ConnectionTrait;

use crate::support::{SqlMigration, connect, workspace_plus};

/// One migration of crate `academy` to lint.
struct Case {
    statements: &'static [&'static str],
    declared: &'static [&'static str],
    source: Option<&'static str>,
    transactional: bool,
    target: Target,
}

const fn sql(statements: &'static [&'static str]) -> Case {
    Case {
        statements,
        declared: &[],
        source: None,
        transactional: true,
        target: Target::Plain,
    }
}

impl Case {
    const fn outside_transaction(mut self) -> Self {
        self.transactional = false;
        self
    }

    const fn declaring(mut self, schemas: &'static [&'static str]) -> Self {
        self.declared = schemas;
        self
    }

    const fn with_source(mut self, source: &'static str) -> Self {
        self.source = Some(source);
        self
    }

    const fn on(mut self, target: Target) -> Self {
        self.target = target;
        self
    }

    fn lint(&self) -> Vec<Finding> {
        let statements: Vec<String> = self.statements.iter().map(|s| (*s).to_owned()).collect();
        let declared: Vec<String> = self.declared.iter().map(|s| (*s).to_owned()).collect();
        lint::lint(&LintInput {
            name: "m20990101_000000_academy_case",
            schema: "academy",
            declared_schemas: &declared,
            statements: &statements,
            source: self.source,
            target: self.target,
            transactional: self.transactional,
        })
    }
}

/// Every rule: SQL that breaks it, and the safe alternative that does not.
fn cases() -> Vec<(&'static str, Case, Case)> {
    vec![
        (
            "unqualified-table",
            sql(&["ALTER TABLE courses ADD COLUMN summary text"]),
            sql(&["ALTER TABLE academy.courses ADD COLUMN summary text"]),
        ),
        (
            "schema-ownership",
            sql(&["ALTER TABLE talent.profiles ADD COLUMN summary text"]),
            sql(&["ALTER TABLE talent.profiles ADD COLUMN summary text"]).declaring(&["talent"]),
        ),
        (
            "cross-schema-foreign-key",
            sql(&[
                "CREATE TABLE academy.mentors (id uuid PRIMARY KEY, profile_id uuid REFERENCES talent.profiles (id))",
            ]),
            sql(&[
                "CREATE TABLE academy.mentors (id uuid PRIMARY KEY, user_id uuid REFERENCES core.users (id))",
            ]),
        ),
        (
            "data-in-migration",
            sql(&["UPDATE academy.courses SET title = initcap(title)"]),
            sql(&["ALTER TABLE academy.courses ADD COLUMN summary text"]),
        ),
        (
            "unparsed-statement",
            sql(&["ALTER TABLE academy.courses ADD COLUMN"]),
            sql(&["ALTER TABLE academy.courses ADD COLUMN summary text"]),
        ),
        (
            "allow-without-reason",
            sql(&["ALTER TABLE academy.courses DROP COLUMN legacy"])
                .with_source("// lint: allow ban-drop-column\n"),
            sql(&["ALTER TABLE academy.courses DROP COLUMN legacy"])
                .with_source("// lint: allow ban-drop-column -- unused since v3\n"),
        ),
        (
            "invalid-lint-comment",
            sql(&["ALTER TABLE academy.courses DROP COLUMN legacy"])
                .with_source("// lint: allow ban-drop-colum -- typo\n"),
            sql(&["ALTER TABLE academy.courses DROP COLUMN legacy"])
                .with_source("// lint: allow ban-drop-column -- unused since v3\n"),
        ),
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
            "refused-in-transaction",
            sql(&["CREATE INDEX CONCURRENTLY IF NOT EXISTS courses_title_idx ON academy.courses (title)"]),
            sql(&["CREATE INDEX CONCURRENTLY IF NOT EXISTS courses_title_idx ON academy.courses (title)"])
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

fn rule_ids(findings: &[Finding]) -> Vec<&'static str> {
    findings.iter().map(|f| f.rule).collect()
}

#[test]
fn every_rule_fires_on_what_breaks_it_and_not_on_the_safe_alternative() {
    let cases = cases();
    let mut failures = Vec::new();
    for (rule, breaking, safe) in &cases {
        let found = breaking.lint();
        if !found.iter().any(|f| f.rule == *rule) {
            failures.push(format!(
                "{rule} did not fire on {:?}: {:?}",
                breaking.statements,
                rule_ids(&found)
            ));
        }
        let found = safe.lint();
        if found.iter().any(|f| f.rule == *rule) {
            failures.push(format!(
                "{rule} fired on the safe {:?}: {found:?}",
                safe.statements
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // The table covers the whole catalog, and nothing else.
    let mut covered: Vec<&str> = cases.iter().map(|(rule, _, _)| *rule).collect();
    let mut catalog: Vec<&str> = lint::rules().iter().map(|r| r.id).collect();
    covered.sort_unstable();
    catalog.sort_unstable();
    assert_eq!(covered, catalog);
}

#[test]
fn every_finding_names_its_migration_statement_reason_and_fix() {
    for (rule, breaking, _) in cases() {
        for finding in breaking.lint() {
            assert_eq!(finding.migration, "m20990101_000000_academy_case");
            assert!(
                finding.statement_index < breaking.statements.len().max(1),
                "{finding:?}"
            );
            assert!(
                !finding.message.is_empty() && !finding.message.contains('\n'),
                "{finding:?}"
            );
            assert!(
                !finding.fix.is_empty() && !finding.fix.contains('\n'),
                "{finding:?}"
            );
            let info = lint::find(finding.rule).expect("a catalogued rule");
            assert_eq!(
                finding.severity,
                lint::severity(info, breaking.target),
                "{rule}"
            );
        }
    }
}

#[test]
fn severities_errors_block_and_warnings_do_not() {
    let error = |id: &str| lint::find(id).unwrap().severity == Severity::Error;
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
    let not_run: Vec<&str> = lint::NOT_RUN.iter().map(|(id, _)| *id).collect();
    for id in ["require-lock-timeout", "require-statement-timeout"] {
        assert!(not_run.contains(&id), "{id}");
        assert!(lint::find(id).is_none(), "{id}");
    }
    // A migration that sets no timeout of its own is not flagged: the
    // runner's lock_timeout covers every statement.
    let found = sql(&["ALTER TABLE academy.courses ADD COLUMN summary text"]).lint();
    assert!(found.is_empty(), "{found:?}");
    // Every squawk rule run is one squawk knows by that id.
    for rule in lint::rules() {
        if let Origin::Squawk(squawk) = rule.origin {
            assert_eq!(squawk.to_string(), rule.id);
        }
    }
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
        .with_source("// lint: allow allow-without-reason -- try\n// lint: allow ban-drop-column\n")
        .lint();
    let meta = found
        .iter()
        .find(|f| f.rule == "allow-without-reason")
        .unwrap();
    assert!(meta.blocks());
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

#[test]
fn every_statement_postgres_refuses_in_a_transaction_is_flagged_in_a_transactional_migration() {
    for statement in [
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS courses_title_idx ON academy.courses (title)",
        "DROP INDEX CONCURRENTLY IF EXISTS academy.courses_title_idx",
        "REINDEX INDEX CONCURRENTLY academy.courses_title_idx",
        "ALTER TABLE academy.events DETACH PARTITION academy.events_2024 CONCURRENTLY",
        "VACUUM academy.courses",
    ] {
        let statements: &'static [&'static str] = Box::leak(Box::new([statement]));
        let found = sql(statements).lint();
        assert!(
            rule_ids(&found).contains(&"refused-in-transaction"),
            "{statement}: {found:?}"
        );
        let found = sql(statements).outside_transaction().lint();
        assert!(
            !rule_ids(&found).contains(&"refused-in-transaction"),
            "{statement}: {found:?}"
        );
    }
}

/// The safe alternatives the fixes describe are real SQL: on a real
/// PostgreSQL, each lints clean and runs, in or outside a transaction as the
/// case says.
#[tokio::test]
async fn the_safe_alternatives_run_on_postgres() {
    let db = TestDatabase::create("lint_safe");
    let conn = connect(&db).await;
    conn.execute_unprepared(
        "CREATE SCHEMA core; CREATE TABLE core.users (id uuid PRIMARY KEY);
         CREATE SCHEMA academy;
         CREATE TABLE academy.courses (id uuid NOT NULL, owner_id uuid, title text, price bigint, slug text);
         INSERT INTO core.users VALUES ('00000000-0000-0000-0000-000000000001');
         INSERT INTO academy.courses VALUES ('00000000-0000-0000-0000-000000000002',
                                             '00000000-0000-0000-0000-000000000001', 'Rust', 10, 'rust')",
    )
    .await
    .unwrap();
    let steps: Vec<Case> = vec![
        sql(&["CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS courses_id_idx ON academy.courses (id)"])
            .outside_transaction(),
        sql(&["ALTER TABLE academy.courses ADD CONSTRAINT courses_pkey PRIMARY KEY USING INDEX courses_id_idx"]),
        sql(&["CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS courses_slug_idx ON academy.courses (slug)"])
            .outside_transaction(),
        sql(&["ALTER TABLE academy.courses ADD CONSTRAINT courses_slug_key UNIQUE USING INDEX courses_slug_idx"]),
        sql(&[
            "ALTER TABLE academy.courses ADD CONSTRAINT courses_owner_fk FOREIGN KEY (owner_id) REFERENCES core.users (id) NOT VALID",
        ]),
        sql(&["ALTER TABLE academy.courses VALIDATE CONSTRAINT courses_owner_fk"]),
        sql(&[
            "ALTER TABLE academy.courses ADD CONSTRAINT courses_title_nn CHECK (title IS NOT NULL) NOT VALID",
        ]),
        sql(&["ALTER TABLE academy.courses VALIDATE CONSTRAINT courses_title_nn"]),
        sql(&["ALTER TABLE academy.courses ADD COLUMN code text NOT NULL DEFAULT ''"]),
        sql(&["DROP INDEX CONCURRENTLY IF EXISTS academy.courses_title_idx"]).outside_transaction(),
    ];
    for step in &steps {
        let found = step.lint();
        assert!(
            found.iter().all(|f| !f.blocks()),
            "{:?}: {found:?}",
            step.statements
        );
        let script = step.statements.join(";\n");
        let sql = if step.transactional {
            format!("BEGIN; {script}; COMMIT")
        } else {
            script
        };
        conn.execute_unprepared(&sql)
            .await
            .unwrap_or_else(|e| panic!("{:?}: {e}", step.statements));
    }
    let valid = crate::support::scalar_i64(
        &conn,
        "SELECT count(*) FROM pg_constraint WHERE conrelid = 'academy.courses'::regclass AND convalidated",
    )
    .await;
    assert_eq!(
        valid, 4,
        "primary key, unique key, foreign key and the NOT NULL check, all validated"
    );
}

/// Lints every migration of the workspace through the same driver as
/// `migrate lint`: nothing blocks, and the only exceptions are the reasoned
/// allow-comments of the migrations that predate the linter.
#[tokio::test]
async fn the_workspace_history_lints_clean_with_its_reasoned_exceptions() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let catalog =
        Catalog::workspace(&schema_registry::workspace()).expect("the workspace's catalog");
    assert!(!catalog.migrations().is_empty());
    let findings = lint::lint_catalog(&catalog, &workspace, Target::Plain, |_| true)
        .await
        .expect("every workspace migration records");
    for finding in &findings {
        println!("{finding}");
        assert!(
            catalog.get(&finding.migration).is_some(),
            "{}",
            finding.migration
        );
    }
    let blocking: Vec<String> = findings
        .iter()
        .filter(|f| f.blocks())
        .map(ToString::to_string)
        .collect();
    assert!(blocking.is_empty(), "{blocking:#?}");
    let mut allowed: Vec<(&str, &str)> = findings
        .iter()
        .filter(|f| {
            f.allowed
                .as_deref()
                .is_some_and(|reason| !reason.is_empty())
        })
        .map(|f| (f.migration.as_str(), f.rule))
        .collect();
    allowed.sort();
    assert_eq!(
        allowed,
        vec![
            (
                "m20250410_120000_vacancy_add_salary_range",
                "constraint-missing-not-valid"
            ),
            (
                "m20250520_080000_talent_add_profile_headline_length_check",
                "constraint-missing-not-valid"
            ),
            (
                "m20251101_090000_vacancy_link_applications_to_talent_profiles",
                "adding-foreign-key-constraint"
            ),
        ]
    );
}

/// A migration's source is found through its crate's registry
/// (`migrations/mod.rs`), not by its name: after its file is renamed (its
/// name kept), a full `lint` still reads its allow-comments.
#[tokio::test]
async fn a_renamed_migration_file_keeps_its_allow_comments() {
    const NAME: &str = "m20990101_000000_academy_drop_webinar_titles";
    let workspace =
        std::env::temp_dir().join(format!("lint-renamed-{}", uuid::Uuid::new_v4().simple()));
    let migrations = workspace.join("academy/src/migrations");
    std::fs::create_dir_all(&migrations).unwrap();
    let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("../academy/src/migrations/mod.rs");
    std::fs::copy(real, migrations.join("mod.rs")).unwrap();
    crate::check::write_migration(
        &workspace,
        "academy",
        "drop_webinar_titles",
        "//! Titles moved to the course.\n\
         // lint: allow ban-drop-column -- nothing reads `title` since release 41\n",
    );
    let catalog = Catalog::new(workspace_plus(vec![(
        "academy",
        Box::new(SqlMigration::new(
            NAME,
            &["ALTER TABLE academy.webinars DROP COLUMN title"],
            &["ALTER TABLE academy.webinars ADD COLUMN title text"],
        )),
    )]))
    .unwrap();
    let findings = lint::lint_catalog(&catalog, &workspace, Target::Plain, |name| name == NAME)
        .await
        .unwrap();
    std::fs::remove_dir_all(&workspace).unwrap();
    let found: Vec<(&str, Option<&str>)> = findings
        .iter()
        .map(|f| (f.rule, f.allowed.as_deref()))
        .collect();
    assert_eq!(
        found,
        vec![(
            "ban-drop-column",
            Some("nothing reads `title` since release 41")
        )]
    );
}
