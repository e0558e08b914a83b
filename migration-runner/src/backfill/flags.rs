//! The engine's side of feature flags: it creates `public.feature_flags`
//! (with the ledger) and writes it (`flag set`); application code reads it
//! through `schema_core::flags`.

use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};
use serde::Serialize;

use super::error::BackfillError;
use crate::connect::printable;

/// One flag as stored.
#[derive(Debug, Clone, Serialize)]
pub struct FlagRow {
    pub name: String,
    pub enabled: bool,
    pub note: Option<String>,
    pub updated_at: String,
    pub updated_by: String,
}

#[derive(Debug, FromQueryResult)]
struct RawFlag {
    name: String,
    enabled: bool,
    note: Option<String>,
    updated_at: String,
    updated_by: String,
}

/// Flag names: lowercase letters, digits, `_` and `.`.
pub fn validate(name: &str) -> Result<(), BackfillError> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.');
    if ok {
        Ok(())
    } else {
        Err(BackfillError::BadFlagName {
            name: printable(name),
        })
    }
}

/// Every flag in the table (none when it does not exist yet).
pub async fn list<C: ConnectionTrait>(db: &C) -> Result<Vec<FlagRow>, BackfillError> {
    let present = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT to_regclass('public.feature_flags') IS NOT NULL",
        ))
        .await
        .map_err(|e| BackfillError::db("cannot read the feature flags", e))?
        .and_then(|r| r.try_get_by_index::<bool>(0).ok())
        .unwrap_or(false);
    if !present {
        return Ok(Vec::new());
    }
    let rows = RawFlag::find_by_statement(Statement::from_string(
        DbBackend::Postgres,
        "SELECT name, enabled, note, \
                to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS updated_at, \
                updated_by FROM public.feature_flags ORDER BY name",
    ))
    .all(db)
    .await
    .map_err(|e| BackfillError::db("cannot read the feature flags", e))?;
    Ok(rows
        .into_iter()
        .map(|r| FlagRow {
            name: printable(&r.name),
            enabled: r.enabled,
            note: r.note.map(|n| printable(&n)),
            updated_at: r.updated_at,
            updated_by: printable(&r.updated_by),
        })
        .collect())
}

/// Whether a flag is on (the same read application code does).
pub async fn is_on<C: ConnectionTrait>(db: &C, name: &str) -> Result<bool, BackfillError> {
    schema_core::flags::is_on(db, name)
        .await
        .map_err(|e| BackfillError::db(format!("cannot read the feature flag `{name}`"), e))
}

/// Turns a flag on or off (creating the tables on first use).
pub async fn set(
    db: &sea_orm::DatabaseConnection,
    name: &str,
    enabled: bool,
    note: Option<&str>,
) -> Result<(), BackfillError> {
    validate(name)?;
    super::ledger::install(db).await?;
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO public.feature_flags (name, enabled, note) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET enabled = EXCLUDED.enabled, \
             note = coalesce(EXCLUDED.note, public.feature_flags.note), \
             updated_at = now(), updated_by = current_user",
        [name.into(), enabled.into(), note.map(str::to_owned).into()],
    ))
    .await
    .map_err(|e| BackfillError::db(format!("cannot set the feature flag `{name}`"), e))?;
    Ok(())
}
