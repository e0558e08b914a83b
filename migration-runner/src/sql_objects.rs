//! Which schemas and tables a script touches, read from its SQL text. Only
//! what the preflight needs: schemas created, tables created, altered or
//! dropped, and tables referenced by foreign keys.

use std::collections::BTreeSet;

/// A table as `(schema, name)`; unqualified names are taken as `public`.
pub type TableName = (String, String);

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Objects {
    pub created_schemas: BTreeSet<String>,
    pub created_tables: BTreeSet<TableName>,
    pub altered_tables: BTreeSet<TableName>,
    pub referenced_tables: BTreeSet<TableName>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// An unquoted word, uppercased for keyword matching, with its original lowercase form.
    Word(String, String),
    /// A quoted identifier, as written between the quotes.
    Quoted(String),
    Symbol(char),
}

impl Token {
    fn is(&self, keyword: &str) -> bool {
        matches!(self, Token::Word(upper, _) if upper == keyword)
    }

    fn identifier(&self) -> Option<String> {
        match self {
            Token::Word(_, lower) => Some(lower.clone()),
            Token::Quoted(text) => Some(text.clone()),
            Token::Symbol(_) => None,
        }
    }
}

fn tokenize(sql: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let mut text = String::new();
                while let Some(c) = chars.next() {
                    if c == '"' {
                        if chars.peek() == Some(&'"') {
                            chars.next();
                            text.push('"');
                        } else {
                            break;
                        }
                    } else {
                        text.push(c);
                    }
                }
                tokens.push(Token::Quoted(text));
            }
            '\'' => {
                // String literals name no objects: skip them ('' escapes included).
                while let Some(c) = chars.next() {
                    if c == '\'' && chars.peek() != Some(&'\'') {
                        break;
                    } else if c == '\'' {
                        chars.next();
                    }
                }
            }
            c if c.is_alphanumeric() || c == '_' => {
                let mut word = String::from(c);
                while let Some(&next) = chars.peek() {
                    if next.is_alphanumeric() || next == '_' || next == '$' {
                        word.push(next);
                        chars.next();
                    } else {
                        break;
                    }
                }
                tokens.push(Token::Word(word.to_uppercase(), word.to_lowercase()));
            }
            c if c.is_whitespace() => {}
            c => tokens.push(Token::Symbol(c)),
        }
    }
    tokens
}

/// Adds what `sql` touches to `objects`.
pub fn collect(sql: &str, objects: &mut Objects) {
    let tokens = tokenize(sql);
    let mut i = 0;
    while i < tokens.len() {
        let at = |offset: usize| tokens.get(i + offset);
        if tokens[i].is("CREATE") && at(1).is_some_and(|t| t.is("SCHEMA")) {
            let mut j = i + 2;
            j = skip(&tokens, j, &["IF", "NOT", "EXISTS"]);
            if let Some(name) = tokens.get(j).and_then(Token::identifier) {
                objects.created_schemas.insert(name);
            }
        } else if tokens[i].is("CREATE") {
            let mut j = skip(&tokens, i + 1, &["UNLOGGED", "TEMPORARY", "TEMP"]);
            if tokens.get(j).is_some_and(|t| t.is("TABLE")) {
                j = skip(&tokens, j + 1, &["IF", "NOT", "EXISTS"]);
                if let Some((table, _)) = table_name(&tokens, j) {
                    objects.created_tables.insert(table);
                }
            } else {
                j = skip(&tokens, j, &["UNIQUE"]);
                if tokens.get(j).is_some_and(|t| t.is("INDEX"))
                    && let Some(on) = tokens[j..].iter().position(|t| t.is("ON"))
                {
                    let k = skip(&tokens, j + on + 1, &["ONLY"]);
                    if let Some((table, _)) = table_name(&tokens, k) {
                        objects.altered_tables.insert(table);
                    }
                }
            }
        } else if (tokens[i].is("ALTER") || tokens[i].is("DROP"))
            && at(1).is_some_and(|t| t.is("TABLE"))
        {
            let j = skip(&tokens, i + 2, &["IF", "EXISTS", "ONLY"]);
            if let Some((table, _)) = table_name(&tokens, j) {
                objects.altered_tables.insert(table);
            }
        } else if tokens[i].is("REFERENCES")
            && let Some((table, _)) = table_name(&tokens, i + 1)
        {
            objects.referenced_tables.insert(table);
        }
        i += 1;
    }
}

fn skip(tokens: &[Token], mut j: usize, keywords: &[&str]) -> usize {
    while tokens
        .get(j)
        .is_some_and(|t| keywords.iter().any(|k| t.is(k)))
    {
        j += 1;
    }
    j
}

fn table_name(tokens: &[Token], j: usize) -> Option<(TableName, usize)> {
    let first = tokens.get(j)?.identifier()?;
    if tokens.get(j + 1) == Some(&Token::Symbol('.')) {
        let second = tokens.get(j + 2)?.identifier()?;
        Some(((first, second), j + 3))
    } else {
        Some((("public".to_owned(), first), j + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objects(sql: &[&str]) -> Objects {
        let mut objects = Objects::default();
        for statement in sql {
            collect(statement, &mut objects);
        }
        objects
    }

    fn table(schema: &str, name: &str) -> TableName {
        (schema.to_owned(), name.to_owned())
    }

    #[test]
    fn finds_schemas_tables_and_references() {
        let found = objects(&[
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
    }
}
