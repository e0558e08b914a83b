//! Deploying unchanged migrations onto a Citus cluster (schema-based
//! sharding, Citus 12 and later), detected by the `citus` extension on the
//! target database.
//!
//! What the runner adds, and only on Citus:
//! - right after a migration creates tables in `core` (the shared identities),
//!   in that migration's own transaction, each becomes a **reference table**
//!   (`create_reference_table`), copied to every node;
//! - at the end of a run, each app schema that exists and is not yet
//!   distributed becomes a **distributed schema** (`citus_schema_distribute`),
//!   placed whole on one node; tables later created in it follow by themselves.
//!   Distributing at the end, not at creation, lets a history that once had a
//!   key Citus refuses (and a later migration that removes it) deploy as is.
//!
//! Each step is recorded in `public.seaql_migrations_citus` with the migration
//! it followed, so `status` and `drift` can show and check it and `plan` can
//! announce it. The migrations' own SQL, and so their checksums, never change.
//! The history table stays a local table on the coordinator, where the lock
//! and each migration's transaction run.
//!
//! It may import `sql_objects` (the keys a plan adds and drops), `connect` and
//! `source` (a planned step); never the history table's writers, deploy, the
//! gate, operations or the CLI: the executor and the orchestrator call it.

use std::collections::BTreeSet;

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};

use sql_objects::{Objects, TableName};

/// The schema whose tables become reference tables: the shared identities
/// every app schema points at.
pub const REFERENCE_SCHEMA: &str = schema_core::SCHEMA;

/// Where the runner records what it did for Citus.
pub const STEPS_TABLE: &str = "public.seaql_migrations_citus";

const STEPS_TABLE_SQL: &str = "\
CREATE TABLE IF NOT EXISTS public.seaql_migrations_citus (
    object text PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('reference_table', 'distributed_schema')),
    after_migration text NOT NULL,
    applied_on timestamptz NOT NULL DEFAULT now(),
    applied_by text NOT NULL DEFAULT current_user
);
COMMENT ON TABLE public.seaql_migrations_citus IS
    'What migration-runner did to place tables on a Citus cluster, and after which migration'";

/// A Citus cluster behind the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Citus {
    /// The extension's version, for example `13.2-1`.
    pub version: String,
}

/// Why a Citus deploy was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum CitusError {
    #[error(
        "{} foreign key(s) cannot exist on Citus, so the app schemas cannot be distributed:\n{}\n\
         nothing was applied; change the migrations that add them, then deploy again",
        blockers.len(),
        render_blockers(blockers)
    )]
    Incompatible { blockers: Vec<Blocker> },

    #[error(
        "making `{object}` a {what} on Citus (after `{after_migration}`) failed: {source}; the \
         migration itself is applied, run `migrate` again once the cause is fixed"
    )]
    Step {
        object: String,
        what: &'static str,
        after_migration: String,
        #[source]
        source: DbErr,
    },

    #[error("reading the Citus cluster's metadata failed: {source}")]
    Read {
        #[source]
        source: DbErr,
    },
}

impl CitusError {
    /// The process exit code: keys Citus cannot hold are a refusal (nothing
    /// was applied), a failed step a failure.
    pub fn exit(&self) -> crate::exit::Exit {
        match self {
            CitusError::Incompatible { .. } => crate::exit::Exit::Refused,
            _ => crate::exit::Exit::Failed,
        }
    }
}

/// What the runner did (or will do) for Citus.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Step {
    pub kind: StepKind,
    /// `core.users`, or a schema's name.
    pub object: String,
    pub after_migration: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    ReferenceTable,
    DistributedSchema,
}

impl StepKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::ReferenceTable => "reference_table",
            StepKind::DistributedSchema => "distributed_schema",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            StepKind::ReferenceTable => "reference table",
            StepKind::DistributedSchema => "distributed schema",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "reference_table" => Some(StepKind::ReferenceTable),
            "distributed_schema" => Some(StepKind::DistributedSchema),
            _ => None,
        }
    }
}

/// A foreign key Citus refuses once the schemas are placed, and what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Blocker {
    pub from: String,
    pub to: String,
    /// The constraint's name, when known.
    pub name: Option<String>,
    /// The migration that adds it; `None` when it is already in the database.
    pub migration: Option<String>,
    pub reason: &'static str,
}

impl Blocker {
    pub const ALTERNATIVES: &'static str = "reference the `core` identity both sides share \
        (for example `core.users`) instead, keep the two tables in one schema, or keep the id \
        without a foreign key and check it in the application";
}

impl std::fmt::Display for Blocker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "foreign key")?;
        if let Some(name) = &self.name {
            write!(f, " `{name}`")?;
        }
        write!(f, " from `{}` to `{}`", self.from, self.to)?;
        match &self.migration {
            Some(migration) => write!(f, " (added by `{migration}`)")?,
            None => write!(f, " (already in the database)")?,
        }
        write!(f, ": {}; instead, {}", self.reason, Self::ALTERNATIVES)
    }
}

fn render_blockers(blockers: &[Blocker]) -> String {
    blockers
        .iter()
        .map(|b| format!("  - {b}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The Citus extension's version, or no row on plain PostgreSQL (the no-op
/// check reads it in its own statement).
pub(crate) const DETECT_SQL: &str = "SELECT extversion FROM pg_extension WHERE extname = 'citus'";

/// The Citus extension on the connected database, if any.
pub async fn detect<C: ConnectionTrait>(db: &C) -> Result<Option<Citus>, CitusError> {
    let row = db
        .query_one_raw(Statement::from_string(DbBackend::Postgres, DETECT_SQL))
        .await
        .map_err(|source| CitusError::Read { source })?;
    Ok(row
        .and_then(|row| row.try_get_by_index::<String>(0).ok())
        .map(|version| Citus { version }))
}

async fn texts<C: ConnectionTrait>(
    db: &C,
    sql: &str,
    values: Vec<Value>,
) -> Result<Vec<String>, CitusError> {
    db.query_all_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    ))
    .await
    .map_err(|source| CitusError::Read { source })?
    .into_iter()
    .map(|row| {
        row.try_get_by_index::<String>(0)
            .map_err(|source| CitusError::Read { source })
    })
    .collect()
}

async fn record<C: ConnectionTrait>(db: &C, step: &Step) -> Result<(), DbErr> {
    db.execute_unprepared(STEPS_TABLE_SQL).await?;
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO public.seaql_migrations_citus (object, kind, after_migration) VALUES ($1, $2, $3) \
         ON CONFLICT (object) DO UPDATE SET kind = excluded.kind, \
             after_migration = excluded.after_migration, applied_on = now(), applied_by = current_user",
        [
            Value::from(step.object.as_str()),
            Value::from(step.kind.as_str()),
            Value::from(step.after_migration.as_str()),
        ],
    ))
    .await
    .map(drop)
}

/// Makes every table of `core` that is not a reference table one, on `db`
/// (the migration's own transaction), and records it.
pub(crate) async fn reference_new_tables<C: ConnectionTrait>(
    db: &C,
    after_migration: &str,
) -> Result<Vec<Step>, CitusError> {
    let tables = texts(
        db,
        "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition \
           AND NOT EXISTS (SELECT 1 FROM pg_dist_partition p \
                           WHERE p.logicalrelid = c.oid AND p.repmodel = 't') \
         ORDER BY c.oid",
        vec![Value::from(REFERENCE_SCHEMA)],
    )
    .await?;
    let mut steps = Vec::new();
    for table in tables {
        let step = Step {
            kind: StepKind::ReferenceTable,
            object: table,
            after_migration: after_migration.to_owned(),
        };
        let failed = |source| CitusError::Step {
            object: step.object.clone(),
            what: step.kind.describe(),
            after_migration: after_migration.to_owned(),
            source,
        };
        db.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT create_reference_table($1::regclass)",
            [Value::from(step.object.as_str())],
        ))
        .await
        .map_err(failed)?;
        record(db, &step).await.map_err(failed)?;
        steps.push(step);
    }
    Ok(steps)
}

/// The app schemas among `schemas` that exist and are not distributed yet.
pub async fn undistributed_schemas<C: ConnectionTrait>(
    db: &C,
    schemas: &[&str],
) -> Result<Vec<String>, CitusError> {
    let app: Vec<String> = schemas
        .iter()
        .filter(|schema| **schema != REFERENCE_SCHEMA)
        .map(|schema| (*schema).to_owned())
        .collect();
    texts(
        db,
        "SELECT n.nspname::text FROM pg_namespace n \
         WHERE n.nspname = ANY($1) \
           AND NOT EXISTS (SELECT 1 FROM pg_dist_schema d WHERE d.schemaid = n.oid) \
         ORDER BY n.nspname",
        vec![Value::from(app)],
    )
    .await
}

/// Distributes each schema in `schemas`, one transaction each, and records it.
pub(crate) async fn distribute_schemas(
    db: &sea_orm::DatabaseConnection,
    schemas: &[String],
    after_migration: &str,
) -> Result<Vec<Step>, CitusError> {
    use sea_orm::TransactionTrait;
    let mut steps = Vec::new();
    for schema in schemas {
        let step = Step {
            kind: StepKind::DistributedSchema,
            object: schema.clone(),
            after_migration: after_migration.to_owned(),
        };
        let failed = |source| CitusError::Step {
            object: step.object.clone(),
            what: step.kind.describe(),
            after_migration: after_migration.to_owned(),
            source,
        };
        let txn = db.begin().await.map_err(failed)?;
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT citus_schema_distribute($1::regnamespace)",
            [Value::from(schema.as_str())],
        ))
        .await
        .map_err(failed)?;
        record(&txn, &step).await.map_err(failed)?;
        txn.commit().await.map_err(failed)?;
        steps.push(step);
    }
    Ok(steps)
}

/// A foreign key as the catalog holds it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ExistingKey {
    pub name: String,
    pub from: TableName,
    pub to: TableName,
}

/// Every foreign key whose referencing table is in one of `schemas`.
pub async fn existing_keys<C: ConnectionTrait>(
    db: &C,
    schemas: &[&str],
) -> Result<Vec<ExistingKey>, CitusError> {
    let schemas: Vec<String> = schemas.iter().map(|s| (*s).to_owned()).collect();
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT k.conname::text, fn.nspname::text, f.relname::text, tn.nspname::text, t.relname::text \
             FROM pg_constraint k \
             JOIN pg_class f ON f.oid = k.conrelid JOIN pg_namespace fn ON fn.oid = f.relnamespace \
             JOIN pg_class t ON t.oid = k.confrelid JOIN pg_namespace tn ON tn.oid = t.relnamespace \
             WHERE k.contype = 'f' AND fn.nspname = ANY($1) \
             ORDER BY 2, 3, 1",
            [Value::from(schemas)],
        ))
        .await
        .map_err(|source| CitusError::Read { source })?;
    rows.into_iter()
        .map(|row| {
            let text = |i| {
                row.try_get_by_index::<String>(i)
                    .map_err(|source| CitusError::Read { source })
            };
            Ok(ExistingKey {
                name: text(0)?,
                from: (text(1)?, text(2)?),
                to: (text(3)?, text(4)?),
            })
        })
        .collect()
}

/// Why Citus refuses a foreign key from `from` to `to`, if it does, given
/// which schemas are app schemas (distributed) and that `core` holds
/// reference tables. Keys inside one schema, and from an app schema to
/// `core`, are fine.
pub fn refusal(from: &TableName, to: &TableName, app_schemas: &[&str]) -> Option<&'static str> {
    let app = |schema: &str| app_schemas.contains(&schema);
    let reference = |schema: &str| schema == REFERENCE_SCHEMA;
    if from.0 == to.0 {
        None
    } else if app(&from.0) && app(&to.0) {
        Some(
            "Citus places each app schema whole on one node and cannot keep a key between two of them",
        )
    } else if reference(&from.0) && app(&to.0) {
        Some("a reference table is copied to every node and cannot point at a distributed table")
    } else if app(&from.0) && !reference(&to.0) && !app(&to.0) {
        Some("a distributed table can only point at its own schema's tables or at reference tables")
    } else {
        None
    }
}

/// The foreign keys Citus would refuse once the pending migrations are
/// applied: the database's keys and each pending script's, in order, minus
/// the constraints later scripts drop (matched by name; a key added without
/// a name is matched by PostgreSQL's generated `<table>_<column>_fkey` only
/// when it is already in the database).
///
/// A schema that is already distributed refuses such a key when the
/// migration adding it runs, whatever a later migration does: those keys
/// block even when they are dropped later.
pub fn blockers_after<'a>(
    existing: &[ExistingKey],
    pending: impl IntoIterator<Item = (&'a str, &'a Objects)>,
    app_schemas: &[&str],
    distributed_now: &[String],
) -> Vec<Blocker> {
    struct Key {
        from: TableName,
        to: TableName,
        name: Option<String>,
        migration: Option<String>,
    }
    let mut keys: Vec<Key> = existing
        .iter()
        .map(|key| Key {
            from: key.from.clone(),
            to: key.to.clone(),
            name: Some(key.name.clone()),
            migration: None,
        })
        .collect();
    let mut refused_on_the_spot: Vec<Key> = Vec::new();
    for (migration, objects) in pending {
        for added in &objects.named_foreign_keys {
            let placed = |schema: &str| {
                schema == REFERENCE_SCHEMA || distributed_now.iter().any(|d| d == schema)
            };
            if placed(&added.from.0)
                && placed(&added.to.0)
                && refusal(&added.from, &added.to, app_schemas).is_some()
            {
                refused_on_the_spot.push(Key {
                    from: added.from.clone(),
                    to: added.to.clone(),
                    name: added.name.clone(),
                    migration: Some(migration.to_owned()),
                });
            }
        }
        keys.retain(|key| {
            !key.name.as_ref().is_some_and(|name| {
                objects
                    .dropped_constraints
                    .contains(&(key.from.clone(), name.clone()))
            })
        });
        for added in &objects.named_foreign_keys {
            keys.push(Key {
                from: added.from.clone(),
                to: added.to.clone(),
                name: added.name.clone(),
                migration: Some(migration.to_owned()),
            });
        }
    }
    let mut blockers: BTreeSet<Blocker> = BTreeSet::new();
    for key in keys.into_iter().chain(refused_on_the_spot) {
        if let Some(reason) = refusal(&key.from, &key.to, app_schemas) {
            blockers.insert(Blocker {
                from: format!("{}.{}", key.from.0, key.from.1),
                to: format!("{}.{}", key.to.0, key.to.1),
                name: key.name,
                migration: key.migration,
                reason,
            });
        }
    }
    blockers.into_iter().collect()
}

/// How the cluster places the owned schemas, read from Citus's metadata,
/// beside what the runner recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Placement {
    pub reference_tables: BTreeSet<String>,
    pub distributed_schemas: BTreeSet<String>,
    /// Tables of the owned schemas Citus does not manage at all.
    pub local_tables: BTreeSet<String>,
    pub recorded: Vec<Step>,
}

/// The placement of `schemas` on the cluster.
pub async fn placement<C: ConnectionTrait>(
    db: &C,
    schemas: &[&str],
) -> Result<Placement, CitusError> {
    let owned: Vec<String> = schemas.iter().map(|s| (*s).to_owned()).collect();
    let tables = |condition: &'static str| {
        let owned = owned.clone();
        async move {
            texts(
                db,
                &format!(
                    "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c \
                     JOIN pg_namespace n ON n.oid = c.relnamespace \
                     LEFT JOIN pg_dist_partition p ON p.logicalrelid = c.oid \
                     WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p') AND NOT c.relispartition \
                       AND {condition} ORDER BY 1"
                ),
                vec![Value::from(owned)],
            )
            .await
        }
    };
    let reference_tables = tables("p.repmodel = 't'").await?.into_iter().collect();
    let local_tables = tables("p.logicalrelid IS NULL")
        .await?
        .into_iter()
        .collect();
    let distributed_schemas = texts(
        db,
        "SELECT n.nspname::text FROM pg_dist_schema d JOIN pg_namespace n ON n.oid = d.schemaid \
         WHERE n.nspname = ANY($1) ORDER BY 1",
        vec![Value::from(owned.clone())],
    )
    .await?
    .into_iter()
    .collect();
    let recorded_exists = !texts(
        db,
        "SELECT 'yes' WHERE to_regclass('public.seaql_migrations_citus') IS NOT NULL",
        vec![],
    )
    .await?
    .is_empty();
    let mut recorded = Vec::new();
    if recorded_exists {
        let rows = db
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT object, kind, after_migration FROM public.seaql_migrations_citus \
                 ORDER BY applied_on, object",
            ))
            .await
            .map_err(|source| CitusError::Read { source })?;
        for row in rows {
            let text = |i| {
                row.try_get_by_index::<String>(i)
                    .map_err(|source| CitusError::Read { source })
            };
            if let Some(kind) = StepKind::parse(&text(1)?) {
                recorded.push(Step {
                    kind,
                    object: text(0)?,
                    after_migration: text(2)?,
                });
            }
        }
    }
    Ok(Placement {
        reference_tables,
        distributed_schemas,
        local_tables,
        recorded,
    })
}

/// What a run will do on Citus, announced by `plan` and checked before `up`
/// applies anything.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PlannedPlacement {
    pub version: String,
    /// Per pending migration (in order), the `core` tables it creates, each
    /// to become a reference table in its transaction.
    pub reference_tables: Vec<(String, Vec<String>)>,
    /// `core` tables already in the database that are not reference tables yet
    /// (a database moved onto Citus): referenced at the end of the run.
    pub unreferenced_tables: Vec<String>,
    /// App schemas to distribute at the end of the run.
    pub distributed_schemas: Vec<String>,
    /// Keys that would make distributing them fail.
    pub blockers: Vec<Blocker>,
}

impl PlannedPlacement {
    pub fn is_empty(&self) -> bool {
        self.reference_tables.is_empty()
            && self.unreferenced_tables.is_empty()
            && self.distributed_schemas.is_empty()
    }
}

/// What `plan` (the pending migrations, in order) will place on the Citus
/// cluster behind `db`, and what would block it; `None` on plain PostgreSQL.
pub async fn plan_placement<C: ConnectionTrait>(
    db: &C,
    plan: &[crate::source::plan::Planned],
    schemas: &[&str],
) -> Result<Option<PlannedPlacement>, CitusError> {
    let Some(citus) = detect(db).await? else {
        return Ok(None);
    };
    let app: Vec<&str> = schemas
        .iter()
        .copied()
        .filter(|schema| *schema != REFERENCE_SCHEMA)
        .collect();
    let scripts: Vec<(&str, Objects)> = plan
        .iter()
        .map(|planned| {
            let mut objects = Objects::default();
            for statement in &planned.script.statements {
                sql_objects::collect(&statement.sql, &mut objects);
            }
            (planned.name.as_str(), objects)
        })
        .collect();
    let reference_tables = scripts
        .iter()
        .filter_map(|(name, objects)| {
            let tables: Vec<String> = objects
                .created_tables
                .iter()
                .filter(|(schema, _)| schema == REFERENCE_SCHEMA)
                .map(|(schema, table)| format!("{schema}.{table}"))
                .collect();
            (!tables.is_empty()).then(|| ((*name).to_owned(), tables))
        })
        .collect();
    let unreferenced_tables = texts(
        db,
        "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c          JOIN pg_namespace n ON n.oid = c.relnamespace          WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition            AND NOT EXISTS (SELECT 1 FROM pg_dist_partition p                            WHERE p.logicalrelid = c.oid AND p.repmodel = 't')          ORDER BY 1",
        vec![Value::from(REFERENCE_SCHEMA)],
    )
    .await?;
    let mut distributed: BTreeSet<String> = undistributed_schemas(db, schemas)
        .await?
        .into_iter()
        .collect();
    for (_, objects) in &scripts {
        distributed.extend(
            objects
                .created_schemas
                .iter()
                .filter(|schema| app.contains(&schema.as_str()))
                .cloned(),
        );
    }
    let existing = existing_keys(db, schemas).await?;
    let owned: Vec<String> = schemas.iter().map(|s| (*s).to_owned()).collect();
    let distributed_now = texts(
        db,
        "SELECT n.nspname::text FROM pg_dist_schema d JOIN pg_namespace n ON n.oid = d.schemaid \
         WHERE n.nspname = ANY($1)",
        vec![Value::from(owned)],
    )
    .await?;
    let blockers = blockers_after(
        &existing,
        scripts.iter().map(|(name, objects)| (*name, objects)),
        &app,
        &distributed_now,
    );
    Ok(Some(PlannedPlacement {
        version: citus.version,
        reference_tables,
        unreferenced_tables,
        distributed_schemas: distributed.into_iter().collect(),
        blockers,
    }))
}

/// Whether the cluster behind `db` is Citus with something left to place
/// (a `core` table that is not a reference table, an app schema not
/// distributed): then even a run with nothing pending has work. One small
/// query on plain PostgreSQL.
pub async fn needs_placement<C: ConnectionTrait>(
    db: &C,
    schemas: &[&str],
) -> Result<bool, CitusError> {
    Ok(plan_placement(db, &[], schemas)
        .await?
        .is_some_and(|placement| !placement.is_empty()))
}

/// The end of a run on Citus: `core` tables not yet reference tables (a
/// database moved onto Citus), then every app schema not yet distributed.
pub(crate) async fn finish_run(
    db: &sea_orm::DatabaseConnection,
    schemas: &[&str],
    after_migration: &str,
) -> Result<Vec<Step>, CitusError> {
    use sea_orm::TransactionTrait;
    let read = |source| CitusError::Read { source };
    let txn = db.begin().await.map_err(read)?;
    let mut steps = reference_new_tables(&txn, after_migration).await?;
    txn.commit().await.map_err(read)?;
    let schemas = undistributed_schemas(db, schemas).await?;
    steps.extend(distribute_schemas(db, &schemas, after_migration).await?);
    Ok(steps)
}

/// How the cluster's placement differs from what the runner intends: every
/// `core` table a reference table, every existing app schema distributed
/// (with all its tables in it), and every step recorded in effect. Empty
/// when they agree; `None` on plain PostgreSQL.
pub async fn placement_drift<C: ConnectionTrait>(
    db: &C,
    schemas: &[&str],
) -> Result<Option<Vec<String>>, CitusError> {
    if detect(db).await?.is_none() {
        return Ok(None);
    }
    let placement = placement(db, schemas).await?;
    let mut drift = Vec::new();
    for table in &placement.local_tables {
        let schema = table.split('.').next().unwrap_or_default();
        if schema == REFERENCE_SCHEMA {
            drift.push(format!(
                "`{table}` should be a reference table: it is a local table on the coordinator \
                 (run `migrate` to place it)"
            ));
        } else {
            drift.push(format!(
                "`{table}` should be in distributed schema `{schema}`: it is a local table on the \
                 coordinator (run `migrate` to distribute the schema)"
            ));
        }
    }
    for schema in undistributed_schemas(db, schemas).await? {
        drift.push(format!(
            "schema `{schema}` should be distributed: it is not (run `migrate` to distribute it)"
        ));
    }
    for step in &placement.recorded {
        let in_effect = match step.kind {
            StepKind::ReferenceTable => placement.reference_tables.contains(&step.object),
            StepKind::DistributedSchema => placement.distributed_schemas.contains(&step.object),
        };
        if !in_effect {
            drift.push(format!(
                "`{}` was made a {} after `{}` (recorded in {STEPS_TABLE}) but is not one now",
                step.object,
                step.kind.describe(),
                step.after_migration
            ));
        }
    }
    let recorded: BTreeSet<&str> = placement
        .recorded
        .iter()
        .map(|s| s.object.as_str())
        .collect();
    for object in placement
        .reference_tables
        .iter()
        .chain(&placement.distributed_schemas)
        .filter(|object| !recorded.contains(object.as_str()))
    {
        drift.push(format!(
            "`{object}` is placed on Citus, but not by the runner (nothing in {STEPS_TABLE})"
        ));
    }
    Ok(Some(drift))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sql_objects::objects;

    fn table(schema: &str, name: &str) -> TableName {
        (schema.to_owned(), name.to_owned())
    }

    const APPS: [&str; 3] = ["academy", "talent", "vacancy"];

    #[test]
    fn which_keys_citus_refuses() {
        let refused = |from, to| refusal(&from, &to, &APPS).is_some();
        assert!(!refused(table("academy", "a"), table("academy", "b")));
        assert!(!refused(table("academy", "a"), table("core", "users")));
        assert!(!refused(table("core", "a"), table("core", "users")));
        assert!(refused(table("vacancy", "a"), table("talent", "profiles")));
        assert!(refused(table("core", "a"), table("academy", "courses")));
        assert!(refused(table("academy", "a"), table("public", "t")));
    }

    #[test]
    fn a_key_dropped_by_a_later_migration_does_not_block() {
        let existing = [ExistingKey {
            name: "applications_profile_id_fkey".to_owned(),
            from: table("vacancy", "applications"),
            to: table("talent", "profiles"),
        }];
        let drop = objects(
            "ALTER TABLE vacancy.applications DROP CONSTRAINT applications_profile_id_fkey",
        );
        let add = objects(
            "ALTER TABLE vacancy.offers ADD CONSTRAINT offers_skill FOREIGN KEY (skill_id) \
             REFERENCES talent.skills (id)",
        );
        assert_eq!(blockers_after(&existing, [], &APPS, &[]).len(), 1);
        assert!(blockers_after(&existing, [("m2", &drop)], &APPS, &[]).is_empty());
        let blockers = blockers_after(&existing, [("m2", &drop), ("m3", &add)], &APPS, &[]);
        assert_eq!(blockers.len(), 1);
        assert_eq!(blockers[0].migration.as_deref(), Some("m3"));
        let text = blockers[0].to_string();
        assert!(
            text.contains("`vacancy.offers` to `talent.skills`"),
            "{text}"
        );
        assert!(text.contains("core.users"), "{text}");
        // Added by a pending migration and dropped by a later one: fine.
        let add_then_drop = objects("ALTER TABLE vacancy.offers DROP CONSTRAINT offers_skill");
        assert!(blockers_after(&[], [("m3", &add), ("m4", &add_then_drop)], &APPS, &[]).is_empty());
        // Once the schemas are distributed, Citus refuses the key when m3 runs.
        let distributed = ["talent".to_owned(), "vacancy".to_owned()];
        let blockers = blockers_after(
            &[],
            [("m3", &add), ("m4", &add_then_drop)],
            &APPS,
            &distributed,
        );
        assert_eq!(blockers.len(), 1, "{blockers:?}");
        assert_eq!(blockers[0].migration.as_deref(), Some("m3"));
    }
}
