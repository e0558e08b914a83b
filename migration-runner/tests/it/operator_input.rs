//! What operators type and what they read: configuration errors that name
//! their source, flags validated when parsed, a closed stdout, unwritten
//! migrations, distrusted history rows, preflight in one round, one table of
//! exit codes that the README prints.

use migration_dev::testing::TestDatabase;
use migration_runner::{Exit, UpOptions};
use sea_orm::ConnectionTrait;

use crate::support::*;

fn scratch_dir(label: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("{label}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn empty_or_unparsable_configuration_is_an_error_naming_its_source() {
    let empty = runner_binary(None, &["status"], &[("DATABASE_URL", "")]);
    assert_eq!(empty.status.code(), Some(64), "{}", all_output(&empty));
    assert!(
        stderr(&empty).contains("DATABASE_URL in the environment is set but empty"),
        "{}",
        stderr(&empty)
    );

    let dir = scratch_dir("dotenv-malformed");
    std::fs::write(
        dir.join(".env"),
        "# deploy settings\nAPP_ENV=staging\nDATABASE_URL='postgres://deploy:s3cret@db/app\nOTHER=1\n",
    )
    .unwrap();
    let malformed = runner_binary_in(&dir, None, &["status"], &[]);
    assert_eq!(
        malformed.status.code(),
        Some(64),
        "{}",
        all_output(&malformed)
    );
    let message = stderr(&malformed);
    assert!(
        message.contains(".env line 3 cannot be parsed"),
        "{message}"
    );
    assert!(!message.contains("s3cret"), "{message}");

    std::fs::write(dir.join(".env"), "APP_ENV=staging\nDATABASE_URL=\n").unwrap();
    let blank = runner_binary_in(&dir, None, &["status"], &[]);
    assert_eq!(blank.status.code(), Some(64), "{}", all_output(&blank));
    assert!(
        stderr(&blank).contains(".env (line 2) is set but empty"),
        "{}",
        stderr(&blank)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn flags_postgresql_would_reject_are_refused_when_parsed() {
    for (args, expected) in [
        (&["up", "--lock-timeout", "0"][..], "--lock-timeout"),
        (&["up", "--lock-timeout", "99999999999"], "--lock-timeout"),
        (&["up", "--ddl-lock-timeout", "0"], "--ddl-lock-timeout"),
        (&["down", "--lock-timeout", "abc"], "--lock-timeout"),
        (&["up", "--connect-timeout", "0"], "--connect-timeout"),
        // `lint` reads no database, so it offers no lock timeout.
        (&["lint", "--lock-timeout", "5"], "--lock-timeout"),
        // A flag of `up` only, before another command.
        (&["--dry-run", "status"], "`--dry-run` is a flag of `up`"),
        (
            &["--ddl-retries", "2", "status"],
            "`--ddl-retries` is a flag of `up` and `down`",
        ),
        // Scaffolding is developer tooling: the release binary has no `new`.
        (&["new", "academy", "add", "things"], "new"),
    ] {
        let output = runner_binary(Some("postgres://u:p@127.0.0.1:1/db"), args, &[]);
        assert_eq!(
            output.status.code(),
            Some(64),
            "{args:?}: {}",
            all_output(&output)
        );
        assert!(
            stderr(&output).contains(expected),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    let env = runner_binary(
        Some("postgres://u:p@127.0.0.1:1/db"),
        &["up"],
        &[("MIGRATION_LOCK_TIMEOUT", "3000000")],
    );
    assert_eq!(env.status.code(), Some(64), "{}", all_output(&env));
}

#[test]
fn version_and_help_succeed() {
    let version = runner_binary(None, &["--version"], &[]);
    assert_eq!(version.status.code(), Some(0));
    assert!(
        stdout(&version).starts_with("migration-runner "),
        "{}",
        stdout(&version)
    );
    let help = runner_binary(None, &["preflight", "--help"], &[]);
    assert_eq!(help.status.code(), Some(0));
    assert!(
        stdout(&help).contains("Print the report as JSON"),
        "{}",
        stdout(&help)
    );
}

#[tokio::test]
async fn a_closed_stdout_neither_panics_nor_changes_the_exit_code() {
    let db = TestDatabase::create("input_closed_stdout");
    for (args, code) in [
        (&["status"][..], 1),
        (&["plan"], 0),
        (&["up"], 0),
        (&["status", "--json"], 0),
    ] {
        // `| head -c 0`: the reader is gone before anything is written.
        let output = std::process::Command::new("bash")
            .arg("-c")
            .arg(r#""$0" "$@" | head -c 0; exit "${PIPESTATUS[0]}""#)
            .arg(runner_binary_path())
            .args(args)
            .env("DATABASE_URL", &db.url)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(code),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(!stderr(&output).contains("panicked"), "{}", stderr(&output));
    }
    // `up` did its work although nobody read what it said.
    let status = runner_binary(Some(&db.url), &["status"], &[]);
    assert_eq!(status.status.code(), Some(0), "{}", all_output(&status));
}

#[tokio::test]
async fn an_unwritten_migration_is_pending_with_a_warning_and_refused_by_up() {
    let db = TestDatabase::create("input_unwritten");
    let stub = SqlMigration::new("m20990101_000000_academy_not_written_yet", &[], &[]);
    let runner = runner(&db, workspace_plus(vec![("academy", Box::new(stub))])).await;
    let inspection = runner.inspect().await.unwrap();
    assert_eq!(inspection.exit_code(), 1, "pending, not broken");
    assert!(inspection.problems.is_empty());
    let entry = inspection
        .migrations
        .iter()
        .find(|e| e.name == "m20990101_000000_academy_not_written_yet")
        .unwrap();
    assert!(entry.unwritten);
    let plan = runner.plan().await.unwrap();
    assert!(plan.last().unwrap().unwritten);
    let err = runner.up(&UpOptions::default()).await.unwrap_err();
    assert_eq!(err.exit(), Exit::Refused);
    assert!(err.to_string().contains("has no statements yet"), "{err}");
    let conn = connect(&db).await;
    assert_eq!(
        scalar_i64(
            &conn,
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'core'"
        )
        .await,
        0,
        "nothing was applied"
    );
    // Everything before it can still be applied.
    let last_real = runner
        .catalog()
        .migrations()
        .iter()
        .rev()
        .nth(1)
        .unwrap()
        .name
        .clone();
    let report = runner
        .up(&UpOptions {
            to: Some(last_real),
            ..UpOptions::default()
        })
        .await
        .unwrap();
    assert_eq!(
        report.applied.len(),
        runner.catalog().migrations().len() - 1
    );
}

#[tokio::test]
async fn a_foreign_table_named_like_the_history_is_refused_by_name() {
    let db = TestDatabase::create("input_foreign_history");
    let conn = connect(&db).await;
    conn.execute_unprepared("CREATE TABLE public.seaql_migrations (id serial, what text)")
        .await
        .unwrap();
    for args in [&["status"][..], &["up"], &["plan"]] {
        let output = runner_binary(Some(&db.url), args, &[]);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            all_output(&output)
        );
        let message = stderr(&output);
        assert!(
            message.contains("exists but is not a migration history (its columns are id, what)"),
            "{message}"
        );
        assert!(!message.contains("does not exist"), "{message}");
    }
}

#[tokio::test]
async fn terminal_escape_codes_in_history_are_never_printed_raw() {
    let db = TestDatabase::migrated("input_escape_codes").await;
    let conn = connect(&db).await;
    conn.execute_unprepared(
        "UPDATE public.seaql_migrations SET note = E'\\x1b[2J\\x1b[31mowned' \
         WHERE version = 'm20250215_090000_academy_create_webinars'; \
         INSERT INTO public.seaql_migrations (version, applied_at, schema_name, checksum, state) \
         VALUES (E'm20991231_000000_core_\\x1b]0;evil\\x07', 0, E'co\\x1bre', 'x', E'appl\\x1bied')",
    )
    .await
    .unwrap();
    for args in [&["status"][..], &["status", "--json"], &["up"], &["plan"]] {
        let output = runner_binary(Some(&db.url), args, &[]);
        let all = all_output(&output);
        assert!(
            !all.contains('\u{1b}'),
            "{args:?} printed an escape code: {all:?}"
        );
        assert!(!all.contains('\u{7}'), "{args:?} printed a bell: {all:?}");
        assert_eq!(output.status.code(), Some(2), "{args:?}: {all}");
    }
}

#[tokio::test]
async fn preflight_passes_with_nothing_pending_and_lists_everything_in_one_round() {
    let db = TestDatabase::migrated("input_preflight").await;
    let admin = connect(&db).await;
    let role = format!("ops_{}", &db.name[db.name.len() - 8..]);
    admin
        .execute_unprepared(&format!(
            "CREATE ROLE {role} LOGIN PASSWORD 'ops-pw'; \
             GRANT SELECT, INSERT, UPDATE, DELETE ON public.seaql_migrations TO {role}"
        ))
        .await
        .unwrap();
    let url = db.url_as(&role, "ops-pw");
    // Nothing pending: nothing to check but history access, which it has.
    let output = runner_binary(Some(&url), &["preflight"], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", all_output(&output));
    assert!(
        stdout(&output).contains("can apply the 0 pending migration(s)"),
        "{}",
        stdout(&output)
    );

    // Without history access, one report lists history access AND what the
    // migrations would need, instead of one round each.
    admin
        .execute_unprepared(&format!(
            "REVOKE ALL ON public.seaql_migrations FROM {role}"
        ))
        .await
        .unwrap();
    let output = runner_binary(Some(&url), &["preflight", "--json"], &[]);
    assert_eq!(output.status.code(), Some(2), "{}", all_output(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let kinds: Vec<&str> = report["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds[0], "history_access", "{kinds:?}");
    assert!(kinds.contains(&"schema"), "{kinds:?}");
    assert_eq!(report["history_readable"], false);
    for missing in report["missing"].as_array().unwrap() {
        let fix = missing["fix"].as_str().unwrap();
        assert!(
            fix.starts_with("GRANT ")
                || fix.starts_with("ALTER TABLE ")
                || fix.starts_with("ALTER ROLE "),
            "{fix}"
        );
        assert!(!fix.contains("GRANT postgres"), "{fix}");
    }
    // `up` as that role says what is wrong and how to fix it, never a bare "permission denied".
    let up = runner_binary(Some(&url), &["up"], &[]);
    assert_eq!(up.status.code(), Some(2), "{}", all_output(&up));
    assert!(
        stderr(&up).contains("GRANT SELECT, INSERT, UPDATE, DELETE ON public.seaql_migrations"),
        "{}",
        stderr(&up)
    );
}

#[tokio::test]
async fn up_prints_the_durations_history_records() {
    let db = TestDatabase::create("input_durations");
    let slow = SqlMigration::new(
        "m20990101_000000_academy_slow",
        &["SELECT pg_sleep(0.3)"],
        &["SELECT 1"],
    );
    let runner = runner(&db, workspace_plus(vec![("academy", Box::new(slow))])).await;
    let report = runner.up(&UpOptions::default()).await.unwrap();
    let conn = connect(&db).await;
    for applied in &report.applied {
        let recorded = scalar_i64(
            &conn,
            &format!(
                "SELECT execution_ms FROM public.seaql_migrations WHERE version = '{}'",
                applied.name
            ),
        )
        .await;
        assert_eq!(applied.execution_ms, recorded, "{}", applied.name);
    }
    let slow = report.applied.last().unwrap();
    assert!(slow.execution_ms >= 300, "{}", slow.execution_ms);

    // And what `up` prints is what history records, line by line.
    let printed_db = TestDatabase::create("input_durations_printed");
    let up = runner_binary(Some(&printed_db.url), &["up"], &[]);
    assert_eq!(up.status.code(), Some(0), "{}", all_output(&up));
    let printed_conn = connect(&printed_db).await;
    let lines: Vec<String> = stdout(&up)
        .lines()
        .filter(|line| line.starts_with("applied  "))
        .map(str::to_owned)
        .collect();
    assert_eq!(
        lines.len(),
        migration_runner::Catalog::workspace(&schema_registry::workspace())
            .unwrap()
            .migrations()
            .len()
    );
    for line in lines {
        let name = line.split_whitespace().nth(1).unwrap();
        let printed: i64 = line
            .trim_end()
            .strip_suffix(" ms")
            .and_then(|rest| rest.split_whitespace().last())
            .and_then(|ms| ms.parse().ok())
            .unwrap_or_else(|| panic!("no duration in `{line}`"));
        let recorded = scalar_i64(
            &printed_conn,
            &format!("SELECT execution_ms FROM public.seaql_migrations WHERE version = '{name}'"),
        )
        .await;
        assert_eq!(printed, recorded, "{line}");
    }
}

/// The README's exit-code table is the one every command follows.
#[test]
fn the_readme_prints_the_exit_code_table() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let section = readme
        .split("### Exit codes")
        .nth(1)
        .expect("README has an `### Exit codes` section");
    let codes: Vec<u8> = section
        .lines()
        .skip_while(|line| !line.starts_with("| code"))
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .map(|line| line.split('|').nth(1).unwrap().trim().parse().unwrap())
        .collect();
    let expected: Vec<u8> = Exit::ALL.iter().map(|e| e.code()).collect();
    assert_eq!(codes, expected);
}
