//! The documented global order, and the start-up refusals.

use migration_runner::{Catalog, SchemaSource};

use crate::support::SqlMigration;

fn source(schema: &'static str, names: &[&str]) -> SchemaSource {
    SchemaSource::new(
        schema,
        schema,
        names
            .iter()
            .map(|name| Box::new(SqlMigration::new(name, &["SELECT 1"], &[])) as _)
            .collect(),
    )
}

fn names(catalog: &Catalog) -> Vec<&str> {
    catalog
        .migrations()
        .iter()
        .map(|m| m.name.as_str())
        .collect()
}

#[test]
fn the_workspace_history_is_in_the_documented_order() {
    let catalog = Catalog::workspace(&schema_registry::workspace()).unwrap();
    assert_eq!(
        names(&catalog),
        [
            "m20250101_000000_core_create_schema",
            "m20250101_000100_core_create_identity_tables",
            "m20250102_000000_academy_create_schema",
            "m20250102_000000_talent_create_schema",
            "m20250102_000100_academy_create_courses_and_enrollments",
            "m20250102_000100_talent_create_profiles_and_skills",
            "m20250103_000000_vacancy_create_schema",
            "m20250103_000100_vacancy_create_employers_and_vacancies",
            "m20250215_090000_academy_create_webinars",
            "m20250301_100000_core_add_user_last_seen_at",
            "m20250410_120000_vacancy_add_salary_range",
            "m20250520_080000_talent_add_profile_headline_length_check",
            "m20251008_120000_academy_add_webinar_capacity",
            "m20251101_090000_vacancy_link_applications_to_talent_profiles",
            "m20261201_070049_academy_make_webinar_capacity_not_null",
            "m20261201_072147_core_create_runtime_roles",
            "m20261201_072156_academy_create_runtime_roles",
            "m20261201_072202_talent_create_runtime_roles",
            "m20261201_072208_vacancy_create_runtime_roles",
            "m20261201_102900_vacancy_unlink_applications_from_talent_profiles",
        ]
    );
    // Each crate's earliest migration creates its schema.
    for schema in ["core", "academy", "talent", "vacancy"] {
        let first = catalog
            .migrations()
            .iter()
            .find(|m| m.schema == schema)
            .unwrap();
        assert!(
            first.name.ends_with(&format!("_{schema}_create_schema")),
            "{}",
            first.name
        );
    }
}

#[test]
fn ties_go_to_core_first_then_schema_then_name() {
    let catalog = Catalog::new(vec![
        source(
            "vacancy",
            &["m20250101_000000_vacancy_b", "m20250101_000000_vacancy_a"],
        ),
        source("academy", &["m20250101_000000_academy_z"]),
        source(
            "core",
            &["m20250101_000000_core_z", "m20241231_235959_core_first"],
        ),
    ])
    .unwrap();
    assert_eq!(
        names(&catalog),
        [
            "m20241231_235959_core_first",
            "m20250101_000000_core_z",
            "m20250101_000000_academy_z",
            "m20250101_000000_vacancy_a",
            "m20250101_000000_vacancy_b",
        ]
    );
}

fn refusal(sources: Vec<SchemaSource>) -> String {
    match Catalog::new(sources) {
        Ok(_) => panic!("the catalog should have been refused"),
        Err(err) => err.to_string(),
    }
}

#[test]
fn malformed_names_are_refused_naming_the_crate() {
    let message = refusal(vec![
        source("core", &["m20250101_000000_core_ok"]),
        source("academy", &["m2025_academy_courses"]),
    ]);
    assert!(
        message
            .contains("migration `m2025_academy_courses` in crate `academy` has a malformed name"),
        "{message}"
    );
    assert!(message.contains("YYYYMMDD_HHMMSS"), "{message}");

    let message = refusal(vec![source(
        "academy",
        &["m20251301_000000_academy_courses"],
    )]);
    assert!(message.contains("not a real date"), "{message}");
}

#[test]
fn a_prefix_naming_another_schema_is_refused() {
    let err = Catalog::new(vec![
        source("talent", &[]),
        source("academy", &["m20250101_000000_talent_add_skills"]),
    ])
    .err()
    .unwrap();
    assert!(matches!(
        err,
        migration_runner::deploy::error::CatalogError::WrongSchemaPrefix { .. }
    ));
    let message = err.to_string();
    assert!(
        message.contains("migration `m20250101_000000_talent_add_skills` lives in crate `academy` but its name says schema `talent`"),
        "{message}"
    );
    assert!(
        message.contains("move it to the `talent` crate or rename it"),
        "{message}"
    );
}

#[test]
fn duplicates_are_refused_naming_both_places() {
    let message = refusal(vec![source(
        "academy",
        &[
            "m20250101_000000_academy_a",
            "m20250102_000000_academy_dup",
            "m20250102_000000_academy_dup",
        ],
    )]);
    assert!(
        message.contains(
            "migration `m20250102_000000_academy_dup` is declared twice: in crate `academy` (entry 2) and in crate `academy` (entry 3)"
        ),
        "{message}"
    );
}
