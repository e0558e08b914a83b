//! The global history as the code declares it: every schema crate's
//! migrations merged into one order. Only this module knows that order.

use schema_core::schema_crate::Workspace;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sea_orm_migration::MigrationTrait;

use crate::connect::db_error;
use sea_orm::DbErr;

type Result<T, E = CatalogError> = std::result::Result<T, E>;
use crate::name;
use crate::source::sum::SumRecord;

/// One schema crate as the runner sees it.
pub struct SchemaSource {
    /// The PostgreSQL schema the crate owns, which is also its migrations' name prefix.
    pub schema: &'static str,
    /// The crate's directory in the workspace (where `migrate new` writes files).
    pub crate_dir: &'static str,
    pub migrations: Vec<Box<dyn MigrationTrait>>,
}

impl SchemaSource {
    pub fn new(
        schema: &'static str,
        crate_dir: &'static str,
        migrations: Vec<Box<dyn MigrationTrait>>,
    ) -> Self {
        Self {
            schema,
            crate_dir,
            migrations,
        }
    }
}

/// The workspace's schema crates, as the registry projects them.
pub fn workspace_sources(workspace: &Workspace) -> Vec<SchemaSource> {
    (workspace.migrations)()
        .into_iter()
        .map(|source| SchemaSource::new(source.schema, source.crate_dir, source.migrations))
        .collect()
}

/// A migration with its place in the global order.
pub struct Migration {
    pub name: String,
    /// The schema (and crate) that owns it.
    pub schema: &'static str,
    pub timestamp: String,
    /// Its place (0-based) in its crate's `migrations()` list, which is its
    /// place in the crate's registry, `src/migrations/mod.rs`.
    pub registered: usize,
    pub inner: Box<dyn MigrationTrait>,
}

impl Migration {
    /// Whether the runner wraps it in a transaction (the default for PostgreSQL).
    pub fn transactional(&self) -> bool {
        self.inner.use_transaction().unwrap_or(true)
    }

    fn sort_key(&self) -> (&str, bool, &str, &str) {
        crate::source::sum::order_key(&self.timestamp, self.schema, &self.name)
    }
}

/// The sum file a catalog is held to.
enum ExpectedSum {
    /// Its text (the workspace's, compiled in), parsed when first asked:
    /// the no-op check reads the text's lines as they are.
    Text {
        text: &'static str,
        parsed:
            std::sync::OnceLock<Result<crate::source::sum::SumFile, crate::source::sum::SumError>>,
        /// Its record for the no-op check, computed once (started on a
        /// thread of its own by [`Catalog::with_sum_as_record`]).
        record: std::sync::OnceLock<Option<SumRecord>>,
        pending: std::sync::Mutex<Option<std::thread::JoinHandle<Option<SumRecord>>>>,
    },
    /// Already parsed (a test's or a tool's own).
    Parsed(Result<crate::source::sum::SumFile, crate::source::sum::SumError>),
}

impl ExpectedSum {
    fn text(text: &'static str) -> Self {
        ExpectedSum::Text {
            text,
            parsed: std::sync::OnceLock::new(),
            record: std::sync::OnceLock::new(),
            pending: std::sync::Mutex::new(None),
        }
    }
}

/// Every migration in the workspace, validated and in global order.
pub struct Catalog {
    /// The sum file the code must agree with (the workspace's, compiled in).
    expected_sum: Option<ExpectedSum>,
    /// The no-op check takes the code's checksums from the sum file instead
    /// of recording every migration (see [`Catalog::with_sum_as_record`]).
    sum_is_record: bool,
    workspace: Option<Workspace>,
    migrations: Vec<Migration>,
    schemas: Vec<&'static str>,
    crate_dirs: HashMap<&'static str, &'static str>,
}

impl Catalog {
    /// Merges the sources, refusing malformed names, names whose schema prefix
    /// is not the owning crate's, and duplicate names.
    pub fn new(sources: Vec<SchemaSource>) -> Result<Self> {
        let schemas: Vec<&'static str> = sources.iter().map(|s| s.schema).collect();
        let mut crate_dirs = HashMap::new();
        for source in &sources {
            if crate_dirs.insert(source.schema, source.crate_dir).is_some() {
                return Err(CatalogError::DuplicateSchema {
                    schema: source.schema.to_owned(),
                });
            }
        }
        let mut migrations = Vec::new();
        for source in sources {
            for (index, inner) in source.migrations.into_iter().enumerate() {
                let name = inner.name().to_owned();
                let parsed =
                    name::split(&name, &schemas).map_err(|reason| CatalogError::MalformedName {
                        name: name.clone(),
                        krate: source.schema.to_owned(),
                        reason,
                    })?;
                if parsed.schema != source.schema {
                    return Err(CatalogError::WrongSchemaPrefix {
                        krate: source.schema.to_owned(),
                        prefix: parsed.schema.to_owned(),
                        timestamp: parsed.timestamp.to_owned(),
                        name,
                    });
                }
                let timestamp = parsed.timestamp.to_owned();
                migrations.push(Migration {
                    name,
                    schema: source.schema,
                    timestamp,
                    registered: index,
                    inner,
                });
            }
        }
        // Stable: of two equal names, the one registered first stays first.
        migrations.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        // Equal names sort next to each other (the name is part of the key).
        if let Some(pair) = migrations
            .windows(2)
            .find(|pair| pair[0].name == pair[1].name)
        {
            return Err(CatalogError::DuplicateName {
                name: pair[1].name.clone(),
                first: pair[0].schema.to_owned(),
                first_index: pair[0].registered + 1,
                second: pair[1].schema.to_owned(),
                second_index: pair[1].registered + 1,
            });
        }
        Ok(Self {
            expected_sum: None,
            sum_is_record: false,
            workspace: None,
            migrations,
            schemas,
            crate_dirs,
        })
    }

    /// The workspace's catalog, held to the sum file it was built with; it
    /// keeps the workspace for what else the engine reads of it (backfills,
    /// entities).
    pub fn workspace(workspace: &Workspace) -> Result<Self> {
        let mut catalog = Self::new(workspace_sources(workspace))?;
        catalog.expected_sum = Some(ExpectedSum::text(workspace.sum_file));
        catalog.workspace = Some(*workspace);
        Ok(catalog)
    }

    /// The workspace this catalog was built from (`None`: a test's or a
    /// benchmark's own migrations).
    pub fn source(&self) -> Option<&Workspace> {
        self.workspace.as_ref()
    }

    /// Holds the catalog to `sum` (a tool's or a test's own sum file).
    pub fn with_expected_sum(mut self, sum: crate::source::sum::SumFile) -> Self {
        self.expected_sum = Some(ExpectedSum::Parsed(Ok(sum)));
        self
    }

    /// Holds the catalog to the sum file `text`, read as the workspace's is
    /// (parsed only when the full comparison needs it).
    pub fn with_expected_sum_text(mut self, text: &'static str) -> Self {
        self.expected_sum = Some(ExpectedSum::text(text));
        self
    }

    /// Lets the no-op check read the code's checksums from the sum file this
    /// catalog was built with, instead of recording every migration's SQL
    /// (which grows with history): the release binary, built from a tree the
    /// gate (`migrate check`) and the tests held to its sum file. Every run
    /// that finds anything to do still records the code and compares it with
    /// history in full.
    pub fn with_sum_as_record(mut self) -> Self {
        self.sum_is_record = true;
        if let Some(ExpectedSum::Text { text, pending, .. }) = &self.expected_sum
            && let Ok(mut pending) = pending.lock()
        {
            // Pure CPU, done while the run connects.
            *pending = Some(SumRecord::start(text));
        }
        self
    }

    /// The sum file's record of every migration, when
    /// [`Catalog::with_sum_as_record`] asked for it and the sum file (a
    /// compiled-in text whose total adds up) lists exactly the catalog's
    /// migrations, in order; `None` otherwise (then the code is recorded).
    pub(crate) fn sum_record(&self) -> Option<&SumRecord> {
        if !self.sum_is_record {
            return None;
        }
        let Some(ExpectedSum::Text {
            text,
            record,
            pending,
            ..
        }) = &self.expected_sum
        else {
            return None;
        };
        let record = record
            .get_or_init(|| {
                let started = pending.lock().ok().and_then(|mut pending| pending.take());
                match started {
                    Some(thread) => thread.join().ok().flatten(),
                    None => SumRecord::of(text),
                }
            })
            .as_ref()?;
        let same =
            record.entries.len() == self.migrations.len()
                && self.migrations.iter().zip(&record.entries).all(
                    |(migration, (name, schema, _))| {
                        migration.name == *name && migration.schema == *schema
                    },
                );
        same.then_some(record)
    }

    /// The sum file the code must agree with, if any.
    pub fn expected_sum(
        &self,
    ) -> Option<&Result<crate::source::sum::SumFile, crate::source::sum::SumError>> {
        Some(match self.expected_sum.as_ref()? {
            ExpectedSum::Text { text, parsed, .. } => {
                parsed.get_or_init(|| crate::source::sum::SumFile::parse(text))
            }
            ExpectedSum::Parsed(parsed) => parsed,
        })
    }

    pub fn migrations(&self) -> &[Migration] {
        &self.migrations
    }

    pub fn schemas(&self) -> &[&'static str] {
        &self.schemas
    }

    pub fn crate_dir(&self, schema: &str) -> Option<&'static str> {
        self.crate_dirs.get(schema).copied()
    }

    /// Where `migration`'s source is, relative to `workspace`: the module
    /// its crate's registry (`<crate>/src/migrations/mod.rs`) lists in its
    /// place, whatever the file is called; `<name>.rs` when the registry
    /// cannot say. `None` when there is no such file.
    pub fn source_file(&self, workspace: &Path, migration: &Migration) -> Option<PathBuf> {
        let dir = Path::new(self.crate_dir(migration.schema)?).join("src/migrations");
        let registry = std::fs::read_to_string(workspace.join(&dir).join("mod.rs")).ok();
        let registered = registry.as_deref().and_then(|registry| {
            let module = registered_modules(registry)
                .into_iter()
                .nth(migration.registered)
                .flatten()?;
            module_files(registry, &module)
                .into_iter()
                .map(|file| dir.join(file))
                .find(|file| workspace.join(file).is_file())
        });
        registered.or_else(|| {
            Some(dir.join(format!("{}.rs", migration.name)))
                .filter(|file| workspace.join(file).is_file())
        })
    }

    pub fn position(&self, name: &str) -> Option<usize> {
        self.migrations.iter().position(|m| m.name == name)
    }

    pub fn get(&self, name: &str) -> Option<&Migration> {
        self.migrations.iter().find(|m| m.name == name)
    }

    /// Resolves `--to NAME`, with a hint listing close names when it is unknown.
    pub fn require(&self, name: &str) -> Result<usize> {
        self.position(name)
            .ok_or_else(|| CatalogError::UnknownMigration {
                name: name.to_owned(),
                hint: suggest(name, self.migrations.iter().map(|m| m.name.as_str())),
            })
    }
}

/// The module of each `Box::new(<module>::Migration)` of a crate's registry,
/// in order (`None` for an entry not written that way), comment lines skipped.
pub fn registered_modules(registry: &str) -> Vec<Option<String>> {
    let mut modules = Vec::new();
    for line in registry
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
    {
        for (at, _) in line.match_indices("Box::new(") {
            let rest = line[at + "Box::new(".len()..].trim_start();
            let module: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let qualified = rest[module.len()..].starts_with("::");
            modules.push((!module.is_empty() && qualified).then_some(module));
        }
    }
    modules
}

/// The files `mod <module>;` may be in: its `#[path = "..."]`, else
/// `<module>.rs` or `<module>/mod.rs`.
fn module_files(registry: &str, module: &str) -> Vec<PathBuf> {
    let mut path_attribute = None;
    for line in registry.lines().map(str::trim) {
        if let Some(path) = line
            .strip_prefix("#[path")
            .and_then(|rest| rest.split('"').nth(1))
        {
            path_attribute = Some(path.to_owned());
            continue;
        }
        let declared = line
            .trim_start_matches("pub(crate) ")
            .trim_start_matches("pub ")
            .strip_prefix("mod ")
            .and_then(|rest| rest.strip_suffix(';'))
            .map(str::trim);
        if declared == Some(module)
            && let Some(path) = path_attribute.take()
        {
            return vec![PathBuf::from(path)];
        }
        if !line.starts_with("#[") {
            path_attribute = None;
        }
    }
    vec![
        PathBuf::from(format!("{module}.rs")),
        Path::new(module).join("mod.rs"),
    ]
}

/// "did you mean" for an unknown migration name.
pub(crate) fn suggest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    let needle = name.trim_start_matches('m');
    let close: Vec<&str> = candidates
        .filter(|c| c.contains(needle) || needle.contains(c.get(1..16).unwrap_or("-")))
        .take(3)
        .collect();
    if close.is_empty() {
        "no migration has that name; `cargo xtask migrate status` lists them all".to_owned()
    } else {
        format!("did you mean {}?", close.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_says_which_file_each_registered_migration_is_in() {
        let registry = "\
mod m20250101_000000_core_create_schema;
#[path = \"older/identity.rs\"]
#[allow(dead_code)]
mod identity;
mod renamed;

pub fn migrations() -> Vec<Box<dyn MigrationTrait>> {
    vec![
        // Box::new(commented_out::Migration),
        Box::new(m20250101_000000_core_create_schema::Migration),
        Box::new(identity::Migration), Box::new(renamed::Migration),
        Box::new(Inline),
    ]
}
";
        assert_eq!(
            registered_modules(registry),
            vec![
                Some("m20250101_000000_core_create_schema".to_owned()),
                Some("identity".to_owned()),
                Some("renamed".to_owned()),
                None,
            ]
        );
        assert_eq!(
            module_files(registry, "identity"),
            vec![PathBuf::from("older/identity.rs")]
        );
        assert_eq!(
            module_files(registry, "renamed"),
            vec![PathBuf::from("renamed.rs"), PathBuf::from("renamed/mod.rs")]
        );
    }
}

/// The code's migrations are unfit: found before anything touches the database.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error(
        "migration `{name}` in crate `{krate}` has a malformed name: {reason}; \
         names look like `mYYYYMMDD_HHMMSS_<schema>_<what>`, for example \
         `m20251008_120000_academy_add_webinar_capacity` (`cargo xtask migrate new <schema> <what>` writes one)"
    )]
    MalformedName {
        name: String,
        krate: String,
        reason: String,
    },

    #[error(
        "migration `{name}` lives in crate `{krate}` but its name says schema `{prefix}`; a migration \
         belongs to the schema its name starts with: move it to the `{prefix}` crate or rename it \
         to `m{timestamp}_{krate}_...`"
    )]
    WrongSchemaPrefix {
        name: String,
        krate: String,
        prefix: String,
        timestamp: String,
    },

    #[error(
        "migration `{name}` is declared twice: in crate `{first}` (entry {first_index}) and in crate `{second}` \
         (entry {second_index}); every migration name must be unique across the workspace: rename one of them \
         with a newer timestamp"
    )]
    DuplicateName {
        name: String,
        first: String,
        first_index: usize,
        second: String,
        second_index: usize,
    },

    #[error(
        "schema `{schema}` is registered twice in the schema registry; list each schema crate once"
    )]
    DuplicateSchema { schema: String },

    #[error(
        "migration `{name}` in crate `{krate}` {problem}, so its checksum cannot be computed; structural \
         migrations must emit the same SQL on every run without reading the database: move data-dependent \
         or time-dependent work into a backfill"
    )]
    NonDeterministic {
        name: String,
        krate: String,
        problem: String,
    },

    #[error(
        "migration `{name}` in crate `{krate}` fails in its `{direction}` step when recorded: {}; fix the \
         migration's code",
        db_error::describe(.source)
    )]
    Capture {
        name: String,
        krate: String,
        direction: &'static str,
        #[source]
        source: DbErr,
    },

    #[error("unknown migration `{name}`: {hint}")]
    UnknownMigration { name: String, hint: String },
}

impl CatalogError {
    /// The process exit code (the one table, [`crate::exit::Exit`]): a name
    /// the code does not know is a usage error; anything else refuses.
    pub fn exit(&self) -> crate::exit::Exit {
        match self {
            CatalogError::UnknownMigration { .. } => crate::exit::Exit::Usage,
            _ => crate::exit::Exit::Refused,
        }
    }
}
