//! How the operator's commands print: plans, scripts, the status table and
//! its JSON. Text that came from the database is already printable.

use std::time::Duration;

use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};

use crate::connect::DatabaseTarget;
use crate::deploy::status::{Inspection, State};
use crate::say;
use crate::source::capture::Script;
use crate::source::plan::Planned;

/// When a pending migration of `plan` names the runtime roles: the name
/// templates the runner sets on its session before it runs, as `SET` lines,
/// so the plan applied by hand names the roles as `up` does.
pub fn print_role_templates(plan: &[Planned], templates: &crate::roles::role_names::RoleTemplates) {
    if crate::roles::role_names::blocks(plan).next().is_none() {
        return;
    }
    say!("-- the runtime roles' name templates, set on the runner's session before it applies:");
    for statement in templates.set_statements() {
        say!("{statement}");
    }
    say!();
}

/// A duration in milliseconds, always in the same unit.
pub fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}

pub fn print_plan(plan: &[Planned]) {
    print_plan_waiting(plan, &[]);
}

/// The plan, with a note on each contract migration that waits for its backfill.
pub fn print_plan_waiting(plan: &[Planned], waiting: &[crate::backfill::gate::Waiting]) {
    for planned in plan {
        say!(
            "-- {} (schema {}, {}{}, checksum {})",
            planned.name,
            planned.schema,
            if planned.transactional {
                "in a transaction"
            } else {
                "NOT in a transaction"
            },
            if planned.out_of_order {
                ", out of order"
            } else {
                ""
            },
            &planned.script.checksum()[..12]
        );
        if planned.unwritten {
            say!(
                "-- WARNING: not written yet (no statements); `up` refuses it until it has content"
            );
        }
        for waits in waiting.iter().filter(|w| w.migration == planned.name) {
            say!("-- WAITING: {waits}; `up` refuses it until then");
        }
        print_script(&planned.script);
    }
}

pub fn print_script(script: &Script) {
    for line in script.sql_lines() {
        say!("{line}");
    }
    say!();
}

/// How many applied migrations `status` shows without `--all`: the newest.
pub const STATUS_TAIL: usize = 10;

/// Which rows `status` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rows {
    /// Every row (`--all`).
    All,
    /// The newest applied ones, and every one that is not applied.
    Summary,
}

pub fn print_status(inspection: &Inspection, rows: Rows) {
    let applied = inspection.applied_count();
    let hidden = match rows {
        Rows::All => 0,
        Rows::Summary => applied.saturating_sub(STATUS_TAIL),
    };
    let mut table = Table::new();
    table.load_preset(UTF8_BORDERS_ONLY);
    table.set_header(["state", "schema", "migration", "applied at", "ms"]);
    let mut applied_seen = 0;
    for entry in &inspection.migrations {
        if entry.state == State::Applied {
            applied_seen += 1;
            if applied_seen <= hidden {
                continue;
            }
        }
        table.add_row([
            entry.state.as_str().to_owned(),
            entry.schema.clone(),
            entry.name.clone(),
            entry
                .applied_at
                .clone()
                .map(|at| at.chars().take(19).collect::<String>().replace('T', " "))
                .unwrap_or_default(),
            entry
                .execution_ms
                .map(|ms| ms.to_string())
                .unwrap_or_default(),
        ]);
    }
    if hidden > 0 {
        say!("({hidden} earlier applied migration(s) not shown; `status --all` lists every one)");
    }
    say!("{table}");
    say!("{}", status_counts(inspection));
    for entry in inspection.migrations.iter().filter(|e| e.unwritten) {
        say!(
            "  warning: `{}` is not written yet (no statements); `up` refuses it until it has content",
            entry.name
        );
    }
    for waits in &inspection.waiting {
        say!("  waiting: {waits}");
    }
    for problem in &inspection.problems {
        say!("  - {problem}");
    }
    for disagreement in &inspection.sum {
        say!("  - sum file: {disagreement}");
    }
}

/// The count line under `status`'s table.
pub fn status_counts(inspection: &Inspection) -> String {
    format!(
        "{} applied, {} pending, {} problem(s)",
        inspection.applied_count(),
        inspection.pending().count(),
        inspection.problem_count()
    )
}

/// The documented `status --json` shape, as one string.
pub fn status_json(
    inspection: &Inspection,
    target: &DatabaseTarget,
    drift: Option<&crate::gate::drift::DriftReport>,
) -> String {
    let mut out = Vec::new();
    write_status_json(&mut out, inspection, target, drift).expect("writing to memory");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// Streams the documented `status --json` shape to `out`: one migration per
/// line, written as it is serialised, never the whole document in memory.
pub fn write_status_json(
    out: &mut dyn std::io::Write,
    inspection: &Inspection,
    target: &DatabaseTarget,
    drift: Option<&crate::gate::drift::DriftReport>,
) -> std::io::Result<()> {
    write!(
        out,
        "{{\n  \"database\": {},\n  \"exit_code\": {},\n  \"summary\": {{\"applied\": {}, \"pending\": {}, \"problems\": {}}},\n  \"migrations\": [",
        json(&target.redacted()),
        inspection.exit_code(),
        inspection.applied_count(),
        inspection.pending().count(),
        inspection.problem_count(),
    )?;
    for (index, entry) in inspection.migrations.iter().enumerate() {
        out.write_all(if index == 0 { b"\n    " } else { b",\n    " })?;
        serde_json::to_writer(&mut *out, entry)?;
    }
    out.write_all(b"\n  ],\n  \"problems\": [")?;
    for (index, problem) in inspection.problems.iter().enumerate() {
        out.write_all(if index == 0 { b"\n    " } else { b",\n    " })?;
        serde_json::to_writer(
            &mut *out,
            &serde_json::json!({ "detail": problem, "message": problem.to_string() }),
        )?;
    }
    write!(
        out,
        "\n  ],\n  \"sum_file\": {},\n  \"waiting\": {},\n  \"drift\": {}\n}}\n",
        json(&inspection.sum),
        json(&inspection.waiting),
        json(&drift.map(|report| report.lines())),
    )?;
    out.flush()
}

/// A small value of the JSON document.
fn json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}
