//! Throwaway databases on the target's server, for replaying history
//! (`drift`) and materialising entities (`check`): created with a random
//! name, dropped afterwards whatever the outcome. A role that may not create
//! databases is told to pass `--shadow-url`.

use sea_orm::{ConnectionTrait, DatabaseConnection};

use crate::connect::{self, ConnectSettings, DatabaseTarget, Session};
use crate::db_error::{self, Kind};
use crate::error::{MigrateError, Result, VerifyError};

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
                    VerifyError::ShadowRefused {
                        endpoint: target.endpoint(),
                        reason: db_error::describe(&source),
                    }
                    .into()
                } else {
                    MigrateError::Database {
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
        })
    }

    /// Uses the database at `target` (`--shadow-url`), which must hold none
    /// of `schemas`: its content would mix with the replay.
    pub async fn given(target: DatabaseTarget, schemas: &[&str]) -> Result<Self> {
        let session =
            connect::open(&target, &ConnectSettings::new("migration-runner shadow")).await?;
        let present = crate::schema_model::SchemaModel::read(
            session.connection(),
            schemas,
            crate::schema_model::Detail::Full,
        )
        .await
        .map_err(|source| MigrateError::Database {
            context: "reading the shadow database",
            source,
        })?;
        let history = session
            .connection()
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                "SELECT to_regclass('public.seaql_migrations') IS NOT NULL AS present",
            ))
            .await
            .ok()
            .flatten()
            .and_then(|row| row.try_get::<bool>("", "present").ok())
            .unwrap_or(false);
        if !present.facts.is_empty() || history {
            return Err(VerifyError::ShadowNotEmpty {
                endpoint: target.endpoint(),
                database: target.database().unwrap_or_default().to_owned(),
            }
            .into());
        }
        Ok(Self {
            target,
            session,
            created: None,
        })
    }

    /// Applies every migration of `catalog`, in order, to this throwaway
    /// database as fast as the server allows: the statements of up to
    /// [`REPLAY_BATCH`] consecutive transactional migrations go as one
    /// multi-statement query in one transaction (one round trip), a migration
    /// that must run outside a transaction on its own, statement by
    /// statement. No lock and no history: this is a replay to read the
    /// schemas back, not a deploy.
    pub async fn replay(&self, catalog: &crate::catalog::Catalog) -> Result<()> {
        let capturer = crate::capture::Capturer::new().await?;
        let db = self.session.connection();
        let failed = |name: &str, source| MigrateError::Database {
            context: if name.is_empty() {
                "replaying the migrations into a throwaway database"
            } else {
                "replaying a non-transactional migration into a throwaway database"
            },
            source,
        };
        let flush = |batch: String| async move {
            if batch.is_empty() {
                return Ok(());
            }
            db.execute_unprepared(&format!("BEGIN;\n{batch}COMMIT;"))
                .await
                .map(drop)
                .map_err(|source| failed("", source))
        };
        let mut batch = String::new();
        let mut batched = 0;
        for migration in catalog.migrations() {
            let script = capturer
                .record(migration, crate::capture::Direction::Up)
                .await?;
            if migration.transactional() {
                for line in script.sql_lines() {
                    batch.push_str(&line);
                    batch.push('\n');
                }
                batched += 1;
                if batched < REPLAY_BATCH {
                    continue;
                }
            }
            flush(std::mem::take(&mut batch)).await?;
            batched = 0;
            if !migration.transactional() {
                for statement in &script.statements {
                    db.execute_raw(statement.clone())
                        .await
                        .map_err(|source| failed(&migration.name, source))?;
                }
            }
        }
        flush(batch).await
    }

    /// Drops the database if it was created here.
    pub async fn dispose(self) {
        let _ = self.session.close().await;
        if let Some((admin, name)) = self.created {
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await;
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
