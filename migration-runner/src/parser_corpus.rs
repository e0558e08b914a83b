//! The parser corpus: what the SQL readers (`sql_objects`, the grants read
//! back by `grants`, the backfill driver's `combinable`, and the linter built
//! on them) answer for every statement the product has ever emitted or
//! tested, pinned in `tests/corpus/sql_objects.json`.
//!
//! It exists so a change of parser is a change of nothing else: the file was
//! first written by the `pg_query` readers, and every later reader must give
//! the same answers (the sum file's tables, the schemas a migration touches,
//! the grants, the findings). `UPDATE_SQL_CORPUS=1 cargo test -p
//! migration-runner parser_corpus` rewrites it; the diff is the review.
//!
//! Inputs: every migration of the workspace's history (its recorded `up` and
//! `down`), every SQL string literal of the tests of the linter, the SQL
//! readers, the grants and the backfill driver (a bracketed list of them is
//! also linted as one migration), and the constructs of
//! `tests/corpus/constructs.sql` (each also linted as a migration).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use proc_macro2::{TokenStream, TokenTree};
use schema_core::migration_kit::{RoleTemplates, RolesBlock};
use serde_json::{Value, json};

use crate::gate::lint;
use crate::source::capture::{Capturer, Direction};
use crate::source::catalog::Catalog;
use migration_lint::{LintInput, Target};
use sql_objects::{self, Objects, TableName};

const FIXTURE: &str = "tests/corpus/sql_objects.json";

/// PostgreSQL constructs beyond the workspace's, one text per block.
const CONSTRUCTS: &str = "tests/corpus/constructs.sql";

/// Test sources whose SQL string literals are part of the corpus, relative
/// to the crate (a file or a folder); each must exist, so a test that moves
/// is followed here rather than silently dropped from the corpus.
const TEST_SOURCES: [&str; 8] = [
    "tests/it/lint.rs",
    "tests/it/roles.rs",
    "tests/it/preflight.rs",
    "tests/it/operations.rs",
    "lint/src",
    "sql-objects/src",
    "src/roles/grants.rs",
    "src/backfill/driver.rs",
];

/// Where a statement the corpus pins differs on purpose from what the
/// `pg_query` readers answered: `(sql, what differs)`. Each entry is
/// documented in docs/ARCHITECTURE.md ("The SQL parser").
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[(
    "CREATE SCHEMA AUTHORIZATION joe",
    "the schema it creates is named after its owner, `joe`, as PostgreSQL names it (pg_query's \
     tree left the name empty): created, changed and named, so schema-ownership reports it",
)];

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn table(name: &TableName) -> String {
    format!("{}.{}", name.0, name.1)
}

/// Every field of `objects`, empty ones left out (the file stays readable).
fn objects_json(objects: &Objects) -> Value {
    let mut map = serde_json::Map::new();
    let mut put = |key: &str, value: Vec<String>| {
        if !value.is_empty() {
            map.insert(key.to_owned(), json!(value));
        }
    };
    put(
        "created_schemas",
        objects.created_schemas.iter().cloned().collect(),
    );
    put(
        "created_tables",
        objects.created_tables.iter().map(table).collect(),
    );
    put(
        "altered_tables",
        objects.altered_tables.iter().map(table).collect(),
    );
    put(
        "referenced_tables",
        objects.referenced_tables.iter().map(table).collect(),
    );
    put("schemas", objects.schemas.iter().cloned().collect());
    put(
        "changed_schemas",
        objects.changed_schemas.iter().cloned().collect(),
    );
    put(
        "unqualified_tables",
        objects.unqualified_tables.iter().cloned().collect(),
    );
    put(
        "foreign_keys",
        objects
            .foreign_keys
            .iter()
            .map(|(from, to)| format!("{} -> {}", table(from), table(to)))
            .collect(),
    );
    put(
        "named_foreign_keys",
        objects
            .named_foreign_keys
            .iter()
            .map(|key| {
                format!(
                    "{} -> {} ({})",
                    table(&key.from),
                    table(&key.to),
                    key.name.as_deref().unwrap_or("unnamed")
                )
            })
            .collect(),
    );
    put(
        "dropped_schemas",
        objects.dropped_schemas.iter().cloned().collect(),
    );
    put(
        "dropped_constraints",
        objects
            .dropped_constraints
            .iter()
            .map(|(on, name)| format!("{} {name}", table(on)))
            .collect(),
    );
    put(
        "written_tables",
        objects.written_tables.iter().map(table).collect(),
    );
    // The parser's error text is its own; that the text was refused is what
    // the product relies on (the `unparsed-statement` rule).
    put(
        "unparsed",
        objects.unparsed.iter().map(|u| u.sql.clone()).collect(),
    );
    if objects.writes_data {
        map.insert("writes_data".to_owned(), Value::Bool(true));
    }
    if objects.refused_in_transaction {
        map.insert("refused_in_transaction".to_owned(), Value::Bool(true));
    }
    Value::Object(map)
}

/// What every reader answers for one text.
fn statement_json(sql: &str) -> Value {
    let full = sql_objects::objects(sql);
    let mut structure = Objects::default();
    sql_objects::collect_structure(sql, &mut structure);
    let mut entry = json!({
        "sql": sql,
        "objects": objects_json(&full),
        "structure": objects_json(&structure),
    });
    let grants = crate::roles::grants::declared_lines(&expand_roles_blocks(&[sql.to_owned()]));
    if !grants.is_empty() {
        entry["grants"] = json!(grants);
    }
    if let Some(combined) = crate::backfill::driver::combinable(sql) {
        entry["combinable"] = json!(combined);
    }
    entry
}

/// The runtime-roles `DO` blocks as the statements they run (default role
/// names), as `grants::check` reads them.
fn expand_roles_blocks(sql: &[String]) -> Vec<String> {
    sql.iter()
        .flat_map(|text| match RolesBlock::read(text) {
            Some(block) => block.statements(&RoleTemplates::default()),
            None => vec![text.clone()],
        })
        .collect()
}

/// `rule@statement (severity)` for each finding, in the linter's order.
fn findings_json(findings: &[migration_lint::Finding]) -> Vec<String> {
    findings
        .iter()
        .map(|f| {
            let allowed = if f.allowed.is_some() { ", allowed" } else { "" };
            format!("{}@{} ({}{allowed})", f.rule, f.statement_index, f.severity)
        })
        .collect()
}

/// A string literal's value from its source text (`"…"`, `r#"…"#`), with
/// `format!`-style placeholders replaced: `{name}` by the name, `{}` and
/// `{0}` by `placeholder`, `placeholder0`.
fn literal_value(token: &proc_macro2::Literal) -> Option<String> {
    let text = token.to_string();
    if !(text.starts_with('"') || text.starts_with("r\"") || text.starts_with("r#")) {
        return None;
    }
    let value = syn::parse_str::<syn::LitStr>(&text).ok()?.value();
    let mut out = String::with_capacity(value.len());
    let mut rest = value.as_str();
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            // `{}` and `{0}`: a role or value the test passes; any name parses.
            Some(close) if after[..close].chars().all(|c| c.is_ascii_digit()) => {
                out.push_str("placeholder");
                out.push_str(&after[..close]);
                rest = &after[close + 1..];
            }
            Some(close)
                if after[..close]
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_') =>
            {
                out.push_str(&after[..close]);
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Some(out)
}

/// Whether a literal is SQL: its first word is an upper-case keyword.
fn looks_like_sql(text: &str) -> bool {
    let word: String = text
        .trim_start()
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != ';' && *c != '(')
        .collect();
    word.len() >= 2 && word.chars().all(|c| c.is_ascii_uppercase())
}

/// The SQL literals of `tokens`, and the bracketed lists made of SQL
/// literals only (a migration's statements, in the tests). Doc comments
/// (`#[doc = "..."]`) are prose, not SQL.
fn literals(tokens: TokenStream, found: &mut Vec<String>, lists: &mut Vec<Vec<String>>) {
    for token in tokens {
        match token {
            TokenTree::Literal(literal) => {
                if let Some(value) = literal_value(&literal).filter(|v| looks_like_sql(v)) {
                    found.push(value);
                }
            }
            TokenTree::Group(group) => {
                let is_doc = matches!(
                    group.stream().into_iter().next(),
                    Some(TokenTree::Ident(ident)) if ident == "doc"
                );
                if is_doc {
                    continue;
                }
                if group.delimiter() == proc_macro2::Delimiter::Bracket {
                    let mut list = Vec::new();
                    let mut only_sql = true;
                    for inner in group.stream() {
                        match inner {
                            TokenTree::Literal(literal) => {
                                match literal_value(&literal).filter(|v| looks_like_sql(v)) {
                                    Some(value) => list.push(value),
                                    None => only_sql = false,
                                }
                            }
                            TokenTree::Punct(p) if p.as_char() == ',' => {}
                            _ => only_sql = false,
                        }
                    }
                    if only_sql && !list.is_empty() {
                        lists.push(list);
                    }
                }
                literals(group.stream(), found, lists);
            }
            _ => {}
        }
    }
}

/// The body of every `mod tests { ... }` of a source file: the SQL of a
/// module's unit tests, not the SQL its code writes.
fn test_modules(tokens: TokenStream) -> Vec<TokenStream> {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    let mut modules = Vec::new();
    for window in tokens.windows(3) {
        if let [
            TokenTree::Ident(keyword),
            TokenTree::Ident(name),
            TokenTree::Group(body),
        ] = window
            && keyword == "mod"
            && name == "tests"
        {
            modules.push(body.stream());
        }
    }
    modules
}

fn rust_files(path: &Path) -> Vec<PathBuf> {
    if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .expect("a readable test source folder")
            .flat_map(|entry| rust_files(&entry.expect("a folder entry").path()))
            .collect();
        files.sort();
        files
    } else if path.is_file() && path.extension().is_some_and(|e| e == "rs") {
        vec![path.to_owned()]
    } else {
        Vec::new()
    }
}

/// Lints `statements` as one migration of `academy`, in and outside a
/// transaction.
fn lint_json(statements: &[String]) -> Value {
    let lint_as = |transactional: bool| {
        findings_json(&migration_lint::lint(&LintInput {
            name: "m20990101_000000_academy_case",
            schema: "academy",
            declared_schemas: &[],
            statements,
            source: None,
            target: Target::Plain,
            transactional,
        }))
    };
    json!({
        "statements": statements,
        "in_transaction": lint_as(true),
        "outside_transaction": lint_as(false),
    })
}

async fn corpus() -> Value {
    let catalog =
        Catalog::workspace(&schema_registry::workspace()).expect("the workspace's catalog");
    let capturer = Capturer::new().await.expect("a capturer");
    let mut migrations = Vec::new();
    let mut history_up = Vec::new();
    for migration in catalog.migrations() {
        let mut entry = json!({ "name": migration.name, "schema": migration.schema });
        for direction in [Direction::Up, Direction::Down] {
            let script = capturer
                .record(migration, direction)
                .await
                .expect("every workspace migration records");
            let statements: Vec<String> =
                script.statements.iter().map(ToString::to_string).collect();
            if direction == Direction::Up {
                entry["sum_tables"] = json!(
                    crate::source::sum::SumEntry::of(&migration.name, migration.schema, &script)
                        .tables
                );
                entry["grants"] = json!(crate::roles::grants::declared_lines(
                    &expand_roles_blocks(&statements)
                ));
                history_up.extend(statements.iter().cloned());
            }
            entry[direction.as_str()] =
                Value::Array(statements.iter().map(|s| statement_json(s)).collect());
        }
        migrations.push(entry);
    }

    let workspace = crate_dir().join("..");
    let mut history_findings: BTreeMap<String, Value> = BTreeMap::new();
    for (target, key) in [(Target::Plain, "plain"), (Target::Citus, "citus")] {
        let findings = lint::lint_catalog(&catalog, &workspace, target, |_| true)
            .await
            .expect("the workspace lints");
        let mut by_migration: BTreeMap<String, Vec<migration_lint::Finding>> = BTreeMap::new();
        for finding in findings {
            by_migration
                .entry(finding.migration.clone())
                .or_default()
                .push(finding);
        }
        history_findings.insert(
            key.to_owned(),
            json!(
                by_migration
                    .iter()
                    .map(|(name, found)| (name.clone(), findings_json(found)))
                    .collect::<BTreeMap<_, _>>()
            ),
        );
    }

    let mut test_literals = std::collections::BTreeSet::new();
    let mut test_lists = std::collections::BTreeSet::new();
    for source in TEST_SOURCES {
        assert!(
            crate_dir().join(source).exists(),
            "{source}: a test source the corpus reads is gone; name where its tests moved in TEST_SOURCES"
        );
        for file in rust_files(&crate_dir().join(source)) {
            if file.ends_with("parser_corpus.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&file).expect("a readable test source");
            let tokens =
                TokenStream::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let tested = if source.starts_with("tests/") || file.ends_with("tests.rs") {
                vec![tokens]
            } else {
                test_modules(tokens)
            };
            let (mut found, mut lists) = (Vec::new(), Vec::new());
            for tokens in tested {
                literals(tokens, &mut found, &mut lists);
            }
            test_literals.extend(found);
            test_lists.extend(lists);
        }
    }

    let backfills: Vec<Value> = schema_registry::backfill_sources()
        .iter()
        .flat_map(|source| &source.backfills)
        .map(|backfill| {
            json!({
                "name": backfill.name(),
                "batch_sql": backfill.batch_sql(),
                "combinable": crate::backfill::driver::combinable(backfill.batch_sql()),
            })
        })
        .collect();

    let constructs_text =
        std::fs::read_to_string(crate_dir().join(CONSTRUCTS)).expect("the constructs file");
    let constructs: serde_json::Map<String, Value> = constructs_text
        .split("\n====\n")
        .map(|block| block.trim_matches('\n'))
        .filter(|block| {
            !block.trim().is_empty() && !block.lines().all(|l| l.trim_start().starts_with("--"))
        })
        .map(|sql| {
            let mut entry = statement_json(sql);
            entry["lint"] = lint_json(&[sql.to_owned()]);
            (sql.to_owned(), entry)
        })
        .collect();

    json!({
        "migrations": migrations,
        "constructs": constructs,
        "history_grants": crate::roles::grants::declared_lines(&expand_roles_blocks(&history_up)),
        "history_findings": history_findings,
        "backfills": backfills,
        "test_statements": test_literals
            .iter()
            .map(|sql| (sql.clone(), statement_json(sql)))
            .collect::<serde_json::Map<_, _>>(),
        "test_migrations": test_lists
            .iter()
            .map(|list| (list.join("\n;\n"), lint_json(list)))
            .collect::<serde_json::Map<_, _>>(),
    })
}

/// The readers' answers for the whole corpus are the pinned ones, but for
/// the differences `KNOWN_DIFFERENCES` names.
/// Puts back, into `actual`, the pinned answer of every entry keyed by a
/// statement of `KNOWN_DIFFERENCES`.
fn keep_known_differences(pinned: &Value, actual: &mut Value) {
    let (Value::Object(pinned), Value::Object(actual)) = (pinned, actual) else {
        return;
    };
    for (key, value) in actual.iter_mut() {
        let Some(kept) = pinned.get(key) else {
            continue;
        };
        if KNOWN_DIFFERENCES.iter().any(|(sql, _)| key == sql) {
            *value = kept.clone();
        } else {
            keep_known_differences(kept, value);
        }
    }
}

#[tokio::test]
async fn the_sql_readers_answer_as_the_corpus_pins() {
    let actual = corpus().await;
    let path = crate_dir().join(FIXTURE);
    if std::env::var("UPDATE_SQL_CORPUS").as_deref() == Ok("1") {
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("the corpus folder");
        let mut actual = actual;
        // What pg_query answered for the known differences stays pinned: it
        // is the record the allow-list is held against.
        if let Some(pinned) = std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        {
            keep_known_differences(&pinned, &mut actual);
        }
        let text = serde_json::to_string_pretty(&actual).expect("json") + "\n";
        std::fs::write(&path, text).expect("the corpus written");
        return;
    }
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; UPDATE_SQL_CORPUS=1 writes it", path.display()));
    let pinned: Value = serde_json::from_str(&text).expect("the corpus is json");
    let mut differences = Vec::new();
    compare("", &pinned, &actual, &mut differences);
    let unexpected: Vec<&String> = differences
        .iter()
        .filter(|difference| {
            !KNOWN_DIFFERENCES
                .iter()
                .any(|(sql, _)| difference.contains(&format!("{sql:?}")))
        })
        .collect();
    assert!(
        unexpected.is_empty(),
        "{} answers differ from {FIXTURE} (where it says `pinned null`, a test added SQL the corpus \
         has not seen: `UPDATE_SQL_CORPUS=1 cargo test -p migration-runner --lib parser_corpus` pins it, \
         and the diff is the review; any other line is a reader answering differently):\n{}",
        unexpected.len(),
        unexpected
            .iter()
            .take(40)
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    // Every known difference is still one: the list stays as small as it can.
    for (sql, what) in KNOWN_DIFFERENCES {
        assert!(
            differences
                .iter()
                .any(|difference| difference.contains(&format!("{sql:?}"))),
            "`{sql}` ({what}) now answers as pinned: remove it from KNOWN_DIFFERENCES"
        );
    }
}

/// Every path where `pinned` and `actual` differ, with the statement's SQL
/// when the difference is inside one.
fn compare(path: &str, pinned: &Value, actual: &Value, out: &mut Vec<String>) {
    match (pinned, actual) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                let (x, y) = (
                    a.get(key).unwrap_or(&Value::Null),
                    b.get(key).unwrap_or(&Value::Null),
                );
                let sql = a
                    .get("sql")
                    .or_else(|| b.get("sql"))
                    .and_then(Value::as_str);
                let here = match sql {
                    Some(sql) if key != "sql" => format!("{path} {sql:?} .{key}"),
                    _ => format!("{path}.{key}"),
                };
                compare(&here, x, y, out);
            }
        }
        // A key only one side has: each of its entries is a difference.
        (Value::Null, Value::Object(_)) => compare(path, &json!({}), actual, out),
        (Value::Object(_), Value::Null) => compare(path, pinned, &json!({}), out),
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (index, (x, y)) in a.iter().zip(b).enumerate() {
                compare(&format!("{path}[{index}]"), x, y, out);
            }
        }
        _ if pinned == actual => {}
        _ => {
            let shorten = |value: &Value| {
                let text = value.to_string();
                match text.char_indices().nth(300) {
                    Some((end, _)) => format!("{}...", &text[..end]),
                    None => text,
                }
            };
            out.push(format!(
                "{path}: pinned {}, now {}",
                shorten(pinned),
                shorten(actual)
            ));
        }
    }
}
