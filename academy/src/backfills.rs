//! The `academy` schema's backfills: data changes run after deploy, in
//! batches, by `migration-runner backfill run <name>` (see the README's
//! Backfills section).

use schema_core::backfill::Backfill;

/// This crate's backfills, for the registry.
pub fn backfills() -> Vec<Box<dyn Backfill>> {
    vec![Box::new(WebinarCapacity)]
}

/// Fills `academy.webinars.capacity` for webinars created before the column
/// existed: a course's webinar seats the course's active and completed
/// learners (at least 50), a standalone webinar 100. Only rows still without
/// a capacity are touched, so a batch run twice changes nothing more.
///
/// Guarded by the flag `academy_webinar_capacity`: turn it on once the
/// application writes a capacity for every new webinar, so no row without one
/// arrives after the walk has passed it.
pub struct WebinarCapacity;

/// The contract migration that makes `capacity` NOT NULL.
pub const CAPACITY_NOT_NULL: &str = "m20261201_070049_academy_make_webinar_capacity_not_null";

impl Backfill for WebinarCapacity {
    fn name(&self) -> &'static str {
        "academy_webinar_capacity"
    }

    fn description(&self) -> &'static str {
        "fills academy.webinars.capacity for webinars created before the column existed"
    }

    fn table(&self) -> &'static str {
        "academy.webinars"
    }

    fn batch_size(&self) -> u32 {
        5_000
    }

    fn flag(&self) -> Option<&'static str> {
        Some("academy_webinar_capacity")
    }

    // One plain UPDATE: the engine runs it and the ledger's advance as one
    // statement.
    fn batch_sql(&self) -> &'static str {
        "UPDATE academy.webinars AS w
            SET capacity = CASE
                    WHEN w.course_id IS NULL THEN 100
                    ELSE greatest(50, (SELECT count(*) FROM academy.enrollments AS e
                                        WHERE e.course_id = w.course_id
                                          AND e.status <> 'dropped'))::integer
                END
          WHERE w.id BETWEEN $1::uuid AND $2::uuid
            AND w.capacity IS NULL"
    }

    fn has_work_sql(&self) -> &'static str {
        "SELECT EXISTS (SELECT 1 FROM academy.webinars WHERE capacity IS NULL)"
    }

    fn required_by(&self) -> &'static [&'static str] {
        &[CAPACITY_NOT_NULL]
    }
}
