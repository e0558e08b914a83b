//! Backups, restores, verification and the runtime roles, through the
//! release binary against real databases: a restore is identical to its
//! source (every table's content hash, the same history), `verify-backup`
//! names the table a tampered archive or manifest disagrees on, restores
//! refuse non-empty targets and the deploy target, the runtime roles can do
//! exactly what their migrations grant, and no output carries the password.

use std::path::Path;

use migration_dev::testing::TestDatabase;
use migration_runner::operations::manifest;
use sea_orm::{ConnectionTrait, DatabaseConnection};

use crate::support::{
    Dir, all_output, connect, history_names, runner_binary, runner_binary_in, stdout,
};

/// Rows in every schema, as an application would write them.
async fn fill(db: &DatabaseConnection) {
    db.execute_unprepared(
        "INSERT INTO core.users (id, email, display_name)
              SELECT md5('u' || g)::uuid, 'u' || g || '@example.com', 'User ' || g FROM generate_series(1, 300) g;
         INSERT INTO academy.courses (id, slug, title, instructor_id)
              SELECT md5('c' || g)::uuid, 'course-' || g, 'Course ' || g, md5('u' || g)::uuid FROM generate_series(1, 40) g;
         INSERT INTO talent.skills (id, slug, name)
              SELECT md5('s' || g)::uuid, 'skill-' || g, 'Skill ' || g FROM generate_series(1, 25) g;
         INSERT INTO vacancy.employers (id, slug, name, owner_id)
              SELECT md5('e' || g)::uuid, 'employer-' || g, 'Employer ' || g, md5('u' || g)::uuid FROM generate_series(1, 10) g;",
    )
    .await
    .expect("fill the schemas");
}

/// Every backed-up table's row count and content hash.
async fn figures(db: &DatabaseConnection) -> Vec<manifest::TableFigures> {
    db.execute_unprepared(manifest::STABLE_SETTINGS)
        .await
        .unwrap();
    let schemas = migration_runner::operations::owned_schemas(&schema_registry::workspace());
    let tables = manifest::tables(db, &schemas).await.unwrap();
    manifest::figures(db, &tables).await.unwrap()
}

fn password_of(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    let userinfo = rest.rsplit_once('@').unwrap().0;
    userinfo.split_once(':').unwrap().1.to_owned()
}

fn backup(url: &str, archive: &str) -> std::process::Output {
    let output = runner_binary(Some(url), &["db", "backup", "--out", archive], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", all_output(&output));
    output
}

#[tokio::test]
async fn a_backup_restored_into_a_new_database_is_identical_with_the_same_history() {
    let source = TestDatabase::migrated("ops_roundtrip").await;
    let conn = connect(&source).await;
    fill(&conn).await;
    let dir = Dir::new("roundtrip");
    let archive = dir.file("app.dump");
    let backed_up = backup(&source.url, &archive);
    let target = TestDatabase::create("ops_roundtrip_into");
    let restored = runner_binary(
        Some(&source.url),
        &["db", "restore", &archive, "--into", &target.name],
        &[],
    );
    assert_eq!(restored.status.code(), Some(0), "{}", all_output(&restored));
    assert!(
        stdout(&restored).contains(&format!("database `{}`", target.name)),
        "{}",
        stdout(&restored)
    );

    let copy = connect(&target).await;
    let (before, after) = (figures(&conn).await, figures(&copy).await);
    assert!(
        before
            .iter()
            .any(|t| t.table == "core.users" && t.rows == 300),
        "{before:?}"
    );
    assert!(
        before.iter().any(|t| t.table == "public.seaql_migrations"),
        "{before:?}"
    );
    assert_eq!(before, after, "every table's rows and content hash");
    assert_eq!(history_names(&conn).await, history_names(&copy).await);

    // The manifest holds the same figures, and no password.
    let manifest_text = std::fs::read_to_string(format!("{archive}.manifest.json")).unwrap();
    let written: manifest::Manifest = serde_json::from_str(&manifest_text).unwrap();
    assert_eq!(written.tables, before);
    assert_eq!(written.applied_migrations, history_names(&conn).await.len());
    let password = password_of(&source.url);
    for text in [manifest_text, all_output(&backed_up), all_output(&restored)] {
        assert!(!text.contains(&password), "{text}");
    }
}

#[tokio::test]
async fn verify_backup_passes_on_a_good_archive_and_names_the_table_of_a_tampered_one() {
    let source = TestDatabase::migrated("ops_verify").await;
    let conn = connect(&source).await;
    fill(&conn).await;
    let dir = Dir::new("verify");
    let archive = dir.file("good.dump");
    backup(&source.url, &archive);

    let verified = runner_binary(Some(&source.url), &["db", "verify-backup", &archive], &[]);
    assert_eq!(verified.status.code(), Some(0), "{}", all_output(&verified));
    assert!(
        stdout(&verified).contains("verify-backup passed"),
        "{}",
        stdout(&verified)
    );
    assert!(!all_output(&verified).contains(&password_of(&source.url)));

    // A row changed in the archive's data: the same database dumped again
    // after an edit, carrying the good archive's manifest.
    let edited = TestDatabase::create("ops_verify_edited");
    let restored = runner_binary(
        Some(&source.url),
        &["db", "restore", &archive, "--into", &edited.name],
        &[],
    );
    assert_eq!(restored.status.code(), Some(0), "{}", all_output(&restored));
    connect(&edited)
        .await
        .execute_unprepared("UPDATE academy.courses SET title = 'Tampered' WHERE slug = 'course-7'")
        .await
        .unwrap();
    let tampered = dir.file("tampered.dump");
    backup(&edited.url, &tampered);
    std::fs::copy(
        format!("{archive}.manifest.json"),
        format!("{tampered}.manifest.json"),
    )
    .unwrap();
    // The archive is not the one the manifest describes: said, not restored.
    let refused = runner_binary(Some(&source.url), &["db", "verify-backup", &tampered], &[]);
    assert_eq!(refused.status.code(), Some(2), "{}", all_output(&refused));
    let report = stdout(&refused);
    assert!(report.contains("the archive's SHA-256"), "{report}");
    assert!(!report.contains("table "), "{report}");
    // With the checksum made to agree, the restore names the table whose rows differ.
    let tampered_manifest = format!("{tampered}.manifest.json");
    let mut manifest: manifest::Manifest =
        serde_json::from_str(&std::fs::read_to_string(&tampered_manifest).unwrap()).unwrap();
    let bytes = std::fs::read(&tampered).unwrap();
    use sha2::Digest as _;
    manifest.archive_sha256 = hex::encode(sha2::Sha256::digest(&bytes));
    std::fs::write(
        &tampered_manifest,
        serde_json::to_string_pretty(&manifest).unwrap(),
    )
    .unwrap();
    let refused = runner_binary(Some(&source.url), &["db", "verify-backup", &tampered], &[]);
    assert_eq!(refused.status.code(), Some(2), "{}", all_output(&refused));
    let report = stdout(&refused);
    assert!(report.contains("verify-backup FAILED"), "{report}");
    assert!(
        report.contains("table academy.courses: content hash"),
        "{report}"
    );
    assert!(
        !report.contains("table core.users"),
        "only the changed table: {report}"
    );

    // A manifest edited: one table's count.
    let manifest_path = format!("{archive}.manifest.json");
    let mut manifest: manifest::Manifest =
        serde_json::from_str(&std::fs::read_to_string(&manifest_path).unwrap()).unwrap();
    manifest
        .tables
        .iter_mut()
        .find(|t| t.table == "talent.skills")
        .unwrap()
        .rows += 1;
    std::fs::write(
        &manifest_path,
        serde_json::to_string_pretty(&manifest).unwrap(),
    )
    .unwrap();
    let json = runner_binary(
        Some(&source.url),
        &["db", "verify-backup", &archive, "--json"],
        &[],
    );
    assert_eq!(json.status.code(), Some(2), "{}", all_output(&json));
    let report: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    let tables: Vec<&str> = report["mismatches"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["table"].as_str())
        .collect();
    assert_eq!(tables, ["talent.skills"], "{report}");
}

#[tokio::test]
async fn restore_refuses_a_non_empty_target_and_the_deploy_target() {
    let source = TestDatabase::migrated("ops_refuse").await;
    let dir = Dir::new("refuse");
    let archive = dir.file("app.dump");
    backup(&source.url, &archive);

    let occupied = TestDatabase::migrated("ops_refuse_occupied").await;
    let before = history_names(&connect(&occupied).await).await;
    let refused = runner_binary(
        Some(&source.url),
        &["db", "restore", &archive, "--into", &occupied.name],
        &[],
    );
    assert_eq!(refused.status.code(), Some(2), "{}", all_output(&refused));
    assert!(
        all_output(&refused).contains("is not empty"),
        "{}",
        all_output(&refused)
    );
    assert!(
        all_output(&refused).contains("--force"),
        "{}",
        all_output(&refused)
    );
    assert_eq!(history_names(&connect(&occupied).await).await, before);

    let deploy = runner_binary(
        Some(&source.url),
        &["db", "restore", &archive, "--into", &source.name],
        &[],
    );
    assert_eq!(deploy.status.code(), Some(2), "{}", all_output(&deploy));
    assert!(
        all_output(&deploy).contains("the one commands deploy to"),
        "{}",
        all_output(&deploy)
    );

    // --force replaces what is there.
    let forced = runner_binary(
        Some(&source.url),
        &[
            "db",
            "restore",
            &archive,
            "--into",
            &occupied.name,
            "--force",
        ],
        &[],
    );
    assert_eq!(forced.status.code(), Some(0), "{}", all_output(&forced));

    let missing = runner_binary(
        Some(&source.url),
        &["db", "verify-backup", &dir.file("absent.dump")],
        &[],
    );
    assert_eq!(missing.status.code(), Some(64), "{}", all_output(&missing));
}

#[tokio::test]
async fn a_missing_or_older_pg_dump_is_refused_with_what_to_install() {
    let source = TestDatabase::migrated("ops_tools").await;
    let dir = Dir::new("tools");
    let empty = dir.0.join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let missing = runner_binary(
        Some(&source.url),
        &["db", "backup", "--out", &dir.file("a.dump")],
        &[("PG_BIN_DIR", &empty.display().to_string())],
    );
    assert_eq!(missing.status.code(), Some(2), "{}", all_output(&missing));
    assert!(
        all_output(&missing).contains("`pg_dump` not found"),
        "{}",
        all_output(&missing)
    );
    assert!(
        all_output(&missing).contains("postgresql-client"),
        "{}",
        all_output(&missing)
    );

    let old = dir.0.join("old-bin");
    std::fs::create_dir_all(&old).unwrap();
    let fake = old.join("pg_dump");
    std::fs::write(&fake, "#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n").unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let older = runner_binary_in(
        &dir.0,
        Some(&source.url),
        &["db", "backup", "--out", &dir.file("b.dump")],
        &[("PG_BIN_DIR", &old.display().to_string())],
    );
    assert_eq!(older.status.code(), Some(2), "{}", all_output(&older));
    assert!(
        all_output(&older).contains("is version 9.6.24, older than the server"),
        "{}",
        all_output(&older)
    );
    assert!(!Path::new(&dir.file("b.dump")).exists());
}

/// Runs `sql` as `role` (a NOLOGIN group: `SET ROLE` from the superuser) and
/// says whether PostgreSQL allowed it.
async fn allowed(db: &DatabaseConnection, role: &str, sql: &str) -> bool {
    db.execute_unprepared("BEGIN").await.unwrap();
    db.execute_unprepared(&format!("SET LOCAL ROLE {role}"))
        .await
        .unwrap();
    let outcome = db.execute_unprepared(sql).await;
    db.execute_unprepared("ROLLBACK").await.unwrap();
    match outcome {
        Ok(_) => true,
        Err(err) => {
            let text = err.to_string();
            assert!(
                text.contains("permission denied") || text.contains("must be owner"),
                "{sql}: {text}"
            );
            false
        }
    }
}

#[tokio::test]
async fn runtime_roles_can_do_what_their_migrations_grant_and_nothing_else() {
    let db = TestDatabase::migrated("ops_roles").await;
    let conn = connect(&db).await;
    fill(&conn).await;
    // One connection, so BEGIN / SET LOCAL ROLE / ROLLBACK stay together.
    let session = migration_runner::connect(&db.url, "roles-test")
        .await
        .unwrap();
    let one = session.connection();

    let writes_academy = "INSERT INTO academy.courses (id, slug, title, instructor_id) \
                          VALUES (md5('new')::uuid, 'new', 'New', md5('u1')::uuid)";
    assert!(allowed(one, "academy_app", writes_academy).await);
    assert!(allowed(one, "academy_app", "UPDATE academy.courses SET title = 'x'").await);
    assert!(
        allowed(
            one,
            "academy_app",
            "DELETE FROM academy.courses WHERE slug = 'course-1'"
        )
        .await
    );
    assert!(allowed(one, "academy_app", "SELECT count(*) FROM core.users").await);
    assert!(
        !allowed(
            one,
            "academy_app",
            "UPDATE core.users SET display_name = 'x'"
        )
        .await
    );
    assert!(!allowed(one, "academy_app", "DELETE FROM core.roles").await);
    assert!(!allowed(one, "academy_app", "DELETE FROM talent.skills").await);
    assert!(!allowed(one, "academy_app", "SELECT count(*) FROM talent.skills").await);
    assert!(
        !allowed(
            one,
            "academy_app",
            "UPDATE vacancy.employers SET name = 'x'"
        )
        .await
    );
    assert!(!allowed(one, "academy_app", "CREATE TABLE academy.sneaky (id int)").await);
    assert!(
        !allowed(
            one,
            "academy_app",
            "ALTER TABLE academy.courses ADD COLUMN sneaky int"
        )
        .await
    );
    assert!(!allowed(one, "academy_app", "DROP TABLE academy.courses").await);
    assert!(!allowed(one, "academy_app", "TRUNCATE academy.courses").await);

    assert!(
        allowed(
            one,
            "academy_reporting",
            "SELECT count(*) FROM academy.courses"
        )
        .await
    );
    assert!(allowed(one, "academy_reporting", "SELECT count(*) FROM core.users").await);
    assert!(!allowed(one, "academy_reporting", writes_academy).await);
    assert!(
        !allowed(
            one,
            "academy_reporting",
            "UPDATE academy.courses SET title = 'x'"
        )
        .await
    );
    assert!(!allowed(one, "academy_reporting", "DELETE FROM core.users").await);

    // The other schemas' roles, the same shape.
    assert!(allowed(one, "talent_app", "UPDATE talent.skills SET name = 'x'").await);
    assert!(!allowed(one, "talent_app", "UPDATE academy.courses SET title = 'x'").await);
    assert!(
        allowed(
            one,
            "vacancy_app",
            "UPDATE vacancy.employers SET name = 'x'"
        )
        .await
    );
    assert!(!allowed(one, "vacancy_app", "UPDATE talent.skills SET name = 'x'").await);
    assert!(allowed(one, "core_app", "UPDATE core.users SET display_name = 'x'").await);
    assert!(!allowed(one, "core_app", "UPDATE academy.courses SET title = 'x'").await);

    // A table a later migration creates is covered by the default privileges.
    conn.execute_unprepared("CREATE TABLE academy.later (id uuid PRIMARY KEY)")
        .await
        .unwrap();
    assert!(
        allowed(
            one,
            "academy_app",
            "INSERT INTO academy.later VALUES (md5('l')::uuid)"
        )
        .await
    );
    assert!(
        allowed(
            one,
            "academy_reporting",
            "SELECT count(*) FROM academy.later"
        )
        .await
    );
    assert!(
        !allowed(
            one,
            "academy_reporting",
            "INSERT INTO academy.later VALUES (md5('l')::uuid)"
        )
        .await
    );

    // A login role granted the group gets exactly that.
    let login = format!(
        "academy_login_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    conn.execute_unprepared(&format!(
        "CREATE ROLE {login} LOGIN PASSWORD 'rotate-me-1'; GRANT academy_app TO {login}"
    ))
    .await
    .unwrap();
    let as_login = sea_orm::Database::connect(db.url_as(&login, "rotate-me-1"))
        .await
        .unwrap();
    as_login
        .execute_unprepared("UPDATE academy.courses SET title = 'by login'")
        .await
        .unwrap();
    assert!(
        as_login
            .execute_unprepared("UPDATE core.users SET display_name = 'x'")
            .await
            .is_err()
    );
    as_login.close().await.unwrap();
    conn.execute_unprepared(&format!("DROP ROLE {login}"))
        .await
        .unwrap();
    session.close().await.unwrap();
}

#[tokio::test]
async fn preflight_reports_missing_and_extra_grants_of_the_runtime_roles() {
    let db = TestDatabase::migrated("ops_preflight_grants").await;
    let clean = runner_binary(Some(&db.url), &["preflight"], &[]);
    assert_eq!(clean.status.code(), Some(0), "{}", all_output(&clean));
    assert!(
        stdout(&clean).contains("grants match"),
        "{}",
        stdout(&clean)
    );

    let conn = connect(&db).await;
    conn.execute_unprepared(
        "GRANT UPDATE ON core.users TO academy_app; REVOKE INSERT ON academy.courses FROM academy_app; \
         GRANT INSERT ON talent.skills TO talent_reporting",
    )
    .await
    .unwrap();
    let drifted = runner_binary(Some(&db.url), &["preflight"], &[]);
    assert_eq!(drifted.status.code(), Some(2), "{}", all_output(&drifted));
    let report = stdout(&drifted);
    for line in [
        "`academy_app` has UPDATE on table core.users, which no migration grants: REVOKE UPDATE ON core.users FROM academy_app;",
        "`academy_app` lacks INSERT on table academy.courses: GRANT INSERT ON academy.courses TO academy_app;",
        "`talent_reporting` has INSERT on table talent.skills, which no migration grants: REVOKE INSERT ON talent.skills FROM talent_reporting;",
    ] {
        assert!(report.contains(line), "{line}\n{report}");
    }
    let json = runner_binary(Some(&db.url), &["preflight", "--json"], &[]);
    let value: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(value["grants"].as_array().unwrap().len(), 3, "{value}");
}

/// The deploy target's URL spelled another way: another host alias, the
/// Unix socket, or another login role.
fn aliases_of(db: &TestDatabase, other_login: &str) -> Vec<(&'static str, String)> {
    let port = crate::support::port_of(&db.url);
    let swap_host = |host: &str| db.url.replace("127.0.0.1", host);
    let socket = db.cluster().socket_dir();
    vec![
        ("localhost", swap_host("localhost")),
        ("[::1]", swap_host("[::1]")),
        (
            "the Unix socket",
            format!(
                "postgres://postgres@/{}?host={}&port={port}",
                db.name,
                socket.display()
            ),
        ),
        (
            "another login role",
            db.url_as(other_login, "other-login-1"),
        ),
    ]
}

#[tokio::test]
async fn restore_refuses_the_deploy_target_however_its_url_names_it_even_with_force() {
    let source = TestDatabase::migrated("ops_alias").await;
    let conn = connect(&source).await;
    fill(&conn).await;
    let dir = Dir::new("alias");
    let archive = dir.file("app.dump");
    backup(&source.url, &archive);
    // Written after the backup: a restore over the live database would lose it.
    conn.execute_unprepared(
        "INSERT INTO core.users (id, email, display_name) VALUES (md5('late')::uuid, 'late@example.com', 'Late')",
    )
    .await
    .unwrap();
    let login = format!(
        "ops_other_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    conn.execute_unprepared(&format!(
        "CREATE ROLE {login} LOGIN SUPERUSER PASSWORD 'other-login-1'"
    ))
    .await
    .unwrap();
    let before = figures(&conn).await;

    for (how, alias) in aliases_of(&source, &login) {
        let refused = runner_binary(
            Some(&source.url),
            &["db", "restore", &archive, "--into", &alias, "--force"],
            &[],
        );
        assert_eq!(
            refused.status.code(),
            Some(2),
            "{how}: {}",
            all_output(&refused)
        );
        assert!(
            all_output(&refused).contains("the one commands deploy to"),
            "{how}: {}",
            all_output(&refused)
        );
        assert!(!all_output(&refused).contains("other-login-1"));
        assert_eq!(figures(&conn).await, before, "{how}: nothing changed");
    }
    // The other way round: DATABASE_URL by the socket, --into by name.
    let by_socket = aliases_of(&source, &login)[2].1.clone();
    let refused = runner_binary(
        Some(&by_socket),
        &["db", "restore", &archive, "--into", &source.name, "--force"],
        &[],
    );
    assert_eq!(refused.status.code(), Some(2), "{}", all_output(&refused));
    assert_eq!(figures(&conn).await, before);
    assert_eq!(
        crate::support::scalar_i64(
            &conn,
            "SELECT count(*) FROM core.users WHERE email = 'late@example.com'"
        )
        .await,
        1
    );
    conn.execute_unprepared(&format!("DROP ROLE {login}"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_refused_restore_creates_no_database() {
    let source = TestDatabase::migrated("ops_refused_nothing").await;
    let dir = Dir::new("refused-nothing");
    let archive = dir.file("app.dump");
    backup(&source.url, &archive);
    let empty = dir.0.join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let wanted = format!("{}_new", source.name);
    let refused = runner_binary(
        Some(&source.url),
        &["db", "restore", &archive, "--into", &wanted],
        &[("PG_BIN_DIR", &empty.display().to_string())],
    );
    assert_eq!(refused.status.code(), Some(2), "{}", all_output(&refused));
    assert!(
        all_output(&refused).contains("`pg_restore` not found"),
        "{}",
        all_output(&refused)
    );
    let conn = connect(&source).await;
    assert_eq!(
        crate::support::scalar_i64(
            &conn,
            &format!("SELECT count(*) FROM pg_database WHERE datname = '{wanted}'")
        )
        .await,
        0,
        "the refused restore left its database behind"
    );
}

/// Flips one byte of `archive` at three quarters of its length: in the data
/// of its largest table, past the table of contents.
fn corrupt(archive: &str) {
    let mut bytes = std::fs::read(archive).unwrap();
    let at = bytes.len() * 3 / 4;
    bytes[at] ^= 0xff;
    std::fs::write(archive, bytes).unwrap();
}

#[tokio::test]
async fn verify_backup_of_a_corrupted_archive_names_the_checksum_and_then_the_table() {
    let source = TestDatabase::migrated("ops_corrupt").await;
    let conn = connect(&source).await;
    fill(&conn).await;
    // Enough incompressible rows that most of the archive is one table's data.
    conn.execute_unprepared(
        "INSERT INTO core.users (id, email, display_name)
              SELECT md5('x' || g)::uuid, 'x' || g || '@example.com', md5('n' || g) || md5('m' || g)
                FROM generate_series(1, 20000) g",
    )
    .await
    .unwrap();
    let dir = Dir::new("corrupt");
    let archive = dir.file("app.dump");
    backup(&source.url, &archive);
    corrupt(&archive);

    let refused = runner_binary(Some(&source.url), &["db", "verify-backup", &archive], &[]);
    assert_eq!(refused.status.code(), Some(2), "{}", all_output(&refused));
    let report = all_output(&refused);
    assert!(report.contains("SHA-256"), "{report}");
    assert!(
        report.contains("the file changed after the backup"),
        "{report}"
    );
    assert!(
        !report.contains("could not uncompress"),
        "restored anyway: {report}"
    );

    // The manifest made to agree with the damaged file: the restore fails,
    // and the report names the table it was restoring.
    let manifest_path = format!("{archive}.manifest.json");
    let mut written: manifest::Manifest =
        serde_json::from_str(&std::fs::read_to_string(&manifest_path).unwrap()).unwrap();
    let bytes = std::fs::read(&archive).unwrap();
    use sha2::Digest as _;
    written.archive_sha256 = hex::encode(sha2::Sha256::digest(&bytes));
    std::fs::write(
        &manifest_path,
        serde_json::to_string_pretty(&written).unwrap(),
    )
    .unwrap();
    let failed = runner_binary(Some(&source.url), &["db", "verify-backup", &archive], &[]);
    assert_eq!(failed.status.code(), Some(2), "{}", all_output(&failed));
    let report = stdout(&failed);
    assert!(report.contains("verify-backup FAILED"), "{report}");
    assert!(report.contains(": does not restore: "), "{report}");
    assert!(
        written
            .tables
            .iter()
            .any(|t| report.contains(&format!("table {}: ", t.table))),
        "names a table of the archive: {report}"
    );
}

#[tokio::test]
async fn a_restore_that_cannot_ask_the_server_who_it_is_is_refused_with_the_grant_that_fixes_it() {
    let source = TestDatabase::migrated("ops_identity").await;
    let conn = connect(&source).await;
    let dir = Dir::new("identity");
    let archive = dir.file("app.dump");
    backup(&source.url, &archive);
    let role = format!(
        "restorer_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    conn.execute_unprepared(&format!(
        "CREATE ROLE {role} LOGIN CREATEDB PASSWORD 'restore-pw-1';
         REVOKE EXECUTE ON FUNCTION pg_control_system() FROM PUBLIC;"
    ))
    .await
    .unwrap();
    let as_role = source.url_as(&role, "restore-pw-1");
    let wanted = format!("{}_r", source.name);
    let refused = runner_binary(
        Some(&as_role),
        &["db", "restore", &archive, "--into", &wanted],
        &[],
    );
    assert_eq!(refused.status.code(), Some(2), "{}", all_output(&refused));
    let fix = format!("GRANT EXECUTE ON FUNCTION pg_control_system() TO {role};");
    assert!(
        all_output(&refused).contains(&fix),
        "{}",
        all_output(&refused)
    );
    let exists = |conn: &DatabaseConnection, name: &str| {
        let sql = format!("SELECT count(*) FROM pg_database WHERE datname = '{name}'");
        let conn = conn.clone();
        async move { crate::support::scalar_i64(&conn, &sql).await }
    };
    assert_eq!(exists(&conn, &wanted).await, 0, "nothing was created");

    // The advice, followed, answers the identity check. The archive's default
    // privileges belong to the role that deployed (here `postgres`), which a
    // role restores only as a member of it (the runbook says so).
    conn.execute_unprepared(&fix).await.unwrap();
    conn.execute_unprepared(&format!("GRANT postgres TO {role}"))
        .await
        .unwrap();
    let restored = runner_binary(
        Some(&as_role),
        &["db", "restore", &archive, "--into", &wanted],
        &[],
    );
    assert_eq!(restored.status.code(), Some(0), "{}", all_output(&restored));
    assert_eq!(exists(&conn, &wanted).await, 1);
    for cleanup in [
        format!("DROP DATABASE \"{wanted}\" WITH (FORCE)"),
        "GRANT EXECUTE ON FUNCTION pg_control_system() TO PUBLIC".to_owned(),
        format!("DROP OWNED BY {role}"),
        format!("DROP ROLE {role}"),
    ] {
        conn.execute_unprepared(&cleanup).await.unwrap();
    }
}
