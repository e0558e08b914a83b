//! Throwaway databases on the target's server, for replaying history
//! (`drift`) and materialising entities (`check`): created with a random
//! name, dropped afterwards whatever the outcome. A role that may not create
//! databases is told to pass `--shadow-url`; that database is emptied
//! afterwards of what the replay put there.

use sea_orm::{ConnectionTrait, DatabaseConnection};

use crate::connect::db_error::{self, Kind};
use crate::connect::{self, ConnectError, ConnectSettings, DatabaseTarget, Session};
use crate::exit::Exit;
use crate::source::catalog::CatalogError;

type Result<T, E = ScratchError> = std::result::Result<T, E>;

/// How many transactional migrations a replay sends in one transaction. One
/// transaction for a whole long history is slower than several: the catalog
/// invalidations of every DDL statement pile up until commit (500 generated
/// migrations replayed in about 505 ms as one transaction, 440 ms in
/// transactions of 20; `check_bench`).
const REPLAY_BATCH: usize = 20;

/// A database that exists for one command.
pub struct Scratch {
    pub target: DatabaseTarget,
    pub session: Session,
    /// Created here (and so dropped here), rather than given by `--shadow-url`.
    created: Option<(DatabaseConnection, String)>,
    /// Given by `--shadow-url`: the `DROP` statements of what it held before
    /// the replay; whatever else it holds afterwards is dropped, so it is
    /// left as it was given and serves the next run.
    given_with: Option<Vec<String>>,
}

impl Scratch {
    /// Creates `<label>_<random>` on the server `admin` is connected to.
    pub async fn create(
        admin: &DatabaseConnection,
        target: &DatabaseTarget,
        label: &str,
    ) -> Result<Self> {
        let name = format!("{label}_{}", random_suffix());
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .map_err(|source| {
                if db_error::kind(&source) == Kind::PermissionDenied {
                    ScratchError::ShadowRefused {
                        endpoint: target.endpoint(),
                        reason: db_error::describe(&source),
                    }
                } else {
                    ScratchError::Database {
                        context: "creating a throwaway database",
                        source,
                    }
                }
            })?;
        let scratch_target = target.with_database(&name);
        let session = match connect::open(
            &scratch_target,
            &ConnectSettings::new("migration-runner scratch"),
        )
        .await
        {
            Ok(session) => session,
            Err(err) => {
                let _ = admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\""))
                    .await;
                return Err(err.into());
            }
        };
        Ok(Self {
            target: scratch_target,
            session,
            created: Some((admin.clone(), name)),
            given_with: None,
        })
    }

    /// Uses the database at `target` (`--shadow-url`), which must hold none
    /// of `schemas`: its content would mix with the replay.
    pub async fn given(target: DatabaseTarget, schemas: &[&str]) -> Result<Self> {
        let session =
            connect::open(&target, &ConnectSettings::new("migration-runner shadow")).await?;
        let present = crate::model::SchemaModel::read(session.connection(), schemas)
            .await
            .map_err(|source| ScratchError::Database {
                context: "reading the shadow database",
                source,
            })?;
        let history = session
            .connection()
            .query_one_raw(sea_orm::Statement::from_sql_and_values(
                sea_orm::DbBackend::Postgres,
                "SELECT to_regclass($1) IS NOT NULL AS present",
                [crate::history::TABLE.into()],
            ))
            .await
            .ok()
            .flatten()
            .and_then(|row| row.try_get::<bool>("", "present").ok())
            .unwrap_or(false);
        if !present.is_empty() || history {
            return Err(ScratchError::ShadowNotEmpty {
                endpoint: target.endpoint(),
                database: target.database().unwrap_or_default().to_owned(),
            });
        }
        let given_with =
            droppable(session.connection())
                .await
                .map_err(|source| ScratchError::Database {
                    context: "reading the shadow database",
                    source,
                })?;
        Ok(Self {
            target,
            session,
            created: None,
            given_with: Some(given_with),
        })
    }

    /// Applies every migration of `catalog`, in order, to this throwaway
    /// database as fast as the server allows: the statements of up to
    /// [`REPLAY_BATCH`] consecutive transactional migrations go as one
    /// multi-statement query in one transaction (one round trip), a migration
    /// that must run outside a transaction on its own, statement by
    /// statement. No lock and no history: this is a replay to read the
    /// schemas back, not a deploy.
    pub async fn replay(&self, catalog: &crate::source::catalog::Catalog) -> Result<()> {
        let capturer = crate::source::capture::Capturer::new().await?;
        let db = self.session.connection();
        let mut batch = Vec::new();
        for migration in catalog.migrations() {
            let script = capturer
                .record(migration, crate::source::capture::Direction::Up)
                .await?;
            if migration.transactional() {
                batch.push((migration, script));
                if batch.len() < REPLAY_BATCH {
                    continue;
                }
                self.flush(std::mem::take(&mut batch)).await?;
                continue;
            }
            self.flush(std::mem::take(&mut batch)).await?;
            for (index, statement) in script.statements.iter().enumerate() {
                db.execute_raw(statement.clone())
                    .await
                    .map_err(|source| ReplayError::new(migration, index, statement, source))?;
            }
        }
        self.flush(batch).await
    }

    /// Runs a batch of transactional migrations in one transaction, one
    /// round trip. When it fails, the server does not say which statement
    /// did: the batch is run again statement by statement, in a transaction
    /// rolled back afterwards, to name it.
    async fn flush(
        &self,
        batch: Vec<(
            &crate::source::catalog::Migration,
            crate::source::capture::Script,
        )>,
    ) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let db = self.session.connection();
        let mut sql = String::from("BEGIN;\n");
        for (_, script) in &batch {
            for line in script.sql_lines() {
                sql.push_str(&line);
                sql.push('\n');
            }
        }
        sql.push_str("COMMIT;");
        let Err(source) = db.execute_unprepared(&sql).await else {
            return Ok(());
        };
        // The failed multi-statement query leaves its transaction open and aborted.
        let _ = db.execute_unprepared("ROLLBACK").await;
        let located = async {
            db.execute_unprepared("BEGIN").await.ok()?;
            for (migration, script) in &batch {
                for (index, statement) in script.statements.iter().enumerate() {
                    if let Err(source) = db.execute_raw(statement.clone()).await {
                        return Some(ReplayError::new(migration, index, statement, source));
                    }
                }
            }
            None
        }
        .await;
        let _ = db.execute_unprepared("ROLLBACK").await;
        Err(match located {
            Some(failed) => failed.into(),
            None => ScratchError::Database {
                context: "replaying the migrations into a throwaway database",
                source,
            },
        })
    }

    /// Drops the database if it was created here; empties a given one of
    /// what the command put there.
    pub async fn dispose(self) {
        let _ = self.finish().await;
    }

    /// [`Scratch::dispose`], saying when a given database could not be emptied.
    pub async fn finish(self) -> Result<()> {
        let emptied = match &self.given_with {
            Some(before) => self.empty(before).await,
            None => Ok(()),
        };
        let _ = self.session.close().await;
        if let Some((admin, name)) = self.created {
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await;
        }
        emptied
    }

    /// Drops, in one transaction, what the database holds that it did not hold `before`.
    async fn empty(&self, before: &[String]) -> Result<()> {
        let failed = |source| ScratchError::Database {
            context: "emptying the shadow database after the replay (drop what the replay created by hand)",
            source,
        };
        let db = self.session.connection();
        let added: Vec<String> = droppable(db)
            .await
            .map_err(failed)?
            .into_iter()
            .filter(|drop| !before.contains(drop))
            .collect();
        if added.is_empty() {
            return Ok(());
        }
        if let Err(source) = db
            .execute_unprepared(&format!("BEGIN; {}; COMMIT", added.join("; ")))
            .await
        {
            let _ = db.execute_unprepared("ROLLBACK").await;
            return Err(failed(source));
        }
        Ok(())
    }
}

/// A `DROP ... IF EXISTS ... CASCADE` for every schema and extension the
/// database holds, and every table, sequence, view, routine and type in its
/// schemas (`public` included, and a schema that was there before the
/// replay): what a replay can create. Ordered so that each may run after
/// the ones before it dropped it with their dependents (`IF EXISTS`).
async fn droppable(db: &DatabaseConnection) -> std::result::Result<Vec<String>, sea_orm::DbErr> {
    const SQL: &str = r#"
        WITH user_schemas AS (
          SELECT oid FROM pg_namespace WHERE nspname NOT LIKE 'pg\_%' AND nspname <> 'information_schema'
        )
        SELECT statement FROM (
          SELECT 1 AS rank, format('DROP EXTENSION IF EXISTS %I CASCADE', extname) AS statement
            FROM pg_extension WHERE extname <> 'plpgsql'
          UNION ALL
          SELECT 2, format('DROP SCHEMA IF EXISTS %I CASCADE', nspname) FROM pg_namespace
           WHERE nspname NOT LIKE 'pg\_%' AND nspname NOT IN ('information_schema', 'public')
          UNION ALL
          SELECT 3, format('DROP %s IF EXISTS %s CASCADE',
                           CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                                          WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE'
                                          ELSE 'TABLE' END,
                           c.oid::regclass)
            FROM pg_class c
           WHERE c.relnamespace IN (SELECT oid FROM user_schemas) AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('e', 'a', 'i'))
          UNION ALL
          SELECT 4, format('DROP ROUTINE IF EXISTS %s CASCADE', p.oid::regprocedure) FROM pg_proc p
           WHERE p.pronamespace IN (SELECT oid FROM user_schemas)
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
          UNION ALL
          SELECT 5, format('DROP TYPE IF EXISTS %s CASCADE', t.oid::regtype) FROM pg_type t
           WHERE t.typnamespace IN (SELECT oid FROM user_schemas) AND t.typtype IN ('e', 'd', 'r', 'm')
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = t.oid AND d.deptype = 'e')
        ) objects
        ORDER BY rank, statement"#;
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            SQL,
        ))
        .await?;
    rows.iter()
        .map(|row| row.try_get::<String>("", "statement"))
        .collect()
}

/// What can go wrong with a throwaway database: creating or emptying it,
/// connecting to it, recording the history, replaying it.
#[derive(Debug, thiserror::Error)]
pub enum ScratchError {
    #[error(
        "the connected role may not create the throwaway database this command replays history into \
         (on {endpoint}: {reason}); grant it CREATEDB, or pass `--shadow-url` with an empty database"
    )]
    ShadowRefused { endpoint: String, reason: String },

    #[error(
        "the shadow database `{database}` on {endpoint} is not empty (it has tables of the owned schemas, \
         or a history table); give `--shadow-url` an empty database: replaying into it must not mix"
    )]
    ShadowNotEmpty { endpoint: String, database: String },

    #[error(transparent)]
    Replay(#[from] ReplayError),

    #[error(transparent)]
    Connect(#[from] ConnectError),

    #[error(transparent)]
    Catalog(#[from] CatalogError),

    #[error("{context}: {}", db_error::describe(.source))]
    Database {
        context: &'static str,
        #[source]
        source: sea_orm::DbErr,
    },
}

impl ScratchError {
    /// The process exit code: a throwaway database the role may not have, a
    /// shadow database that is not empty, and a history that does not replay
    /// are refusals; the rest as their causes say.
    pub fn exit(&self) -> Exit {
        match self {
            ScratchError::ShadowRefused { .. }
            | ScratchError::ShadowNotEmpty { .. }
            | ScratchError::Replay(_) => Exit::Refused,
            ScratchError::Connect(err) => err.exit(),
            ScratchError::Catalog(err) => err.exit(),
            ScratchError::Database { source, .. } => db_error::exit(source),
        }
    }
}

/// A migration's statement failed while history was replayed into a
/// throwaway database (a deploy would fail the same way).
#[derive(Debug, thiserror::Error)]
#[error(
    "migration `{name}` (crate `{schema}`) fails when the history is replayed into a throwaway database, at \
     statement {}: {}\n  statement: {statement}\n  fix the migration (a deploy would fail the same way)",
    .statement_index + 1,
    db_error::describe(.source)
)]
pub struct ReplayError {
    pub name: String,
    pub schema: String,
    /// 0-based, in the migration's recorded script.
    pub statement_index: usize,
    pub statement: String,
    #[source]
    pub source: sea_orm::DbErr,
}

impl ReplayError {
    fn new(
        migration: &crate::source::catalog::Migration,
        statement_index: usize,
        statement: &sea_orm::Statement,
        source: sea_orm::DbErr,
    ) -> Self {
        Self {
            name: migration.name.clone(),
            schema: migration.schema.to_owned(),
            statement_index,
            statement: statement.to_string(),
            source,
        }
    }
}

fn random_suffix() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    format!("{:016x}", hasher.finish())
}
