//! Writing `.github/CODEOWNERS` from the schema crates' owners (what
//! `migrate hash` does beside the sum file); the engine's `gate::owners`
//! says what it must hold, and `check` refuses it stale.

use std::path::{Path, PathBuf};

use migration_runner::Catalog;
use migration_runner::gate::owners::{CODEOWNERS, Owners, OwnersError};

/// Rewrites the file in `workspace` from the compiled-in catalog; returns
/// its path and the schemas that name no owner (which `check` refuses).
pub fn write(workspace: &Path, catalog: &Catalog) -> Result<(PathBuf, Vec<String>), OwnersError> {
    let owners = Owners::read(workspace, catalog)?;
    let path = workspace.join(CODEOWNERS);
    let write_error = |e: std::io::Error| OwnersError {
        path: path.clone(),
        problem: e.to_string(),
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(write_error)?;
    }
    std::fs::write(&path, owners.codeowners(workspace, catalog)).map_err(write_error)?;
    Ok((
        path,
        owners
            .missing
            .into_iter()
            .map(|(schema, _)| schema)
            .collect(),
    ))
}
