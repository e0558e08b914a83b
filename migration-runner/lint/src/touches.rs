//! Declared cross-schema changes: a line `// migrate: touches <schema>[, <schema>...]`
//! in a migration's source says which schemas besides its own it changes
//! (whole-line comments only, as for allow-comments).

use super::allow::line_comment;

/// The schemas a migration's source declares it touches, in order, once each.
pub fn declared_schemas(source: &str) -> Vec<String> {
    let mut schemas: Vec<String> = Vec::new();
    for line in source.lines() {
        let Some(list) = line_comment(line)
            .and_then(|c| c.strip_prefix("migrate:"))
            .map(str::trim_start)
            .and_then(|c| c.strip_prefix("touches"))
            .filter(|rest| rest.starts_with(char::is_whitespace))
        else {
            continue;
        };
        for schema in list.split(',').map(str::trim) {
            if !schema.is_empty() && !schemas.iter().any(|s| s == schema) {
                schemas.push(schema.to_owned());
            }
        }
    }
    schemas
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_touches_line() {
        let source = "\
//! Links applications to profiles.
// migrate: touches talent
    // migrate: touches core, billing ,talent
// migrate: touchestalent
let s = \"// migrate: touches nowhere\";
// migrate: touches
";
        assert_eq!(declared_schemas(source), vec!["talent", "core", "billing"]);
        assert!(declared_schemas("").is_empty());
    }
}
