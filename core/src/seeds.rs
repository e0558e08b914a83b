//! The `core` schema's seeds: permissions, roles and their grants (every
//! profile), users and the roles granted to them.
//!
//! Ownership: permissions, roles and role_permissions are reference data (the
//! code is authoritative: a re-seed puts them back to what it says); users and
//! user_roles are sample data (inserted when absent, then left alone).
//!
//! [`Population`] is the part of the contract the app schemas share: which
//! users exist for a profile and what their natural keys are, so every crate
//! computes the same foreign keys without reading the database.

use fake::Fake;
use fake::faker::name::en::{FirstName, LastName};
use rand::RngExt;
use uuid::Uuid;

use crate::seeding::{
    self, Batch, Cell, Column, Ownership, Profile, SchemaSeed, SqlType, TableSeed,
};

/// `core`'s seeds, for the seeder.
pub fn seeds() -> Box<dyn SchemaSeed> {
    Box::new(CoreSeeds)
}

/// `core.users` and the users every app schema refers to.
pub const USERS: &str = "core.users";
pub const ROLES: &str = "core.roles";
pub const PERMISSIONS: &str = "core.permissions";
pub const ROLE_PERMISSIONS: &str = "core.role_permissions";
pub const USER_ROLES: &str = "core.user_roles";

/// The admin every profile seeds (user index 0).
pub const ADMIN_EMAIL: &str = "admin@example.com";

/// Users in the `demo` profile.
pub const DEMO_USERS: u64 = 200;

/// Which users a profile seeds, and the cross-schema facts about them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Population {
    users: u64,
}

impl Population {
    pub fn of(profile: &Profile) -> Self {
        let users = match profile {
            Profile::Minimal => 1,
            Profile::Demo => DEMO_USERS,
            Profile::Load { scale } => (*scale).max(1),
        };
        Self { users }
    }

    /// Users `0..users()`; user 0 is the admin.
    pub fn users(&self) -> u64 {
        self.users
    }

    /// The natural key of user `index`. Built from the index alone, so it
    /// never changes when the fake data does.
    pub fn email(index: u64) -> String {
        if index == 0 {
            ADMIN_EMAIL.to_owned()
        } else {
            format!("user{index}@example.com")
        }
    }

    /// `core.users.id` of user `index`.
    pub fn user_id(index: u64) -> Uuid {
        seeding::id(USERS, &Self::email(index))
    }

    /// Instructors are users 1, 21, 41, ...: they teach courses and host webinars.
    pub fn is_instructor(index: u64) -> bool {
        index % 20 == 1
    }

    pub fn instructors(&self) -> u64 {
        if self.users > 1 {
            (self.users - 1).div_ceil(20)
        } else {
            0
        }
    }

    /// The `k`-th instructor (wrapping), or the admin when there is none.
    pub fn instructor(&self, k: u64) -> u64 {
        match self.instructors() {
            0 => 0,
            n => (k % n) * 20 + 1,
        }
    }

    /// Recruiters are users 2, 27, 52, ...: they own employers and post vacancies.
    pub fn is_recruiter(index: u64) -> bool {
        index % 25 == 2
    }

    pub fn recruiters(&self) -> u64 {
        if self.users > 2 {
            (self.users - 2).div_ceil(25)
        } else {
            0
        }
    }

    /// The `k`-th recruiter (wrapping), or the admin when there is none.
    pub fn recruiter(&self, k: u64) -> u64 {
        match self.recruiters() {
            0 => 0,
            n => (k % n) * 25 + 2,
        }
    }

    /// Users with an odd index have a `talent.profiles` row. The talent seeds
    /// create exactly these, and the vacancy seeds link applications to them
    /// (`schema-vacancy` must not depend on `schema-talent`, so the rule
    /// lives here, with the users).
    pub fn has_talent_profile(index: u64) -> bool {
        index % 2 == 1
    }

    /// `talent.profiles.id` of user `index`'s profile, if it has one (the
    /// profile's natural key is its user, whose natural key is the email).
    pub fn talent_profile_id(index: u64) -> Option<Uuid> {
        Self::has_talent_profile(index).then(|| seeding::id("talent.profiles", &Self::email(index)))
    }
}

/// (key, description)
const PERMISSION_LIST: &[(&str, &str)] = &[
    ("users.read", "See user accounts"),
    ("users.manage", "Create, edit and deactivate user accounts"),
    ("roles.manage", "Grant and revoke roles"),
    (
        "audit.read",
        "Read the trail of access grants and account activity",
    ),
    ("courses.read", "Browse the course catalogue"),
    ("courses.write", "Create and edit courses"),
    ("courses.publish", "Publish and archive courses"),
    (
        "enrollments.manage",
        "Enroll users in courses and change their status",
    ),
    ("webinars.host", "Schedule and host webinars"),
    ("profiles.read", "See talent profiles"),
    ("profiles.write", "Edit one's own talent profile"),
    ("skills.manage", "Curate the skill catalogue"),
    ("employers.manage", "Create and edit employers"),
    ("vacancies.read", "Browse vacancies"),
    ("vacancies.write", "Post and edit vacancies"),
    ("applications.submit", "Apply to vacancies"),
    (
        "applications.review",
        "Review applications and change their status",
    ),
];

/// (key, name, description)
const ROLE_LIST: &[(&str, &str, &str)] = &[
    ("admin", "Administrator", "Full access to every schema"),
    (
        "instructor",
        "Instructor",
        "Teaches courses and hosts webinars",
    ),
    (
        "learner",
        "Learner",
        "Takes courses and applies to vacancies",
    ),
    (
        "recruiter",
        "Recruiter",
        "Manages employers, vacancies and applications",
    ),
    (
        "support",
        "Support",
        "Helps users with their accounts and enrollments",
    ),
    ("guest", "Guest", "Read-only access to public catalogues"),
    (
        "mentor",
        "Mentor",
        "Guides learners through courses and career moves",
    ),
    (
        "hiring-manager",
        "Hiring manager",
        "Decides on applications for their team's vacancies",
    ),
    (
        "content-editor",
        "Content editor",
        "Edits course material and webinar announcements",
    ),
    (
        "auditor",
        "Auditor",
        "Reviews access grants and account activity",
    ),
];

/// (role, permissions); the admin gets every permission.
const GRANTS: &[(&str, &[&str])] = &[
    (
        "instructor",
        &[
            "courses.read",
            "courses.write",
            "courses.publish",
            "enrollments.manage",
            "webinars.host",
            "profiles.read",
        ],
    ),
    (
        "learner",
        &[
            "courses.read",
            "profiles.write",
            "vacancies.read",
            "applications.submit",
        ],
    ),
    (
        "recruiter",
        &[
            "profiles.read",
            "employers.manage",
            "vacancies.read",
            "vacancies.write",
            "applications.review",
        ],
    ),
    (
        "support",
        &["users.read", "courses.read", "enrollments.manage"],
    ),
    ("guest", &["courses.read", "vacancies.read"]),
    (
        "mentor",
        &["courses.read", "profiles.read", "webinars.host"],
    ),
    (
        "hiring-manager",
        &[
            "profiles.read",
            "vacancies.read",
            "vacancies.write",
            "applications.review",
        ],
    ),
    (
        "content-editor",
        &["courses.read", "courses.write", "webinars.host"],
    ),
    (
        "auditor",
        &["audit.read", "users.read", "courses.read", "vacancies.read"],
    ),
];

const PERMISSION_COLUMNS: &[Column] = &[
    Column::new("id", SqlType::Uuid),
    Column::new("key", SqlType::Text),
    Column::new("description", SqlType::Text),
];

const ROLE_COLUMNS: &[Column] = &[
    Column::new("id", SqlType::Uuid),
    Column::new("key", SqlType::Text),
    Column::new("name", SqlType::Text),
    Column::new("description", SqlType::Text),
];

const ROLE_PERMISSION_COLUMNS: &[Column] = &[
    Column::new("id", SqlType::Uuid),
    Column::new("role_id", SqlType::Uuid),
    Column::new("permission_id", SqlType::Uuid),
];

const USER_COLUMNS: &[Column] = &[
    Column::new("id", SqlType::Uuid),
    Column::new("email", SqlType::Text),
    Column::new("display_name", SqlType::Text),
    Column::new("last_seen_at", SqlType::TimestampTz),
];

const USER_ROLE_COLUMNS: &[Column] = &[
    Column::new("id", SqlType::Uuid),
    Column::new("user_id", SqlType::Uuid),
    Column::new("role_id", SqlType::Uuid),
];

fn role_id(key: &str) -> Uuid {
    seeding::id(ROLES, key)
}

fn permission_id(key: &str) -> Uuid {
    seeding::id(PERMISSIONS, key)
}

struct CoreSeeds;

impl SchemaSeed for CoreSeeds {
    fn schema(&self) -> &'static str {
        crate::SCHEMA
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[]
    }

    fn tables(&self, profile: &Profile) -> Vec<TableSeed> {
        let population = Population::of(profile);
        vec![
            permissions(),
            roles(),
            role_permissions(),
            users(population),
            user_roles(population),
        ]
    }
}

fn permissions() -> TableSeed {
    let rows = PERMISSION_LIST
        .iter()
        .map(|(key, description)| {
            vec![
                permission_id(key).into(),
                (*key).into(),
                (*description).into(),
            ]
        })
        .collect();
    TableSeed::from_rows(
        PERMISSIONS,
        Ownership::Reference,
        PERMISSION_COLUMNS,
        &["key"],
        rows,
    )
}

fn roles() -> TableSeed {
    let rows = ROLE_LIST
        .iter()
        .map(|(key, name, description)| {
            vec![
                role_id(key).into(),
                (*key).into(),
                (*name).into(),
                (*description).into(),
            ]
        })
        .collect();
    TableSeed::from_rows(ROLES, Ownership::Reference, ROLE_COLUMNS, &["key"], rows)
}

fn role_permissions() -> TableSeed {
    let admin = PERMISSION_LIST.iter().map(|(key, _)| ("admin", *key));
    let others = GRANTS
        .iter()
        .flat_map(|(role, keys)| keys.iter().map(move |key| (*role, *key)));
    let rows = admin
        .chain(others)
        .map(|(role, key)| {
            vec![
                seeding::id(ROLE_PERMISSIONS, &format!("{role}/{key}")).into(),
                role_id(role).into(),
                permission_id(key).into(),
            ]
        })
        .collect();
    TableSeed::from_rows(
        ROLE_PERMISSIONS,
        Ownership::Reference,
        ROLE_PERMISSION_COLUMNS,
        &["role_id", "permission_id"],
        rows,
    )
}

fn users(population: Population) -> TableSeed {
    TableSeed::generated(
        USERS,
        Ownership::Sample,
        USER_COLUMNS,
        &["email"],
        population.users(),
        population.users(),
        |index, batch: &mut Batch| {
            let email = Population::email(index);
            let (display_name, last_seen_at) = if index == 0 {
                ("Administrator".to_owned(), Some(seeding::base_date()))
            } else {
                let mut rng = seeding::rng(USERS, index);
                let first: String = FirstName().fake_with_rng(&mut rng);
                let last: String = LastName().fake_with_rng(&mut rng);
                // One user in five has never signed in.
                let seen = rng
                    .random_ratio(4, 5)
                    .then(|| seeding::at_minutes(-rng.random_range(0..60 * 24 * 90)));
                (format!("{first} {last}"), seen)
            };
            batch.push(vec![
                seeding::id(USERS, &email).into(),
                email.into(),
                display_name.into(),
                last_seen_at.into(),
            ]);
        },
    )
}

fn user_roles(population: Population) -> TableSeed {
    let users = population.users();
    let estimated = users
        .saturating_add(population.instructors())
        .saturating_add(population.recruiters())
        .saturating_add(users / 50);
    TableSeed::generated(
        USER_ROLES,
        Ownership::Sample,
        USER_ROLE_COLUMNS,
        &["user_id", "role_id"],
        users,
        estimated,
        |index, batch: &mut Batch| {
            let email = Population::email(index);
            let user_id = Cell::from(Population::user_id(index));
            let mut grant = |role: &str| {
                batch.push(vec![
                    seeding::id(USER_ROLES, &format!("{email}/{role}")).into(),
                    user_id.clone(),
                    role_id(role).into(),
                ]);
            };
            if index == 0 {
                grant("admin");
                return;
            }
            grant("learner");
            if Population::is_instructor(index) {
                grant("instructor");
            }
            if Population::is_recruiter(index) {
                grant("recruiter");
            }
            if index % 50 == 3 {
                grant("support");
            }
        },
    )
}
