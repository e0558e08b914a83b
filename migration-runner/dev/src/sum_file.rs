//! Writing `migration-runner/migrations.sum` from the code: `migrate hash`,
//! and the line `migrate new` adds for the empty migration it writes.

use std::path::{Path, PathBuf};

use migration_runner::source::capture::Script;
use migration_runner::source::catalog::CatalogError;
use migration_runner::source::sum::{self, SumEntry, SumFile};
use migration_runner::{Catalog, Exit};

/// What `migrate hash` wrote.
#[derive(Debug, Clone)]
pub struct Written {
    pub path: PathBuf,
    pub migrations: usize,
}

/// Rewrites the sum file of `workspace` from the compiled-in catalog.
pub async fn write(workspace: &Path) -> Result<Written, SumFileError> {
    let catalog = Catalog::workspace(&schema_registry::workspace())?;
    let file = migration_runner::source::capture::sum_file(&catalog).await?;
    let path = workspace.join(sum::PATH);
    std::fs::write(&path, file.render()).map_err(|err| io_error(&path, err))?;
    Ok(Written {
        path,
        migrations: file.entries.len(),
    })
}

/// Adds the line of a just-written empty migration (not compiled in yet, so
/// it is not in the catalog) to the sum file of `workspace`.
pub fn add_empty(workspace: &Path, name: &str, schema: &str) -> Result<(), SumFileError> {
    add(
        workspace,
        [SumEntry::of(
            name,
            schema,
            &Script {
                statements: Vec::new(),
            },
        )],
    )
}

/// Appends `entries` (of migrations written but not compiled in yet) to the
/// sum file of `workspace`.
pub fn add(
    workspace: &Path,
    entries: impl IntoIterator<Item = SumEntry>,
) -> Result<(), SumFileError> {
    let path = workspace.join(sum::PATH);
    let text = std::fs::read_to_string(&path).map_err(|err| io_error(&path, err))?;
    let mut file = SumFile::parse(&text)
        .map_err(|err| io_error(&path, std::io::Error::other(err.to_string())))?;
    for entry in entries {
        file.push(entry);
    }
    std::fs::write(&path, file.render()).map_err(|err| io_error(&path, err))
}

fn io_error(path: &Path, err: std::io::Error) -> SumFileError {
    SumFileError::Io {
        path: path.to_owned(),
        source: err,
    }
}

/// Why the sum file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SumFileError {
    /// The code's migrations could not be merged or recorded.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("cannot use `{}`: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl SumFileError {
    /// The process exit code, as the cause says.
    pub fn exit(&self) -> Exit {
        match self {
            SumFileError::Catalog(err) => err.exit(),
            SumFileError::Io { .. } => Exit::Failed,
        }
    }
}

/// The migration `schema new` writes, as the runner will record it: the same
/// `migration_kit::create_schema` call, recorded without a server.
struct CreateSchema {
    name: String,
    schema: String,
}

impl sea_orm_migration::MigrationName for CreateSchema {
    fn name(&self) -> &str {
        &self.name
    }
}

// `#[async_trait]` needs `&SchemaManager` spelled exactly as the trait does.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl sea_orm_migration::MigrationTrait for CreateSchema {
    async fn up(&self, manager: &sea_orm_migration::SchemaManager) -> Result<(), sea_orm::DbErr> {
        schema_core::migration_kit::create_schema(
            manager,
            sea_orm::sea_query::Alias::new(&self.schema),
        )
        .await
    }
}

/// Adds the line of a new schema crate's first migration (not compiled in
/// yet) to the sum file of `workspace`.
pub async fn add_created_schema(
    workspace: &Path,
    schema: &str,
    migration: &str,
) -> Result<(), SumFileError> {
    // The catalog wants its schema names for the life of the process.
    let schema: &'static str = Box::leak(schema.to_owned().into_boxed_str());
    let catalog = Catalog::new(vec![migration_runner::SchemaSource::new(
        schema,
        schema,
        vec![Box::new(CreateSchema {
            name: migration.to_owned(),
            schema: schema.to_owned(),
        })],
    )])?;
    let computed = migration_runner::source::capture::sum_file(&catalog).await?;
    add(workspace, computed.entries)
}
