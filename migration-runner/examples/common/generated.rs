//! A generated history for the benchmarks: N migrations spread over the four
//! schemas (tables, columns, unique keys, indexes, checks), as plain SeaORM
//! migrations. Shared by `deploy_bench` and `check_bench`.

use migration_runner::{Catalog, SchemaSource};
use sea_orm_migration::prelude::*;

pub const SCHEMAS: [&str; 4] = ["core", "academy", "talent", "vacancy"];

/// One generated migration: the first per schema creates the schema; the
/// rest create a table with a unique key and an index, and every fifth also
/// alters an earlier table of the same schema.
struct Generated {
    name: String,
    schema: &'static str,
    index: usize,
}

impl MigrationName for Generated {
    fn name(&self) -> &str {
        &self.name
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Generated {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let schema = Alias::new(self.schema);
        if self.index < SCHEMAS.len() {
            let sql = format!("CREATE SCHEMA IF NOT EXISTS \"{}\"", self.schema);
            manager.get_connection().execute_unprepared(&sql).await?;
            return Ok(());
        }
        let table = Alias::new(format!("bench_{}", self.index));
        manager
            .create_table(
                Table::create()
                    .table((schema.clone(), table.clone()))
                    .col(ColumnDef::new("id").uuid().not_null().primary_key())
                    .col(ColumnDef::new("slug").text().not_null().unique_key())
                    .col(ColumnDef::new("title").text().not_null())
                    .col(ColumnDef::new("amount").integer().null())
                    .col(ColumnDef::new("status").text().not_null().default("draft"))
                    .col(
                        ColumnDef::new("created_at")
                            .timestamp_with_time_zone()
                            .not_null()
                            .default(Expr::current_timestamp()),
                    )
                    .check((
                        format!("bench_{}_status_check", self.index),
                        Expr::col("status").is_in(["draft", "open", "closed"]),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(format!("bench_{}_title_idx", self.index))
                    .table((schema.clone(), table))
                    .col("title")
                    .to_owned(),
            )
            .await?;
        if self.index.is_multiple_of(5) && self.index >= 2 * SCHEMAS.len() {
            let earlier = Alias::new(format!("bench_{}", self.index - SCHEMAS.len()));
            manager
                .alter_table(
                    Table::alter()
                        .table((schema, earlier))
                        .add_column(
                            ColumnDef::new(format!("extra_{}", self.index))
                                .text()
                                .null(),
                        )
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

pub fn generated_catalog(count: usize) -> Catalog {
    Catalog::new(generated_sources(count)).expect("a valid generated catalog")
}

pub fn generated_sources(count: usize) -> Vec<SchemaSource> {
    let base = chrono::NaiveDate::from_ymd_opt(2020, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let mut sources: Vec<SchemaSource> = SCHEMAS
        .iter()
        .map(|s| SchemaSource::new(s, s, Vec::new()))
        .collect();
    for index in 0..count {
        let schema = SCHEMAS[index % SCHEMAS.len()];
        let at = base + chrono::Duration::minutes(index as i64);
        let name = migration_name(at, schema, index);
        sources[index % SCHEMAS.len()]
            .migrations
            .push(Box::new(Generated {
                name,
                schema,
                index,
            }));
    }
    sources
}

/// `m<YYYYMMDD_HHMMSS>_<schema>_step_<index>`, its digits pushed one by one:
/// the subject builds its catalog on every run, as the binary does, and the
/// binary's names cost nothing to make (they are literals).
fn migration_name(at: chrono::NaiveDateTime, schema: &str, index: usize) -> String {
    use chrono::{Datelike as _, Timelike as _};
    fn push(name: &mut String, value: u64, width: u32, after: &str) {
        let width = Ord::max(width, value.checked_ilog10().unwrap_or(0) + 1);
        for place in (0..width).rev() {
            let digit = (value / 10u64.pow(place)) % 10;
            name.push(char::from(b'0' + digit as u8));
        }
        name.push_str(after);
    }
    let mut name = String::with_capacity(40);
    name.push('m');
    push(&mut name, at.year() as u64, 4, "");
    push(&mut name, at.month().into(), 2, "");
    push(&mut name, at.day().into(), 2, "_");
    push(&mut name, at.hour().into(), 2, "");
    push(&mut name, at.minute().into(), 2, "");
    push(&mut name, at.second().into(), 2, "_");
    name.push_str(schema);
    name.push_str("_step_");
    push(&mut name, index as u64, 5, "");
    name
}
