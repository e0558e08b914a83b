//! How the operator's commands print: plans, scripts, the status table and
//! its JSON. Text that came from the database is already printable.

use std::time::Duration;

use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};

use crate::capture::Script;
use crate::connect::DatabaseTarget;
use crate::runner::Planned;
use crate::say;
use crate::status::{Inspection, State};

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

pub fn print_status(inspection: &Inspection) {
    let mut table = Table::new();
    table.load_preset(UTF8_BORDERS_ONLY);
    table.set_header(["state", "schema", "migration", "applied at", "ms"]);
    for entry in &inspection.migrations {
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
    say!("{table}");
    let count = |state: State| {
        inspection
            .migrations
            .iter()
            .filter(|e| e.state == state)
            .count()
    };
    say!(
        "{} applied, {} pending, {} problem(s)",
        count(State::Applied),
        inspection.pending().count(),
        inspection.problems.len()
    );
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

/// The documented `status --json` shape.
pub fn status_json(
    inspection: &Inspection,
    target: &DatabaseTarget,
    drift: Option<&crate::drift::DriftReport>,
) -> String {
    let value = serde_json::json!({
        "database": target.redacted(),
        "exit_code": inspection.exit_code(),
        "summary": {
            "applied": inspection.applied_count(),
            "pending": inspection.pending().count(),
            "problems": inspection.problems.len(),
        },
        "migrations": inspection.migrations,
        "problems": inspection.problems.iter().map(|p| serde_json::json!({
            "detail": p,
            "message": p.to_string(),
        })).collect::<Vec<_>>(),
        "sum_file": inspection.sum,
        "waiting": inspection.waiting,
        "drift": drift.map(|report| report.lines()),
    });
    serde_json::to_string_pretty(&value).unwrap_or_default()
}
