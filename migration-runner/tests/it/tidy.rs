//! The Architecture Invariants of `docs/ARCHITECTURE.md`, checked by reading
//! the workspace's manifests and sources (rust-analyzer's `tidy` is the
//! model). Each test names the invariant it holds.

use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// The names under `[dependencies]` of a manifest.
fn dependencies(manifest: &str) -> Vec<String> {
    manifest
        .lines()
        .skip_while(|line| line.trim() != "[dependencies]")
        .skip(1)
        .take_while(|line| !line.starts_with('['))
        .filter_map(|line| line.split(['=', '.']).next())
        .map(str::trim)
        .filter(|name| !name.is_empty() && !name.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// `.rs` files below `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// The schema crates' directories, from the one registry.
fn schema_crate_dirs() -> Vec<(&'static str, PathBuf)> {
    schema_registry::schema_crates()
        .into_iter()
        .map(|krate| (krate.schema, workspace().join(krate.crate_dir)))
        .collect()
}

/// Invariant: schema crates depend only on the libraries migrations, entities
/// and seeds need, and app schema crates on `schema-core`; never on the runner,
/// the seeder, xtask, developer tooling or one another.
#[test]
fn schema_crates_depend_only_on_their_libraries_and_core() {
    let allowed = [
        "sea-orm",
        "sea-orm-migration",
        "async-trait",
        "uuid",
        "chrono",
        "fake",
        "rand",
    ];
    for (schema, dir) in schema_crate_dirs() {
        for dependency in dependencies(&read(&dir.join("Cargo.toml"))) {
            let ok = allowed.contains(&dependency.as_str())
                || (schema != "core" && dependency == "schema-core");
            assert!(
                ok,
                "schema crate `{schema}` depends on `{dependency}`: schema crates depend only on {allowed:?} \
                 and (app schemas) schema-core; a migration that touches another schema names its tables in SQL"
            );
        }
    }
}

/// Invariant: the release binary carries the engine only: no local cluster,
/// no scaffolding, no test helpers (they live in `migration-dev`).
#[test]
fn the_engine_does_not_depend_on_developer_tooling() {
    let manifest = read(&workspace().join("migration-runner/Cargo.toml"));
    for forbidden in ["migration-dev", "nix", "seeder", "xtask"] {
        assert!(
            !dependencies(&manifest).iter().any(|d| d == forbidden),
            "migration-runner depends on `{forbidden}`: the release binary must carry the engine only"
        );
    }
    for source in sources(&workspace().join("migration-runner/src")) {
        let text = read(&source);
        for forbidden in ["migration_dev", "initdb", "pg_ctl"] {
            assert!(
                !text.contains(forbidden),
                "{} mentions `{forbidden}`: developer tooling belongs in migration-runner/dev",
                source.display()
            );
        }
    }
}

/// `text` as SQL reads it: lowercase, identifiers unquoted, and any run of
/// white space, escaped line breaks or tabs one space, so no spelling of a
/// statement hides it.
fn sql_words(text: &str) -> String {
    let unquoted: String = text
        .to_lowercase()
        .chars()
        .filter(|c| *c != '"')
        .map(|c| {
            if matches!(c, '\\' | '\n' | '\r' | '\t') {
                ' '
            } else {
                c
            }
        })
        .collect();
    unquoted.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether `words` (from [`sql_words`]) holds `phrase` as whole words.
fn says(words: &str, phrase: &str) -> bool {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    words.match_indices(phrase).any(|(at, _)| {
        !word(words[..at].chars().next_back()) && !word(words[at + phrase.len()..].chars().next())
    })
}

#[test]
fn sql_words_sees_every_spelling_of_a_write() {
    for spelling in [
        "INSERT INTO public.seaql_migrations",
        "insert  into\n   public.seaql_migrations (version)",
        "INSERT INTO \"public\".\"seaql_migrations\"",
        "execute(\"INSERT INTO \\\n public.seaql_migrations\".into())",
    ] {
        assert!(
            says(&sql_words(spelling), "insert into public.seaql_migrations"),
            "{spelling}"
        );
    }
    assert!(!says(
        &sql_words("INSERT INTO public.seaql_migrations_digest"),
        "insert into public.seaql_migrations"
    ));
}

/// Invariant: the engine knows the workspace only as the `Workspace` its
/// callers hand it: its library depends on no schema crate but `schema-core`
/// (the contracts), and only the release binary reads the registry crate.
#[test]
fn the_engine_library_knows_no_schema_crate() {
    let root = workspace();
    let manifest = read(&root.join("migration-runner/Cargo.toml"));
    let schema_crates: Vec<String> = schema_registry::schema_crates()
        .iter()
        .map(|krate| format!("schema-{}", krate.schema.replace('_', "-")))
        .collect();
    for dependency in dependencies(&manifest) {
        assert!(
            dependency == "schema-core" || !schema_crates.contains(&dependency),
            "migration-runner depends on `{dependency}`: the engine knows schema crates only through \
             the registry crate, which its callers (the release binary, the seeder, xtask) use"
        );
    }
    assert!(
        manifest.contains("schema-registry = { workspace = true, optional = true }"),
        "the registry is the release binary's optional dependency, not the library's"
    );
    // Modules compiled only for the library's unit tests (`#[cfg(test)] mod x;`).
    let lib = read(&root.join("migration-runner/src/lib.rs"));
    let lines: Vec<&str> = lib.lines().collect();
    let test_only: Vec<PathBuf> = lines
        .windows(2)
        .filter(|pair| pair[0].trim() == "#[cfg(test)]")
        .filter_map(|pair| pair[1].trim().strip_prefix("mod ")?.strip_suffix(';'))
        .map(|name| root.join(format!("migration-runner/src/{name}.rs")))
        .collect();
    for source in sources(&root.join("migration-runner/src")) {
        if source == root.join("migration-runner/src/main.rs") || test_only.contains(&source) {
            continue;
        }
        // The library's code: doc examples and its unit tests (at the end of
        // a file, after `#[cfg(test)]`) may use the workspace, as tests do.
        let text: String = read(&source)
            .lines()
            .take_while(|line| line.trim() != "#[cfg(test)]")
            .filter(|line| !line.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for crate_name in schema_crates
            .iter()
            .filter(|name| *name != "schema-core")
            .map(|name| name.replace('-', "_"))
            .chain(["schema_registry".to_owned()])
        {
            assert!(
                !text.contains(&format!("{crate_name}::")),
                "{} uses `{crate_name}`: the engine library is handed the workspace, it does not import it",
                source.display()
            );
        }
    }
}

/// Invariant: only the runner writes the history table.
#[test]
fn only_the_runner_writes_the_history_table() {
    let root = workspace();
    for (schema, dir) in schema_crate_dirs().into_iter().chain([
        ("seeder", root.join("seeder")),
        ("xtask", root.join("xtask")),
        ("migration-dev", root.join("migration-runner/dev")),
    ]) {
        for source in sources(&dir.join("src")) {
            let text = sql_words(&read(&source));
            for verb in [
                "insert into",
                "update",
                "delete from",
                "truncate",
                "truncate table",
            ] {
                for table in ["public.seaql_migrations", "seaql_migrations"] {
                    let write = format!("{verb} {table}");
                    assert!(
                        !says(&text, &write),
                        "{} ({schema}) writes the history table (`{write}`): only migration-runner does",
                        source.display()
                    );
                }
            }
        }
    }
}

/// Invariant: the history table is named in one place, `history::TABLE`
/// (and `TABLE_NAME`): no other module of the engine spells it (comments
/// aside), so it cannot drift apart between the writer and its readers.
#[test]
fn the_history_table_is_named_only_by_its_constant() {
    let root = workspace().join("migration-runner/src");
    for source in sources(&root) {
        if source == root.join("history/mod.rs") {
            continue;
        }
        for (number, line) in read(&source).lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            let spelled = line
                .match_indices("seaql_migrations")
                .any(|(at, name)| !line[at + name.len()..].starts_with('_'));
            assert!(
                !spelled,
                "{}:{}: names the history table as a literal; use `crate::history::TABLE`",
                source.display(),
                number + 1
            );
        }
    }
}

/// Invariant: the seeder never issues DDL.
#[test]
fn the_seeder_never_issues_ddl() {
    let objects = [
        "table",
        "schema",
        "index",
        "view",
        "sequence",
        "type",
        "function",
        "extension",
        "role",
    ];
    for source in sources(&workspace().join("seeder/src")) {
        let text = read(&source).to_lowercase();
        let words: Vec<&str> = text
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        for pair in words.windows(2) {
            let ddl = matches!(pair[0], "create" | "alter" | "drop" | "truncate")
                && objects.contains(&pair[1]);
            assert!(
                !ddl,
                "{} contains `{} {}`: the seeder never issues DDL; schemas and tables come from migrations",
                source.display(),
                pair[0],
                pair[1]
            );
        }
    }
}

/// Invariant: xtask holds no logic beyond choosing the database: it never
/// talks SQL itself.
#[test]
fn xtask_stays_thin() {
    for source in sources(&workspace().join("xtask/src")) {
        let text = read(&source);
        for forbidden in [
            "execute_unprepared",
            "query_one",
            "query_all",
            "Statement::",
            "ConnectionTrait",
            // Running programs and driving the local clusters is migration-dev's.
            "process::Command",
            "ensure_running",
            "create_database",
            "drop_database",
            "LocalCluster::",
            "CitusCluster::",
        ] {
            assert!(
                !text.contains(forbidden),
                "{} uses `{forbidden}`: xtask parses flags and calls the libraries; put the logic in a library crate",
                source.display()
            );
        }
        // Each function dispatches: a long one holds logic that belongs in a library.
        let lines: Vec<&str> = text.lines().collect();
        for (start, line) in lines.iter().enumerate() {
            if !(line.starts_with("fn ") || line.starts_with("async fn ")) {
                continue;
            }
            let length = lines[start..]
                .iter()
                .position(|l| *l == "}")
                .unwrap_or(lines.len() - start);
            assert!(
                length <= 100,
                "{}:{}: `{}` is {length} lines: xtask dispatches to the libraries; move the logic into one",
                source.display(),
                start + 1,
                line.trim_end_matches(['{', ' '])
            );
        }
    }
}

/// Invariant: every library says what it owns and what it must not depend on.
#[test]
fn every_library_opens_with_its_doc() {
    let root = workspace();
    let mut libs: Vec<PathBuf> = schema_crate_dirs()
        .into_iter()
        .map(|(_, dir)| dir.join("src/lib.rs"))
        .collect();
    libs.extend([
        root.join("migration-runner/src/lib.rs"),
        root.join("migration-runner/dev/src/lib.rs"),
        root.join("migration-runner/registry/src/lib.rs"),
        root.join("migration-runner/sql-objects/src/lib.rs"),
        root.join("migration-runner/lint/src/lib.rs"),
        root.join("seeder/src/lib.rs"),
    ]);
    for lib in libs {
        let text = read(&lib);
        assert!(
            text.starts_with("//! "),
            "{} does not open with a `//!` doc",
            lib.display()
        );
        let doc = crate_doc(&text);
        assert!(
            doc.contains("owns"),
            "{}: its doc must say what the crate owns",
            lib.display()
        );
        assert!(
            doc.contains("never") && doc.contains("depend"),
            "{}: its doc must say what the crate must never depend on",
            lib.display()
        );
        assert!(
            !doc.contains("later,"),
            "{}: its doc promises what is \"later\": say what the crate holds now",
            lib.display()
        );
    }
    // A schema crate's doc names every crate it depends on, and they are its only ones.
    for (schema, dir) in schema_crate_dirs() {
        let doc = crate_doc(&read(&dir.join("src/lib.rs")));
        for dependency in dependencies(&read(&dir.join("Cargo.toml"))) {
            assert!(
                doc.contains(&format!("`{dependency}`")),
                "{schema}/src/lib.rs: its doc does not name `{dependency}`, which its manifest depends on"
            );
        }
    }
}

/// Invariant: every folder of the engine opens its `mod.rs` with a `//!`
/// doc saying what it may import and what it must never import.
#[test]
fn every_engine_folder_says_what_it_may_import() {
    let src = workspace().join("migration-runner/src");
    let mut folders = 0;
    for source in sources(&src) {
        if source.file_name().is_none_or(|name| name != "mod.rs") {
            continue;
        }
        folders += 1;
        let text = read(&source);
        let doc = crate_doc(&text);
        assert!(
            text.starts_with("//! ") && doc.contains("may import") && doc.contains("never"),
            "{}: its `//!` doc must say what the folder may import and what it never imports",
            source.display()
        );
    }
    assert!(
        folders >= 9,
        "the engine's folders were not found ({folders})"
    );
}

/// Invariant: the SQL reader and the linter stand alone: neither depends on
/// the engine, a schema crate or the database driver, so `migrate lint` and
/// every reader of SQL share one parser and the linter builds without them.
#[test]
fn the_sql_reader_the_linter_and_the_map_stand_alone() {
    let root = workspace();
    for (manifest, allowed) in [
        (
            "migration-runner/sql-objects/Cargo.toml",
            &["squawk-syntax"][..],
        ),
        (
            "migration-runner/lint/Cargo.toml",
            &["sql-objects", "squawk-linter", "squawk-syntax", "serde"][..],
        ),
        (
            "migration-runner/map/Cargo.toml",
            &["serde", "serde_json"][..],
        ),
    ] {
        for dependency in dependencies(&read(&root.join(manifest))) {
            assert!(
                allowed.contains(&dependency.as_str()),
                "{manifest} depends on `{dependency}`; it may depend only on {allowed:?}"
            );
        }
    }
}

/// The `//!` lines a file opens with, as one text.
fn crate_doc(text: &str) -> String {
    text.lines()
        .take_while(|l| l.starts_with("//!"))
        .map(|l| l.trim_start_matches("//!").trim())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Invariant: the code map of docs/ARCHITECTURE.md names every module: each
/// source file of the engine, `migration-dev`, the seeder, xtask and
/// `schema-core`'s shared modules by its path below `src`, each folder module
/// by its folder (the schema crates' `entities/` and `migrations/` hold one file per
/// table or migration, named by their folders).
#[test]
fn the_code_map_names_every_module() {
    let root = workspace();
    let map = read(&root.join("docs/ARCHITECTURE.md"));
    let mut unnamed = Vec::new();
    for dir in [
        "migration-runner/src",
        "migration-runner/sql-objects/src",
        "migration-runner/lint/src",
        "migration-runner/map/src",
        "migration-runner/dev/src",
        "seeder/src",
        "xtask/src",
        "core/src",
    ] {
        for source in sources(&root.join(dir)) {
            let relative = source.strip_prefix(root.join(dir)).unwrap();
            if relative
                .components()
                .any(|c| matches!(c.as_os_str().to_str(), Some("entities" | "migrations")))
            {
                continue;
            }
            // By its path below `src` (`deploy/runner.rs`), a folder module by
            // its folder (`deploy/`): two files of one name in two folders
            // are two modules, each named.
            let path = relative.to_string_lossy().into_owned();
            let wanted = match relative.file_name().unwrap().to_str() {
                Some("lib.rs" | "main.rs") if relative.parent() == Some(Path::new("")) => continue,
                Some("mod.rs") => format!("`{}/`", relative.parent().unwrap().display()),
                _ => format!("`{path}`"),
            };
            if !map.contains(&wanted) {
                unnamed.push(format!("{wanted} ({dir}/{})", relative.display()));
            }
        }
    }
    assert!(
        unnamed.is_empty(),
        "docs/ARCHITECTURE.md's code map does not name these modules: {}",
        unnamed.join(", ")
    );
}

/// Invariant: an applied migration's SQL never changes, so `migration_kit` is
/// append-only. The sum file pins every migration's checksum: a helper whose
/// output changes changes pinned checksums and fails here (and `migrate check
/// --base` refuses the edit of a migration that exists on the base).
#[tokio::test]
async fn the_sum_file_matches_the_code() {
    let path = workspace().join(migration_runner::source::sum::PATH);
    let file = migration_runner::source::sum::SumFile::parse(&read(&path))
        .unwrap_or_else(|err| panic!("{err}"));
    let catalog = migration_runner::Catalog::workspace(&schema_registry::workspace()).unwrap();
    let code = migration_runner::source::capture::sum_file(&catalog)
        .await
        .unwrap();
    let mismatches = migration_runner::source::sum::compare(&code, &file);
    assert!(
        mismatches.is_empty(),
        "{} disagrees with the code: {}; applied migrations never change and `migration_kit` is \
         append-only (add a new helper instead); for a new or still unapplied migration run \
         `cargo xtask migrate hash`",
        path.display(),
        mismatches
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    );
    assert_eq!(
        schema_registry::SUM_FILE,
        read(&path),
        "the binary was built with another sum file"
    );
}

/// The subcommand words and `--flags` of every `migration-runner ...` command
/// in `text` (code blocks and inline code alike): words up to the first
/// argument, flags anywhere before a comment.
fn documented_commands(text: &str) -> Vec<(String, Vec<String>, Vec<String>)> {
    let mut commands = Vec::new();
    for line in text.lines() {
        let mut rest = line;
        while let Some(at) = rest.find("migration-runner ") {
            let command = &rest[at + "migration-runner ".len()..];
            let end = command.find(['#', '`', ';', ')']).unwrap_or(command.len());
            let tokens: Vec<&str> = command[..end].split_whitespace().collect();
            let words: Vec<String> = tokens
                .iter()
                .take_while(|t| {
                    t.chars().all(|c| c.is_ascii_lowercase() || c == '-') && !t.starts_with("--")
                })
                .map(|t| (*t).to_owned())
                .collect();
            let flags: Vec<String> = tokens
                .iter()
                .filter(|t| t.starts_with("--"))
                .map(|t| (*t).to_owned())
                .collect();
            if !words.is_empty() {
                commands.push((line.trim().to_owned(), words, flags));
            }
            rest = &command[end..];
        }
    }
    commands
}

/// Invariant: every command of `docs/RUNBOOK.md` is one the tests run: its
/// subcommand and each of its flags are arguments one test file passes.
#[test]
fn every_runbook_command_is_one_the_tests_run() {
    let runbook = read(&workspace().join("docs/RUNBOOK.md"));
    let commands = documented_commands(&runbook);
    assert!(
        commands.len() >= 10,
        "the runbook's commands were not found: {commands:?}"
    );
    // One test file must pass the command's words and flags together.
    let tests: Vec<String> = [
        workspace().join("migration-runner/tests"),
        workspace().join("xtask/tests"),
    ]
    .iter()
    .flat_map(|dir| sources(dir))
    .map(|path| read(&path))
    .collect();
    let mut untested = Vec::new();
    for (line, words, flags) in &commands {
        let arguments: Vec<String> = words
            .iter()
            .chain(flags)
            .map(|argument| format!("\"{argument}\""))
            .collect();
        if !tests
            .iter()
            .any(|test| arguments.iter().all(|argument| test.contains(argument)))
        {
            untested.push(format!("{} of: {line}", arguments.join(" ")));
        }
    }
    assert!(
        untested.is_empty(),
        "docs/RUNBOOK.md commands no test runs:\n{}",
        untested.join("\n")
    );
}

/// The engine's layers as docs/ARCHITECTURE.md writes them down: the lines
/// of its "Layers of the engine" list, bottom first, each naming the
/// top-level modules of `migration-runner/src` in that layer.
fn documented_layers(architecture: &str) -> Vec<Vec<String>> {
    architecture
        .lines()
        .skip_while(|line| !line.starts_with("### Layers of the engine"))
        .skip(1)
        .take_while(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (number, rest) = line.split_once(". ")?;
            number.trim().parse::<usize>().ok()?;
            let names = rest.split(':').next().unwrap_or_default();
            Some(
                names
                    .split('`')
                    .skip(1)
                    .step_by(2)
                    .map(|name| name.trim_end_matches('/').to_owned())
                    .collect(),
            )
        })
        .collect()
}

/// A source file's module path below `src` (`deploy::runner`, `history` for
/// `history/mod.rs`, `` for `lib.rs`).
fn module_path(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts.join("::")
}

/// The paths a source names through `crate::` (grouped imports expanded),
/// each as its segments, with the line it is on; comments skipped.
fn crate_paths(text: &str) -> Vec<(usize, Vec<String>)> {
    let mut found = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        for (at, _) in code.match_indices("crate::") {
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
                continue;
            }
            let rest = &code[at + "crate::".len()..];
            for path in expand(rest) {
                found.push((number + 1, path));
            }
        }
    }
    found
}

/// `a::b::{c, d::e}` → `[a, b, c]`, `[a, b, d, e]` (one line's worth).
fn expand(rest: &str) -> Vec<Vec<String>> {
    let mut segments = Vec::new();
    let mut rest = rest;
    loop {
        let ident: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if ident.is_empty() {
            break;
        }
        segments.push(ident.clone());
        rest = &rest[ident.len()..];
        match rest.strip_prefix("::") {
            Some(next) if next.starts_with('{') => {
                let inner = next[1..].split('}').next().unwrap_or_default();
                return inner
                    .split(',')
                    .flat_map(|item| {
                        expand(item.trim()).into_iter().map(|tail| {
                            let mut path = segments.clone();
                            path.extend(tail);
                            path
                        })
                    })
                    .collect();
            }
            Some(next) => rest = next,
            None => break,
        }
    }
    vec![segments]
}

/// Every way the engine's sources break its layers: a `crate::` path into a
/// higher layer or into another module of the same layer, a top-level module
/// the layers do not list, a path that is not a module's, and every import
/// circle between files (a folder's `mod.rs` declaring and using its own
/// files is not one: it is the folder's front).
fn layer_violations(src: &Path, layers: &[Vec<String>]) -> Vec<String> {
    let mut problems = Vec::new();
    let layer_of = |module: &str| {
        layers
            .iter()
            .position(|layer| layer.iter().any(|name| name == module))
    };
    let files: Vec<(String, PathBuf)> = sources(src)
        .into_iter()
        .map(|file| (module_path(src, &file), file))
        .collect();
    let modules: std::collections::BTreeSet<String> =
        files.iter().map(|(module, _)| module.clone()).collect();
    // `#[macro_export]` macros live at the crate's root; they belong to the
    // module that defines them.
    let mut macros = std::collections::BTreeMap::new();
    for (module, file) in &files {
        let text = read(file);
        let lines: Vec<&str> = text.lines().collect();
        for pair in lines.windows(2) {
            if pair[0].trim() == "#[macro_export]"
                && let Some(name) = pair[1].trim().strip_prefix("macro_rules! ")
            {
                macros.insert(name.trim_end_matches(" {").to_owned(), module.clone());
            }
        }
    }
    for module in &modules {
        let top = module.split("::").next().unwrap_or_default();
        if !top.is_empty() && layer_of(top).is_none() {
            problems.push(format!(
                "module `{top}` is in no layer of docs/ARCHITECTURE.md's \"Layers of the engine\""
            ));
        }
    }
    let mut edges: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        Default::default();
    for (module, file) in &files {
        let Some(top) = module.split("::").next().filter(|top| !top.is_empty()) else {
            continue; // lib.rs and main.rs sit above every layer
        };
        let own_layer = layer_of(top);
        for (line, path) in crate_paths(&read(file)) {
            let target = (1..=path.len())
                .rev()
                .map(|len| path[..len].join("::"))
                .find(|prefix| modules.contains(prefix))
                .or_else(|| macros.get(&path[0]).cloned());
            let Some(target) = target else {
                problems.push(format!(
                    "{}:{line}: `crate::{}` is not a module's path: name the module the item lives in",
                    file.display(),
                    path.join("::")
                ));
                continue;
            };
            let target_top = target.split("::").next().unwrap_or_default().to_owned();
            if target_top != top {
                match (own_layer, layer_of(&target_top)) {
                    (Some(own), Some(theirs)) if theirs > own => problems.push(format!(
                        "{}:{line}: `{module}` (layer {}) imports `{target}` from a higher layer ({})",
                        file.display(),
                        own + 1,
                        theirs + 1
                    )),
                    (Some(own), Some(theirs)) if theirs == own => problems.push(format!(
                        "{}:{line}: `{module}` imports `{target}` from its own layer ({}): modules of one \
                         layer are independent",
                        file.display(),
                        own + 1
                    )),
                    _ => {}
                }
            }
            let declares_own_file = target.starts_with(&format!("{module}::"));
            if target != *module && !declares_own_file {
                edges.entry(module.clone()).or_default().insert(target);
            }
        }
    }
    problems.extend(circles(&edges));
    problems
}

/// Each import circle in `edges`, once, as `a → b → a`.
fn circles(
    edges: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
) -> Vec<String> {
    fn visit(
        node: &str,
        edges: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut std::collections::BTreeSet<String>,
        found: &mut Vec<String>,
    ) {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut circle = stack[at..].to_vec();
            circle.push(node.to_owned());
            found.push(format!("import circle: {}", circle.join(" → ")));
            return;
        }
        if !done.insert(node.to_owned()) {
            return;
        }
        stack.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            visit(next, edges, stack, done, found);
        }
        stack.pop();
    }
    let mut found = Vec::new();
    let mut done = std::collections::BTreeSet::new();
    for node in edges.keys() {
        visit(node, edges, &mut Vec::new(), &mut done, &mut found);
    }
    found
}

/// Invariant: the engine is built in layers (docs/ARCHITECTURE.md, "Layers of
/// the engine"): a module imports only from lower layers and its own folder,
/// every top-level module is in a layer, and no files import one another in a
/// circle.
#[test]
fn the_engine_is_built_in_layers() {
    let root = workspace();
    let layers = documented_layers(&read(&root.join("docs/ARCHITECTURE.md")));
    assert!(
        layers.len() >= 5,
        "docs/ARCHITECTURE.md lists no \"Layers of the engine\""
    );
    let problems = layer_violations(&root.join("migration-runner/src"), &layers);
    assert!(
        problems.is_empty(),
        "the engine's layers are broken:\n{}",
        problems.join("\n")
    );
}

/// The layer check itself fails on what it exists to catch: a circle, an
/// upward import, an import across one layer, and a module in no layer.
#[test]
fn the_layer_check_finds_circles_upward_imports_and_unlisted_modules() {
    let src = std::env::temp_dir().join(format!("layers-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&src);
    let write = |path: &str, text: &str| {
        let path = src.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "lib.rs",
        "pub mod low;\npub mod high;\npub mod side;\npub mod stray;\n",
    );
    write(
        "low/mod.rs",
        "pub mod a;\npub mod b;\nuse crate::low::a::A;\n",
    );
    write("low/a.rs", "use crate::low::b::B;\n");
    write("low/b.rs", "use crate::low::a::A;\nuse crate::high::H;\n");
    write(
        "high.rs",
        "use crate::low::{a::A, b::B};\nuse crate::side::S;\n",
    );
    write("side.rs", "");
    write("stray.rs", "use crate::Nothing;\n");
    let layers = vec![
        vec!["low".to_owned()],
        vec!["high".to_owned(), "side".to_owned()],
    ];
    let problems = layer_violations(&src, &layers).join("\n");
    std::fs::remove_dir_all(&src).unwrap();
    for expected in [
        "import circle: low::a → low::b → low::a",
        "`low::b` (layer 1) imports `high` from a higher layer (2)",
        "`high` imports `side` from its own layer (2)",
        "module `stray` is in no layer",
        "`crate::Nothing` is not a module's path",
    ] {
        assert!(
            problems.contains(expected),
            "the layer check missed \"{expected}\" in:\n{problems}"
        );
    }
    assert!(
        !problems.contains("low → low::a"),
        "a folder's mod.rs using its own files is no circle:\n{problems}"
    );
}

/// Invariant: every proc macro the workspace builds (on this platform) is
/// named in the root manifest's dev profile with `opt-level = 0`: a new one
/// left at the dependencies' opt-level 1 slows the first build of a fresh
/// clone (docs/BENCHMARKS.md).
#[test]
fn every_proc_macro_builds_unoptimised() {
    let root = workspace();
    let host = std::process::Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("rustc runs");
    let host = String::from_utf8_lossy(&host.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: ").map(str::to_owned))
        .expect("rustc names its host");
    let metadata = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--offline"])
        .args(["--filter-platform", &host])
        .current_dir(&root)
        .output()
        .expect("cargo metadata runs");
    assert!(
        metadata.status.success(),
        "{}",
        String::from_utf8_lossy(&metadata.stderr)
    );
    let metadata: serde_json::Value =
        serde_json::from_slice(&metadata.stdout).expect("cargo metadata's json");
    let built: std::collections::BTreeSet<&str> = metadata["resolve"]["nodes"]
        .as_array()
        .expect("a resolve graph")
        .iter()
        .filter_map(|node| node["id"].as_str())
        .collect();
    let manifest = read(&root.join("Cargo.toml"));
    let unoptimised = |name: &str| {
        [
            format!("[profile.dev.package.{name}]"),
            format!("[profile.dev.package.\"{name}\"]"),
        ]
        .iter()
        .any(|header| {
            manifest
                .split(header.as_str())
                .nth(1)
                .and_then(|rest| rest.lines().nth(1))
                .is_some_and(|line| line.trim() == "opt-level = 0")
        })
    };
    let mut missing: Vec<&str> = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter(|package| package["id"].as_str().is_some_and(|id| built.contains(id)))
        .filter(|package| package["source"].is_string())
        .filter(|package| {
            package["targets"].as_array().is_some_and(|targets| {
                targets.iter().any(|target| {
                    target["kind"]
                        .as_array()
                        .is_some_and(|kinds| kinds.iter().any(|kind| kind == "proc-macro"))
                })
            })
        })
        .filter_map(|package| package["name"].as_str())
        .filter(|name| !unoptimised(name))
        .collect();
    missing.sort_unstable();
    missing.dedup();
    assert!(
        missing.is_empty(),
        "proc macros built at the dependencies' opt-level; add each to Cargo.toml's dev profile with \
         `opt-level = 0`: {missing:?}"
    );
}
