//! What the SQL readers find, statement by statement.
use super::*;

fn objects_of(sql: &[&str]) -> Objects {
    let mut objects = Objects::default();
    for statement in sql {
        collect(statement, &mut objects);
    }
    objects
}

fn table(schema: &str, name: &str) -> TableName {
    (schema.to_owned(), name.to_owned())
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn finds_schemas_tables_and_references() {
    let found = objects_of(&[
        "CREATE SCHEMA IF NOT EXISTS academy",
        r#"CREATE TABLE "academy"."courses" ("id" uuid, "instructor_id" uuid, CONSTRAINT "c" FOREIGN KEY ("instructor_id") REFERENCES "core"."users" ("id"))"#,
        r#"ALTER TABLE "academy"."webinars" ADD COLUMN "capacity" integer"#,
        r#"CREATE UNIQUE INDEX "x" ON "talent"."profiles" ("user_id")"#,
        "DROP TABLE IF EXISTS legacy",
        "COMMENT ON COLUMN x.y IS 'ALTER TABLE not.this'",
    ]);
    assert_eq!(
        found.created_schemas,
        BTreeSet::from(["academy".to_owned()])
    );
    assert_eq!(
        found.created_tables,
        BTreeSet::from([table("academy", "courses")])
    );
    assert_eq!(
        found.altered_tables,
        BTreeSet::from([
            table("academy", "webinars"),
            table("talent", "profiles"),
            table("public", "legacy")
        ])
    );
    assert_eq!(
        found.referenced_tables,
        BTreeSet::from([table("core", "users")])
    );
    assert!(found.unparsed.is_empty());
}

#[test]
fn every_schema_a_statement_names_and_which_it_changes() {
    let found = objects_of(&[
        "CREATE TABLE academy.notes (id uuid, kind talent.kind, at timestamptz DEFAULT core.now_utc())",
        "COMMENT ON TABLE billing.invoices IS 'x'",
        "GRANT USAGE ON SCHEMA reporting TO reader",
        "GRANT SELECT ON ALL TABLES IN SCHEMA analytics TO reader",
        "GRANT SELECT ON vacancy.vacancies TO reader",
        "DROP SCHEMA legacy CASCADE",
        "DROP INDEX CONCURRENTLY talent.profiles_idx",
        "ALTER TABLE academy.courses SET SCHEMA archive",
        "CREATE VIEW academy.v AS SELECT * FROM core.users u JOIN (SELECT 1) s ON true",
    ]);
    assert_eq!(
        found.schemas,
        set(&[
            "academy",
            "analytics",
            "archive",
            "billing",
            "core",
            "legacy",
            "reporting",
            "talent",
            "vacancy",
        ])
    );
    assert_eq!(
        found.changed_schemas,
        set(&[
            "academy",
            "analytics",
            "archive",
            "billing",
            "legacy",
            "reporting",
            "talent",
            "vacancy",
        ]),
        "reading core.users and naming its types and functions changes nothing there"
    );
    assert!(found.unqualified_tables.is_empty(), "{found:?}");
    assert!(!found.writes_data);
}

#[test]
fn unqualified_relations_are_listed_but_ctes_and_temporary_tables_are_not() {
    let found = objects_of(&[
        "CREATE TABLE notes (id uuid REFERENCES users (id))",
        "WITH recent AS (SELECT * FROM core.users) SELECT * FROM recent JOIN roles ON true",
        "CREATE TEMP TABLE scratch (id int)",
        "DROP INDEX old_idx",
        "ALTER TABLE academy.courses ADD CONSTRAINT c FOREIGN KEY (x) REFERENCES people (id)",
    ]);
    assert_eq!(
        found.unqualified_tables,
        set(&["notes", "old_idx", "people", "roles", "users"])
    );
    assert_eq!(
        found.created_tables,
        BTreeSet::from([table("public", "notes")])
    );
    assert_eq!(
        found.schemas,
        set(&["academy", "core"]),
        "an unqualified name names no schema"
    );
    assert_eq!(found.changed_schemas, set(&["academy"]));
}

#[test]
fn foreign_keys_as_pairs_inline_table_level_and_added() {
    let found = objects_of(&[
        "CREATE TABLE vacancy.applications (id uuid, profile_id uuid REFERENCES talent.profiles (id), user_id uuid, \
         CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES core.users (id))",
        "ALTER TABLE academy.courses ADD CONSTRAINT c FOREIGN KEY (x) REFERENCES talent.skills (id) NOT VALID",
        "ALTER TABLE academy.courses ADD COLUMN owner uuid REFERENCES core.users (id)",
    ]);
    assert_eq!(
        found.foreign_keys,
        BTreeSet::from([
            (
                table("vacancy", "applications"),
                table("talent", "profiles")
            ),
            (table("vacancy", "applications"), table("core", "users")),
            (table("academy", "courses"), table("talent", "skills")),
            (table("academy", "courses"), table("core", "users")),
        ])
    );
    assert_eq!(
        found.referenced_tables,
        BTreeSet::from([
            table("talent", "profiles"),
            table("core", "users"),
            table("talent", "skills"),
        ])
    );
}

#[test]
fn the_structure_alone_is_what_the_full_walk_finds_for_it() {
    let sql = [
        "CREATE SCHEMA billing",
        "CREATE TABLE billing.invoices (id uuid PRIMARY KEY, user_id uuid REFERENCES core.users (id))",
        "ALTER TABLE academy.courses ADD COLUMN price int",
        "CREATE INDEX invoices_user_idx ON billing.invoices (user_id)",
        "DROP TABLE talent.old",
        "INSERT INTO billing.invoices (id) SELECT id FROM core.users",
    ];
    let full = objects_of(&sql);
    let mut structure = Objects::default();
    for statement in sql {
        collect_structure(statement, &mut structure);
    }
    assert_eq!(structure.created_schemas, full.created_schemas);
    assert_eq!(structure.created_tables, full.created_tables);
    assert_eq!(structure.altered_tables, full.altered_tables);
    assert_eq!(structure.referenced_tables, full.referenced_tables);
    assert_eq!(structure.foreign_keys, full.foreign_keys);
    assert!(full.schemas.contains("core"));
}

#[test]
fn foreign_key_names_and_dropped_constraints() {
    let found = objects_of(&[
        "CREATE TABLE vacancy.applications (id uuid, profile_id uuid REFERENCES talent.profiles (id), \
         CONSTRAINT fk_user FOREIGN KEY (id) REFERENCES core.users (id))",
        "ALTER TABLE vacancy.applications DROP CONSTRAINT IF EXISTS applications_profile_id_fkey",
    ]);
    assert_eq!(
        found.named_foreign_keys,
        BTreeSet::from([
            ForeignKey {
                from: table("vacancy", "applications"),
                to: table("talent", "profiles"),
                name: None,
            },
            ForeignKey {
                from: table("vacancy", "applications"),
                to: table("core", "users"),
                name: Some("fk_user".to_owned()),
            },
        ])
    );
    assert_eq!(
        found.dropped_constraints,
        BTreeSet::from([(
            table("vacancy", "applications"),
            "applications_profile_id_fkey".to_owned()
        )])
    );
}

#[test]
fn statements_that_write_data() {
    for sql in [
        "INSERT INTO core.roles (name) VALUES ('admin')",
        "UPDATE core.users SET name = 'x'",
        "DELETE FROM core.users",
        "TRUNCATE core.users",
        "COPY core.users FROM STDIN",
        "COPY core.users TO STDOUT",
        "MERGE INTO core.roles r USING core.users u ON false WHEN NOT MATCHED THEN DO NOTHING",
        "WITH gone AS (DELETE FROM core.users RETURNING id) SELECT count(*) FROM gone",
        "CREATE TABLE academy.copy AS SELECT * FROM academy.courses",
    ] {
        assert!(objects(sql).writes_data, "{sql}");
    }
    for sql in [
        "CREATE TABLE academy.t (id int DEFAULT 1)",
        "ALTER TABLE academy.t ADD COLUMN x int",
        "SELECT 1",
        "CREATE TABLE academy.copy AS SELECT * FROM academy.courses WITH NO DATA",
    ] {
        assert!(!objects(sql).writes_data, "{sql}");
    }
    assert_eq!(
        objects("WITH gone AS (DELETE FROM core.users RETURNING id) SELECT 1").written_tables,
        BTreeSet::from([table("core", "users")])
    );
}

#[test]
fn statements_postgres_refuses_in_a_transaction() {
    for sql in [
        "CREATE INDEX CONCURRENTLY i ON academy.t (x)",
        "DROP INDEX CONCURRENTLY academy.i",
        "REINDEX INDEX CONCURRENTLY academy.i",
        "REINDEX (CONCURRENTLY) TABLE academy.t",
        "ALTER TABLE academy.events DETACH PARTITION academy.events_2024 CONCURRENTLY",
        "VACUUM academy.t",
        "CREATE DATABASE other",
        "ALTER SYSTEM SET work_mem = '64MB'",
    ] {
        assert!(objects(sql).refused_in_transaction, "{sql}");
    }
    for sql in [
        "CREATE INDEX i ON academy.t (x)",
        "DROP INDEX academy.i",
        "REINDEX INDEX academy.i",
        "ALTER TABLE academy.events DETACH PARTITION academy.events_2024",
        "ANALYZE academy.t",
    ] {
        assert!(!objects(sql).refused_in_transaction, "{sql}");
    }
}

#[test]
fn text_the_parser_refuses_is_reported_not_a_panic() {
    let found = objects_of(&["CREATE TABLE (", "ALTER TABLE academy.t ADD COLUMN x int"]);
    assert_eq!(found.unparsed.len(), 1);
    assert_eq!(found.unparsed[0].sql, "CREATE TABLE (");
    assert!(
        found.unparsed[0].error.contains("syntax error"),
        "{found:?}"
    );
    assert_eq!(
        found.altered_tables,
        BTreeSet::from([table("academy", "t")])
    );
    assert_eq!(objects("x\0y").unparsed.len(), 1);
}

#[test]
fn several_statements_in_one_text_and_parameters() {
    let found =
        objects("ALTER TABLE academy.a ADD COLUMN x int; INSERT INTO academy.a (x) VALUES ($1)");
    assert_eq!(
        found.altered_tables,
        BTreeSet::from([table("academy", "a")])
    );
    assert!(found.writes_data);
}

#[test]
fn elements_of_create_schema_belong_to_it() {
    let found = objects("CREATE SCHEMA billing CREATE TABLE invoices (id int)");
    assert_eq!(
        found.created_tables,
        BTreeSet::from([table("billing", "invoices")])
    );
    assert!(found.unqualified_tables.is_empty(), "{found:?}");
}
