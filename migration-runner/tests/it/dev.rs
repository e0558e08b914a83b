//! `migrate dev` on real throwaway databases: the history replayed on one
//! side, the changed schema (what edited entities would materialise) on the
//! other. The migration it writes, applied, makes the first the second and
//! `down` undoes it; a change across schemas declares them; renames are
//! asked, answered, and keep the rows; unsafe changes stop; a second run
//! writes nothing; the file is rustfmt-clean and in the sum file.

use std::path::{Path, PathBuf};

use migration_dev::dev::{self, DevArgs, DevError, Outcome, Questions, WrittenMigration};
use migration_dev::testing::TestDatabase;
use migration_runner::gate::diff::history_to_entities;
use migration_runner::model::SchemaModel;
use migration_runner::source::catalog::{Catalog, workspace_sources};
use migration_runner::{Runner, RunnerOptions};
use sea_orm::ConnectionTrait;

use crate::support::*;

const SCHEMAS: [&str; 4] = ["core", "academy", "talent", "vacancy"];

fn args(name: &str) -> DevArgs {
    DevArgs {
        name: name.to_owned(),
        rename: Vec::new(),
        no_renames: false,
        allow_destructive: false,
        create_only: true,
    }
}

/// A copy of what `dev` writes into: each schema crate's migrations and the sum file.
fn scratch_workspace(label: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let copy = std::env::temp_dir().join(format!("dev-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&copy);
    for krate in ["core", "academy", "talent", "vacancy"] {
        let from = root.join(krate).join("src/migrations");
        let to = copy.join(krate).join("src/migrations");
        std::fs::create_dir_all(&to).unwrap();
        for entry in std::fs::read_dir(&from).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
    for file in ["lib.rs", "backfills.rs"] {
        let from = root.join("academy/src").join(file);
        std::fs::copy(&from, copy.join("academy/src").join(file)).unwrap();
    }
    let sum = copy.join(migration_runner::source::sum::PATH);
    std::fs::create_dir_all(sum.parent().unwrap()).unwrap();
    std::fs::copy(root.join(migration_runner::source::sum::PATH), &sum).unwrap();
    copy
}

/// The workspace's history applied, and a copy of it changed by `sql` (what
/// the edited entities would build), both read as models.
async fn sides(label: &str, sql: &str) -> (TestDatabase, TestDatabase, SchemaModel, SchemaModel) {
    let history = TestDatabase::migrated(&format!("{label}_history")).await;
    let changed = TestDatabase::migrated(&format!("{label}_entities")).await;
    connect(&changed)
        .await
        .execute_unprepared(sql)
        .await
        .unwrap();
    let history_model = SchemaModel::read(&connect(&history).await, &SCHEMAS)
        .await
        .unwrap();
    let entities_model = SchemaModel::read(&connect(&changed).await, &SCHEMAS)
        .await
        .unwrap();
    (history, changed, history_model, entities_model)
}

/// A user (the host or instructor of the rows below).
const HOST: &str = "INSERT INTO core.users (id, email, display_name) \
    VALUES ('00000000-0000-0000-0000-0000000000aa', 'h@example.com', 'Host')";
/// A course taught by [`HOST`].
const COURSE: &str = "INSERT INTO academy.courses (id, slug, title, instructor_id) \
    VALUES ('00000000-0000-0000-0000-0000000000cc', 'rust', 'Rust', '00000000-0000-0000-0000-0000000000aa')";
/// [`HOST`] enrolled in [`COURSE`].
const ENROLLMENT: &str = "INSERT INTO academy.enrollments (id, course_id, user_id, enrolled_at) \
    VALUES ('00000000-0000-0000-0000-0000000000dd', '00000000-0000-0000-0000-0000000000cc', \
    '00000000-0000-0000-0000-0000000000aa', now())";

/// Runs `statements` on `db`, in order.
async fn insert(db: &TestDatabase, statements: &[&str]) {
    let conn = connect(db).await;
    for sql in statements {
        conn.execute_unprepared(sql).await.unwrap();
    }
}

/// `dev`'s planning and writing, asking nothing.
fn write(
    args: &DevArgs,
    history: &SchemaModel,
    entities: &SchemaModel,
    workspace: &Path,
) -> Result<Outcome, DevError> {
    dev::write(
        args,
        history,
        entities,
        &catalog(),
        workspace,
        Questions::Never,
    )
}

fn catalog() -> Catalog {
    Catalog::workspace(&schema_registry::workspace()).unwrap()
}

#[tokio::test]
async fn a_change_across_schemas_is_one_migration_applied_and_undone() {
    let (history, _changed, history_model, entities_model) = sides(
        "dev_across",
        "ALTER TABLE academy.webinars ADD COLUMN recording_url text; \
         ALTER TABLE academy.courses ADD COLUMN level text NOT NULL DEFAULT 'intro'; \
         ALTER TABLE core.users ADD COLUMN nickname text; \
         CREATE TABLE academy.notes (id uuid PRIMARY KEY, author_id uuid NOT NULL \
             REFERENCES core.users (id) ON DELETE CASCADE, webinar_id uuid REFERENCES academy.webinars (id), \
             body text NOT NULL, CONSTRAINT notes_author_id_webinar_id_key UNIQUE (author_id, webinar_id)); \
         CREATE INDEX notes_webinar_id_idx ON academy.notes (webinar_id); \
         ALTER TABLE academy.webinars ALTER COLUMN duration_minutes SET DEFAULT 90; \
         ALTER TABLE core.users ALTER COLUMN display_name DROP NOT NULL",
    )
    .await;
    let workspace = scratch_workspace("across");
    let outcome = write(
        &args("add recordings and nicknames"),
        &history_model,
        &entities_model,
        &workspace,
    )
    .unwrap();
    let Outcome::Written(written) = outcome else {
        panic!("nothing written")
    };
    let WrittenMigration {
        path,
        name,
        schema,
        up,
        ..
    } = &written;
    assert_eq!(
        schema, "academy",
        "the schema with the most changes owns it"
    );
    assert!(
        name.ends_with("_academy_add_recordings_and_nicknames"),
        "{name}"
    );
    assert!(
        path.starts_with(workspace.join("academy/src/migrations")),
        "{}",
        path.display()
    );
    let source = std::fs::read_to_string(path).unwrap();
    assert!(source.contains("// migrate: touches core\n"), "{source}");
    assert!(
        source.contains(".add_column(ColumnDef::new(Alias::new(\"recording_url\")).text())"),
        "{source}"
    );
    let rustfmt = std::process::Command::new("rustfmt")
        .args(["--edition", "2024", "--check"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        rustfmt.status.success(),
        "{}",
        String::from_utf8_lossy(&rustfmt.stdout)
    );
    let registry =
        std::fs::read_to_string(workspace.join("academy/src/migrations/mod.rs")).unwrap();
    assert!(registry.contains(&format!("mod {name};")), "{registry}");
    let sum = std::fs::read_to_string(workspace.join(migration_runner::source::sum::PATH)).unwrap();
    let line = sum
        .lines()
        .find(|l| l.starts_with(name.as_str()))
        .expect("its line in the sum file");
    assert!(
        line.contains("academy.courses,academy.notes,academy.webinars,core.users"),
        "{line}"
    );
    // It lints clean, as `migrate lint` runs it.
    let findings = migration_lint::lint(&migration_lint::LintInput {
        name,
        schema: "academy",
        declared_schemas: &["core".to_owned()],
        statements: up,
        source: Some(&source),
        target: migration_lint::Target::Plain,
        transactional: true,
    });
    assert!(
        findings.iter().all(|f| !f.blocks()),
        "{up:#?}: {findings:#?}"
    );

    // Applied after the workspace's history, the history becomes the entities.
    dev::apply(
        &target_of(&history),
        &schema_registry::workspace(),
        &written,
    )
    .await
    .unwrap();
    let applied = SchemaModel::read(&connect(&history).await, &SCHEMAS)
        .await
        .unwrap();
    assert!(history_to_entities(&applied, &entities_model, &[]).is_empty());
    // A second run writes nothing.
    let again = write(&args("again"), &applied, &entities_model, &workspace).unwrap();
    assert!(matches!(again, Outcome::NothingToWrite), "{again:?}");
    // `down` brings the history back.
    let mut sources = workspace_sources(&schema_registry::workspace());
    sources
        .iter_mut()
        .find(|s| s.schema == "academy")
        .unwrap()
        .migrations
        .push(written.as_migration());
    let session = migration_runner::connect(&history.url, "dev-test")
        .await
        .unwrap();
    let runner = Runner::new(
        session,
        Catalog::new(sources).unwrap(),
        RunnerOptions::default(),
    )
    .await
    .unwrap();
    runner
        .down(
            &migration_runner::DownOptions {
                to: Some(
                    "m20261201_102900_vacancy_unlink_applications_from_talent_profiles".into(),
                ),
                ..Default::default()
            },
            &mut |_| {},
        )
        .await
        .unwrap();
    runner.close().await;
    let undone = SchemaModel::read(&connect(&history).await, &SCHEMAS)
        .await
        .unwrap();
    assert_eq!(undone, history_model);
    std::fs::remove_dir_all(&workspace).unwrap();
}

#[tokio::test]
async fn renames_are_asked_never_guessed_and_keep_the_rows() {
    let (history, _changed, history_model, entities_model) = sides(
        "dev_rename",
        "ALTER TABLE academy.webinars RENAME COLUMN title TO headline",
    )
    .await;
    let workspace = scratch_workspace("rename");
    let unanswered = write(
        &args("rename title"),
        &history_model,
        &entities_model,
        &workspace,
    )
    .unwrap_err();
    assert!(
        matches!(unanswered, DevError::RenameUnanswered(_)),
        "{unanswered}"
    );
    assert!(
        unanswered
            .to_string()
            .contains("--rename academy.webinars.title=headline"),
        "{unanswered}"
    );
    assert_eq!(unanswered.exit().code(), 2);
    assert_eq!(
        std::fs::read_dir(workspace.join("academy/src/migrations"))
            .unwrap()
            .count(),
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../academy/src/migrations"))
            .unwrap()
            .count(),
        "nothing was written"
    );

    // Asked (as on a terminal): "no" makes it a drop and an add, which
    // drops the column's data and so is split into expand and contract;
    // "yes" is the rename.
    let mut asked = Vec::new();
    let mut no = |question: &str| {
        asked.push(question.to_owned());
        false
    };
    let dropped = dev::write(
        &args("rename title"),
        &history_model,
        &entities_model,
        &catalog(),
        &workspace,
        Questions::Answer(&mut no),
    )
    .unwrap();
    assert_eq!(
        asked,
        vec!["column academy.webinars.title renamed to headline?".to_owned()]
    );
    let Outcome::Scaffolded { contract, .. } = dropped else {
        panic!("a drop and an add, not split: {dropped:?}")
    };
    assert!(
        std::fs::read_to_string(&contract)
            .unwrap()
            .contains("ALTER TABLE academy.webinars DROP COLUMN title"),
        "the contract drops the old column"
    );
    std::fs::remove_dir_all(&workspace).unwrap();
    let workspace = scratch_workspace("rename");
    let mut yes = |_: &str| true;
    let Outcome::Written(said_yes) = dev::write(
        &args("rename title"),
        &history_model,
        &entities_model,
        &catalog(),
        &workspace,
        Questions::Answer(&mut yes),
    )
    .unwrap() else {
        panic!("nothing written")
    };
    assert!(
        said_yes.up.iter().any(|sql| sql.contains("RENAME COLUMN")),
        "{:?}",
        said_yes.up
    );
    std::fs::remove_dir_all(&workspace).unwrap();
    let workspace = scratch_workspace("rename");

    let mut answered = args("rename title");
    answered.rename = vec![
        migration_runner::gate::diff::parse_rename("academy.webinars.title=headline").unwrap(),
    ];
    let Outcome::Written(written) =
        write(&answered, &history_model, &entities_model, &workspace).unwrap()
    else {
        panic!("nothing written")
    };
    let WrittenMigration { up, .. } = &written;
    assert!(
        up.iter()
            .any(|sql| sql.contains("RENAME COLUMN \"title\" TO \"headline\"")),
        "{up:?}"
    );
    assert!(!up.iter().any(|sql| sql.contains("DROP COLUMN")), "{up:?}");
    insert(&history, &[HOST, "INSERT INTO academy.webinars (id, slug, title, host_id, starts_at, capacity) \
         VALUES ('00000000-0000-0000-0000-0000000000bb', 'intro', 'Intro to Rust', '00000000-0000-0000-0000-0000000000aa', now(), 10)"]).await;
    let conn = connect(&history).await;
    dev::apply(
        &target_of(&history),
        &schema_registry::workspace(),
        &written,
    )
    .await
    .unwrap();
    assert_eq!(
        scalar_i64(
            &conn,
            "SELECT count(*) FROM academy.webinars WHERE headline = 'Intro to Rust'"
        )
        .await,
        1,
        "the rename kept the row's value"
    );
    std::fs::remove_dir_all(&workspace).unwrap();
}

#[tokio::test]
async fn a_table_moved_to_another_schema_keeps_its_rows() {
    let (history, _changed, history_model, entities_model) = sides(
        "dev_move",
        "ALTER TABLE academy.enrollments SET SCHEMA talent",
    )
    .await;
    let workspace = scratch_workspace("move");
    let mut answered = args("move enrollments to talent");
    answered.rename = vec![
        migration_runner::gate::diff::parse_rename("academy.enrollments=talent.enrollments")
            .unwrap(),
    ];
    let Outcome::Written(written) =
        write(&answered, &history_model, &entities_model, &workspace).unwrap()
    else {
        panic!("nothing written")
    };
    let WrittenMigration { up, .. } = &written;
    assert_eq!(
        *up,
        vec!["ALTER TABLE academy.enrollments SET SCHEMA talent".to_owned()]
    );
    insert(&history, &[HOST, COURSE, ENROLLMENT]).await;
    let conn = connect(&history).await;
    dev::apply(
        &target_of(&history),
        &schema_registry::workspace(),
        &written,
    )
    .await
    .unwrap();
    assert_eq!(
        scalar_i64(&conn, "SELECT count(*) FROM talent.enrollments").await,
        1
    );
    std::fs::remove_dir_all(&workspace).unwrap();
}

#[tokio::test]
async fn a_dropped_column_and_a_narrowed_type_are_split_into_expand_and_contract() {
    let (history, _changed, history_model, entities_model) = sides(
        "dev_unsafe",
        "ALTER TABLE academy.webinars DROP COLUMN capacity; \
         ALTER TABLE academy.webinars ALTER COLUMN duration_minutes TYPE smallint",
    )
    .await;
    let workspace = scratch_workspace("unsafe");
    let mut unsafe_args = args("drop capacity, smaller durations");
    unsafe_args.no_renames = true;
    let Outcome::Scaffolded {
        expand: written,
        contract,
        backfills,
    } = write(&unsafe_args, &history_model, &entities_model, &workspace).unwrap()
    else {
        panic!("not split")
    };
    let WrittenMigration { up, .. } = &written;
    // The expand loses nothing: the old column stays, the new type comes beside it.
    assert!(!up.iter().any(|sql| sql.contains("DROP")), "{up:?}");
    assert!(
        up.iter()
            .any(|sql| sql.contains("ADD COLUMN \"duration_minutes_new\" smallint")),
        "{up:?}"
    );
    let contract_source = std::fs::read_to_string(&contract).unwrap();
    for expected in [
        "ALTER TABLE academy.webinars DROP COLUMN capacity",
        "ALTER TABLE academy.webinars DROP COLUMN duration_minutes",
        "ALTER TABLE academy.webinars RENAME COLUMN duration_minutes_new TO duration_minutes",
        "ALTER TABLE academy.webinars ALTER COLUMN duration_minutes SET DEFAULT 60",
        "ALTER TABLE academy.webinars ALTER COLUMN duration_minutes SET NOT NULL",
        "// lint: allow ban-drop-column, ban-drop-table, renaming-column -- ",
    ] {
        assert!(
            contract_source.contains(expected),
            "{expected}: {contract_source}"
        );
    }
    assert_eq!(
        backfills,
        vec!["academy_webinars_duration_minutes_new".to_owned()]
    );
    let backfill_source =
        std::fs::read_to_string(workspace.join("academy/src/backfills.rs")).unwrap();
    assert!(
        backfill_source.contains("SET duration_minutes_new = duration_minutes::smallint"),
        "{backfill_source}"
    );
    // The expand applies on a table with rows, and the backfill's SQL fills
    // the new column from the old.
    insert(&history, &[HOST, "INSERT INTO academy.webinars (id, slug, title, host_id, starts_at, capacity, duration_minutes) \
         VALUES ('00000000-0000-0000-0000-0000000000bb', 'intro', 'Intro', '00000000-0000-0000-0000-0000000000aa', now(), 10, 45)"]).await;
    let conn = connect(&history).await;
    dev::apply(
        &target_of(&history),
        &schema_registry::workspace(),
        &written,
    )
    .await
    .unwrap();
    conn.execute_unprepared(
        "UPDATE academy.webinars SET duration_minutes_new = duration_minutes::smallint \
         WHERE id BETWEEN '00000000-0000-0000-0000-000000000000'::uuid AND 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid \
         AND duration_minutes_new IS NULL",
    )
    .await
    .unwrap();
    assert_eq!(
        scalar_i64(&conn, "SELECT count(*) FROM academy.webinars WHERE duration_minutes_new = 45 AND capacity = 10").await,
        1
    );
    std::fs::remove_dir_all(&workspace).unwrap();

    // With --allow-destructive it is one migration that drops.
    let workspace = scratch_workspace("unsafe_allowed");
    let mut allowed = unsafe_args.clone();
    allowed.allow_destructive = true;
    let Outcome::Written(WrittenMigration { up, .. }) =
        write(&allowed, &history_model, &entities_model, &workspace).unwrap()
    else {
        panic!("not written")
    };
    assert!(
        up.iter()
            .any(|sql| sql.contains("DROP COLUMN \"capacity\"")),
        "{up:?}"
    );
    std::fs::remove_dir_all(&workspace).unwrap();
}

#[tokio::test]
async fn a_new_not_null_column_is_expanded_backfilled_and_contracted() {
    let (history, _changed, history_model, entities_model) = sides(
        "dev_not_null",
        "ALTER TABLE academy.courses ADD COLUMN code text NOT NULL",
    )
    .await;
    let workspace = scratch_workspace("not_null");
    let outcome = write(
        &args("add course code"),
        &history_model,
        &entities_model,
        &workspace,
    )
    .unwrap();
    let Outcome::Scaffolded {
        expand: written,
        contract,
        backfills,
    } = outcome
    else {
        panic!("not scaffolded: {outcome:?}")
    };
    let WrittenMigration { path, name, up, .. } = &written;
    assert_eq!(
        *up,
        vec!["ALTER TABLE \"academy\".\"courses\" ADD COLUMN \"code\" text".to_owned()]
    );
    let contract_source = std::fs::read_to_string(&contract).unwrap();
    for expected in [
        "ADD CONSTRAINT courses_code_not_null CHECK (code IS NOT NULL) NOT VALID",
        "ALTER TABLE academy.courses ALTER COLUMN code SET NOT NULL",
        "Some(false)",
    ] {
        assert!(
            contract_source.contains(expected),
            "{expected}: {contract_source}"
        );
    }
    let contract_name = contract.file_stem().unwrap().to_string_lossy().into_owned();
    assert!(contract_name > *name, "the contract sorts after the expand");
    assert_eq!(backfills, vec!["academy_courses_code".to_owned()]);
    let backfill_source =
        std::fs::read_to_string(workspace.join("academy/src/backfills.rs")).unwrap();
    for expected in [
        "Box::new(AcademyCoursesCode)",
        "pub struct AcademyCoursesCode;",
        &format!("&[{contract_name:?}]"),
        "WHERE id BETWEEN $1::uuid AND $2::uuid AND code IS NULL",
    ] {
        assert!(
            backfill_source.contains(expected),
            "{expected}: {backfill_source}"
        );
    }
    for file in [path, &contract, &workspace.join("academy/src/backfills.rs")] {
        let rustfmt = std::process::Command::new("rustfmt")
            .args(["--edition", "2024", "--check"])
            .arg(file)
            .output()
            .unwrap();
        assert!(
            rustfmt.status.success(),
            "{}: {}",
            file.display(),
            String::from_utf8_lossy(&rustfmt.stdout)
        );
    }
    let sum = std::fs::read_to_string(workspace.join(migration_runner::source::sum::PATH)).unwrap();
    assert!(sum.lines().any(|l| l.starts_with(name.as_str())), "{sum}");
    assert!(sum.lines().any(|l| l.starts_with(&contract_name)), "{sum}");
    // The expand applies on a table with rows: the column arrives nullable.
    insert(&history, &[HOST, COURSE]).await;
    let conn = connect(&history).await;
    dev::apply(
        &target_of(&history),
        &schema_registry::workspace(),
        &written,
    )
    .await
    .unwrap();
    assert_eq!(
        scalar_i64(
            &conn,
            "SELECT count(*) FROM academy.courses WHERE code IS NULL"
        )
        .await,
        1
    );
    std::fs::remove_dir_all(&workspace).unwrap();
}

#[tokio::test]
async fn a_table_renamed_in_its_schema_keeps_its_rows() {
    let (history, _changed, history_model, entities_model) = sides(
        "dev_rename_table",
        "ALTER TABLE academy.enrollments RENAME TO registrations",
    )
    .await;
    let workspace = scratch_workspace("rename_table");
    let unanswered = write(
        &args("rename enrollments"),
        &history_model,
        &entities_model,
        &workspace,
    )
    .unwrap_err();
    assert!(
        unanswered
            .to_string()
            .contains("--rename academy.enrollments=academy.registrations"),
        "{unanswered}"
    );
    let mut answered = args("rename enrollments");
    answered.rename = vec![
        migration_runner::gate::diff::parse_rename("academy.enrollments=academy.registrations")
            .unwrap(),
    ];
    let Outcome::Written(written) =
        write(&answered, &history_model, &entities_model, &workspace).unwrap()
    else {
        panic!("nothing written")
    };
    assert_eq!(
        written.up,
        vec!["ALTER TABLE academy.enrollments RENAME TO registrations".to_owned()]
    );
    insert(&history, &[HOST, COURSE, ENROLLMENT]).await;
    let conn = connect(&history).await;
    dev::apply(
        &target_of(&history),
        &schema_registry::workspace(),
        &written,
    )
    .await
    .unwrap();
    assert_eq!(
        scalar_i64(&conn, "SELECT count(*) FROM academy.registrations").await,
        1
    );
    std::fs::remove_dir_all(&workspace).unwrap();
}
