//! The release binary, as CI/CD runs it: exit codes, JSON, redaction.

use std::process::Command;

use migration_dev::testing::TestDatabase;
use sea_orm::ConnectionTrait;

use crate::support::*;

#[tokio::test]
async fn the_release_binary_reports_each_state_with_its_exit_code() {
    let db = TestDatabase::create("cli_exit_codes");
    let url = Some(db.url.as_str());
    let total = migration_runner::Catalog::workspace(&schema_registry::workspace())
        .unwrap()
        .migrations()
        .len();

    let status = runner_binary(url, &["status"], &[]);
    assert_eq!(status.status.code(), Some(1), "{}", stderr(&status));
    assert!(
        stdout(&status).contains(&format!("0 applied, {total} pending, 0 problem(s)")),
        "{}",
        stdout(&status)
    );

    let json = runner_binary(url, &["status", "--json"], &[]);
    assert_eq!(json.status.code(), Some(1));
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["exit_code"], 1);
    assert_eq!(value["summary"]["pending"], total);
    assert_eq!(value["migrations"].as_array().unwrap().len(), total);
    assert_eq!(value["migrations"][0]["state"], "pending");
    assert_eq!(
        value["migrations"][0]["name"],
        "m20250101_000000_core_create_schema"
    );
    assert!(
        value["database"].as_str().unwrap().contains(":***@"),
        "{}",
        value["database"]
    );

    let plan = runner_binary(url, &["plan"], &[]);
    assert_eq!(plan.status.code(), Some(0));
    assert!(
        stdout(&plan)
            .contains("-- m20250101_000000_core_create_schema (schema core, in a transaction"),
        "{}",
        stdout(&plan)
    );
    assert!(
        stdout(&plan).contains("CREATE SCHEMA IF NOT EXISTS \"core\""),
        "{}",
        stdout(&plan)
    );

    let up = runner_binary(url, &[], &[]);
    assert_eq!(up.status.code(), Some(0), "{}", stderr(&up));
    assert!(
        stdout(&up).contains(&format!("applied {total} migration(s)")),
        "{}",
        stdout(&up)
    );
    let again = runner_binary(url, &["up"], &[]);
    assert_eq!(again.status.code(), Some(0));
    assert!(
        stdout(&again).contains(&format!(
            "nothing to apply: all {total} migrations are applied"
        )),
        "{}",
        stdout(&again)
    );
    assert_eq!(runner_binary(url, &["status"], &[]).status.code(), Some(0));

    let conn = connect(&db).await;
    conn.execute_unprepared("UPDATE public.seaql_migrations SET checksum = 'edited' WHERE version = 'm20250215_090000_academy_create_webinars'")
        .await
        .unwrap();
    let tampered = runner_binary(url, &["status"], &[]);
    assert_eq!(tampered.status.code(), Some(2));
    assert!(
        stdout(&tampered).contains("changed"),
        "{}",
        stdout(&tampered)
    );
    let refused = runner_binary(url, &["up"], &[]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused)
            .contains("m20250215_090000_academy_create_webinars` in crate `academy` was edited"),
        "{}",
        stderr(&refused)
    );

    let down = runner_binary(url, &["down"], &[("APP_ENV", "production")]);
    assert_eq!(down.status.code(), Some(2));
    assert!(
        stderr(&down).contains("APP_ENV is `production`"),
        "{}",
        stderr(&down)
    );
    assert!(
        stderr(&down).contains("--allow-destructive"),
        "{}",
        stderr(&down)
    );
}

#[tokio::test]
async fn passwords_never_reach_the_output() {
    let db = TestDatabase::create("cli_redaction");
    let port = db
        .url
        .rsplit_once(':')
        .unwrap()
        .1
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let secret = "Sup3rSecretValue";
    let url = format!("postgres://postgres:{secret}@127.0.0.1:{port}/{}", db.name);
    let output = runner_binary(Some(&url), &["status"], &[]);
    assert_eq!(output.status.code(), Some(4));
    let all = format!("{}{}", stdout(&output), stderr(&output));
    assert!(!all.contains(secret), "{all}");
    assert!(all.contains("password authentication failed"), "{all}");

    let json = runner_binary(Some(&db.url), &["status", "--json"], &[]);
    let password = db
        .url
        .split(':')
        .nth(2)
        .unwrap()
        .split('@')
        .next()
        .unwrap()
        .to_owned();
    assert!(!stdout(&json).contains(&password));
}

#[test]
fn the_release_binary_requires_a_database_url() {
    let output = runner_binary(None, &["status"], &[]);
    assert_eq!(output.status.code(), Some(64));
    assert!(
        stderr(&output).contains("DATABASE_URL is not set"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test]
async fn database_url_is_read_from_a_dot_env_file() {
    let db = TestDatabase::create("cli_dotenv");
    let dir = std::env::temp_dir().join(format!("dotenv-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(".env"), format!("DATABASE_URL={}\n", db.url)).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_migration-runner"))
        .args(["status", "--json"])
        .current_dir(&dir)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        value["database"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/{}", db.name)),
        "{}",
        value["database"]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn global_flags_are_accepted_before_the_subcommand() {
    let db = TestDatabase::migrated("cli_global_flags").await;
    let before_subcommand = [
        &["--database-url", db.url.as_str(), "status"][..],
        &["--lock-timeout", "5", "up"],
        &["--lock-timeout", "5", "status"],
        &["--connect-timeout", "5", "plan"],
        &["--ddl-lock-timeout", "2", "--ddl-retries", "1", "up"],
        &["status", "--lock-timeout", "5"],
        &["up", "--lock-timeout", "5"],
        &["--lock-timeout", "5"],
    ];
    for args in before_subcommand {
        // `--database-url` alone names the database here.
        let url = (args[0] != "--database-url").then_some(db.url.as_str());
        let output = runner_binary(url, args, &[]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?}: {}",
            all_output(&output)
        );
    }
    // The value given before `up` is the one `up` uses: with the migration
    // lock held elsewhere, a deploy with pending migrations gives up after 1 s.
    let pending = TestDatabase::create("cli_global_flags_pending");
    let holder = migration_runner::connect(&pending.url, "lock-holder")
        .await
        .unwrap();
    holder
        .connection()
        .execute_unprepared(&format!(
            "SELECT pg_advisory_lock({})",
            migration_runner::history::lock::LOCK_KEY
        ))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let waited = runner_binary(Some(&pending.url), &["--lock-timeout", "1", "up"], &[]);
    assert_eq!(waited.status.code(), Some(4), "{}", all_output(&waited));
    assert!(
        stderr(&waited).contains("timed out after 1 s waiting for the migration lock"),
        "{}",
        stderr(&waited)
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    holder.close().await.unwrap();

    // A flag of `up` before another command is a usage error saying where it belongs.
    let misplaced = runner_binary(Some(&db.url), &["--to", "x", "status"], &[]);
    assert_eq!(
        misplaced.status.code(),
        Some(64),
        "{}",
        all_output(&misplaced)
    );
    assert!(
        stderr(&misplaced).contains("`--to` is a flag of `up`"),
        "{}",
        stderr(&misplaced)
    );
}

#[test]
fn a_url_given_with_database_url_is_named_as_the_flag_in_errors() {
    let output = runner_binary(
        None,
        &[
            "--database-url",
            "postgres://deploy:s3cret-pw@127.0.0.1:1/app",
            "--connect-timeout",
            "2",
            "status",
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(4), "{}", all_output(&output));
    let text = stderr(&output);
    assert!(text.contains("--database-url"), "{text}");
    assert!(!text.contains("DATABASE_URL in the environment"), "{text}");
    assert!(!all_output(&output).contains("s3cret-pw"));
}

#[tokio::test]
async fn status_waits_for_a_locked_history_at_most_its_lock_timeout_and_names_the_holder() {
    let db = TestDatabase::migrated("cli_status_locked").await;
    // One connection: the lock and the pid are the same session's.
    let session = migration_runner::connect(&db.url, "history-lock-holder")
        .await
        .unwrap();
    let holder = session.connection();
    let pid = scalar_i64(holder, "SELECT pg_backend_pid()::bigint").await;
    holder
        .execute_unprepared("BEGIN; LOCK TABLE public.seaql_migrations IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    for args in [
        &["status", "--lock-timeout", "1"][..],
        &["--lock-timeout", "1", "status", "--json"],
    ] {
        let mut child = runner_command(Some(&db.url), args, &[]).spawn().unwrap();
        let started = std::time::Instant::now();
        while child.try_wait().unwrap().is_none() && started.elapsed().as_secs() < 20 {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let waited = started.elapsed();
        let _ = child.kill();
        let output = child.wait_with_output().unwrap();
        assert!(
            waited < std::time::Duration::from_secs(10),
            "{args:?} waited {waited:?} for the locked history"
        );
        assert_eq!(
            output.status.code(),
            Some(4),
            "{args:?}: {}",
            all_output(&output)
        );
        let text = stderr(&output);
        assert!(text.contains("public.seaql_migrations"), "{args:?}: {text}");
        assert!(text.contains(&format!("pid {pid}")), "{args:?}: {text}");
    }
    // Nothing pending: `plan` answers from the history's digest, not the locked table.
    let plan = runner_binary(Some(&db.url), &["plan", "--lock-timeout", "1"], &[]);
    assert_eq!(plan.status.code(), Some(0), "{}", all_output(&plan));
    holder.execute_unprepared("ROLLBACK").await.unwrap();
    let status = runner_binary(Some(&db.url), &["status", "--lock-timeout", "1"], &[]);
    assert_eq!(status.status.code(), Some(0), "{}", all_output(&status));
}

#[test]
fn completions_come_from_clap_and_load_in_the_shell() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef migration-runner"),
        ("fish", "complete -c migration-runner"),
    ] {
        let output = runner_binary(None, &["completions", shell], &[]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{shell}: {}",
            all_output(&output)
        );
        let script = stdout(&output);
        for word in [marker, "backfill", "verify-backup", "lock-timeout"] {
            assert!(script.contains(word), "{shell} lacks {word}");
        }
    }
    // bash takes it: the function is registered for the command.
    let script = stdout(&runner_binary(None, &["completions", "bash"], &[]));
    let loaded = Command::new("bash")
        .args(["-c", "source /dev/stdin; complete -p migration-runner"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            child.stdin.take().unwrap().write_all(script.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    assert_eq!(loaded.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&loaded.stdout).contains("migration-runner"),
        "{}",
        String::from_utf8_lossy(&loaded.stdout)
    );
    let unknown = runner_binary(None, &["completions", "tcsh"], &[]);
    assert_eq!(unknown.status.code(), Some(64), "{}", all_output(&unknown));
}
