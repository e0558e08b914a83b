//! Each statement's own targets: what it creates, alters, drops, writes,
//! points foreign keys at, and whether PostgreSQL refuses it inside a
//! transaction block.

use squawk_syntax::{SyntaxKind as K, SyntaxNode};

use super::syntax::{child, field_parts, has_token, is_temporary, name_of, named};
use super::{ForeignKey, Objects, TableName};

/// Schemas that belong to PostgreSQL itself: naming them (`pg_catalog.int4`)
/// says nothing about ownership.
const SYSTEM_SCHEMAS: [&str; 3] = ["pg_catalog", "information_schema", "pg_toast"];

/// A relation as a statement names it.
pub(super) struct Relation {
    /// `[table]`, `[schema, table]` or `[database, schema, table]`.
    pub parts: Vec<String>,
    /// Created `TEMP`: it lives in no schema of the database's.
    pub temporary: bool,
}

impl Relation {
    /// The relation named by the first `kind` node inside `node`.
    fn in_node(node: &SyntaxNode, kind: K) -> Option<Self> {
        Some(Self {
            parts: named(node, kind)?,
            temporary: false,
        })
    }

    fn schema(&self) -> Option<&str> {
        let n = self.parts.len();
        (n >= 2).then(|| self.parts[n - 2].as_str())
    }

    fn name(&self) -> &str {
        self.parts.last().map_or("", String::as_str)
    }

    /// Temporary relations, and those of `pg_temp`, live in no schema of the
    /// database's.
    pub(super) fn is_temporary(&self) -> bool {
        self.temporary || self.schema() == Some("pg_temp")
    }
}

/// How an object is named, for the schema its name changes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ObjectKind {
    /// Tables, views, indexes, sequences: `[schema.]name`.
    Relation,
    /// Columns, constraints, triggers, rules, policies: `[schema.]table.member`.
    TableMember,
    /// Functions, types, domains and the rest: `[schema.]name`.
    Other,
}

pub(super) struct Walker<'a> {
    pub(super) objects: &'a mut Objects,
    /// Inside `CREATE SCHEMA s CREATE TABLE t ...`, unqualified names are in `s`.
    pub(super) default_schema: Option<String>,
}

impl<'a> Walker<'a> {
    pub(super) fn new(objects: &'a mut Objects) -> Self {
        Self {
            objects,
            default_schema: None,
        }
    }

    /// The statement's own target: what it creates, alters, drops or writes.
    pub(super) fn statement(&mut self, node: &SyntaxNode) {
        match node.kind() {
            K::CREATE_SCHEMA => self.create_schema(node),
            K::CREATE_TABLE => self.create_table(node),
            K::CREATE_TABLE_AS => {
                let relation = Relation {
                    parts: named(node, K::TABLE_NAME).unwrap_or_default(),
                    temporary: is_temporary(node),
                };
                if let Some(table) = self.changed_relation(&relation) {
                    self.objects.created_tables.insert(table.clone());
                    if child(node, K::WITH_NO_DATA).is_none() {
                        self.write(table);
                    }
                }
            }
            K::CREATE_MATERIALIZED_VIEW => {
                self.changed_relation_in(node, K::PATH);
            }
            K::ALTER_TABLE | K::ALTER_FOREIGN_TABLE => self.alter_table(node),
            K::ALTER_INDEX | K::ALTER_VIEW | K::ALTER_MATERIALIZED_VIEW | K::ALTER_SEQUENCE => {
                // The altered relation's name is the statement's first path.
                if let Some(name) = node
                    .descendants()
                    .find(|c| matches!(c.kind(), K::PATH | K::PATH_REF))
                    && let Some(relation) = self.changed_relation(&Relation {
                        parts: name_of(&name),
                        temporary: false,
                    })
                    // Renaming a view's column is renaming a table's column
                    // to PostgreSQL's grammar: the view's owner does it.
                    && child(node, K::RENAME_COLUMN).is_some()
                {
                    self.objects.altered_tables.insert(relation);
                }
                self.new_schema(node);
            }
            K::ALTER_TRIGGER | K::ALTER_POLICY | K::ALTER_RULE => {
                // Renaming one changes its table's schema; other changes
                // to it name no schema of their own.
                let renames = node.children().any(|c| {
                    matches!(
                        c.kind(),
                        K::TRIGGER_RENAME_TO | K::POLICY_RENAME_TO | K::RULE_RENAME_TO
                    )
                });
                if renames
                    && let Some(on) =
                        child(node, K::ON_TABLE).or_else(|| child(node, K::ON_RELATION))
                {
                    self.changed_relation_in(&on, K::PATH_REF);
                }
            }
            K::ALTER_EXTENSION => self.new_schema(node),
            K::CREATE_INDEX => {
                self.objects.refused_in_transaction |= has_token(node, K::CONCURRENTLY_KW);
                if let Some(table) = self.changed_relation_in(node, K::TABLE_RELATION_NAME) {
                    self.objects.altered_tables.insert(table);
                }
            }
            K::CREATE_TRIGGER | K::CREATE_RULE => {
                let on = [K::ON_TABLE, K::ON_RELATION, K::RULE_ON]
                    .into_iter()
                    .find_map(|kind| child(node, kind));
                if let Some(on) = on
                    && let Some(table) = self.changed_relation_in(&on, K::PATH_REF)
                {
                    self.objects.altered_tables.insert(table);
                }
            }
            K::CREATE_VIEW => {
                let relation = Relation {
                    parts: named(node, K::VIEW).unwrap_or_default(),
                    temporary: is_temporary(node),
                };
                self.changed_relation(&relation);
            }
            K::CREATE_SEQUENCE => {
                let relation = Relation {
                    parts: named(node, K::SEQUENCE).unwrap_or_default(),
                    temporary: is_temporary(node),
                };
                self.changed_relation(&relation);
            }
            K::DROP_SCHEMA => {
                for schema in node.children().filter(|c| c.kind() == K::SCHEMA_REF) {
                    if let Some(schema) = name_of(&schema).pop() {
                        self.changed_schema(&schema);
                        self.objects.dropped_schemas.insert(schema);
                    }
                }
            }
            K::DROP_TABLE => {
                for name in node.children().filter(|c| c.kind() == K::TABLE_NAME_REF) {
                    if let Some(table) = self.qualify_name(&name_of(&name)) {
                        self.objects.altered_tables.insert(table);
                    }
                }
            }
            K::DROP_INDEX
            | K::DROP_VIEW
            | K::DROP_SEQUENCE
            | K::DROP_MATERIALIZED_VIEW
            | K::DROP_FOREIGN_TABLE => {
                self.objects.refused_in_transaction |= has_token(node, K::CONCURRENTLY_KW);
                for name in node.children().filter(|c| {
                    matches!(
                        c.kind(),
                        K::INDEX_REF
                            | K::VIEW_REF
                            | K::SEQUENCE_REF
                            | K::TABLE_NAME_REF
                            | K::PATH_REF
                    )
                }) {
                    self.qualify_name(&name_of(&name));
                }
            }
            K::DROP_TRIGGER | K::DROP_POLICY | K::DROP_RULE => {
                // Named `[schema.]table.member`.
                if let Some(on) = child(node, K::ON_RELATION).or_else(|| child(node, K::ON_TABLE))
                    && let Some(mut table) = named(&on, K::PATH_REF)
                {
                    table.push(String::new());
                    self.changed_object(ObjectKind::TableMember, &table);
                }
            }
            K::DROP_TYPE
            | K::DROP_DOMAIN
            | K::DROP_FUNCTION
            | K::DROP_PROCEDURE
            | K::DROP_ROUTINE
            | K::DROP_AGGREGATE
            | K::DROP_COLLATION
            | K::DROP_CONVERSION
            | K::DROP_OPERATOR
            | K::DROP_OPERATOR_CLASS
            | K::DROP_OPERATOR_FAMILY
            | K::DROP_STATISTICS
            | K::DROP_TEXT_SEARCH_CONFIG
            | K::DROP_TEXT_SEARCH_DICT
            | K::DROP_TEXT_SEARCH_PARSER
            | K::DROP_TEXT_SEARCH_TEMPLATE => {
                // Functions, types, domains, collations...: their names are
                // found by `names_anywhere`; their schema is changed here.
                for name in node.descendants().filter(|c| {
                    matches!(c.kind(), K::PATH | K::PATH_REF)
                        && !matches!(c.parent().map(|p| p.kind()), Some(K::PATH | K::PATH_REF))
                        && !in_parameters(c)
                }) {
                    self.changed_object(ObjectKind::Other, &name_of(&name));
                }
            }
            K::REINDEX => {
                self.objects.refused_in_transaction |= node
                    .descendants_with_tokens()
                    .any(|e| e.kind() == K::CONCURRENTLY_KW);
                for target in [K::REINDEX_TARGET_TABLE, K::REINDEX_TARGET_INDEX] {
                    if let Some(target) = child(node, target)
                        && let Some(relation) = self.changed_relation_in(&target, K::PATH_REF)
                    {
                        self.objects.altered_tables.insert(relation);
                    }
                }
            }
            K::VACUUM
            | K::CREATE_DATABASE
            | K::DROP_DATABASE
            | K::CREATE_TABLESPACE
            | K::DROP_TABLESPACE
            | K::ALTER_SYSTEM => {
                self.objects.refused_in_transaction = true;
            }
            K::ALTER_SCHEMA => {
                if let Some(renamed) = child(node, K::SCHEMA_RENAME_TO) {
                    let old = child(node, K::SCHEMA_REF).map(|schema| name_of(&schema));
                    let new = named(&renamed, K::SCHEMA);
                    for schema in [old, new].into_iter().flatten().flatten() {
                        self.changed_schema(&schema);
                    }
                }
            }
            K::ALTER_TYPE
            | K::ALTER_DOMAIN
            | K::ALTER_FUNCTION
            | K::ALTER_PROCEDURE
            | K::ALTER_ROUTINE
            | K::ALTER_AGGREGATE => self.alter_object(node),
            K::COMMENT_ON => self.comment(node),
            K::GRANT | K::REVOKE => self.grant(node),
            K::ALTER_DEFAULT_PRIVILEGES => {
                if let Some(schemas) = child(node, K::IN_SCHEMAS) {
                    for schema in schemas.children().filter(|c| c.kind() == K::SCHEMA_REF) {
                        if let Some(schema) = name_of(&schema).pop() {
                            self.changed_schema(&schema);
                        }
                    }
                }
            }
            K::CREATE_FUNCTION
            | K::CREATE_PROCEDURE
            | K::CREATE_AGGREGATE
            | K::CREATE_DOMAIN
            | K::CREATE_COLLATION
            | K::CREATE_OPERATOR
            | K::CREATE_TEXT_SEARCH_CONFIGURATION
            | K::CREATE_TEXT_SEARCH_DICTIONARY
            | K::CREATE_TEXT_SEARCH_PARSER
            | K::CREATE_TEXT_SEARCH_TEMPLATE => {
                if let Some(name) = node
                    .children()
                    .find(|c| !matches!(c.kind(), K::OR_REPLACE | K::IF_NOT_EXISTS))
                {
                    self.changed_name(&name_of(&name));
                }
            }
            K::CREATE_TYPE => {
                let name = named(node, K::TYPE_NAME).unwrap_or_default();
                if child(node, K::COMPOSITE_TYPE).is_some() {
                    // A composite type is a relation (`pg_class`) of its schema.
                    self.changed_relation(&Relation {
                        parts: name,
                        temporary: false,
                    });
                } else if child(node, K::RANGE_TYPE).is_none() {
                    self.changed_name(&name);
                }
            }
            K::CREATE_EXTENSION => {
                if let Some(schema) = child(node, K::EXTENSION_SCHEMA)
                    && let Some(schema) = named(&schema, K::SCHEMA_REF).and_then(|mut n| n.pop())
                {
                    self.changed_schema(&schema);
                }
            }
            K::INSERT => self.write_target(node),
            K::UPDATE | K::DELETE => {
                if let Some(target) = child(node, K::RELATION_NAME) {
                    self.write_relation_in(&target, K::PATH_REF);
                } else {
                    self.objects.writes_data = true;
                }
            }
            K::MERGE => self.write_target(node),
            K::COPY => {
                // Either direction: a structural migration has no business moving rows.
                self.objects.writes_data = true;
                if child(node, K::COPY_FROM).is_some()
                    && let Some(table) = child(node, K::COPY_TABLE)
                {
                    self.write_relation_in(&table, K::PATH_REF);
                }
            }
            K::TRUNCATE => {
                if let Some(list) = child(node, K::TABLE_LIST) {
                    for table in list.children() {
                        self.write_relation_in(&table, K::PATH_REF);
                    }
                }
            }
            // Data-modifying CTEs (`WITH d AS (DELETE ...) SELECT ...`) are
            // found by `names_anywhere`; everything else names no object of
            // its own beyond what that walk finds.
            _ => {}
        }
    }

    fn create_schema(&mut self, node: &SyntaxNode) {
        let Some(schema) = schema_created(node) else {
            return;
        };
        self.objects.created_schemas.insert(schema.clone());
        self.changed_schema(&schema);
        let outer = self.default_schema.replace(schema);
        for element in node.children() {
            self.statement(&element);
        }
        self.default_schema = outer;
    }

    fn create_table(&mut self, node: &SyntaxNode) {
        let relation = Relation {
            parts: named(node, K::TABLE_NAME).unwrap_or_default(),
            temporary: is_temporary(node),
        };
        let Some(table) = self.changed_relation(&relation) else {
            return;
        };
        self.objects.created_tables.insert(table.clone());
        if let Some(elements) = child(node, K::TABLE_ARG_LIST) {
            for element in elements.children() {
                self.foreign_keys(&table, &element);
            }
        }
        // INHERITS and PARTITION OF change their parent too.
        for parents in [K::INHERITS, K::PARTITION_OF] {
            let Some(parents) = child(node, parents) else {
                continue;
            };
            for parent in parents.children().filter(|c| c.kind() == K::TABLE_NAME_REF) {
                let parent = Relation {
                    parts: name_of(&parent),
                    temporary: false,
                };
                if let Some(parent) = self.changed_relation(&parent) {
                    self.objects.altered_tables.insert(parent);
                }
            }
        }
    }

    fn alter_table(&mut self, node: &SyntaxNode) {
        let Some(relation) = self.changed_relation_in(node, K::TABLE_RELATION_NAME) else {
            return;
        };
        self.objects.altered_tables.insert(relation.clone());
        for action in node.children() {
            match action.kind() {
                K::DROP_CONSTRAINT => {
                    if let Some(name) =
                        named(&action, K::CONSTRAINT_NAME_REF).and_then(|mut name| name.pop())
                    {
                        self.objects
                            .dropped_constraints
                            .insert((relation.clone(), name));
                    }
                }
                K::ADD_CONSTRAINT | K::ADD_COLUMN => self.foreign_keys(&relation, &action),
                K::DETACH_PARTITION | K::ATTACH_PARTITION => {
                    self.objects.refused_in_transaction |= action.kind() == K::DETACH_PARTITION
                        && child(&action, K::DETACH_CONCURRENTLY).is_some();
                    if let Some(partition) = self.changed_relation_in(&action, K::TABLE_NAME_REF) {
                        self.objects.altered_tables.insert(partition);
                    }
                }
                K::SET_SCHEMA => self.new_schema(node),
                _ => {}
            }
        }
    }

    /// `ALTER TYPE`, `DOMAIN`, `FUNCTION`...: renaming, moving or changing
    /// it changes its schema; changing its owner alone does not.
    fn alter_object(&mut self, node: &SyntaxNode) {
        if node.children().any(|c| c.kind() == K::OWNER_TO) {
            return;
        }
        let changes_definition = matches!(node.kind(), K::ALTER_TYPE | K::ALTER_DOMAIN);
        let renames = node.children().any(|c| {
            matches!(
                c.kind(),
                K::TYPE_RENAME_TO
                    | K::DOMAIN_RENAME_TO
                    | K::FUNCTION_RENAME_TO
                    | K::PROCEDURE_RENAME_TO
                    | K::ROUTINE_RENAME_TO
                    | K::AGGREGATE_RENAME_TO
                    | K::SET_SCHEMA
            )
        });
        if !(changes_definition || renames) {
            return;
        }
        if let Some(name) = node
            .descendants()
            .find(|c| matches!(c.kind(), K::PATH | K::PATH_REF))
        {
            self.changed_object(ObjectKind::Other, &name_of(&name));
        }
        self.new_schema(node);
    }

    /// The schema `SET SCHEMA` moves something to.
    fn new_schema(&mut self, node: &SyntaxNode) {
        if let Some(set) = node
            .descendants()
            .find(|c| c.kind() == K::SET_SCHEMA)
            .and_then(|set| named(&set, K::SCHEMA_REF))
            .and_then(|mut name| name.pop())
        {
            self.changed_schema(&set);
        }
    }

    fn comment(&mut self, node: &SyntaxNode) {
        let Some(object) = node.children().next() else {
            return;
        };
        let kind = match object.kind() {
            K::OBJECT_SCHEMA => {
                if let Some(schema) = named(&object, K::SCHEMA_REF).and_then(|mut n| n.pop()) {
                    self.changed_schema(&schema);
                }
                return;
            }
            K::OBJECT_TABLE
            | K::OBJECT_VIEW
            | K::OBJECT_INDEX
            | K::OBJECT_SEQUENCE
            | K::OBJECT_MATERIALIZED_VIEW
            | K::OBJECT_FOREIGN_TABLE => ObjectKind::Relation,
            K::OBJECT_COLUMN => ObjectKind::TableMember,
            K::OBJECT_CONSTRAINT | K::OBJECT_TRIGGER | K::OBJECT_RULE | K::OBJECT_POLICY => {
                // `COMMENT ON TRIGGER t ON [schema.]table`: the table names the schema.
                if let Some(mut table) = object
                    .children()
                    .find(|c| {
                        matches!(
                            c.kind(),
                            K::TABLE_NAME_REF | K::RELATION_NAME_REF | K::ON_TABLE | K::ON_RELATION
                        )
                    })
                    .map(|table| name_of(&table))
                {
                    table.push(String::new());
                    self.changed_object(ObjectKind::TableMember, &table);
                }
                return;
            }
            _ => ObjectKind::Other,
        };
        if let Some(name) = object
            .descendants()
            .find(|c| matches!(c.kind(), K::PATH | K::PATH_REF))
        {
            self.changed_object(kind, &name_of(&name));
        }
    }

    fn grant(&mut self, node: &SyntaxNode) {
        let Some(target) =
            child(node, K::ON_PRIVILEGE_OBJECTS_CLAUSE).and_then(|clause| clause.children().next())
        else {
            return;
        };
        match target.kind() {
            K::PRIVILEGE_SCHEMA
            | K::PRIVILEGE_ALL_TABLES_IN_SCHEMA
            | K::PRIVILEGE_ALL_SEQUENCES_IN_SCHEMA
            | K::PRIVILEGE_ALL_FUNCTIONS_IN_SCHEMA
            | K::PRIVILEGE_ALL_PROCEDURES_IN_SCHEMA
            | K::PRIVILEGE_ALL_ROUTINES_IN_SCHEMA => {
                for schema in target.children().filter(|c| c.kind() == K::SCHEMA_REF) {
                    if let Some(schema) = name_of(&schema).pop() {
                        self.changed_schema(&schema);
                    }
                }
            }
            K::PRIVILEGE_DEFAULT | K::PRIVILEGE_TABLE | K::PRIVILEGE_SEQUENCE => {
                for relation in target.children() {
                    let relation = Relation {
                        parts: name_of(&relation),
                        temporary: false,
                    };
                    if !relation.parts.is_empty() {
                        self.changed_relation(&relation);
                    }
                }
            }
            _ => {
                for name in target.descendants().filter(|c| {
                    matches!(c.kind(), K::PATH | K::PATH_REF)
                        && !matches!(c.parent().map(|p| p.kind()), Some(K::PATH | K::PATH_REF))
                        && !in_parameters(c)
                }) {
                    self.changed_object(ObjectKind::Other, &name_of(&name));
                }
            }
        }
    }

    /// The foreign keys a table element (column, constraint, or the
    /// `ADD COLUMN`/`ADD CONSTRAINT` of an `ALTER TABLE`) declares.
    fn foreign_keys(&mut self, from: &TableName, element: &SyntaxNode) {
        let constraints: Vec<SyntaxNode> = match element.kind() {
            K::FOREIGN_KEY_CONSTRAINT => vec![element.clone()],
            K::COLUMN | K::ADD_CONSTRAINT | K::ADD_COLUMN => element
                .descendants()
                .filter(|c| {
                    matches!(
                        c.kind(),
                        K::FOREIGN_KEY_CONSTRAINT | K::REFERENCES_CONSTRAINT
                    )
                })
                .collect(),
            _ => Vec::new(),
        };
        for constraint in constraints {
            let Some(to) = Relation::in_node(&constraint, K::TABLE_NAME_REF) else {
                continue;
            };
            let Some(to) = self.qualify(&to) else {
                continue;
            };
            let name = child(&constraint, K::CONSTRAINT_NAME_CLAUSE)
                .and_then(|clause| named(&clause, K::CONSTRAINT_NAME))
                .and_then(|mut name| name.pop());
            self.objects.referenced_tables.insert(to.clone());
            self.objects.named_foreign_keys.insert(ForeignKey {
                from: from.clone(),
                to: to.clone(),
                name,
            });
            self.objects.foreign_keys.insert((from.clone(), to));
        }
    }

    /// An `INSERT`'s or `MERGE`'s target (a child of the statement, not a
    /// relation its `WITH` reads).
    fn write_target(&mut self, node: &SyntaxNode) {
        self.objects.writes_data = true;
        if let Some(target) = dml_target(node)
            && let Some(table) = self.changed_relation(&target)
        {
            self.write(table);
        }
    }

    fn write_relation_in(&mut self, node: &SyntaxNode, kind: K) {
        self.objects.writes_data = true;
        if let Some(table) = self.changed_relation_in(node, kind) {
            self.write(table);
        }
    }

    pub(super) fn write(&mut self, table: TableName) {
        self.objects.writes_data = true;
        self.objects.written_tables.insert(table);
    }

    /// The relation named by the first `kind` node inside `node`, changed.
    fn changed_relation_in(&mut self, node: &SyntaxNode, kind: K) -> Option<TableName> {
        let relation = Relation::in_node(node, kind)?;
        self.changed_relation(&relation)
    }

    /// A relation the statement changes: its schema is changed. `None` for
    /// a temporary relation, which lives in no schema of the database's.
    fn changed_relation(&mut self, relation: &Relation) -> Option<TableName> {
        let table = self.qualify(relation)?;
        // An unqualified name names no schema (it is listed as unqualified).
        if relation.schema().is_some() || self.default_schema.is_some() {
            self.changed_schema(&table.0.clone());
        }
        Some(table)
    }

    /// An object named by a dotted name: its schema, when it has one, is
    /// changed; an unqualified relation (or a member of one) is listed.
    fn changed_object(&mut self, kind: ObjectKind, name: &[String]) {
        // Columns, constraints, triggers, rules and policies are named after
        // their table: `schema.table.column`, or `table.column` unqualified.
        let member = kind == ObjectKind::TableMember;
        let qualified_parts = if member { 3 } else { 2 };
        if name.len() >= qualified_parts {
            self.changed_schema(&name[0]);
        } else if ((member && name.len() == 2) || kind == ObjectKind::Relation)
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

    pub(super) fn changed_schema(&mut self, schema: &str) {
        if !SYSTEM_SCHEMAS.contains(&schema) && !schema.is_empty() {
            self.objects.schemas.insert(schema.to_owned());
            self.objects.changed_schemas.insert(schema.to_owned());
        }
    }

    pub(super) fn named_schema(&mut self, schema: &str) {
        if !SYSTEM_SCHEMAS.contains(&schema) && !schema.is_empty() {
            self.objects.schemas.insert(schema.to_owned());
        }
    }

    pub(super) fn unqualified(&mut self, name: &str) {
        if self.default_schema.is_none() {
            self.objects.unqualified_tables.insert(name.to_owned());
        }
    }

    /// `(schema, table)` for a relation, `public` (or the `CREATE SCHEMA`'s)
    /// when unqualified, and recorded as unqualified; `None` for a
    /// temporary relation.
    pub(super) fn qualify(&mut self, relation: &Relation) -> Option<TableName> {
        if relation.is_temporary() || relation.parts.is_empty() {
            return None;
        }
        match relation.schema() {
            Some(schema) => Some((schema.to_owned(), relation.name().to_owned())),
            None => {
                self.unqualified(relation.name());
                let schema = self.default_schema.clone().unwrap_or("public".to_owned());
                Some((schema, relation.name().to_owned()))
            }
        }
    }

    /// The same for a dropped relation's name (`[schema, table]` or
    /// `[table]`): its schema is changed.
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

    /// A function call's name (`core.now_utc()`): its schema is named.
    pub(super) fn called(&mut self, callee: &SyntaxNode) {
        let parts = if callee.kind() == K::FIELD_EXPR {
            field_parts(callee)
        } else {
            name_of(callee)
        };
        if parts.len() >= 2 {
            self.named_schema(&parts[parts.len() - 2]);
        }
    }
}

/// Whether a name is inside a function signature's parameter list (a
/// parameter's type, not the object's name).
pub(super) fn in_parameters(node: &SyntaxNode) -> bool {
    node.ancestors().any(|a| a.kind() == K::PARAM_LIST)
}

/// The relation an `INSERT`, `UPDATE`, `DELETE` or `MERGE` writes.
pub(super) fn dml_target(node: &SyntaxNode) -> Option<Relation> {
    let target = node.children().find(|c| {
        matches!(
            c.kind(),
            K::RELATION_NAME_REF | K::RELATION_NAME | K::TABLE_RELATION_NAME
        )
    })?;
    Some(Relation {
        parts: named(&target, K::PATH_REF)?,
        temporary: false,
    })
}

/// The schema a `CREATE SCHEMA` creates: the one it names, or (`CREATE
/// SCHEMA AUTHORIZATION role`) the one named after its owner.
pub(super) fn schema_created(node: &SyntaxNode) -> Option<String> {
    let name = match child(node, K::NAMED_SCHEMA) {
        Some(named_schema) => named(&named_schema, K::SCHEMA),
        None => child(node, K::AUTHORIZATION_SCHEMA).and_then(|owner| named(&owner, K::ROLE)),
    };
    name.and_then(|mut name| name.pop())
}
