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
        let name = format!("m{}_{schema}_step_{index:05}", at.format("%Y%m%d_%H%M%S"));
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
