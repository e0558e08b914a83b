//! Feature flags, read by application code: a small typed API over the
//! flags table `public.feature_flags` that the engine creates and writes
//! (`migration-runner flag set <name> on|off`). A flag that was never set,
//! or a database without the table, reads as off.
//!
//! ```no_run
//! # async fn f(db: &sea_orm::DatabaseConnection) -> Result<(), sea_orm::DbErr> {
//! use schema_core::flags::Flag;
//!
//! const NEW_CHECKOUT: Flag = Flag::new("new_checkout");
//! if NEW_CHECKOUT.is_on(db).await? {
//!     // the new code path
//! }
//! # Ok(())
//! # }
//! ```

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

/// The flags table, in `public` because no schema crate owns it.
pub const TABLE: &str = "public.feature_flags";

/// A named flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flag {
    pub name: &'static str,
}

impl Flag {
    pub const fn new(name: &'static str) -> Self {
        Self { name }
    }

    /// Whether the flag is on (absent flags and an absent table read as off).
    pub async fn is_on<C: ConnectionTrait>(&self, db: &C) -> Result<bool, DbErr> {
        is_on(db, self.name).await
    }
}

/// Whether the flag `name` is on; see [`Flag::is_on`].
pub async fn is_on<C: ConnectionTrait>(db: &C, name: &str) -> Result<bool, DbErr> {
    let present = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT to_regclass('public.feature_flags') IS NOT NULL",
        ))
        .await?
        .map(|row| row.try_get_by_index::<bool>(0))
        .transpose()?
        .unwrap_or(false);
    if !present {
        return Ok(false);
    }
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT enabled FROM public.feature_flags WHERE name = $1",
            [name.into()],
        ))
        .await?;
    Ok(match row {
        Some(row) => row.try_get_by_index::<bool>(0)?,
        None => false,
    })
}
