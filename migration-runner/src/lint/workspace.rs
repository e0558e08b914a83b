//! Linting the workspace's migrations: each one's SQL recorded as `up` emits
//! it, its source read for allow-comments and declared schemas.

use std::path::Path;

use crate::capture::{Capturer, Direction};
use crate::catalog::Catalog;
use crate::error::Result;

use super::{Finding, LintInput, Target, declared_schemas, lint};

/// Every finding of the migrations `selected` picks, in global order.
pub async fn lint_catalog(
    catalog: &Catalog,
    workspace: &Path,
    target: Target,
    selected: impl Fn(&str) -> bool,
) -> Result<Vec<Finding>> {
    let capturer = Capturer::new().await?;
    let mut findings = Vec::new();
    for migration in catalog.migrations().iter().filter(|m| selected(&m.name)) {
        let script = capturer.record(migration, Direction::Up).await?;
        let statements: Vec<String> = script.statements.iter().map(ToString::to_string).collect();
        let source = catalog.crate_dir(migration.schema).and_then(|dir| {
            std::fs::read_to_string(
                workspace
                    .join(dir)
                    .join("src/migrations")
                    .join(format!("{}.rs", migration.name)),
            )
            .ok()
        });
        let declared = source.as_deref().map(declared_schemas).unwrap_or_default();
        findings.extend(lint(&LintInput {
            name: &migration.name,
            schema: migration.schema,
            declared_schemas: &declared,
            statements: &statements,
            source: source.as_deref(),
            target,
            transactional: migration.transactional(),
        }));
    }
    Ok(findings)
}
