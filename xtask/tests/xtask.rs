//! `cargo xtask` as developers run it: configuration errors never fall back
//! to the local cluster, `db` commands follow the exit table, destructive
//! commands ask on a terminal, and no output carries a password.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use migration_dev::testing::TestDatabase;
use sea_orm::ConnectionTrait;

/// The Citus tests: their own command (`--features citus-tests`), see the README.
#[cfg(feature = "citus-tests")]
mod citus;

/// The schema map in a real headless browser: its own command
/// (`--features browser-tests`), see the README.
#[cfg(feature = "browser-tests")]
mod map;

/// A directory of its own, so no `.env` and no cluster of the developer's is used.
struct Scratch(PathBuf);

impl Scratch {
    fn new(label: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("xtask-{label}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    /// Where a local cluster would go if xtask (wrongly) started one.
    fn target(&self) -> PathBuf {
        self.0.join("target")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn xtask(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_xtask"));
    command
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .env_remove("DATABASE_URL")
        .env("CARGO_TARGET_DIR", cwd.join("target"));
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().unwrap()
}

/// Runs xtask on a pseudo-terminal (`script`), answering `answer` to its question.
fn xtask_on_terminal(cwd: &Path, args: &str, env: &[(&str, &str)], answer: &str) -> Output {
    let mut command = Command::new("script");
    command
        .args([
            "-qec",
            &format!("{} {args}", env!("CARGO_BIN_EXE_xtask")),
            "/dev/null",
        ])
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("DATABASE_URL")
        .env("CARGO_TARGET_DIR", cwd.join("target"));
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().unwrap();
    use std::io::Write as _;
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(answer.as_bytes()).unwrap();
    drop(stdin);
    child.wait_with_output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn empty_or_malformed_configuration_never_falls_back_to_the_local_cluster() {
    let scratch = Scratch::new("config");
    for args in [&["migrate"][..], &["seed"], &["migrate", "status"]] {
        let output = xtask(&scratch.0, args, &[("DATABASE_URL", " ")]);
        assert_eq!(
            output.status.code(),
            Some(64),
            "{args:?}: {}",
            text(&output)
        );
        assert!(
            text(&output).contains("DATABASE_URL in the environment is set but empty"),
            "{}",
            text(&output)
        );
    }
    std::fs::write(
        scratch.0.join(".env"),
        "APP=1\nDATABASE_URL=\"postgres://u:hunter22@db/app\nX=2\n",
    )
    .unwrap();
    for args in [&["migrate"][..], &["seed"], &["db", "url"]] {
        let output = xtask(&scratch.0, args, &[]);
        assert_eq!(
            output.status.code(),
            Some(64),
            "{args:?}: {}",
            text(&output)
        );
        let message = text(&output);
        assert!(
            message.contains(".env line 2 cannot be parsed"),
            "{message}"
        );
        assert!(!message.contains("hunter22"), "{message}");
    }
    assert!(
        !scratch.target().join("postgres").exists(),
        "a local cluster was started"
    );
}

#[test]
fn db_url_shows_the_database_commands_use() {
    let scratch = Scratch::new("dburl");
    std::fs::write(
        scratch.0.join(".env"),
        "DATABASE_URL=postgres://deploy:s3cr/t@db.internal:5432/app\n",
    )
    .unwrap();
    let output = xtask(&scratch.0, &["db", "url"], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "postgres://deploy:***@db.internal:5432/app"
    );
    assert!(text(&output).contains(".env (line 1)"), "{}", text(&output));
    let shown = xtask(&scratch.0, &["db", "url", "--show-password"], &[]);
    assert!(String::from_utf8_lossy(&shown.stdout).contains("s3cr/t"));
}

#[test]
fn db_status_exits_1_when_the_cluster_is_stopped() {
    let scratch = Scratch::new("dbstatus");
    let output = xtask(&scratch.0, &["db", "status"], &[]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        text(&output).contains("running:     false"),
        "{}",
        text(&output)
    );
}

#[test]
fn version_is_answered() {
    let scratch = Scratch::new("version");
    let output = xtask(&scratch.0, &["--version"], &[]);
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("cargo xtask "));
    let bad = xtask(&scratch.0, &["migrate", "lint", "--lock-timeout", "3"], &[]);
    assert_eq!(bad.status.code(), Some(64), "{}", text(&bad));
    // Completion scripts, from clap's generator, for `xtask` (an alias of `cargo xtask`).
    let bash = xtask(&scratch.0, &["completions", "bash"], &[]);
    assert_eq!(bash.status.code(), Some(0), "{}", text(&bash));
    let script = String::from_utf8_lossy(&bash.stdout);
    for word in [
        "complete -F",
        "xtask",
        "migrate",
        "seed",
        "backfill",
        "--profile",
    ] {
        assert!(script.contains(word), "bash completions lack {word}");
    }
    let fish = xtask(&scratch.0, &["completions", "fish"], &[]);
    assert!(String::from_utf8_lossy(&fish.stdout).contains("complete -c xtask"));
    // A flag of `up` before a command that only writes files says where it belongs.
    let misplaced = xtask(&scratch.0, &["migrate", "--to", "x", "hash"], &[]);
    assert_eq!(misplaced.status.code(), Some(64), "{}", text(&misplaced));
    assert!(
        text(&misplaced).contains("`--to` is a flag of `up`"),
        "{}",
        text(&misplaced)
    );
}

#[tokio::test]
async fn down_and_reset_ask_on_a_terminal_and_change_nothing_when_declined() {
    let scratch = Scratch::new("confirm");
    let db = TestDatabase::migrated("xtask_confirm_down").await;
    let env = [("DATABASE_URL", db.url.as_str())];
    let declined = xtask_on_terminal(&scratch.0, "migrate down", &env, "n\n");
    assert_eq!(declined.status.code(), Some(2), "{}", text(&declined));
    assert!(
        text(&declined).contains("roll back?"),
        "{}",
        text(&declined)
    );
    assert!(
        text(&declined).contains("not confirmed; nothing was changed"),
        "{}",
        text(&declined)
    );
    let conn = sea_orm::Database::connect(&db.url).await.unwrap();
    let count = |conn: sea_orm::DatabaseConnection| async move {
        conn.query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT count(*) FROM public.seaql_migrations",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<i64>(0)
        .unwrap()
    };
    let before = count(conn.clone()).await;
    let confirmed = xtask_on_terminal(&scratch.0, "migrate down", &env, "y\n");
    assert_eq!(confirmed.status.code(), Some(0), "{}", text(&confirmed));
    assert_eq!(count(conn.clone()).await, before - 1);
    let skipped = xtask_on_terminal(&scratch.0, "migrate down --yes", &env, "");
    assert_eq!(skipped.status.code(), Some(0), "{}", text(&skipped));
    assert!(!text(&skipped).contains("roll back?"));
    assert_eq!(count(conn).await, before - 2);

    let reset = xtask_on_terminal(&scratch.0, "db reset", &[], "no\n");
    assert_eq!(reset.status.code(), Some(2), "{}", text(&reset));
    assert!(text(&reset).contains("not confirmed"), "{}", text(&reset));
    assert!(
        !scratch.target().join("postgres").exists(),
        "reset went ahead"
    );
}

#[tokio::test]
async fn seed_and_migrate_never_print_a_password_made_of_reserved_characters() {
    let scratch = Scratch::new("redaction");
    let db = TestDatabase::create("xtask_redaction");
    let admin = sea_orm::Database::connect(&db.url).await.unwrap();
    let password = "Zq9:/?#[]@!$&'()*+,;=% Secret";
    let role = format!("pw_{}", &db.name[db.name.len() - 8..]);
    admin
        .execute_unprepared(&format!(
            "CREATE ROLE {role} LOGIN SUPERUSER PASSWORD '{}'",
            password.replace('\'', "''")
        ))
        .await
        .unwrap();
    let rest = db.url.split_once('@').unwrap().1;
    let url = format!("postgres://{role}:{password}@{rest}");
    let wrong = format!("postgres://{role}:Wr0ng{password}@{rest}");
    for (args, target, code) in [
        (&["migrate"][..], &url, 0),
        (&["seed", "--profile", "minimal"], &url, 0),
        (&["seed", "--profile", "minimal", "--dry-run"], &url, 0),
        (&["migrate", "status"], &url, 0),
        (&["db", "url"], &url, 0),
        (&["seed"], &wrong, 4),
        (&["migrate"], &wrong, 4),
    ] {
        let output = xtask(&scratch.0, args, &[("DATABASE_URL", target.as_str())]);
        let all = text(&output);
        assert_eq!(output.status.code(), Some(code), "{args:?}: {all}");
        assert!(!all.trim().is_empty());
        for marker in ["Zq9", "Secret", "Wr0ng"] {
            assert!(!all.contains(marker), "{args:?} printed `{marker}`: {all}");
        }
    }
}

/// A new user's first command shows cargo's progress: the alias is not `--quiet`.
#[test]
fn the_xtask_alias_shows_cargo_progress() {
    let config = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../.cargo/config.toml"
    ))
    .unwrap();
    let alias = config
        .lines()
        .find(|line| line.starts_with("xtask"))
        .unwrap();
    assert!(
        !alias.contains("--quiet") && !alias.contains("-q "),
        "{alias}"
    );
}

/// Copies the workspace's sources (what git tracks, or everything but
/// `target/` and `.git/`) to `to`.
fn copy_workspace(from: &Path, to: &Path) {
    let listed = Command::new("git")
        .args(["ls-files", "--cached", "--others", "--exclude-standard"])
        .current_dir(from)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(PathBuf::from)
                .collect::<Vec<_>>()
        });
    let files = listed.unwrap_or_else(|| {
        let mut found = Vec::new();
        let mut stack = vec![PathBuf::new()];
        while let Some(relative) = stack.pop() {
            for entry in std::fs::read_dir(from.join(&relative)).unwrap() {
                let entry = entry.unwrap();
                let path = relative.join(entry.file_name());
                if path == Path::new("target") || path == Path::new(".git") {
                    continue;
                }
                if entry.file_type().unwrap().is_dir() {
                    stack.push(path);
                } else {
                    found.push(path);
                }
            }
        }
        found
    });
    for file in files {
        let source = from.join(&file);
        if !source.is_file() {
            continue;
        }
        let target = to.join(&file);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&source, &target).unwrap();
    }
}

/// `schema new billing` in a copy of the workspace: with no other edit it
/// builds (sharing this target directory: one incremental build of the
/// workspace's own crates), migrates and seeds, and its files are fmt-clean.
#[tokio::test]
async fn schema_new_yields_a_workspace_that_builds_migrates_and_seeds() {
    let root = migration_dev::scaffold::workspace_root();
    let scratch = Scratch::new("schema-new");
    let copy = scratch.0.join("workspace");
    copy_workspace(&root, &copy);
    // The copy's xtask gets its own binary name, so it is never mistaken for ours.
    let manifest = copy.join("xtask/Cargo.toml");
    let renamed = std::fs::read_to_string(&manifest).unwrap().replacen(
        "name = \"xtask\"",
        "name = \"xtask-schema-new-check\"",
        1,
    );
    std::fs::write(&manifest, renamed).unwrap();

    let engine_manifest =
        std::fs::read_to_string(copy.join("migration-runner/Cargo.toml")).unwrap();
    let written =
        migration_dev::new_schema::new_schema(&copy, "billing", &["@acme/billing".to_owned()])
            .await
            .unwrap();
    assert!(written.crate_dir.join("src/lib.rs").is_file());
    assert_eq!(
        migration_runner::gate::owners::owners_in(
            &std::fs::read_to_string(written.crate_dir.join("Cargo.toml")).unwrap()
        )
        .unwrap(),
        vec!["@acme/billing".to_owned()],
        "the owners given reach the new crate's manifest"
    );
    let registry =
        std::fs::read_to_string(copy.join("migration-runner/registry/src/lib.rs")).unwrap();
    assert!(registry.contains("    schema_billing,\n}"), "{registry}");
    assert!(
        std::fs::read_to_string(copy.join("migration-runner/registry/Cargo.toml"))
            .unwrap()
            .contains("schema-billing.workspace = true"),
        "the registry crate depends on the new crate"
    );
    assert_eq!(
        std::fs::read_to_string(copy.join("migration-runner/Cargo.toml")).unwrap(),
        engine_manifest,
        "a new team never edits the engine's manifest"
    );
    let again =
        migration_dev::new_schema::new_schema(&copy, "billing", &["@acme/billing".to_owned()])
            .await
            .unwrap_err();
    assert!(again.to_string().contains("already exists"), "{again}");

    // A target directory of its own, seeded with a copy of this one's: the
    // registry crates are reused, and the copy's own crates (whose artifact
    // names equal this workspace's, since cargo hashes paths relative to the
    // workspace root) never overwrite the artifacts other tests link against.
    let shared = migration_dev::local_pg::target_dir().join("debug");
    let target_dir = scratch.0.join("target");
    std::fs::create_dir_all(target_dir.join("debug")).unwrap();
    for part in ["deps", "build", ".fingerprint"] {
        let copied = Command::new("cp")
            .arg("-a")
            .arg(shared.join(part))
            .arg(target_dir.join("debug"))
            .status()
            .unwrap();
        assert!(copied.success(), "copying target/debug/{part}");
    }
    let cargo = |args: &[&str]| {
        Command::new(env!("CARGO"))
            .args(args)
            .current_dir(&copy)
            .env("CARGO_TARGET_DIR", &target_dir)
            .output()
            .unwrap()
    };
    // What `schema new` wrote and edited is fmt-clean (the rest is CI's gate).
    let fmt = cargo(&["fmt", "-p", "schema-billing", "--check"]);
    assert!(fmt.status.success(), "not fmt-clean: {}", text(&fmt));
    let registry_fmt = Command::new("rustfmt")
        .args([
            "--edition",
            "2024",
            "--check",
            "migration-runner/registry/src/lib.rs",
        ])
        .current_dir(&copy)
        .output()
        .unwrap();
    assert!(registry_fmt.status.success(), "{}", text(&registry_fmt));
    let build = cargo(&["build", "--offline", "-p", "xtask-schema-new-check"]);
    assert!(
        build.status.success(),
        "the new workspace does not build: {}",
        text(&build)
    );

    let db = TestDatabase::create("xtask_schema_new");
    let binary = target_dir.join("debug/xtask-schema-new-check");
    let run = |args: &[&str]| {
        Command::new(&binary)
            .args(args)
            .current_dir(&copy)
            .stdin(Stdio::null())
            .env("DATABASE_URL", &db.url)
            .output()
            .unwrap()
    };
    let migrate = run(&["migrate"]);
    assert_eq!(migrate.status.code(), Some(0), "{}", text(&migrate));
    assert!(
        text(&migrate).contains(&written.migration),
        "{}",
        text(&migrate)
    );
    let seed = run(&["seed"]);
    assert_eq!(seed.status.code(), Some(0), "{}", text(&seed));
    let status = run(&["migrate", "status"]);
    assert_eq!(status.status.code(), Some(0), "{}", text(&status));
    let conn = sea_orm::Database::connect(&db.url).await.unwrap();
    let schemas = conn
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'billing'",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<i64>(0)
        .unwrap();
    assert_eq!(schemas, 1);
    let _ = std::fs::remove_file(&binary);
}

/// `seed | head -c 0` and `migrate status | head -c 0`: no panic after the
/// work is done, and the exit code is the command's own.
#[tokio::test]
async fn a_closed_stdout_never_panics() {
    let scratch = Scratch::new("closed-stdout");
    let db = TestDatabase::migrated("xtask_closed_stdout").await;
    for (args, code) in [("seed --profile minimal", 0), ("migrate status", 0)] {
        let output = Command::new("bash")
            .arg("-c")
            .arg(format!(
                r#"{} {args} | head -c 0; exit "${{PIPESTATUS[0]}}""#,
                env!("CARGO_BIN_EXE_xtask")
            ))
            .current_dir(&scratch.0)
            .env("DATABASE_URL", &db.url)
            .env("CARGO_TARGET_DIR", scratch.target())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(code),
            "{args}: {}",
            text(&output)
        );
        assert!(
            !text(&output).contains("panicked"),
            "{args}: {}",
            text(&output)
        );
    }
}
