//! No output of any command, in any outcome, contains the password: URLs
//! built from every character a URL reserves, raw and percent-encoded.

use migration_dev::testing::TestDatabase;
use sea_orm::ConnectionTrait;

use crate::support::*;

/// Every reserved character, `%`, a space, between two markers the checks look for.
const PASSWORD: &str = "Zq9:/?#[]@!$&'()*+,;=% Secret";

fn encoded(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn assert_no_password(output: &std::process::Output, what: &str) {
    let all = all_output(output);
    assert!(!all.trim().is_empty(), "{what}: no output at all");
    for marker in ["Zq9", "Secret", "Wr0ng", &encoded(PASSWORD)] {
        assert!(!all.contains(marker), "{what}: printed `{marker}`:\n{all}");
    }
}

#[tokio::test]
async fn no_command_prints_a_password_made_of_reserved_characters() {
    let db = TestDatabase::create("redaction_reserved");
    let admin = connect(&db).await;
    let role = format!("pw_{}", &db.name[db.name.len() - 8..]);
    admin
        .execute_unprepared(&format!(
            "CREATE ROLE {role} LOGIN SUPERUSER PASSWORD '{}'",
            PASSWORD.replace('\'', "''")
        ))
        .await
        .unwrap();
    let port = port_of(&db.url);
    let raw = format!("postgres://{role}:{PASSWORD}@127.0.0.1:{port}/{}", db.name);
    let percent = format!(
        "postgres://{role}:{}@127.0.0.1:{port}/{}",
        encoded(PASSWORD),
        db.name
    );
    for url in [&raw, &percent] {
        // The archive and restore target of this URL form's backup commands
        // (pg_dump and pg_restore get the password too, and must not echo it).
        let dir = Dir::new("redaction");
        let archive = dir.file("app.dump");
        let archive = archive.as_str();
        let restored = TestDatabase::create("redaction_restored");
        // (arguments, exit code) in order: each leaves the database as the next expects.
        let commands: [(&[&str], i32); 18] = [
            (&["status"], 1),
            (&["status", "--json"], 1),
            (&["plan"], 0),
            (&["preflight"], 0),
            (&["preflight", "--json"], 0),
            (&["up", "--dry-run"], 0),
            (&["up"], 0),
            (&["status"], 0),
            (&["drift"], 0),
            (&["backfill", "list"], 0),
            (&["flag", "list"], 0),
            (&["db", "backup", "--out", archive], 0),
            (&["db", "verify-backup", archive], 0),
            (&["db", "restore", archive, "--into", &restored.name], 0),
            (&["down", "--dry-run"], 0),
            (&["down", "--to", "m20990101_000000_core_nope"], 64),
            (&["resolve", "--applied", "m20990101_000000_core_nope"], 64),
            (&["status", "--no-such-flag"], 64),
        ];
        for (args, code) in commands {
            let output = runner_binary(Some(url), args, &[]);
            let what = format!(
                "{args:?} with {}",
                if url == &raw {
                    "a raw password"
                } else {
                    "a percent-encoded password"
                }
            );
            assert_eq!(
                output.status.code(),
                Some(code),
                "{what}: {}",
                all_output(&output)
            );
            assert_no_password(&output, &what);
        }
        let manifest = std::fs::read_to_string(format!("{archive}.manifest.json")).unwrap();
        for marker in ["Zq9", "Secret", &encoded(PASSWORD)] {
            assert!(!manifest.contains(marker), "the manifest holds `{marker}`");
        }
        // Leave the database fresh for the next URL form.
        let output = runner_binary(
            Some(url),
            &["down", "--to", "m20250101_000000_core_create_schema"],
            &[],
        );
        assert_eq!(output.status.code(), Some(0), "{}", all_output(&output));
        assert_no_password(&output, "down --to");
    }

    // Failures: a wrong password, nothing listening, an unparsable URL, `--database-url`.
    let wrong = format!(
        "postgres://{role}:Wr0ng{PASSWORD}@127.0.0.1:{port}/{}",
        db.name
    );
    let closed = format!("postgres://{role}:{PASSWORD}@127.0.0.1:1/{}", db.name);
    let no_scheme = format!("{role}:{PASSWORD}@127.0.0.1:{port}/{}", db.name);
    let bad_port = format!("postgres://{role}:{PASSWORD}@127.0.0.1:port/{}", db.name);
    for (url, code, expected) in [
        (&wrong, 4, "password authentication failed"),
        (&closed, 4, "127.0.0.1:1"),
        (&no_scheme, 64, "is not a PostgreSQL URL"),
        (&bad_port, 64, "is not a PostgreSQL URL"),
    ] {
        for args in [
            &["status"][..],
            &["up"],
            &["plan"],
            &["preflight", "--json"],
        ] {
            let output = runner_binary(Some(url), args, &[]);
            let what = format!("{args:?} with {expected}");
            assert_eq!(
                output.status.code(),
                Some(code),
                "{what}: {}",
                all_output(&output)
            );
            assert!(
                stderr(&output).contains(expected),
                "{what}: {}",
                stderr(&output)
            );
            assert_no_password(&output, &what);
        }
        let flag = runner_binary(None, &["status", "--database-url", url], &[]);
        assert_eq!(flag.status.code(), Some(code), "{}", all_output(&flag));
        assert_no_password(&flag, "--database-url");
    }
}
