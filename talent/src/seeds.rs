//! The `talent` schema's seeds: the skill catalogue, a profile for every
//! user [`Population::has_talent_profile`] names, and three rated skills per
//! profile.
//!
//! Ownership: every table is sample data (inserted when absent, then left
//! alone), the skill catalogue included: curators edit it in the app.

use fake::Fake;
use fake::faker::company::en::{CatchPhrase, Industry};
use fake::faker::job::en::Title;
use rand::RngExt;
use schema_core::seeding::{
    self, Batch, Column, Ownership, Profile, SchemaSeed, SqlType, TableSeed,
};
use schema_core::seeds::Population;

/// `talent`'s seeds, for the seeder.
pub fn seeds() -> Box<dyn SchemaSeed> {
    Box::new(TalentSeeds)
}

pub const PROFILES: &str = "talent.profiles";
pub const SKILLS: &str = "talent.skills";
pub const PROFILE_SKILLS: &str = "talent.profile_skills";

/// Headlines are capped at 160 characters (`profiles_headline_length_check`).
pub const HEADLINE_MAX_CHARS: usize = 160;

/// Skills each profile lists.
const SKILLS_PER_PROFILE: usize = 3;

/// (slug, name)
const SKILL_LIST: &[(&str, &str)] = &[
    ("rust", "Rust"),
    ("postgresql", "PostgreSQL"),
    ("sql", "SQL"),
    ("python", "Python"),
    ("typescript", "TypeScript"),
    ("javascript", "JavaScript"),
    ("go", "Go"),
    ("java", "Java"),
    ("kotlin", "Kotlin"),
    ("swift", "Swift"),
    ("c-sharp", "C#"),
    ("cpp", "C++"),
    ("react", "React"),
    ("vue", "Vue.js"),
    ("svelte", "Svelte"),
    ("node", "Node.js"),
    ("docker", "Docker"),
    ("kubernetes", "Kubernetes"),
    ("terraform", "Terraform"),
    ("aws", "Amazon Web Services"),
    ("gcp", "Google Cloud"),
    ("azure", "Microsoft Azure"),
    ("linux", "Linux"),
    ("git", "Git"),
    ("graphql", "GraphQL"),
    ("rest-apis", "REST APIs"),
    ("kafka", "Apache Kafka"),
    ("redis", "Redis"),
    ("data-modelling", "Data modelling"),
    ("machine-learning", "Machine learning"),
    ("statistics", "Statistics"),
    ("product-management", "Product management"),
    ("ux-research", "UX research"),
    ("ui-design", "UI design"),
    ("technical-writing", "Technical writing"),
    ("public-speaking", "Public speaking"),
    ("mentoring", "Mentoring"),
    ("agile", "Agile delivery"),
    ("security", "Application security"),
    ("observability", "Observability"),
];

const SKILL_COLUMNS: &[Column] = &[
    Column::new("id", SqlType::Uuid),
    Column::new("slug", SqlType::Text),
    Column::new("name", SqlType::Text),
];

const PROFILE_COLUMNS: &[Column] = &[
    Column::new("id", SqlType::Uuid),
    Column::new("user_id", SqlType::Uuid),
    Column::new("headline", SqlType::Text),
    Column::new("bio", SqlType::Text),
    Column::new("open_to_work", SqlType::Boolean),
];

const PROFILE_SKILL_COLUMNS: &[Column] = &[
    Column::new("id", SqlType::Uuid),
    Column::new("profile_id", SqlType::Uuid),
    Column::new("skill_id", SqlType::Uuid),
    Column::new("level", SqlType::SmallInt),
];

struct TalentSeeds;

impl SchemaSeed for TalentSeeds {
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
        let population = Population::of(profile);
        vec![skills(), profiles(population), profile_skills(population)]
    }
}

fn skill_id(slug: &str) -> uuid::Uuid {
    seeding::id(SKILLS, slug)
}

fn skills() -> TableSeed {
    let rows = SKILL_LIST
        .iter()
        .map(|(slug, name)| vec![skill_id(slug).into(), (*slug).into(), (*name).into()])
        .collect();
    TableSeed::from_rows(SKILLS, Ownership::Sample, SKILL_COLUMNS, &["slug"], rows)
}

fn profiles(population: Population) -> TableSeed {
    let users = population.users();
    TableSeed::generated(
        PROFILES,
        Ownership::Sample,
        PROFILE_COLUMNS,
        &["user_id"],
        users,
        users / 2,
        |user, batch: &mut Batch| {
            let Some(profile_id) = Population::talent_profile_id(user) else {
                return;
            };
            let mut rng = seeding::rng(PROFILES, user);
            let title: String = Title().fake_with_rng(&mut rng);
            let skill = seeding::pick(&mut rng, SKILL_LIST).1;
            let headline: String = format!("{title} · {skill}")
                .chars()
                .take(HEADLINE_MAX_CHARS)
                .collect();
            let bio = rng.random_ratio(3, 4).then(|| {
                let years = rng.random_range(1..=25);
                let industry: String = Industry().fake_with_rng(&mut rng);
                let motto: String = CatchPhrase().fake_with_rng(&mut rng);
                format!(
                    "{years} year{} in {industry}. Known for {}.",
                    if years == 1 { "" } else { "s" },
                    motto.to_lowercase()
                )
            });
            let open_to_work = rng.random_ratio(2, 5);
            batch.push(vec![
                profile_id.into(),
                Population::user_id(user).into(),
                headline.into(),
                bio.into(),
                open_to_work.into(),
            ]);
        },
    )
}

fn profile_skills(population: Population) -> TableSeed {
    let users = population.users();
    TableSeed::generated(
        PROFILE_SKILLS,
        Ownership::Sample,
        PROFILE_SKILL_COLUMNS,
        &["profile_id", "skill_id"],
        users,
        (users / 2).saturating_mul(SKILLS_PER_PROFILE as u64),
        |user, batch: &mut Batch| {
            let Some(profile_id) = Population::talent_profile_id(user) else {
                return;
            };
            let mut rng = seeding::rng(PROFILE_SKILLS, user);
            let email = Population::email(user);
            for skill in seeding::distinct(&mut rng, SKILL_LIST.len() as u64, SKILLS_PER_PROFILE) {
                let slug = SKILL_LIST[skill as usize].0;
                let level: i16 = rng.random_range(1..=5);
                batch.push(vec![
                    seeding::id(PROFILE_SKILLS, &format!("{email}/{slug}")).into(),
                    profile_id.into(),
                    skill_id(slug).into(),
                    level.into(),
                ]);
            }
        },
    )
}
