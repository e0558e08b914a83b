//! What a run did: per table, the rows inserted, updated, found unchanged
//! and left alone; the schemas seeded (and those with nothing for the
//! profile); the time taken. The table printed at the end, and the progress
//! bars shown while long tables are seeded.

use std::time::Duration;

use comfy_table::{CellAlignment, Table, presets};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use schema_core::seeding::{Ownership, Profile};

use crate::upsert::Outcome;

/// Tables with more rows than this get a progress bar.
pub const PROGRESS_THRESHOLD: u64 = 10_000;

/// Rows by outcome. Every seed row is counted once in `inserted`, `updated`,
/// `unchanged`, `kept` or `skipped`; `adopted` counts again some of the
/// present ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub inserted: u64,
    /// Present by natural key and different: set to the seed's values
    /// (reference data, or `--overwrite`).
    pub updated: u64,
    /// Present by natural key with exactly the seed's values (not rewritten).
    pub unchanged: u64,
    /// Present by natural key and different, left alone: sample data that
    /// people or the application changed (`--overwrite` resets it).
    pub kept: u64,
    /// Absent by natural key but not inserted, because its id (or another
    /// unique value) belongs to another row: typically a seeded row whose
    /// natural key was edited by hand. Left alone.
    pub skipped: u64,
    /// Present by natural key under another id (made outside the seeder):
    /// later seeds reference that row.
    pub adopted: u64,
}

impl Counts {
    /// Every row the seed produced.
    pub fn total(&self) -> u64 {
        self.inserted
            .saturating_add(self.updated)
            .saturating_add(self.unchanged)
            .saturating_add(self.left_alone())
    }

    /// Rows written (inserted or updated).
    pub fn changed(&self) -> u64 {
        self.inserted.saturating_add(self.updated)
    }

    /// Rows the seed did not write although they differ from it (present and
    /// different, or in the way of an insert).
    pub fn left_alone(&self) -> u64 {
        self.kept.saturating_add(self.skipped)
    }

    /// The counts of a batch of `rows`, from what its statement reported.
    pub fn from_outcome(rows: u64, outcome: Outcome) -> Counts {
        let present = rows.saturating_sub(outcome.absent);
        Counts {
            inserted: outcome.inserted,
            updated: outcome.updated,
            unchanged: outcome.unchanged,
            kept: present.saturating_sub(outcome.unchanged.saturating_add(outcome.updated)),
            skipped: outcome.absent.saturating_sub(outcome.inserted),
            adopted: outcome.adopted,
        }
    }

    pub fn add(&mut self, other: Counts) {
        self.inserted = self.inserted.saturating_add(other.inserted);
        self.updated = self.updated.saturating_add(other.updated);
        self.unchanged = self.unchanged.saturating_add(other.unchanged);
        self.kept = self.kept.saturating_add(other.kept);
        self.skipped = self.skipped.saturating_add(other.skipped);
        self.adopted = self.adopted.saturating_add(other.adopted);
    }
}

/// One table's outcome.
#[derive(Debug, Clone)]
pub struct TableReport {
    pub schema: String,
    /// Schema-qualified, e.g. `core.users`.
    pub table: String,
    pub ownership: Ownership,
    pub counts: Counts,
    pub elapsed: Duration,
}

/// The outcome of a run.
#[derive(Debug, Clone)]
pub struct SeedReport {
    pub profile: Profile,
    /// Nothing was committed: the counts are what a real run would do.
    pub dry_run: bool,
    /// Present sample rows were reset to the seed's values (`--overwrite`).
    pub overwrite: bool,
    /// The schemas seeded, in the order they were seeded.
    pub schemas: Vec<String>,
    /// The schemas in the run's order that have no tables for this profile,
    /// so were not seeded.
    pub empty: Vec<String>,
    pub tables: Vec<TableReport>,
    pub elapsed: Duration,
}

impl SeedReport {
    /// A table's outcome by its qualified name (`core.users`).
    pub fn table(&self, table: &str) -> Option<&TableReport> {
        self.tables.iter().find(|report| report.table == table)
    }

    /// The counts of `table`, or zero when it was not seeded.
    pub fn counts(&self, table: &str) -> Counts {
        self.table(table)
            .map(|report| report.counts)
            .unwrap_or_default()
    }

    pub fn totals(&self) -> Counts {
        let mut totals = Counts::default();
        for table in &self.tables {
            totals.add(table.counts);
        }
        totals
    }

    /// Rows processed per second.
    pub fn rows_per_second(&self) -> f64 {
        self.totals().total() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The first line: what was seeded (or, in a dry run, what would be),
    /// and which schemas had nothing for the profile.
    pub fn headline(&self) -> String {
        let profile = self.profile;
        let into = self.schemas.join(" -> ");
        let mut line = match (self.dry_run, self.schemas.is_empty()) {
            (false, false) => format!("seeded profile {profile} into {into}"),
            (true, false) => format!("dry run of profile {profile} into {into}"),
            (false, true) => format!("nothing seeded for profile {profile}"),
            (true, true) => format!("dry run of profile {profile}"),
        };
        if !self.empty.is_empty() {
            line.push_str(&format!(
                "; nothing to seed for profile {profile} in {}",
                self.empty.join(", ")
            ));
        }
        if self.dry_run {
            line.push_str(" (rolled back: nothing was written)");
        }
        line
    }

    /// Lines about rows left alone and rows adopted, per table.
    pub fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        let would = if self.dry_run { "would be " } else { "" };
        for report in &self.tables {
            let counts = report.counts;
            let table = &report.table;
            if counts.adopted > 0 {
                notes.push(format!(
                    "{table}: {} row(s) made outside the seeder (same natural key, another id) {would}used by \
                     every later reference instead of the seed's id",
                    counts.adopted
                ));
            }
            if counts.kept > 0 {
                notes.push(format!(
                    "{table}: {} sample row(s) differ from the seed and {would}left alone; `--overwrite` \
                     resets them to the seed's values",
                    counts.kept
                ));
            }
            if counts.skipped > 0 {
                notes.push(format!(
                    "{table}: {} seed row(s) {would}not inserted and left alone: their id or another unique \
                     value belongs to a row whose natural key was edited",
                    counts.skipped
                ));
            }
        }
        notes
    }

    /// The headline, the table of counts, the notes and the summary line, for
    /// the terminal.
    pub fn render(&self) -> String {
        let mut table = Table::new();
        table
            .load_preset(presets::UTF8_FULL_CONDENSED)
            .set_header(vec![
                "table",
                "owned as",
                "inserted",
                "updated",
                "unchanged",
                "left alone",
                "time",
            ]);
        for report in &self.tables {
            table.add_row(vec![
                report.table.clone(),
                report.ownership.name().to_owned(),
                report.counts.inserted.to_string(),
                report.counts.updated.to_string(),
                report.counts.unchanged.to_string(),
                report.counts.left_alone().to_string(),
                format_duration(report.elapsed),
            ]);
        }
        let totals = self.totals();
        table.add_row(vec![
            "total".to_owned(),
            String::new(),
            totals.inserted.to_string(),
            totals.updated.to_string(),
            totals.unchanged.to_string(),
            totals.left_alone().to_string(),
            format_duration(self.elapsed),
        ]);
        for index in 2..=6 {
            if let Some(column) = table.column_mut(index) {
                column.set_cell_alignment(CellAlignment::Right);
            }
        }
        let mut out = format!("{}\n", self.headline());
        if !self.tables.is_empty() {
            out.push_str(&table.to_string());
            out.push('\n');
        }
        for note in self.notes() {
            out.push_str(&format!("note: {note}\n"));
        }
        let elapsed = format_duration(self.elapsed);
        let rate = self.rows_per_second();
        if self.dry_run {
            out.push_str(&format!(
                "dry run: nothing was written; seeding would insert {}, update {}, leave {} unchanged and {} \
                 alone ({} rows in {elapsed}, {rate:.0} rows/s)\n",
                totals.inserted,
                totals.updated,
                totals.unchanged,
                totals.left_alone(),
                totals.total(),
            ));
        } else {
            out.push_str(&format!(
                "{} rows ({} inserted, {} updated, {} unchanged, {} left alone) in {elapsed} ({rate:.0} rows/s)\n",
                totals.total(),
                totals.inserted,
                totals.updated,
                totals.unchanged,
                totals.left_alone(),
            ));
        }
        out
    }
}

fn format_duration(elapsed: Duration) -> String {
    if elapsed < Duration::from_secs(1) {
        format!("{} ms", elapsed.as_millis())
    } else {
        format!("{:.1} s", elapsed.as_secs_f64())
    }
}

/// A progress bar on stderr for a table of `estimated_rows`, hidden for
/// small tables, when disabled, and when stderr is not a terminal.
pub(crate) fn progress_bar(table: &str, estimated_rows: u64, enabled: bool) -> ProgressBar {
    if !enabled || estimated_rows <= PROGRESS_THRESHOLD {
        return ProgressBar::hidden();
    }
    // `stderr()` draws nothing unless stderr is a terminal.
    let bar = ProgressBar::with_draw_target(Some(estimated_rows), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{prefix:>24} [{bar:32}] {human_pos:>10}/{human_len} rows  {rate:>14}  eta {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .with_key(
        "rate",
        |state: &ProgressState, out: &mut dyn std::fmt::Write| {
            let _ = write!(out, "{:.0} rows/s", state.per_sec());
        },
    )
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(table.to_owned());
    bar
}
