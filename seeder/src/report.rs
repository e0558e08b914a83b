//! What a run did: inserted / updated / unchanged rows per table, the schema
//! order and the time taken; the table printed at the end, and the progress
//! bars shown while long tables are seeded.

use std::time::Duration;

use comfy_table::{CellAlignment, Table, presets};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use schema_core::seeding::Profile;

/// Tables with more rows than this get a progress bar.
pub const PROGRESS_THRESHOLD: u64 = 10_000;

/// Rows by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub inserted: u64,
    pub updated: u64,
    /// Rows that already held exactly the seeded values (not rewritten).
    pub unchanged: u64,
}

impl Counts {
    /// Every row the seed produced.
    pub fn total(&self) -> u64 {
        self.inserted + self.updated + self.unchanged
    }

    /// Rows written (inserted or updated).
    pub fn changed(&self) -> u64 {
        self.inserted + self.updated
    }

    pub fn add(&mut self, other: Counts) {
        self.inserted += other.inserted;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
    }
}

/// One table's outcome.
#[derive(Debug, Clone)]
pub struct TableReport {
    pub schema: String,
    /// Schema-qualified, e.g. `core.users`.
    pub table: String,
    pub counts: Counts,
    pub elapsed: Duration,
}

/// The outcome of a run.
#[derive(Debug, Clone)]
pub struct SeedReport {
    pub profile: Profile,
    /// Nothing was committed: the counts are what a real run would do.
    pub dry_run: bool,
    /// The schemas seeded, in the order they were seeded.
    pub schemas: Vec<String>,
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

    /// Rows processed (inserted, updated or found unchanged) per second.
    pub fn rows_per_second(&self) -> f64 {
        self.totals().total() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The table of counts and the summary line, for the terminal.
    pub fn render(&self) -> String {
        let mut table = Table::new();
        table
            .load_preset(presets::UTF8_FULL_CONDENSED)
            .set_header(vec!["table", "inserted", "updated", "unchanged", "time"]);
        for report in &self.tables {
            table.add_row(vec![
                report.table.clone(),
                report.counts.inserted.to_string(),
                report.counts.updated.to_string(),
                report.counts.unchanged.to_string(),
                format_duration(report.elapsed),
            ]);
        }
        let totals = self.totals();
        table.add_row(vec![
            "total".to_owned(),
            totals.inserted.to_string(),
            totals.updated.to_string(),
            totals.unchanged.to_string(),
            format_duration(self.elapsed),
        ]);
        for index in 1..=4 {
            if let Some(column) = table.column_mut(index) {
                column.set_cell_alignment(CellAlignment::Right);
            }
        }
        let mut out = String::new();
        if self.dry_run {
            out.push_str("dry run: nothing was written; this is what seeding would change\n");
        }
        out.push_str(&format!(
            "seeded profile {} into {}\n",
            self.profile,
            self.schemas.join(" -> ")
        ));
        out.push_str(&table.to_string());
        out.push_str(&format!(
            "\n{} rows ({} inserted, {} updated, {} unchanged) in {} ({:.0} rows/s)\n",
            totals.total(),
            totals.inserted,
            totals.updated,
            totals.unchanged,
            format_duration(self.elapsed),
            self.rows_per_second(),
        ));
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
