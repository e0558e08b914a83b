//! The `vacancy` schema's seeds: employers owned by recruiters, the
//! vacancies they post, and one application per user.
//!
//! Applications point at the applicant's `talent.profiles` row when the
//! applicant has one, so these seeds depend on `talent` (declared by name:
//! this crate must not depend on `schema-talent`); the profile's id comes
//! from [`Population::talent_profile_id`].
//!
//! Ownership: every table is sample data (inserted when absent, then left
//! alone: an application moved to `hired` stays hired).

use fake::Fake;
use fake::faker::company::en::CompanyName;
use fake::faker::job::en::Title;
use rand::RngExt;
use schema_core::seeding::{
    self, Batch, Column, Ownership, Profile, SchemaSeed, SqlType, TableSeed,
};
use schema_core::seeds::Population;
use uuid::Uuid;

/// `vacancy`'s seeds, for the seeder.
pub fn seeds() -> Box<dyn SchemaSeed> {
    Box::new(VacancySeeds)
}

pub const EMPLOYERS: &str = "vacancy.employers";
pub const VACANCIES: &str = "vacancy.vacancies";
pub const APPLICATIONS: &str = "vacancy.applications";

/// The `talent` schema, whose profiles applications reference.
const TALENT: &str = "talent";

const EMPLOYER_COLUMNS: &[Column] = &[
    Column::new("id", SqlType::Uuid),
    Column::new("slug", SqlType::Text),
    Column::new("name", SqlType::Text),
    Column::new("owner_id", SqlType::Uuid),
];

const VACANCY_COLUMNS: &[Column] = &[
    Column::new("id", SqlType::Uuid),
    Column::new("slug", SqlType::Text),
    Column::new("employer_id", SqlType::Uuid),
    Column::new("posted_by", SqlType::Uuid),
    Column::new("title", SqlType::Text),
    Column::new("status", SqlType::Text),
    Column::new("salary_min", SqlType::Integer),
    Column::new("salary_max", SqlType::Integer),
    Column::new("salary_currency", SqlType::Text),
];

const APPLICATION_COLUMNS: &[Column] = &[
    Column::new("id", SqlType::Uuid),
    Column::new("vacancy_id", SqlType::Uuid),
    Column::new("applicant_id", SqlType::Uuid),
    Column::new("status", SqlType::Text),
    Column::new("profile_id", SqlType::Uuid),
];

#[derive(Debug, Clone, Copy)]
struct Sizes {
    population: Population,
    employers: u64,
    vacancies: u64,
}

impl Sizes {
    fn of(profile: &Profile) -> Self {
        let population = Population::of(profile);
        let (employers, vacancies) = match profile {
            Profile::Minimal => (0, 0),
            Profile::Demo => (20, 60),
            Profile::Load { scale } => ((scale / 100).max(1), (scale / 20).max(1)),
        };
        Self {
            population,
            employers,
            vacancies,
        }
    }

    /// Employer `employer`'s owner, who also posts its vacancies.
    fn owner(&self, employer: u64) -> u64 {
        self.population.recruiter(employer)
    }
}

fn employer_id(employer: u64) -> Uuid {
    seeding::id(EMPLOYERS, &format!("employer-{employer}"))
}

fn vacancy_slug(vacancy: u64) -> String {
    format!("vacancy-{vacancy}")
}

struct VacancySeeds;

impl SchemaSeed for VacancySeeds {
    fn schema(&self) -> &'static str {
        crate::SCHEMA
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[schema_core::SCHEMA, TALENT]
    }

    fn tables(&self, profile: &Profile) -> Vec<TableSeed> {
        if *profile == Profile::Minimal {
            return Vec::new();
        }
        let sizes = Sizes::of(profile);
        vec![employers(sizes), vacancies(sizes), applications(sizes)]
    }
}

fn employers(sizes: Sizes) -> TableSeed {
    TableSeed::generated(
        EMPLOYERS,
        Ownership::Sample,
        EMPLOYER_COLUMNS,
        &["slug"],
        sizes.employers,
        sizes.employers,
        move |employer, batch: &mut Batch| {
            let mut rng = seeding::rng(EMPLOYERS, employer);
            let name: String = CompanyName().fake_with_rng(&mut rng);
            let slug = format!("employer-{employer}");
            batch.push(vec![
                employer_id(employer).into(),
                slug.into(),
                name.into(),
                Population::user_id(sizes.owner(employer)).into(),
            ]);
        },
    )
}

fn vacancies(sizes: Sizes) -> TableSeed {
    TableSeed::generated(
        VACANCIES,
        Ownership::Sample,
        VACANCY_COLUMNS,
        &["slug"],
        sizes.vacancies,
        sizes.vacancies,
        move |vacancy, batch: &mut Batch| {
            let mut rng = seeding::rng(VACANCIES, vacancy);
            let employer = vacancy % sizes.employers;
            let title: String = Title().fake_with_rng(&mut rng);
            let status = seeding::weighted(&mut rng, &[("open", 6), ("closed", 2), ("draft", 2)]);
            // Four vacancies in five publish a salary range.
            let (min, max, currency) = if rng.random_ratio(4, 5) {
                let min = rng.random_range(30_i32..=120) * 1_000;
                let max = min + rng.random_range(0_i32..=60) * 1_000;
                let currency = *seeding::pick(&mut rng, &["EUR", "USD", "GBP"]);
                (Some(min), Some(max), Some(currency))
            } else {
                (None, None, None)
            };
            let slug = vacancy_slug(vacancy);
            batch.push(vec![
                seeding::id(VACANCIES, &slug).into(),
                slug.into(),
                employer_id(employer).into(),
                Population::user_id(sizes.owner(employer)).into(),
                title.into(),
                (*status).into(),
                min.into(),
                max.into(),
                currency.into(),
            ]);
        },
    )
}

/// Every user but the admin applies to one vacancy, with their talent
/// profile when they have one.
fn applications(sizes: Sizes) -> TableSeed {
    let users = sizes.population.users();
    TableSeed::generated(
        APPLICATIONS,
        Ownership::Sample,
        APPLICATION_COLUMNS,
        &["vacancy_id", "applicant_id"],
        users,
        users.saturating_sub(1),
        move |user, batch: &mut Batch| {
            if user == 0 {
                return;
            }
            let mut rng = seeding::rng(APPLICATIONS, user);
            let vacancy = rng.random_range(0..sizes.vacancies);
            let status = seeding::weighted(
                &mut rng,
                &[
                    ("submitted", 5),
                    ("reviewing", 3),
                    ("rejected", 2),
                    ("hired", 1),
                ],
            );
            let slug = vacancy_slug(vacancy);
            let email = Population::email(user);
            batch.push(vec![
                seeding::id(APPLICATIONS, &format!("{slug}/{email}")).into(),
                seeding::id(VACANCIES, &slug).into(),
                Population::user_id(user).into(),
                (*status).into(),
                Population::talent_profile_id(user).into(),
            ]);
        },
    )
}
