//! Recording a migration's SQL without a server: its `up` or `down` runs
//! against a proxy connection that keeps every statement and answers nothing.
//! The recorded script is what `plan` shows, what the checksum covers, and
//! exactly what `up` and `down` send to the database.

use std::sync::{Arc, Mutex, PoisonError};

use sea_orm::{
    Database, DatabaseConnection, DbBackend, DbErr, ProxyDatabaseTrait, ProxyExecResult, ProxyRow,
    Statement,
};
use sea_orm_migration::SchemaManager;

use crate::source::catalog::CatalogError;
use crate::source::catalog::Migration;
use crate::source::sum::{SumEntry, SumFile};

type Result<T, E = CatalogError> = std::result::Result<T, E>;

pub use crate::source::script::{Direction, Script};

#[derive(Debug, Default)]
struct Recording {
    statements: Vec<Statement>,
    reads: Vec<String>,
}

#[derive(Debug, Default)]
struct Recorder(Mutex<Recording>);

impl Recorder {
    fn take(&self) -> Recording {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

#[async_trait::async_trait]
impl ProxyDatabaseTrait for Recorder {
    async fn query(&self, statement: Statement) -> Result<Vec<ProxyRow>, DbErr> {
        let mut recording = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        recording.reads.push(statement.to_string());
        Ok(Vec::new())
    }

    async fn execute(&self, statement: Statement) -> Result<ProxyExecResult, DbErr> {
        let mut recording = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        recording.statements.push(statement);
        Ok(ProxyExecResult::default())
    }
}

/// One code migration's `up`, recorded once, with its checksum; or why it
/// cannot be recorded.
pub(crate) type RecordedUp = std::result::Result<(Script, String), String>;

/// Records migrations' scripts. One recorder serves many migrations in turn.
pub struct Capturer {
    recorder: Arc<Recorder>,
    connection: DatabaseConnection,
    /// Every code migration's `up` recorded once, by name in catalog order:
    /// computed once per process, whatever the commands ask of it.
    ups: std::sync::OnceLock<Vec<(String, RecordedUp)>>,
}

impl Capturer {
    pub async fn new() -> Result<Self> {
        let recorder = Arc::new(Recorder::default());
        let proxy: Arc<Box<dyn ProxyDatabaseTrait>> =
            Arc::new(Box::new(SharedRecorder(recorder.clone())));
        let connection = Database::connect_proxy(DbBackend::Postgres, proxy)
            .await
            .expect("a proxy connection has no server to fail on");
        Ok(Self {
            recorder,
            connection,
            ups: std::sync::OnceLock::new(),
        })
    }

    /// The remembered first recordings of `names` (in that order), if these
    /// are the migrations they were made for.
    pub(crate) fn remembered_ups<'a>(
        &self,
        names: impl ExactSizeIterator<Item = &'a str>,
    ) -> Option<&[(String, RecordedUp)]> {
        let ups = self.ups.get()?;
        let same = ups.len() == names.len() && ups.iter().zip(names).all(|((n, _), m)| n == m);
        same.then_some(ups.as_slice())
    }

    /// Remembers the first recordings (the first call wins).
    pub(crate) fn remember_ups(&self, ups: Vec<(String, RecordedUp)>) -> &[(String, RecordedUp)] {
        self.ups.get_or_init(|| ups).as_slice()
    }

    /// Records one step once. Refuses a migration that reads the database,
    /// since its SQL could differ on a real server.
    pub async fn record(&self, migration: &Migration, direction: Direction) -> Result<Script> {
        self.recorder.take();
        let manager = SchemaManager::new(&self.connection);
        let outcome = match direction {
            Direction::Up => migration.inner.up(&manager).await,
            Direction::Down => migration.inner.down(&manager).await,
        };
        let recording = self.recorder.take();
        // A read comes first: its empty answer may be why the step failed.
        if let Some(read) = recording.reads.first() {
            return Err(CatalogError::NonDeterministic {
                name: migration.name.clone(),
                krate: migration.schema.to_owned(),
                problem: format!(
                    "reads the database in its `{}` step (`{read}`)",
                    direction.as_str()
                ),
            });
        }
        outcome.map_err(|source| CatalogError::Capture {
            name: migration.name.clone(),
            krate: migration.schema.to_owned(),
            direction: direction.as_str(),
            source,
        })?;
        Ok(Script {
            statements: recording.statements,
        })
    }

    /// Records a step twice and refuses it when the two runs differ.
    pub async fn record_verified(
        &self,
        migration: &Migration,
        direction: Direction,
    ) -> Result<Script> {
        let first = self.record(migration, direction).await?;
        self.record_again(migration, direction, &first).await?;
        Ok(first)
    }

    /// Records a step once more and refuses it when it differs from `first`:
    /// the second half of [`Capturer::record_verified`], for a first
    /// recording made earlier.
    pub async fn record_again(
        &self,
        migration: &Migration,
        direction: Direction,
        first: &Script,
    ) -> Result<()> {
        let second = self.record(migration, direction).await?;
        if first.statements != second.statements && first.checksum() != second.checksum() {
            let differing = first
                .sql_lines()
                .zip(second.sql_lines())
                .find(|(a, b)| a != b)
                .map(|(a, b)| format!(" (`{a}` then `{b}`)"))
                .unwrap_or_default();
            return Err(CatalogError::NonDeterministic {
                name: migration.name.clone(),
                krate: migration.schema.to_owned(),
                problem: format!(
                    "emits different SQL from one run to the next in its `{}` step{differing}",
                    direction.as_str()
                ),
            });
        }
        Ok(())
    }
}

/// `connect_proxy` wants a `Box<dyn ProxyDatabaseTrait>`; this lets the
/// capturer keep its own handle on the same recorder.
#[derive(Debug)]
struct SharedRecorder(Arc<Recorder>);

#[async_trait::async_trait]
impl ProxyDatabaseTrait for SharedRecorder {
    async fn query(&self, statement: Statement) -> Result<Vec<ProxyRow>, DbErr> {
        self.0.query(statement).await
    }

    async fn execute(&self, statement: Statement) -> Result<ProxyExecResult, DbErr> {
        self.0.execute(statement).await
    }
}

/// Every migration of the catalog as the sum file lists it (recorded here,
/// above the sum file's format).
pub async fn sum_file(catalog: &crate::source::catalog::Catalog) -> Result<SumFile> {
    let capturer = Capturer::new().await?;
    let mut entries = Vec::with_capacity(catalog.migrations().len());
    for migration in catalog.migrations() {
        let script = capturer.record(migration, Direction::Up).await?;
        entries.push(SumEntry::of(&migration.name, migration.schema, &script));
    }
    Ok(SumFile::new(entries))
}
