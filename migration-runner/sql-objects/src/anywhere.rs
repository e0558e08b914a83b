//! Every relation, type and function a statement names anywhere
//! (subqueries, defaults, foreign keys, casts...), found by walking its
//! whole syntax tree: the statement's own targets (`walker`) are only part
//! of what it names. Also finds data-modifying statements nested in CTEs.

use std::collections::HashSet;

use squawk_syntax::{SyntaxKind as K, SyntaxNode};

use super::syntax::{child, first_name, is_temporary, name_of, named};
use super::walker::{Relation, Walker, dml_target, schema_created};

impl Walker<'_> {
    pub(crate) fn names_anywhere(&mut self, statement: &SyntaxNode) {
        let ctes: HashSet<String> = statement
            .descendants()
            .filter(|node| node.kind() == K::WITH_TABLE)
            .filter_map(|cte| child(&cte, K::CTE_NAME))
            .filter_map(|name| first_name(&name))
            .collect();
        let outer = self.default_schema.clone();
        if statement.kind() == K::CREATE_SCHEMA
            && let Some(schema) = schema_created(statement)
        {
            self.default_schema = Some(schema);
        }
        for node in statement.descendants() {
            match node.kind() {
                // Where PostgreSQL's grammar reads a relation (a `RangeVar`).
                // (A security label names its object by a plain name list.)
                K::TABLE_NAME_REF | K::RELATION_NAME_REF
                    if !node.ancestors().any(|a| a.kind() == K::SECURITY_LABEL) =>
                {
                    self.relation_named(&node, false, &ctes);
                }
                K::TABLE_NAME
                    if matches!(
                        node.parent().map(|p| p.kind()),
                        Some(
                            K::CREATE_TABLE
                                | K::CREATE_TABLE_AS
                                | K::CREATE_FOREIGN_TABLE
                                | K::INTO_CLAUSE
                        )
                    ) =>
                {
                    let temporary = node.parent().is_some_and(|p| is_temporary(&p));
                    self.relation_named(&node, temporary, &ctes);
                }
                K::INDEX_REF | K::VIEW_REF
                    if matches!(
                        node.parent().map(|p| p.kind()),
                        Some(K::REINDEX_TARGET_INDEX | K::REFRESH)
                    ) =>
                {
                    self.relation_named(&node, false, &ctes);
                }
                K::PATH_TYPE => {
                    if let Some(parts) = named(&node, K::PATH_REF)
                        && parts.len() >= 2
                    {
                        self.named_schema(&parts[parts.len() - 2]);
                    }
                }
                K::CALL_EXPR => {
                    if let Some(callee) = node.children().next() {
                        self.called(&callee);
                    }
                }
                K::PROCEDURE_NAME_REF if node.parent().map(|p| p.kind()) == Some(K::CALL) => {
                    self.called(&node);
                }
                K::INSERT | K::UPDATE | K::DELETE | K::MERGE => {
                    if let Some(target) = dml_target(&node)
                        && !target.is_temporary()
                    {
                        let table = match &target.parts[..] {
                            [.., schema, table] => {
                                self.changed_schema(schema);
                                (schema.clone(), table.clone())
                            }
                            [table] => (
                                self.default_schema.clone().unwrap_or("public".to_owned()),
                                table.clone(),
                            ),
                            [] => continue,
                        };
                        self.write(table);
                    }
                }
                _ => {}
            }
        }
        self.default_schema = outer;
    }

    /// A relation named where PostgreSQL reads one: an unqualified name is
    /// listed (unless a CTE or temporary), a qualified one names its schema.
    fn relation_named(&mut self, node: &SyntaxNode, temporary: bool, ctes: &HashSet<String>) {
        let relation = Relation {
            parts: name_of(node),
            temporary,
        };
        match &relation.parts[..] {
            // `pg_temp` included: it is named, though nothing there is the
            // database's.
            [.., schema, _] => self.named_schema(schema),
            [name] if !relation.is_temporary() && !ctes.contains(name) => self.unqualified(name),
            _ => {}
        }
    }
}
