//! Writing `migration-runner/migrations.sum` from the code: `migrate hash`,
//! and the line `migrate new` adds for the empty migration it writes.

use std::path::{Path, PathBuf};

use migration_runner::capture::Script;
use migration_runner::sum::{self, SumEntry, SumFile};
use migration_runner::{Catalog, MigrateError};

/// What `migrate hash` wrote.
#[derive(Debug, Clone)]
pub struct Written {
    pub path: PathBuf,
    pub migrations: usize,
}

/// Rewrites the sum file of `workspace` from the compiled-in catalog.
pub async fn write(workspace: &Path) -> Result<Written, MigrateError> {
    let catalog = Catalog::workspace()?;
    let file = sum::compute(&catalog).await?;
    let path = workspace.join(sum::PATH);
    std::fs::write(&path, file.render()).map_err(|err| io_error(&path, err))?;
    Ok(Written {
        path,
        migrations: file.entries.len(),
    })
}

/// Adds the line of a just-written empty migration (not compiled in yet, so
/// it is not in the catalog) to the sum file of `workspace`.
pub fn add_empty(workspace: &Path, name: &str, schema: &str) -> Result<(), MigrateError> {
    let path = workspace.join(sum::PATH);
    let text = std::fs::read_to_string(&path).map_err(|err| io_error(&path, err))?;
    let mut file = SumFile::parse(&text)
        .map_err(|err| io_error(&path, std::io::Error::other(err.to_string())))?;
    file.push(SumEntry::of(
        name,
        schema,
        &Script {
            statements: Vec::new(),
        },
    ));
    std::fs::write(&path, file.render()).map_err(|err| io_error(&path, err))
}

fn io_error(path: &Path, err: std::io::Error) -> MigrateError {
    MigrateError::Io {
        path: path.to_owned(),
        source: err,
    }
}
