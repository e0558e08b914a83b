//! The `academy` schema's seeds: courses taught by instructors, the
//! enrollments of learners, and webinars. Users are referenced through
//! [`Population`], so their ids are computed, never looked up.
//!
//! Ownership: every table is sample data (inserted when absent, then left
//! alone: courses and enrollments are what people edit).

use fake::Fake;
use fake::faker::company::en::{Bs, CatchPhrase, Industry};
use fake::faker::job::en::Field;
use rand::RngExt;
use schema_core::seeding::{
    self, Batch, Column, Ownership, Profile, SchemaSeed, SqlType, TableSeed,
};
use schema_core::seeds::Population;
use uuid::Uuid;

/// `academy`'s seeds, for the seeder.
pub fn seeds() -> Box<dyn SchemaSeed> {
    Box::new(AcademySeeds)
}

pub const COURSES: &str = "academy.courses";
pub const ENROLLMENTS: &str = "academy.enrollments";
pub const WEBINARS: &str = "academy.webinars";

const COURSE_COLUMNS: &[Column] = &[
    Column::new("id", SqlType::Uuid),
    Column::new("slug", SqlType::Text),
    Column::new("title", SqlType::Text),
    Column::new("summary", SqlType::Text),
    Column::new("instructor_id", SqlType::Uuid),
    Column::new("status", SqlType::Text),
];

const ENROLLMENT_COLUMNS: &[Column] = &[
    Column::new("id", SqlType::Uuid),
    Column::new("course_id", SqlType::Uuid),
    Column::new("user_id", SqlType::Uuid),
    Column::new("status", SqlType::Text),
    Column::new("enrolled_at", SqlType::TimestampTz),
];

const WEBINAR_COLUMNS: &[Column] = &[
    Column::new("id", SqlType::Uuid),
    Column::new("slug", SqlType::Text),
    Column::new("title", SqlType::Text),
    Column::new("course_id", SqlType::Uuid),
    Column::new("host_id", SqlType::Uuid),
    Column::new("starts_at", SqlType::TimestampTz),
    Column::new("duration_minutes", SqlType::Integer),
    Column::new("capacity", SqlType::Integer),
];

/// How many rows of each table a profile seeds.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    population: Population,
    courses: u64,
    webinars: u64,
}

impl Sizes {
    fn of(profile: &Profile) -> Self {
        let population = Population::of(profile);
        let (courses, webinars) = match profile {
            Profile::Minimal => (0, 0),
            Profile::Demo => (40, 30),
            Profile::Load { scale } => ((scale / 20).max(1), (scale / 50).max(1)),
        };
        Self {
            population,
            courses,
            webinars,
        }
    }
}

fn course_slug(course: u64) -> String {
    format!("course-{course}")
}

fn course_id(course: u64) -> Uuid {
    seeding::id(COURSES, &course_slug(course))
}

struct AcademySeeds;

impl SchemaSeed for AcademySeeds {
    fn schema(&self) -> &'static str {
        crate::SCHEMA
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[schema_core::SCHEMA]
    }

    fn tables(&self, profile: &Profile) -> Vec<TableSeed> {
        if *profile == Profile::Minimal {
            return Vec::new();
        }
        let sizes = Sizes::of(profile);
        vec![courses(sizes), enrollments(sizes), webinars(sizes)]
    }
}

const COURSE_PREFIXES: &[&str] = &[
    "Introduction to",
    "Foundations of",
    "Practical",
    "Advanced",
    "Mastering",
    "Applied",
    "Hands-on",
];

const COURSE_SUFFIXES: &[&str] = &[
    "Fundamentals",
    "Operations",
    "Strategy",
    "Analytics",
    "Leadership",
    "Workshop",
    "Bootcamp",
    "Essentials",
];

fn courses(sizes: Sizes) -> TableSeed {
    TableSeed::generated(
        COURSES,
        Ownership::Sample,
        COURSE_COLUMNS,
        &["slug"],
        sizes.courses,
        sizes.courses,
        move |course, batch: &mut Batch| {
            let mut rng = seeding::rng(COURSES, course);
            let prefix = seeding::pick(&mut rng, COURSE_PREFIXES);
            let field: String = Field().fake_with_rng(&mut rng);
            let suffix = seeding::pick(&mut rng, COURSE_SUFFIXES);
            let title = format!("{prefix} {field} {suffix}");
            let summary = rng.random_ratio(9, 10).then(|| {
                let goal: String = Bs().fake_with_rng(&mut rng);
                let bonus: String = Bs().fake_with_rng(&mut rng);
                let weeks = rng.random_range(2..=12);
                let projects = rng.random_range(1..=5);
                format!(
                    "Learn to {goal} and {bonus}. {weeks} weeks, {projects} hands-on project{}.",
                    if projects == 1 { "" } else { "s" }
                )
            });
            let status =
                seeding::weighted(&mut rng, &[("published", 6), ("draft", 3), ("archived", 1)]);
            let slug = course_slug(course);
            batch.push(vec![
                seeding::id(COURSES, &slug).into(),
                slug.into(),
                title.into(),
                summary.into(),
                Population::user_id(sizes.population.instructor(course)).into(),
                (*status).into(),
            ]);
        },
    )
}

/// Every user but the admin takes two courses (one when there is only one).
fn enrollments(sizes: Sizes) -> TableSeed {
    let users = sizes.population.users();
    let per_user = sizes.courses.min(2);
    TableSeed::generated(
        ENROLLMENTS,
        Ownership::Sample,
        ENROLLMENT_COLUMNS,
        &["course_id", "user_id"],
        users,
        users.saturating_sub(1).saturating_mul(per_user),
        move |user, batch: &mut Batch| {
            if user == 0 {
                return;
            }
            let mut rng = seeding::rng(ENROLLMENTS, user);
            let email = Population::email(user);
            let user_id = Population::user_id(user);
            for course in seeding::distinct(&mut rng, sizes.courses, per_user as usize) {
                let status =
                    seeding::weighted(&mut rng, &[("active", 6), ("completed", 3), ("dropped", 1)]);
                let enrolled_at = seeding::at_minutes(-rng.random_range(0..60 * 24 * 365));
                batch.push(vec![
                    seeding::id(ENROLLMENTS, &format!("{}/{email}", course_slug(course))).into(),
                    course_id(course).into(),
                    user_id.into(),
                    (*status).into(),
                    enrolled_at.into(),
                ]);
            }
        },
    )
}

fn webinars(sizes: Sizes) -> TableSeed {
    TableSeed::generated(
        WEBINARS,
        Ownership::Sample,
        WEBINAR_COLUMNS,
        &["slug"],
        sizes.webinars,
        sizes.webinars,
        move |webinar, batch: &mut Batch| {
            let mut rng = seeding::rng(WEBINARS, webinar);
            // One webinar in four stands alone; the rest belong to a course,
            // hosted by its instructor.
            let course = (!rng.random_ratio(1, 4)).then(|| rng.random_range(0..sizes.courses));
            let host = match course {
                Some(course) => sizes.population.instructor(course),
                None => sizes.population.instructor(webinar),
            };
            let industry: String = Industry().fake_with_rng(&mut rng);
            let hook: String = CatchPhrase().fake_with_rng(&mut rng);
            let title = format!("{industry} live: {hook}");
            // Spread over the year around the base date, on the hour.
            let starts_at = seeding::at_minutes(
                rng.random_range(-180_i64..180) * 24 * 60 + rng.random_range(0_i64..8) * 60,
            );
            let duration = *seeding::pick(&mut rng, &[30_i32, 45, 60, 90]);
            let capacity = rng.random_range(2_i32..=50) * 10;
            let slug = format!("webinar-{webinar}");
            batch.push(vec![
                seeding::id(WEBINARS, &slug).into(),
                slug.into(),
                title.into(),
                course.map(course_id).into(),
                Population::user_id(host).into(),
                starts_at.into(),
                duration.into(),
                capacity.into(),
            ]);
        },
    )
}
