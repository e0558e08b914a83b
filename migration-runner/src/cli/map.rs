//! `map [--out DIR] [--format html|mermaid|dot|json|markdown]
//! [--from-history] [--no-drift] [--open]`: the database as its teams see
//! it, read-only. From the live database (its model, the roles' grants,
//! pending migrations, drift findings and backfills in flight), or with
//! `--from-history` from a replay of the history in a throwaway database.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use crate::backfill::ledger::LedgerState;
use crate::cli::error::{CommandError, Result};
use crate::connect::DatabaseTarget;
use crate::deploy::runner::Runner;
use crate::exit::Exit;
use crate::gate::map::{self, Live};
use crate::gate::owners::Owners;
use crate::gate::scratch::Scratch;
use crate::model::SchemaModel;
use crate::say;
use crate::source::catalog::SchemaSource;
use schema_core::schema_crate::Workspace;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MapFormat {
    /// One self-contained page (nothing fetched when it opens).
    Html,
    /// Mermaid `erDiagram`s: one per schema, one for the keys between schemas.
    Mermaid,
    /// Graphviz dot, a cluster per schema.
    Dot,
    /// The `schema-map/1` document the page draws.
    Json,
    /// `SCHEMA.md`: per schema a Mermaid diagram and its tables' columns.
    Markdown,
}

impl MapFormat {
    fn file_name(self) -> &'static str {
        match self {
            MapFormat::Html => "schema-map.html",
            MapFormat::Mermaid => "schema-map.mmd",
            MapFormat::Dot => "schema-map.dot",
            MapFormat::Json => "schema-map.json",
            MapFormat::Markdown => "SCHEMA.md",
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct MapArgs {
    /// The directory to write into (`-`: print to stdout).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    #[arg(long, value_enum, default_value = "html")]
    pub format: MapFormat,
    /// Draw the history replayed into a throwaway database, not the live database
    /// (always so for `--format markdown`).
    #[arg(long)]
    pub from_history: bool,
    /// Skip the drift comparison (it replays the applied history into a throwaway database).
    #[arg(long)]
    pub no_drift: bool,
    /// Open the page in the desktop's browser once written.
    #[arg(long)]
    pub open: bool,
}

/// The text of the map in `format`.
pub fn render(document: &schema_map::MapDocument, format: MapFormat) -> String {
    match format {
        MapFormat::Html => schema_map::html::render(document),
        MapFormat::Mermaid => schema_map::text::mermaid(document),
        MapFormat::Dot => schema_map::text::dot(document),
        MapFormat::Json => serde_json::to_string_pretty(document).unwrap_or_default(),
        MapFormat::Markdown => schema_map::markdown::schema_md(document),
    }
}

/// The owned schemas' model and the roles' grants on them, read from `db`.
async fn read_model<C: sea_orm::ConnectionTrait>(
    db: &C,
    schemas: &[&str],
) -> Result<(SchemaModel, Vec<schema_map::Role>)> {
    let database = |context: &'static str| move |source| CommandError::Database { context, source };
    let model = SchemaModel::read(db, schemas)
        .await
        .map_err(database("reading the schemas"))?;
    let roles = map::grants(db, &model, schemas)
        .await
        .map_err(database("reading the grants"))?;
    Ok((model, roles))
}

/// The history's model, replayed into a throwaway database on `target`'s server.
async fn history_model(
    runner: &Runner,
    target: &DatabaseTarget,
    sources: Vec<SchemaSource>,
) -> Result<(SchemaModel, Vec<schema_map::Role>)> {
    let catalog = crate::source::catalog::Catalog::new(sources)?;
    let scratch = Scratch::create(runner.connection(), target, "map_history")
        .await
        .map_err(crate::gate::drift::DriftError::from)?;
    let read = async {
        scratch
            .replay(&catalog)
            .await
            .map_err(crate::gate::drift::DriftError::from)?;
        read_model(scratch.session.connection(), catalog.schemas()).await
    };
    let outcome = read.await;
    scratch.dispose().await;
    outcome
}

/// What a live database adds to the map: pending migrations (the history
/// verified first), drift unless skipped, backfills not finished.
async fn live_findings(
    runner: &Runner,
    target: &DatabaseTarget,
    registry: &Workspace,
    sources: Vec<SchemaSource>,
    drift: bool,
) -> Result<Live> {
    let mut live = Live::default();
    for planned in runner.plan().await? {
        live.pending
            .entry(planned.schema)
            .or_default()
            .push(planned.name);
    }
    if drift {
        match crate::gate::drift::run(runner, target, crate::gate::drift::Shadow::Create, sources)
            .await
        {
            Ok(report) => {
                for difference in &report.differences {
                    let schema = difference.key.table().split('.').next().unwrap_or_default();
                    live.drift
                        .entry(schema.to_owned())
                        .or_default()
                        .push(difference.describe("migrations give", "the database has"));
                }
            }
            Err(err) => eprintln!("warning: drift not compared ({err}); the map shows none"),
        }
    }
    let schema_of: std::collections::BTreeMap<String, &str> = (registry.backfills)()
        .into_iter()
        .flat_map(|source| {
            source
                .backfills
                .iter()
                .map(|b| (b.name().to_owned(), source.schema))
                .collect::<Vec<_>>()
        })
        .collect();
    for row in crate::backfill::ledger::load_all(runner.connection()).await? {
        if row.state == LedgerState::Finished {
            continue;
        }
        if let Some(schema) = schema_of.get(&row.name) {
            live.backfills
                .entry((*schema).to_owned())
                .or_default()
                .push(schema_map::Backfill {
                    state: row.state.as_str().to_owned(),
                    name: row.name,
                });
        }
    }
    Ok(live)
}

/// `map`.
pub async fn map_command(
    runner: &Runner,
    args: MapArgs,
    target: &DatabaseTarget,
    registry: &Workspace,
    sources: &dyn Fn() -> Vec<SchemaSource>,
) -> Result<Exit> {
    let workspace = crate::cli::workspace_around_cwd().ok();
    let catalog = runner.catalog();
    let schemas: Vec<&str> = catalog.schemas().to_vec();
    let owners = match &workspace {
        Some(workspace) => {
            Owners::read(workspace, catalog).map_err(crate::gate::check::CheckError::from)?
        }
        // Outside a checkout (a deploy host): no manifests to read owners from.
        None => Owners::default(),
    };
    let db = runner.connection();
    // SCHEMA.md is the history's, whatever the database holds (`check` holds the file to it).
    let (model, roles, live) = if args.from_history || args.format == MapFormat::Markdown {
        let (model, roles) = history_model(runner, target, sources()).await?;
        (model, roles, None)
    } else {
        let (model, roles) = read_model(db, &schemas).await?;
        let live = live_findings(runner, target, registry, sources(), !args.no_drift).await?;
        (model, roles, Some(live))
    };
    let mut document = map::document(&model, &schemas, &owners);
    document.roles = roles;
    document.citus = matches!(crate::citus::detect(db).await, Ok(Some(_)));
    document.generated_at = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    if let Some(live) = live {
        live.apply(&mut document);
    }
    let text = render(&document, args.format);
    if args.out == Path::new("-") {
        say!("{text}");
        return Ok(Exit::Success);
    }
    std::fs::create_dir_all(&args.out).map_err(|source| CommandError::Io {
        path: args.out.clone(),
        source,
    })?;
    let path = args.out.join(args.format.file_name());
    std::fs::write(&path, &text).map_err(|source| CommandError::Io {
        path: path.clone(),
        source,
    })?;
    say!(
        "{} ({} tables in {} schemas, {} keys between schemas, {} bytes)",
        path.display(),
        document.tables.len(),
        document.schemas.len(),
        document
            .foreign_keys
            .iter()
            .filter(|k| k.cross_schema)
            .count(),
        text.len()
    );
    if args.open {
        let opened = std::process::Command::new("xdg-open").arg(&path).status();
        if !opened.is_ok_and(|status| status.success()) {
            eprintln!("could not open a browser: open {} yourself", path.display());
        }
    }
    Ok(Exit::Success)
}
