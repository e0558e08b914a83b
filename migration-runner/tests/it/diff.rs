//! `migrate diff`: the planner on the schema model. Between two databases,
//! the SQL it prints, run on the first, makes it the second (every kind of
//! object the model sees), and a second diff finds nothing; between the
//! history and the workspace's entities there is nothing to write.

use migration_dev::testing::TestDatabase;
use sea_orm::ConnectionTrait;

use crate::support::*;

const BEFORE: &str = r#"
CREATE SCHEMA academy;
CREATE TYPE academy.level AS ENUM ('intro', 'advanced');
CREATE SEQUENCE academy.ticket_numbers;
CREATE TABLE academy.courses (
    id uuid PRIMARY KEY,
    title text NOT NULL,
    legacy text,
    price integer,
    level academy.level,
    CONSTRAINT courses_price_check CHECK (price >= 0)
);
CREATE INDEX courses_title_idx ON academy.courses (title);
CREATE VIEW academy.cheap_courses AS SELECT id FROM academy.courses WHERE price < 10;
CREATE FUNCTION academy.course_count() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM academy.courses';
"#;

const AFTER: &str = r#"
CREATE SCHEMA academy;
CREATE TYPE academy.level AS ENUM ('intro', 'advanced', 'expert');
CREATE DOMAIN academy.slug AS text CHECK (VALUE ~ '^[a-z0-9-]+$');
CREATE SEQUENCE academy.seat_numbers START 100;
CREATE TABLE academy.rooms (id uuid PRIMARY KEY);
CREATE TABLE academy.courses (
    id uuid PRIMARY KEY,
    title text NOT NULL DEFAULT '',
    price bigint,
    level academy.level,
    summary text,
    code character varying(10),
    slug academy.slug,
    room_id uuid REFERENCES academy.rooms (id),
    CONSTRAINT courses_price_check CHECK (price >= 0),
    CONSTRAINT courses_code_key UNIQUE (code)
);
COMMENT ON TABLE academy.courses IS 'what the academy teaches';
CREATE INDEX courses_price_idx ON academy.courses (price DESC NULLS LAST) INCLUDE (title) WHERE price > 0;
CREATE TABLE academy.sessions (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    course_id uuid NOT NULL REFERENCES academy.courses (id) ON DELETE CASCADE,
    starts_at timestamptz NOT NULL,
    minutes integer GENERATED ALWAYS AS (60) STORED
);
CREATE VIEW academy.cheap_courses AS SELECT id, title FROM academy.courses WHERE price < 20;
CREATE MATERIALIZED VIEW academy.course_totals AS SELECT count(*) AS total FROM academy.courses;
CREATE FUNCTION academy.course_count() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) + 0 FROM academy.courses';
CREATE FUNCTION academy.touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
CREATE TRIGGER sessions_touch BEFORE UPDATE ON academy.sessions FOR EACH ROW EXECUTE FUNCTION academy.touch();
"#;

#[tokio::test]
async fn the_sql_between_two_databases_turns_the_first_into_the_second() {
    let before = TestDatabase::create("diff_before");
    let after = TestDatabase::create("diff_after");
    let before_conn = connect(&before).await;
    let after_conn = connect(&after).await;
    before_conn.execute_unprepared(BEFORE).await.unwrap();
    after_conn.execute_unprepared(AFTER).await.unwrap();
    // Rows in the table that changes: the plan must keep them.
    before_conn
        .execute_unprepared(
            "INSERT INTO academy.courses (id, title, price) VALUES ('00000000-0000-0000-0000-000000000001', 'Rust', 5)",
        )
        .await
        .unwrap();

    let args = |exit_code: bool| {
        let mut args = vec!["diff", "--from-url", &before.url, "--to-url", &after.url];
        if exit_code {
            args.push("--exit-code");
        }
        args
    };
    let diff = runner_binary(Some(&before.url), &args(true), &[]);
    assert_eq!(diff.status.code(), Some(2), "{}", all_output(&diff));
    let sql = stdout(&diff);
    for expected in [
        "ALTER TYPE academy.level ADD VALUE 'expert'",
        "CREATE DOMAIN academy.slug AS text",
        "CREATE SEQUENCE academy.seat_numbers",
        "CREATE TABLE academy.sessions",
        "ALTER TABLE academy.courses ALTER COLUMN price TYPE bigint",
        "ALTER TABLE academy.courses ADD COLUMN summary text",
        "ALTER TABLE academy.courses ADD CONSTRAINT courses_code_key UNIQUE (code)",
        "CREATE INDEX courses_price_idx ON academy.courses USING btree (price DESC NULLS LAST) INCLUDE (title) WHERE (price > 0)",
        "CREATE MATERIALIZED VIEW academy.course_totals",
        "CREATE TRIGGER sessions_touch",
        "ALTER TABLE academy.courses DROP COLUMN legacy",
        "DROP INDEX academy.courses_title_idx",
        "DROP SEQUENCE academy.ticket_numbers",
    ] {
        assert!(sql.contains(expected), "missing {expected:?} in:\n{sql}");
    }
    // Dependencies first: the referenced table exists before its foreign key,
    // and drops come last.
    let at = |needle: &str| {
        sql.find(needle)
            .unwrap_or_else(|| panic!("{needle}: {sql}"))
    };
    assert!(at("CREATE TABLE academy.sessions") < at("FOREIGN KEY (course_id)"));
    // A key from a table that exists to one that is new waits for it.
    assert!(at("CREATE TABLE academy.rooms") < at("FOREIGN KEY (room_id)"));
    assert!(at("FUNCTION academy.touch()") < at("CREATE TRIGGER sessions_touch"));
    assert!(at("ADD COLUMN summary") < at("DROP COLUMN legacy"));

    before_conn
        .execute_unprepared(&sql)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{sql}"));
    let again = runner_binary(Some(&before.url), &args(true), &[]);
    assert_eq!(again.status.code(), Some(0), "{}", all_output(&again));
    assert_eq!(stdout(&again).trim(), "-- no difference");
    assert_eq!(
        scalar_i64(
            &before_conn,
            "SELECT count(*) FROM academy.courses WHERE price = 5"
        )
        .await,
        1,
        "the row survived the plan"
    );
}

#[tokio::test]
async fn the_history_and_the_workspace_entities_differ_in_nothing() {
    let db = TestDatabase::create("diff_entities");
    let output = runner_binary(Some(&db.url), &["diff", "--exit-code"], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", all_output(&output));
    assert_eq!(stdout(&output).trim(), "-- no difference");
}

#[test]
fn a_rename_that_is_not_one_is_refused_with_the_forms_it_takes() {
    let output = runner_binary(None, &["diff", "--rename", "courses.title"], &[]);
    assert_eq!(output.status.code(), Some(64), "{}", all_output(&output));
    assert!(
        stderr(&output).contains("schema.table.column=new_name"),
        "{}",
        stderr(&output)
    );
}
