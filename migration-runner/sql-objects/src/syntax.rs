//! Reading squawk's syntax tree: parsing a text into its statements, and
//! names as PostgreSQL resolves them (unquoted identifiers folded to lower
//! case, quoted ones kept, both cut to 63 bytes as the server's lexer does).

use std::panic::{AssertUnwindSafe, catch_unwind};

use squawk_syntax::{SourceFile, SyntaxKind, SyntaxNode, SyntaxToken};

/// PostgreSQL's `NAMEDATALEN - 1`: longer identifiers are truncated.
const MAX_IDENTIFIER_BYTES: usize = 63;

/// The statements of `sql`, or the first error the parser found. A text
/// with any error is refused whole, as PostgreSQL refuses it.
pub fn statements(sql: &str) -> Result<Vec<SyntaxNode>, String> {
    // Whatever happens inside the parser, a migration's text must never
    // crash the runner.
    let parsed = catch_unwind(AssertUnwindSafe(|| {
        let parse = SourceFile::parse(sql);
        let mut errors = parse.errors();
        // A function body written as a string literal is a string to
        // PostgreSQL's grammar: the server checks it when it creates the
        // function, so an error inside it does not make the text unreadable.
        for body_error in parse.tree().sql_body_errors() {
            if let Some(at) = errors.iter().position(|error| *error == body_error) {
                errors.remove(at);
            }
        }
        (parse.syntax_node(), errors)
    }));
    let (root, errors) = parsed.map_err(|_| "the parser failed on this text".to_owned())?;
    if let Some(error) = errors.first() {
        let at = sql
            .get(..usize::from(error.range().start()))
            .map_or(0, |before| before.chars().count());
        return Err(format!(
            "syntax error at character {}: {}",
            at + 1,
            error.message()
        ));
    }
    // NUL is not a character PostgreSQL accepts in a query's text.
    if sql.contains('\0') {
        return Err("syntax error: the text contains a NUL character".to_owned());
    }
    // `;;` leaves an empty statement, which PostgreSQL does not count.
    Ok(root
        .children()
        .filter(|statement| statement.kind() != SyntaxKind::EMPTY_STMT)
        .collect())
}

/// The first child of `node` of kind `kind`.
pub fn child(node: &SyntaxNode, kind: SyntaxKind) -> Option<SyntaxNode> {
    node.children().find(|child| child.kind() == kind)
}

/// Whether `node` has a token of kind `kind` among its direct children.
pub fn has_token(node: &SyntaxNode, kind: SyntaxKind) -> bool {
    node.children_with_tokens()
        .any(|element| element.kind() == kind && element.as_token().is_some())
}

/// An identifier token as PostgreSQL reads it.
pub fn identifier(token: &SyntaxToken) -> String {
    let text = token.text();
    let name = match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\"\"", "\""),
        None => text.to_ascii_lowercase(),
    };
    truncate(name)
}

fn truncate(mut name: String) -> String {
    if name.len() > MAX_IDENTIFIER_BYTES {
        let mut end = MAX_IDENTIFIER_BYTES;
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        name.truncate(end);
    }
    name
}

/// The first identifier-like token of `node` (a keyword used as a name
/// included), skipping whitespace and comments.
pub fn first_name(node: &SyntaxNode) -> Option<String> {
    node.descendants_with_tokens()
        .filter_map(|element| element.into_token())
        .find(|token| !token.kind().is_trivia())
        .map(|token| identifier(&token))
}

/// The parts of a dotted name (`PATH`/`PATH_REF` and their segments).
pub fn path_parts(path: &SyntaxNode) -> Vec<String> {
    let mut parts = Vec::new();
    for child in path.children() {
        match child.kind() {
            SyntaxKind::PATH | SyntaxKind::PATH_REF => parts.extend(path_parts(&child)),
            SyntaxKind::PATH_SEGMENT | SyntaxKind::PATH_SEGMENT_REF => {
                parts.extend(first_name(&child));
            }
            _ => {}
        }
    }
    parts
}

/// The dotted name `node` holds: its first path (`PATH`/`PATH_REF`, however
/// deep), or its first name (a `SCHEMA_REF`'s bare identifier).
pub fn name_of(node: &SyntaxNode) -> Vec<String> {
    match node
        .descendants()
        .find(|c| matches!(c.kind(), SyntaxKind::PATH | SyntaxKind::PATH_REF))
    {
        Some(path) => path_parts(&path),
        None => first_name(node).into_iter().collect(),
    }
}

/// The first descendant of `node` (itself included) of kind `kind`, and
/// its dotted name.
pub fn named(node: &SyntaxNode, kind: SyntaxKind) -> Option<Vec<String>> {
    node.descendants()
        .find(|n| n.kind() == kind)
        .map(|n| name_of(&n))
        .filter(|name| !name.is_empty())
}

/// The dotted name of a function call's callee (`core.now_utc` in
/// `core.now_utc()`), from its field expression.
pub fn field_parts(node: &SyntaxNode) -> Vec<String> {
    let mut parts = Vec::new();
    for child in node.children() {
        match child.kind() {
            SyntaxKind::FIELD_EXPR => parts.extend(field_parts(&child)),
            SyntaxKind::NAME_REF => parts.extend(first_name(&child)),
            _ => {}
        }
    }
    parts
}

/// Whether `node` creates something temporary (`TEMP`, `TEMPORARY`, and
/// their `LOCAL`/`GLOBAL` forms).
pub fn is_temporary(node: &SyntaxNode) -> bool {
    child(node, SyntaxKind::TEMP).is_some()
}
