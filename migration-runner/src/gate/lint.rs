//! Linting the workspace's migrations with the linter crate
//! (`migration-lint`): each one's SQL recorded as `up` emits it, its source
//! read for allow-comments and declared schemas, and on Citus the keys
//! between app schemas a later migration drops let through.

use std::path::Path;

use crate::source::capture::{Capturer, Direction};
use crate::source::catalog::{Catalog, CatalogError};

use migration_lint::{
    CROSS_SCHEMA_FOREIGN_KEY, Finding, LintInput, Severity, Target, declared_schemas, lint,
};

/// Every finding of the migrations `selected` picks, in global order.
pub async fn lint_catalog(
    catalog: &Catalog,
    workspace: &Path,
    target: Target,
    selected: impl Fn(&str) -> bool,
) -> Result<Vec<Finding>, CatalogError> {
    let capturer = Capturer::new().await?;
    let mut findings = Vec::new();
    // On Citus, a key between app schemas that a later migration drops does
    // not block: the runner distributes the schemas at the end of a run.
    let mut scripts = Vec::new();
    for migration in catalog.migrations() {
        let script = capturer.record(migration, Direction::Up).await?;
        scripts.push(
            script
                .statements
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<String>>(),
        );
    }
    for (position, migration) in catalog.migrations().iter().enumerate() {
        if !selected(&migration.name) {
            continue;
        }
        let statements = &scripts[position];
        // Through the crate's registry: the file may be named otherwise.
        let source = catalog
            .source_file(workspace, migration)
            .and_then(|file| std::fs::read_to_string(workspace.join(file)).ok());
        let declared = source.as_deref().map(declared_schemas).unwrap_or_default();
        let mut found = lint(&LintInput {
            name: &migration.name,
            schema: migration.schema,
            declared_schemas: &declared,
            statements,
            source: source.as_deref(),
            target,
            transactional: migration.transactional(),
        });
        if target == Target::Citus {
            let app: Vec<&str> = catalog
                .schemas()
                .iter()
                .copied()
                .filter(|schema| *schema != crate::citus::REFERENCE_SCHEMA)
                .collect();
            let later = &catalog.migrations()[position + 1..];
            for finding in found
                .iter_mut()
                .filter(|f| f.rule == CROSS_SCHEMA_FOREIGN_KEY)
            {
                let keys = sql_objects::objects(&statements[finding.statement_index]);
                let dropped_by = |key: &sql_objects::ForeignKey| {
                    let name = key.name.as_ref()?;
                    later
                        .iter()
                        .zip(&scripts[position + 1..])
                        .find_map(|(m, sqls)| {
                            sqls.iter()
                                .any(|sql| {
                                    sql_objects::objects(sql)
                                        .dropped_constraints
                                        .contains(&(key.from.clone(), name.clone()))
                                })
                                .then(|| m.name.clone())
                        })
                };
                let drops: Vec<String> = keys
                    .named_foreign_keys
                    .iter()
                    .filter(|key| crate::citus::refusal(&key.from, &key.to, &app).is_some())
                    .map(dropped_by)
                    .collect::<Option<Vec<String>>>()
                    .unwrap_or_default();
                if let Some(dropper) = drops.first() {
                    finding.severity = Severity::Warning;
                    finding.message.push_str(&format!(
                        "; `{dropper}` drops it later, so a deploy on Citus distributes the schemas \
                         after that (the runner distributes at the end of a run)"
                    ));
                }
            }
        }
        findings.extend(found);
    }
    Ok(findings)
}
