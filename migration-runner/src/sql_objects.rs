//! Which schemas, tables and foreign keys a script touches, and whether it
//! writes data, read with PostgreSQL's own parser (`pg_query`, which embeds
//! the server's grammar): never with regular expressions or a hand tokenizer.
//!
//! The preflight needs schemas created, tables created, altered (indexed,
//! renamed, dropped) and tables referenced by foreign keys; the linter also
//! needs every schema a statement names, the relations named without a
//! schema, foreign keys as (from, to) pairs, and the statements that write
//! rows. Text the parser refuses is never a panic: it is listed in
//! [`Objects::unparsed`].

use std::collections::{BTreeSet, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};

use pg_query::protobuf::{self, AlterTableType, ConstrType, GrantTargetType, ObjectType, RangeVar};
use pg_query::{Node, NodeEnum};
use serde_json::Value;

/// A table as `(schema, name)`; unqualified names are taken as `public`.
pub type TableName = (String, String);

/// Schemas that belong to PostgreSQL itself: the parser writes `integer` as
/// `pg_catalog.int4`, so naming them says nothing about ownership.
const SYSTEM_SCHEMAS: [&str; 3] = ["pg_catalog", "information_schema", "pg_toast"];

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

/// SQL that `pg_query` refused.
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
    // The parser's result builder indexes into lists it expects non-empty;
    // whatever happens inside, a migration's text must never crash the runner.
    let parsed = catch_unwind(AssertUnwindSafe(|| pg_query::parse(sql, 0)));
    let parsed = match parsed {
        Ok(Ok(parsed)) => parsed,
        Ok(Err(error)) => {
            objects.unparsed.push(Unparsed {
                sql: sql.to_owned(),
                error: error.to_string(),
            });
            return;
        }
        Err(_) => {
            objects.unparsed.push(Unparsed {
                sql: sql.to_owned(),
                error: "the parser failed on this text".to_owned(),
            });
            return;
        }
    };
    for raw in &parsed.protobuf.stmts {
        if let Some(node) = raw.stmt.as_deref().and_then(|n| n.node.as_ref()) {
            let mut walker = Walker {
                objects,
                default_schema: None,
            };
            walker.statement(node);
            if walk == Walk::Everything {
                walker.names_anywhere(node);
            }
        }
    }
}

struct Walker<'a> {
    objects: &'a mut Objects,
    /// Inside `CREATE SCHEMA s CREATE TABLE t ...`, unqualified names are in `s`.
    default_schema: Option<String>,
}

impl Walker<'_> {
    /// The statement's own target: what it creates, alters, drops or writes.
    fn statement(&mut self, node: &NodeEnum) {
        match node {
            NodeEnum::CreateSchemaStmt(s) => {
                self.objects.created_schemas.insert(s.schemaname.clone());
                self.changed_schema(&s.schemaname);
                let outer = self.default_schema.replace(s.schemaname.clone());
                for element in &s.schema_elts {
                    if let Some(element) = &element.node {
                        self.statement(element);
                    }
                }
                self.default_schema = outer;
            }
            NodeEnum::CreateStmt(s) => {
                let Some(table) = self.changed_relation(s.relation.as_ref()) else {
                    return;
                };
                self.objects.created_tables.insert(table.clone());
                for element in s.table_elts.iter().chain(&s.constraints) {
                    self.foreign_keys(&table, element);
                }
                // INHERITS and PARTITION OF change their parent too.
                for parent in &s.inh_relations {
                    if let Some(NodeEnum::RangeVar(parent)) = &parent.node
                        && let Some(parent) = self.changed_relation(Some(parent))
                    {
                        self.objects.altered_tables.insert(parent);
                    }
                }
            }
            NodeEnum::CreateTableAsStmt(s) => {
                if let Some(into) = &s.into
                    && let Some(table) = self.changed_relation(into.rel.as_ref())
                {
                    let is_table = s.objtype == ObjectType::ObjectTable as i32;
                    if is_table {
                        self.objects.created_tables.insert(table.clone());
                    }
                    if is_table && !into.skip_data {
                        self.write(table);
                    }
                }
            }
            NodeEnum::AlterTableStmt(s) => {
                let Some(relation) = self.changed_relation(s.relation.as_ref()) else {
                    return;
                };
                let is_table = [ObjectType::ObjectTable, ObjectType::ObjectForeignTable]
                    .iter()
                    .any(|kind| s.objtype == *kind as i32);
                if !is_table {
                    return;
                }
                self.objects.altered_tables.insert(relation.clone());
                for command in &s.cmds {
                    let Some(NodeEnum::AlterTableCmd(command)) = &command.node else {
                        continue;
                    };
                    if command.subtype == AlterTableType::AtDropConstraint as i32 {
                        self.objects
                            .dropped_constraints
                            .insert((relation.clone(), command.name.clone()));
                    }
                    let Some(def) = command.def.as_deref() else {
                        continue;
                    };
                    if command.subtype == AlterTableType::AtAddConstraint as i32
                        || command.subtype == AlterTableType::AtAddColumn as i32
                    {
                        self.foreign_keys(&relation, def);
                    } else if let Some(NodeEnum::PartitionCmd(partition)) = &def.node {
                        self.objects.refused_in_transaction |= partition.concurrent
                            && command.subtype == AlterTableType::AtDetachPartition as i32;
                        if let Some(partition) = self.changed_relation(partition.name.as_ref()) {
                            self.objects.altered_tables.insert(partition);
                        }
                    }
                }
            }
            NodeEnum::IndexStmt(s) => {
                self.objects.refused_in_transaction |= s.concurrent;
                if let Some(table) = self.changed_relation(s.relation.as_ref()) {
                    self.objects.altered_tables.insert(table);
                }
            }
            NodeEnum::CreateTrigStmt(s) => {
                if let Some(table) = self.changed_relation(s.relation.as_ref()) {
                    self.objects.altered_tables.insert(table);
                }
            }
            NodeEnum::RuleStmt(s) => {
                if let Some(table) = self.changed_relation(s.relation.as_ref()) {
                    self.objects.altered_tables.insert(table);
                }
            }
            NodeEnum::ViewStmt(s) => {
                self.changed_relation(s.view.as_ref());
            }
            NodeEnum::CreateSeqStmt(s) => {
                self.changed_relation(s.sequence.as_ref());
            }
            NodeEnum::AlterSeqStmt(s) => {
                self.changed_relation(s.sequence.as_ref());
            }
            NodeEnum::DropStmt(s) => {
                self.objects.refused_in_transaction |= s.concurrent;
                self.drop(s);
            }
            NodeEnum::ReindexStmt(s) => {
                self.objects.refused_in_transaction |= s.params.iter().any(|param| {
                    matches!(&param.node, Some(NodeEnum::DefElem(option)) if option.defname == "concurrently")
                });
                if let Some(relation) = self.changed_relation(s.relation.as_ref()) {
                    self.objects.altered_tables.insert(relation);
                }
            }
            NodeEnum::VacuumStmt(s) => {
                self.objects.refused_in_transaction |= s.is_vacuumcmd;
            }
            NodeEnum::CreatedbStmt(_)
            | NodeEnum::DropdbStmt(_)
            | NodeEnum::CreateTableSpaceStmt(_)
            | NodeEnum::DropTableSpaceStmt(_)
            | NodeEnum::AlterSystemStmt(_) => {
                self.objects.refused_in_transaction = true;
            }
            NodeEnum::RenameStmt(s) => {
                if s.rename_type == ObjectType::ObjectSchema as i32 {
                    self.changed_schema(&s.subname);
                    self.changed_schema(&s.newname);
                } else if let Some(relation) = self.changed_relation(s.relation.as_ref()) {
                    if is_table_like(s.relation_type) || is_table_like(s.rename_type) {
                        self.objects.altered_tables.insert(relation);
                    }
                } else if let Some(object) = s.object.as_deref() {
                    self.changed_object(s.rename_type, object);
                }
            }
            NodeEnum::AlterObjectSchemaStmt(s) => {
                if let Some(relation) = self.changed_relation(s.relation.as_ref()) {
                    if is_table_like(s.object_type) {
                        self.objects.altered_tables.insert(relation);
                    }
                } else if let Some(object) = s.object.as_deref() {
                    self.changed_object(s.object_type, object);
                }
                self.changed_schema(&s.newschema);
            }
            NodeEnum::CommentStmt(s) => {
                if let Some(object) = s.object.as_deref() {
                    self.changed_object(s.objtype, object);
                }
            }
            NodeEnum::GrantStmt(s) => self.grant(s),
            NodeEnum::AlterDefaultPrivilegesStmt(s) => {
                for option in &s.options {
                    if let Some(NodeEnum::DefElem(option)) = &option.node
                        && option.defname == "schemas"
                        && let Some(NodeEnum::List(list)) =
                            option.arg.as_deref().and_then(|a| a.node.as_ref())
                    {
                        for schema in strings(&list.items) {
                            self.changed_schema(&schema);
                        }
                    }
                }
            }
            NodeEnum::CreateFunctionStmt(s) => self.changed_name(&strings(&s.funcname)),
            NodeEnum::DefineStmt(s) => self.changed_name(&strings(&s.defnames)),
            NodeEnum::CreateEnumStmt(s) => self.changed_name(&strings(&s.type_name)),
            NodeEnum::AlterEnumStmt(s) => self.changed_name(&strings(&s.type_name)),
            NodeEnum::CreateDomainStmt(s) => self.changed_name(&strings(&s.domainname)),
            NodeEnum::AlterDomainStmt(s) => self.changed_name(&strings(&s.type_name)),
            NodeEnum::CompositeTypeStmt(s) => {
                self.changed_relation(s.typevar.as_ref());
            }
            NodeEnum::CreateExtensionStmt(s) => {
                for option in &s.options {
                    if let Some(NodeEnum::DefElem(option)) = &option.node
                        && option.defname == "schema"
                        && let Some(NodeEnum::String(schema)) =
                            option.arg.as_deref().and_then(|a| a.node.as_ref())
                    {
                        self.changed_schema(&schema.sval);
                    }
                }
            }
            NodeEnum::InsertStmt(s) => self.write_relation(s.relation.as_ref()),
            NodeEnum::UpdateStmt(s) => self.write_relation(s.relation.as_ref()),
            NodeEnum::DeleteStmt(s) => self.write_relation(s.relation.as_ref()),
            NodeEnum::MergeStmt(s) => self.write_relation(s.relation.as_ref()),
            NodeEnum::CopyStmt(s) => {
                // Either direction: a structural migration has no business moving rows.
                self.objects.writes_data = true;
                if s.is_from {
                    self.write_relation(s.relation.as_ref());
                }
            }
            NodeEnum::TruncateStmt(s) => {
                for relation in &s.relations {
                    if let Some(NodeEnum::RangeVar(relation)) = &relation.node {
                        self.write_relation(Some(relation));
                    }
                }
            }
            // Data-modifying CTEs (`WITH d AS (DELETE ...) SELECT ...`) are
            // found by `names_anywhere`; everything else names no object of
            // its own beyond what that walk finds.
            _ => {}
        }
    }

    fn drop(&mut self, s: &protobuf::DropStmt) {
        for object in &s.objects {
            let Some(node) = &object.node else { continue };
            if s.remove_type == ObjectType::ObjectSchema as i32 {
                if let NodeEnum::String(schema) = node {
                    self.changed_schema(&schema.sval);
                    self.objects.dropped_schemas.insert(schema.sval.clone());
                }
                continue;
            }
            let NodeEnum::List(list) = node else {
                // Functions (ObjectWithArgs), types (TypeName): their names
                // are found by `names_anywhere`; mark the schema changed here.
                self.changed_object(s.remove_type, object);
                continue;
            };
            let name = strings(&list.items);
            if is_relation(s.remove_type) {
                let table = self.qualify_name(&name);
                if s.remove_type == ObjectType::ObjectTable as i32
                    && let Some(table) = table
                {
                    self.objects.altered_tables.insert(table);
                }
            } else {
                self.changed_object(s.remove_type, object);
            }
        }
    }

    fn grant(&mut self, s: &protobuf::GrantStmt) {
        let on_schemas = s.targtype == GrantTargetType::AclTargetAllInSchema as i32
            || s.objtype == ObjectType::ObjectSchema as i32;
        for object in &s.objects {
            match &object.node {
                Some(NodeEnum::String(schema)) if on_schemas => self.changed_schema(&schema.sval),
                Some(NodeEnum::RangeVar(relation)) => {
                    self.changed_relation(Some(relation));
                }
                Some(_) => self.changed_object(s.objtype, object),
                None => {}
            }
        }
    }

    /// The foreign keys a table element (column or constraint) declares.
    fn foreign_keys(&mut self, from: &TableName, element: &Node) {
        let constraints: Vec<&Node> = match &element.node {
            Some(NodeEnum::ColumnDef(column)) => column.constraints.iter().collect(),
            Some(NodeEnum::Constraint(_)) => vec![element],
            _ => Vec::new(),
        };
        for constraint in constraints {
            if let Some(NodeEnum::Constraint(constraint)) = &constraint.node
                && constraint.contype == ConstrType::ConstrForeign as i32
                && let Some(to) = constraint.pktable.as_ref().and_then(|t| self.qualify(t))
            {
                self.objects.referenced_tables.insert(to.clone());
                self.objects.named_foreign_keys.insert(ForeignKey {
                    from: from.clone(),
                    to: to.clone(),
                    name: Some(constraint.conname.clone()).filter(|name| !name.is_empty()),
                });
                self.objects.foreign_keys.insert((from.clone(), to));
            }
        }
    }

    fn write_relation(&mut self, relation: Option<&RangeVar>) {
        self.objects.writes_data = true;
        if let Some(table) = self.changed_relation(relation) {
            self.write(table);
        }
    }

    fn write(&mut self, table: TableName) {
        self.objects.writes_data = true;
        self.objects.written_tables.insert(table);
    }

    /// A relation the statement changes: its schema is changed. `None` for
    /// a temporary relation, which lives in no schema of the database's.
    fn changed_relation(&mut self, relation: Option<&RangeVar>) -> Option<TableName> {
        let relation = relation?;
        let table = self.qualify(relation)?;
        // An unqualified name names no schema (it is listed as unqualified).
        if !relation.schemaname.is_empty() || self.default_schema.is_some() {
            self.changed_schema(&table.0.clone());
        }
        Some(table)
    }

    /// An object named by a qualified-name list (or `ObjectWithArgs`,
    /// `TypeName`): its schema, when it has one, is changed.
    fn changed_object(&mut self, kind: i32, object: &Node) {
        let name = match &object.node {
            Some(NodeEnum::List(list)) => strings(&list.items),
            Some(NodeEnum::ObjectWithArgs(function)) => strings(&function.objname),
            Some(NodeEnum::TypeName(type_name)) => strings(&type_name.names),
            Some(NodeEnum::String(name)) if kind == ObjectType::ObjectSchema as i32 => {
                self.changed_schema(&name.sval);
                return;
            }
            _ => return,
        };
        // Columns, constraints, triggers, rules and policies are named after
        // their table: `schema.table.column`, or `table.column` unqualified.
        let qualified_parts = if is_table_member(kind) { 3 } else { 2 };
        if name.len() >= qualified_parts {
            self.changed_schema(&name[0]);
        } else if ((is_table_member(kind) && name.len() == 2) || is_relation(kind))
            && let Some(table) = name.first()
        {
            self.unqualified(table);
        }
    }

    /// A function's, type's or domain's name: `schema.name` changes `schema`.
    fn changed_name(&mut self, name: &[String]) {
        if name.len() >= 2 {
            self.changed_schema(&name[name.len() - 2]);
        }
    }

    fn changed_schema(&mut self, schema: &str) {
        if !SYSTEM_SCHEMAS.contains(&schema) && !schema.is_empty() {
            self.objects.schemas.insert(schema.to_owned());
            self.objects.changed_schemas.insert(schema.to_owned());
        }
    }

    fn named_schema(&mut self, schema: &str) {
        if !SYSTEM_SCHEMAS.contains(&schema) && !schema.is_empty() {
            self.objects.schemas.insert(schema.to_owned());
        }
    }

    fn unqualified(&mut self, name: &str) {
        if self.default_schema.is_none() {
            self.objects.unqualified_tables.insert(name.to_owned());
        }
    }

    /// `(schema, table)` for a relation, `public` when unqualified (and
    /// recorded as unqualified); `None` for a temporary relation.
    fn qualify(&mut self, relation: &RangeVar) -> Option<TableName> {
        if relation.relpersistence == "t" || relation.schemaname == "pg_temp" {
            return None;
        }
        if relation.schemaname.is_empty() {
            self.unqualified(&relation.relname);
            let schema = self.default_schema.clone().unwrap_or("public".to_owned());
            Some((schema, relation.relname.clone()))
        } else {
            Some((relation.schemaname.clone(), relation.relname.clone()))
        }
    }

    /// The same for a name list (`[schema, table]` or `[table]`).
    fn qualify_name(&mut self, name: &[String]) -> Option<TableName> {
        match name {
            [.., schema, table] => {
                self.changed_schema(schema);
                Some((schema.clone(), table.clone()))
            }
            [table] => {
                self.unqualified(table);
                if let Some(schema) = self.default_schema.clone() {
                    self.changed_schema(&schema);
                }
                let schema = self.default_schema.clone().unwrap_or("public".to_owned());
                Some((schema, table.clone()))
            }
            [] => None,
        }
    }

    /// Every relation, type and function named anywhere in the statement
    /// (subqueries, defaults, foreign keys, casts...), found by walking the
    /// whole parse tree: the typed match above only knows each statement's
    /// own target. Also finds data-modifying statements nested in CTEs.
    fn names_anywhere(&mut self, node: &NodeEnum) {
        let Ok(tree) = serde_json::to_value(node) else {
            return;
        };
        let mut ctes = HashSet::new();
        collect_ctes(&tree, &mut ctes);
        let outer = self.default_schema.clone();
        if let NodeEnum::CreateSchemaStmt(s) = node {
            self.default_schema = Some(s.schemaname.clone());
        }
        self.walk(&tree, &ctes);
        self.default_schema = outer;
    }

    fn walk(&mut self, value: &Value, ctes: &HashSet<String>) {
        match value {
            Value::Array(items) => {
                for item in items {
                    self.walk(item, ctes);
                }
            }
            Value::Object(map) => {
                if let Some(relation) = as_range_var(map) {
                    let (schema, name, temporary) = relation;
                    if schema.is_empty() {
                        if !temporary && !ctes.contains(name) {
                            self.unqualified(name);
                        }
                    } else {
                        self.named_schema(schema);
                    }
                }
                for key in ["names", "funcname"] {
                    if let Some(Value::Array(parts)) = map.get(key) {
                        let parts = json_strings(parts);
                        if parts.len() >= 2 {
                            self.named_schema(&parts[parts.len() - 2]);
                        }
                    }
                }
                for key in ["InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"] {
                    if let Some(Value::Object(statement)) = map.get(key)
                        && let Some(Value::Object(relation)) = statement.get("relation")
                        && let Some((schema, name, temporary)) = as_range_var(relation)
                        && !temporary
                    {
                        let schema = if schema.is_empty() {
                            self.default_schema.clone().unwrap_or("public".to_owned())
                        } else {
                            self.changed_schema(schema);
                            schema.to_owned()
                        };
                        self.write((schema, name.to_owned()));
                    }
                }
                for item in map.values() {
                    self.walk(item, ctes);
                }
            }
            _ => {}
        }
    }
}

/// A `RangeVar` in the serialized tree, recognised by its fields:
/// `(schemaname, relname, temporary)`.
fn as_range_var(map: &serde_json::Map<String, Value>) -> Option<(&str, &str, bool)> {
    let relname = map.get("relname")?.as_str()?;
    let schemaname = map.get("schemaname")?.as_str()?;
    let persistence = map.get("relpersistence")?.as_str()?;
    Some((
        schemaname,
        relname,
        persistence == "t" || schemaname == "pg_temp",
    ))
}

fn collect_ctes(value: &Value, ctes: &mut HashSet<String>) {
    match value {
        Value::Array(items) => items.iter().for_each(|item| collect_ctes(item, ctes)),
        Value::Object(map) => {
            if let Some(Value::Object(cte)) = map.get("CommonTableExpr")
                && let Some(Value::String(name)) = cte.get("ctename")
            {
                ctes.insert(name.clone());
            }
            map.values().for_each(|item| collect_ctes(item, ctes));
        }
        _ => {}
    }
}

/// The strings of a serialized name list (`[{"node": {"String": {"sval": ..}}}]`).
fn json_strings(parts: &[Value]) -> Vec<String> {
    parts
        .iter()
        .filter_map(|part| {
            part.get("node")?
                .get("String")?
                .get("sval")?
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}

/// The strings of a qualified-name list.
fn strings(nodes: &[Node]) -> Vec<String> {
    nodes
        .iter()
        .filter_map(|node| match &node.node {
            Some(NodeEnum::String(s)) => Some(s.sval.clone()),
            _ => None,
        })
        .collect()
}

fn is_table_like(kind: i32) -> bool {
    [
        ObjectType::ObjectTable,
        ObjectType::ObjectForeignTable,
        ObjectType::ObjectColumn,
        ObjectType::ObjectTabconstraint,
    ]
    .iter()
    .any(|k| kind == *k as i32)
}

/// Objects that live in a schema and are named like tables.
fn is_relation(kind: i32) -> bool {
    [
        ObjectType::ObjectTable,
        ObjectType::ObjectForeignTable,
        ObjectType::ObjectView,
        ObjectType::ObjectMatview,
        ObjectType::ObjectIndex,
        ObjectType::ObjectSequence,
    ]
    .iter()
    .any(|k| kind == *k as i32)
}

/// Objects named after their table (`[schema.]table.member`).
fn is_table_member(kind: i32) -> bool {
    [
        ObjectType::ObjectColumn,
        ObjectType::ObjectTabconstraint,
        ObjectType::ObjectTrigger,
        ObjectType::ObjectRule,
        ObjectType::ObjectPolicy,
    ]
    .iter()
    .any(|k| kind == *k as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objects_of(sql: &[&str]) -> Objects {
        let mut objects = Objects::default();
        for statement in sql {
            collect(statement, &mut objects);
        }
        objects
    }

    fn table(schema: &str, name: &str) -> TableName {
        (schema.to_owned(), name.to_owned())
    }

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn finds_schemas_tables_and_references() {
        let found = objects_of(&[
            "CREATE SCHEMA IF NOT EXISTS academy",
            r#"CREATE TABLE "academy"."courses" ("id" uuid, "instructor_id" uuid, CONSTRAINT "c" FOREIGN KEY ("instructor_id") REFERENCES "core"."users" ("id"))"#,
            r#"ALTER TABLE "academy"."webinars" ADD COLUMN "capacity" integer"#,
            r#"CREATE UNIQUE INDEX "x" ON "talent"."profiles" ("user_id")"#,
            "DROP TABLE IF EXISTS legacy",
            "COMMENT ON COLUMN x.y IS 'ALTER TABLE not.this'",
        ]);
        assert_eq!(
            found.created_schemas,
            BTreeSet::from(["academy".to_owned()])
        );
        assert_eq!(
            found.created_tables,
            BTreeSet::from([table("academy", "courses")])
        );
        assert_eq!(
            found.altered_tables,
            BTreeSet::from([
                table("academy", "webinars"),
                table("talent", "profiles"),
                table("public", "legacy")
            ])
        );
        assert_eq!(
            found.referenced_tables,
            BTreeSet::from([table("core", "users")])
        );
        assert!(found.unparsed.is_empty());
    }

    #[test]
    fn every_schema_a_statement_names_and_which_it_changes() {
        let found = objects_of(&[
            "CREATE TABLE academy.notes (id uuid, kind talent.kind, at timestamptz DEFAULT core.now_utc())",
            "COMMENT ON TABLE billing.invoices IS 'x'",
            "GRANT USAGE ON SCHEMA reporting TO reader",
            "GRANT SELECT ON ALL TABLES IN SCHEMA analytics TO reader",
            "GRANT SELECT ON vacancy.vacancies TO reader",
            "DROP SCHEMA legacy CASCADE",
            "DROP INDEX CONCURRENTLY talent.profiles_idx",
            "ALTER TABLE academy.courses SET SCHEMA archive",
            "CREATE VIEW academy.v AS SELECT * FROM core.users u JOIN (SELECT 1) s ON true",
        ]);
        assert_eq!(
            found.schemas,
            set(&[
                "academy",
                "analytics",
                "archive",
                "billing",
                "core",
                "legacy",
                "reporting",
                "talent",
                "vacancy",
            ])
        );
        assert_eq!(
            found.changed_schemas,
            set(&[
                "academy",
                "analytics",
                "archive",
                "billing",
                "legacy",
                "reporting",
                "talent",
                "vacancy",
            ]),
            "reading core.users and naming its types and functions changes nothing there"
        );
        assert!(found.unqualified_tables.is_empty(), "{found:?}");
        assert!(!found.writes_data);
    }

    #[test]
    fn unqualified_relations_are_listed_but_ctes_and_temporary_tables_are_not() {
        let found = objects_of(&[
            "CREATE TABLE notes (id uuid REFERENCES users (id))",
            "WITH recent AS (SELECT * FROM core.users) SELECT * FROM recent JOIN roles ON true",
            "CREATE TEMP TABLE scratch (id int)",
            "DROP INDEX old_idx",
            "ALTER TABLE academy.courses ADD CONSTRAINT c FOREIGN KEY (x) REFERENCES people (id)",
        ]);
        assert_eq!(
            found.unqualified_tables,
            set(&["notes", "old_idx", "people", "roles", "users"])
        );
        assert_eq!(
            found.created_tables,
            BTreeSet::from([table("public", "notes")])
        );
        assert_eq!(
            found.schemas,
            set(&["academy", "core"]),
            "an unqualified name names no schema"
        );
        assert_eq!(found.changed_schemas, set(&["academy"]));
    }

    #[test]
    fn foreign_keys_as_pairs_inline_table_level_and_added() {
        let found = objects_of(&[
            "CREATE TABLE vacancy.applications (id uuid, profile_id uuid REFERENCES talent.profiles (id), user_id uuid, \
             CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES core.users (id))",
            "ALTER TABLE academy.courses ADD CONSTRAINT c FOREIGN KEY (x) REFERENCES talent.skills (id) NOT VALID",
            "ALTER TABLE academy.courses ADD COLUMN owner uuid REFERENCES core.users (id)",
        ]);
        assert_eq!(
            found.foreign_keys,
            BTreeSet::from([
                (
                    table("vacancy", "applications"),
                    table("talent", "profiles")
                ),
                (table("vacancy", "applications"), table("core", "users")),
                (table("academy", "courses"), table("talent", "skills")),
                (table("academy", "courses"), table("core", "users")),
            ])
        );
        assert_eq!(
            found.referenced_tables,
            BTreeSet::from([
                table("talent", "profiles"),
                table("core", "users"),
                table("talent", "skills"),
            ])
        );
    }

    #[test]
    fn the_structure_alone_is_what_the_full_walk_finds_for_it() {
        let sql = [
            "CREATE SCHEMA billing",
            "CREATE TABLE billing.invoices (id uuid PRIMARY KEY, user_id uuid REFERENCES core.users (id))",
            "ALTER TABLE academy.courses ADD COLUMN price int",
            "CREATE INDEX invoices_user_idx ON billing.invoices (user_id)",
            "DROP TABLE talent.old",
            "INSERT INTO billing.invoices (id) SELECT id FROM core.users",
        ];
        let full = objects_of(&sql);
        let mut structure = Objects::default();
        for statement in sql {
            collect_structure(statement, &mut structure);
        }
        assert_eq!(structure.created_schemas, full.created_schemas);
        assert_eq!(structure.created_tables, full.created_tables);
        assert_eq!(structure.altered_tables, full.altered_tables);
        assert_eq!(structure.referenced_tables, full.referenced_tables);
        assert_eq!(structure.foreign_keys, full.foreign_keys);
        assert!(full.schemas.contains("core"));
    }

    #[test]
    fn foreign_key_names_and_dropped_constraints() {
        let found = objects_of(&[
            "CREATE TABLE vacancy.applications (id uuid, profile_id uuid REFERENCES talent.profiles (id), \
             CONSTRAINT fk_user FOREIGN KEY (id) REFERENCES core.users (id))",
            "ALTER TABLE vacancy.applications DROP CONSTRAINT IF EXISTS applications_profile_id_fkey",
        ]);
        assert_eq!(
            found.named_foreign_keys,
            BTreeSet::from([
                ForeignKey {
                    from: table("vacancy", "applications"),
                    to: table("talent", "profiles"),
                    name: None,
                },
                ForeignKey {
                    from: table("vacancy", "applications"),
                    to: table("core", "users"),
                    name: Some("fk_user".to_owned()),
                },
            ])
        );
        assert_eq!(
            found.dropped_constraints,
            BTreeSet::from([(
                table("vacancy", "applications"),
                "applications_profile_id_fkey".to_owned()
            )])
        );
    }

    #[test]
    fn statements_that_write_data() {
        for sql in [
            "INSERT INTO core.roles (name) VALUES ('admin')",
            "UPDATE core.users SET name = 'x'",
            "DELETE FROM core.users",
            "TRUNCATE core.users",
            "COPY core.users FROM STDIN",
            "COPY core.users TO STDOUT",
            "MERGE INTO core.roles r USING core.users u ON false WHEN NOT MATCHED THEN DO NOTHING",
            "WITH gone AS (DELETE FROM core.users RETURNING id) SELECT count(*) FROM gone",
            "CREATE TABLE academy.copy AS SELECT * FROM academy.courses",
        ] {
            assert!(objects(sql).writes_data, "{sql}");
        }
        for sql in [
            "CREATE TABLE academy.t (id int DEFAULT 1)",
            "ALTER TABLE academy.t ADD COLUMN x int",
            "SELECT 1",
            "CREATE TABLE academy.copy AS SELECT * FROM academy.courses WITH NO DATA",
        ] {
            assert!(!objects(sql).writes_data, "{sql}");
        }
        assert_eq!(
            objects("WITH gone AS (DELETE FROM core.users RETURNING id) SELECT 1").written_tables,
            BTreeSet::from([table("core", "users")])
        );
    }

    #[test]
    fn statements_postgres_refuses_in_a_transaction() {
        for sql in [
            "CREATE INDEX CONCURRENTLY i ON academy.t (x)",
            "DROP INDEX CONCURRENTLY academy.i",
            "REINDEX INDEX CONCURRENTLY academy.i",
            "REINDEX (CONCURRENTLY) TABLE academy.t",
            "ALTER TABLE academy.events DETACH PARTITION academy.events_2024 CONCURRENTLY",
            "VACUUM academy.t",
            "CREATE DATABASE other",
            "ALTER SYSTEM SET work_mem = '64MB'",
        ] {
            assert!(objects(sql).refused_in_transaction, "{sql}");
        }
        for sql in [
            "CREATE INDEX i ON academy.t (x)",
            "DROP INDEX academy.i",
            "REINDEX INDEX academy.i",
            "ALTER TABLE academy.events DETACH PARTITION academy.events_2024",
            "ANALYZE academy.t",
        ] {
            assert!(!objects(sql).refused_in_transaction, "{sql}");
        }
    }

    #[test]
    fn text_the_parser_refuses_is_reported_not_a_panic() {
        let found = objects_of(&["CREATE TABLE (", "ALTER TABLE academy.t ADD COLUMN x int"]);
        assert_eq!(found.unparsed.len(), 1);
        assert_eq!(found.unparsed[0].sql, "CREATE TABLE (");
        assert!(
            found.unparsed[0].error.contains("syntax error"),
            "{found:?}"
        );
        assert_eq!(
            found.altered_tables,
            BTreeSet::from([table("academy", "t")])
        );
        assert_eq!(objects("x\0y").unparsed.len(), 1);
    }

    #[test]
    fn several_statements_in_one_text_and_parameters() {
        let found = objects(
            "ALTER TABLE academy.a ADD COLUMN x int; INSERT INTO academy.a (x) VALUES ($1)",
        );
        assert_eq!(
            found.altered_tables,
            BTreeSet::from([table("academy", "a")])
        );
        assert!(found.writes_data);
    }

    #[test]
    fn elements_of_create_schema_belong_to_it() {
        let found = objects("CREATE SCHEMA billing CREATE TABLE invoices (id int)");
        assert_eq!(
            found.created_tables,
            BTreeSet::from([table("billing", "invoices")])
        );
        assert!(found.unqualified_tables.is_empty(), "{found:?}");
    }
}
