//! Which schemas, tables and foreign keys a script touches, and whether it
//! writes data, read from the syntax tree of squawk's PostgreSQL parser (pure
//! Rust, the parser `squawk-linter` runs on): never with regular expressions
//! or a hand tokenizer.
//!
//! The preflight needs schemas created, tables created, altered (indexed,
//! renamed, dropped) and tables referenced by foreign keys; the linter also
//! needs every schema a statement names, the relations named without a
//! schema, foreign keys as (from, to) pairs, and the statements that write
//! rows. Text the parser refuses is never a panic: it is listed in
//! [`Objects::unparsed`].
//!
//! It owns the reading of SQL text: `syntax` parses and reads names,
//! `walker` each statement's own targets, `anywhere` every name a statement
//! mentions. It depends on squawk's syntax crate only and never on the
//! engine, the linter or a schema crate: the engine (preflight, the sum
//! file, Citus, `down`, the grants reader, the backfill driver) and the
//! linter (`migration-lint`) read SQL through it.

mod anywhere;
pub mod syntax;
#[cfg(test)]
mod tests;
mod walker;

use std::collections::BTreeSet;

use walker::Walker;

/// A table as `(schema, name)`; unqualified names are taken as `public`.
pub type TableName = (String, String);

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Objects {
    pub created_schemas: BTreeSet<String>,
    pub created_tables: BTreeSet<TableName>,
    /// Tables altered, indexed, renamed, moved, given a trigger, or dropped:
    /// what needs the table's owner.
    pub altered_tables: BTreeSet<TableName>,
    /// Tables a new foreign key points at.
    pub referenced_tables: BTreeSet<TableName>,
    /// Every schema the SQL names, however (created, altered, dropped, read,
    /// referenced, indexed, commented, granted, a type's or function's
    /// schema). PostgreSQL's own schemas are left out.
    pub schemas: BTreeSet<String>,
    /// The subset of `schemas` in which something is created, altered,
    /// dropped, commented, granted, or written: reading a table or pointing a
    /// foreign key at it does not count.
    pub changed_schemas: BTreeSet<String>,
    /// Relations (tables, views, indexes, sequences) named without a schema,
    /// so resolved through `search_path`; CTE names and temporary tables
    /// are not relations of a schema and are left out.
    pub unqualified_tables: BTreeSet<String>,
    /// Foreign keys as (from table, to table).
    pub foreign_keys: BTreeSet<(TableName, TableName)>,
    /// The same foreign keys with their constraint names, when the SQL names
    /// them (an unnamed one gets PostgreSQL's generated name).
    pub named_foreign_keys: BTreeSet<ForeignKey>,
    /// Schemas dropped with `DROP SCHEMA`.
    pub dropped_schemas: BTreeSet<String>,
    /// Constraints dropped with `ALTER TABLE ... DROP CONSTRAINT`, as (table, name).
    pub dropped_constraints: BTreeSet<(TableName, String)>,
    /// Tables whose rows are written (INSERT, UPDATE, DELETE, MERGE, COPY,
    /// TRUNCATE, CREATE TABLE AS).
    pub written_tables: BTreeSet<TableName>,
    /// Whether any statement writes (or copies) data rather than structure.
    pub writes_data: bool,
    /// Whether a statement is one PostgreSQL refuses inside a transaction
    /// block: the CONCURRENTLY forms (CREATE/DROP INDEX, REINDEX, DETACH
    /// PARTITION), VACUUM, CREATE/DROP DATABASE or TABLESPACE, ALTER SYSTEM.
    pub refused_in_transaction: bool,
    /// Text the parser could not read, with its error.
    pub unparsed: Vec<Unparsed>,
}

/// A foreign key a statement adds.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ForeignKey {
    pub from: TableName,
    pub to: TableName,
    /// `CONSTRAINT <name>`, when given.
    pub name: Option<String>,
}

/// SQL the parser refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unparsed {
    pub sql: String,
    pub error: String,
}

/// What `sql` (one statement or several) touches.
pub fn objects(sql: &str) -> Objects {
    let mut objects = Objects::default();
    collect(sql, &mut objects);
    objects
}

/// Adds what `sql` (one statement or several) touches to `objects`.
pub fn collect(sql: &str, objects: &mut Objects) {
    collect_with(sql, objects, Walk::Everything);
}

/// Adds only what `sql` creates, alters, drops, and points foreign keys at
/// (the statements' own targets), skipping the walk of the whole tree for
/// every name it mentions: what the preflight needs, at a fraction of the cost.
pub fn collect_structure(sql: &str, objects: &mut Objects) {
    collect_with(sql, objects, Walk::Structure);
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Walk {
    Everything,
    Structure,
}

fn collect_with(sql: &str, objects: &mut Objects, walk: Walk) {
    let statements = match syntax::statements(sql) {
        Ok(statements) => statements,
        Err(error) => {
            objects.unparsed.push(Unparsed {
                sql: sql.to_owned(),
                error,
            });
            return;
        }
    };
    for statement in &statements {
        let mut walker = Walker::new(objects);
        walker.statement(statement);
        if walk == Walk::Everything {
            walker.names_anywhere(statement);
        }
    }
}
