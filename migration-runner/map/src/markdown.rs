//! `docs/SCHEMA.md`: the schemas as the history builds them, for people
//! reading the repository (a Mermaid diagram per schema with its owners,
//! one for the keys between schemas, each table's columns). Nothing in it
//! depends on when or where it was made, so `check` can hold the file to it.

use std::fmt::Write as _;

use crate::document::MapDocument;
use crate::text::{mermaid_between, mermaid_schema};

/// Where the file lives, from the workspace's root.
pub const PATH: &str = "docs/SCHEMA.md";

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// The file's text.
pub fn schema_md(document: &MapDocument) -> String {
    let mut out = String::from(
        "# The schemas\n\n\
         <!-- Written by `cargo xtask schema map --format markdown` from the history \
         (the migrations replayed); `migrate check` refuses it stale. Do not edit. -->\n\n\
         The database as its teams see it: each schema with its owners, its tables and\n\
         the keys inside it, then the keys between schemas (the coupling between teams).\n\
         For the interactive page (search, path between two tables, roles, pending\n\
         migrations and drift of a live database) run `cargo xtask schema map --open`.\n\n",
    );
    for schema in &document.schemas {
        let tables: Vec<_> = document.tables_of(&schema.name).collect();
        let _ = writeln!(
            out,
            "## `{}` ({})\n\nOwners: {}. {} table(s).\n",
            schema.name,
            schema.owners.join(", "),
            schema.owners.join(", "),
            tables.len()
        );
        if tables.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "```mermaid\n{}```\n",
            mermaid_schema(document, &schema.name)
        );
        for table in tables {
            let _ = writeln!(out, "### `{}`\n", table.id);
            if let Some(comment) = &table.comment {
                let _ = writeln!(out, "{}\n", cell(comment));
            }
            out.push_str("| column | type | null | default | key |\n|---|---|---|---|---|\n");
            for column in &table.columns {
                let key = if column.primary_key { "PK" } else { "" };
                let _ = writeln!(
                    out,
                    "| `{}` | {} | {} | {} | {} |",
                    column.name,
                    cell(&column.data_type),
                    if column.nullable { "yes" } else { "no" },
                    column
                        .default
                        .as_deref()
                        .map(|d| format!("`{}`", cell(d)))
                        .unwrap_or_default(),
                    key
                );
            }
            for key in document
                .foreign_keys
                .iter()
                .filter(|key| key.from == table.id)
            {
                let _ = writeln!(
                    out,
                    "\n`{}`: ({}) → `{}` ({}){}",
                    key.name,
                    key.from_columns.join(", "),
                    key.to,
                    key.to_columns.join(", "),
                    if key.cross_schema {
                        ", between schemas"
                    } else {
                        ""
                    }
                );
            }
            out.push('\n');
        }
    }
    out.push_str("## Keys between schemas\n\n");
    let between: Vec<_> = document
        .foreign_keys
        .iter()
        .filter(|key| key.cross_schema)
        .collect();
    if between.is_empty() {
        out.push_str("None.\n");
    } else {
        let _ = writeln!(out, "```mermaid\n{}```\n", mermaid_between(document));
        for key in between {
            let _ = writeln!(
                out,
                "- `{}` → `{}` (`{}`){}",
                key.from,
                key.to,
                key.name,
                key.citus_refused
                    .as_deref()
                    .map(|why| format!(": Citus would refuse it ({why})"))
                    .unwrap_or_default()
            );
        }
    }
    out
}
