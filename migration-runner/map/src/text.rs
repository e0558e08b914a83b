//! The map as text for docs and other tools: Mermaid (`erDiagram`, one per
//! schema and one for the keys between schemas) and Graphviz dot (one
//! cluster per schema, labelled with its owners).

use std::fmt::Write as _;

use crate::document::{ForeignKey, MapDocument, Table};

/// A Mermaid entity name (letters, digits, `_`), shown as `schema.table`.
fn entity(id: &str) -> String {
    id.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// A Mermaid attribute type: one word.
fn word(text: &str) -> String {
    let word: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "()[]_-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if word.is_empty() {
        "unknown".to_owned()
    } else {
        word
    }
}

fn quoted(text: &str) -> String {
    text.replace('"', "'")
}

fn entity_block(out: &mut String, table: &Table, keys: &[&ForeignKey]) {
    let _ = writeln!(out, "    {}[\"{}\"] {{", entity(&table.id), table.id);
    for column in &table.columns {
        let mut flags = Vec::new();
        if column.primary_key {
            flags.push("PK");
        }
        if keys
            .iter()
            .any(|key| key.from == table.id && key.from_columns.contains(&column.name))
        {
            flags.push("FK");
        }
        let _ = writeln!(
            out,
            "        {} {}{}{}",
            word(&column.data_type),
            word(&column.name),
            if flags.is_empty() {
                String::new()
            } else {
                format!(" {}", flags.join(","))
            },
            if column.nullable { " \"null\"" } else { "" }
        );
    }
    let _ = writeln!(out, "    }}");
}

fn relation(out: &mut String, key: &ForeignKey) {
    let _ = writeln!(
        out,
        "    {} }}o--|| {} : \"{}\"",
        entity(&key.from),
        entity(&key.to),
        quoted(&key.name)
    );
}

/// One schema's tables and the keys inside it, as a Mermaid `erDiagram`.
pub fn mermaid_schema(document: &MapDocument, schema: &str) -> String {
    let keys: Vec<&ForeignKey> = document
        .foreign_keys
        .iter()
        .filter(|key| !key.cross_schema && key.from.split('.').next() == Some(schema))
        .collect();
    let mut out = String::from("erDiagram\n");
    for table in document.tables_of(schema) {
        entity_block(&mut out, table, &keys);
    }
    for key in &keys {
        relation(&mut out, key);
    }
    out
}

/// The keys between schemas (the coupling between teams), as a Mermaid
/// `erDiagram`: each table that holds or receives such a key, with the key's columns.
pub fn mermaid_between(document: &MapDocument) -> String {
    let between: Vec<&ForeignKey> = document
        .foreign_keys
        .iter()
        .filter(|key| key.cross_schema)
        .collect();
    let mut shown: Vec<(&str, Vec<&str>)> = Vec::new();
    for key in &between {
        for (id, columns) in [(&key.from, &key.from_columns), (&key.to, &key.to_columns)] {
            let at = match shown
                .iter()
                .position(|(shown_id, _)| *shown_id == id.as_str())
            {
                Some(at) => at,
                None => {
                    shown.push((id, Vec::new()));
                    shown.len() - 1
                }
            };
            for column in columns {
                if !shown[at].1.contains(&column.as_str()) {
                    shown[at].1.push(column);
                }
            }
        }
    }
    let mut out = String::from("erDiagram\n");
    for (id, columns) in shown {
        let table = document.tables.iter().find(|t| t.id == id);
        let _ = writeln!(out, "    {}[\"{}\"] {{", entity(id), id);
        for column in columns {
            let data_type = table
                .and_then(|t| t.columns.iter().find(|c| c.name == column))
                .map_or("unknown", |c| c.data_type.as_str());
            let _ = writeln!(out, "        {} {}", word(data_type), word(column));
        }
        let _ = writeln!(out, "    }}");
    }
    for key in between {
        relation(&mut out, key);
    }
    out
}

/// Every schema's diagram, then the keys between them.
pub fn mermaid(document: &MapDocument) -> String {
    let mut out = String::new();
    for schema in &document.schemas {
        let _ = writeln!(
            out,
            "%% schema {} ({})",
            schema.name,
            schema.owners.join(" ")
        );
        out.push_str(&mermaid_schema(document, &schema.name));
        out.push('\n');
    }
    out.push_str("%% keys between schemas\n");
    out.push_str(&mermaid_between(document));
    out
}

fn dot_id(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Graphviz dot: a cluster per schema, keys between schemas dashed, those
/// Citus would refuse red.
pub fn dot(document: &MapDocument) -> String {
    let mut out = String::from(
        "digraph schema_map {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n",
    );
    for (index, schema) in document.schemas.iter().enumerate() {
        let _ = writeln!(
            out,
            "  subgraph cluster_{index} {{\n    label={};",
            dot_id(&format!("{} ({})", schema.name, schema.owners.join(" ")))
        );
        for table in document.tables_of(&schema.name) {
            let _ = writeln!(
                out,
                "    {} [label={}];",
                dot_id(&table.id),
                dot_id(&format!("{}\\n{} columns", table.name, table.columns.len()))
            );
        }
        out.push_str("  }\n");
    }
    for key in &document.foreign_keys {
        let mut style = Vec::new();
        if key.cross_schema {
            style.push("style=dashed".to_owned());
        }
        if key.citus_refused.is_some() {
            style.push("color=red".to_owned());
        }
        style.push(format!("label={}", dot_id(&key.name)));
        let _ = writeln!(
            out,
            "  {} -> {} [{}];",
            dot_id(&key.from),
            dot_id(&key.to),
            style.join(", ")
        );
    }
    out.push_str("}\n");
    out
}
