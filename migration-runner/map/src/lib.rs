//! The schema map: the database as its teams see it. It owns the
//! `schema-map/1` document ([`document`]: schemas with owners, pending
//! migrations, drift and backfills; tables with columns, indexes and
//! constraints; foreign keys, those between schemas and those Citus would
//! refuse; runtime roles and their grants) and its renderings: one
//! self-contained HTML page ([`html`], the vendored Cytoscape.js and fcose
//! layout pasted in at build time, nothing fetched when it opens), Mermaid
//! and Graphviz dot ([`text`]), and `docs/SCHEMA.md` ([`markdown`]).
//!
//! It depends only on serde: the engine builds the document from the
//! database (or a replay of the history) and never the other way round.

pub mod document;
pub mod html;
pub mod markdown;
pub mod text;

pub use document::{
    Backfill, Column, Constraint, ForeignKey, Grant, Index, MapDocument, Role, Schema, Table,
};
