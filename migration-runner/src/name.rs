//! Migration names: `mYYYYMMDD_HHMMSS_<schema>_<what>`.

/// A parsed, valid migration name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationName {
    /// `YYYYMMDD_HHMMSS`, as written.
    pub timestamp: String,
    /// The schema the name claims (the first word after the timestamp that names a known schema).
    pub schema: String,
    /// Everything after `<schema>_`.
    pub description: String,
}

/// Splits `name` into its parts. `known_schemas` lets schema names contain underscores.
pub fn parse(name: &str, known_schemas: &[&str]) -> Result<MigrationName, String> {
    let parts = split(name, known_schemas)?;
    Ok(MigrationName {
        timestamp: parts.timestamp.to_owned(),
        schema: parts.schema.to_owned(),
        description: parts.description.to_owned(),
    })
}

/// A valid name's parts, borrowed from it (what [`parse`] owns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameParts<'a> {
    pub timestamp: &'a str,
    pub schema: &'a str,
    pub description: &'a str,
}

/// [`parse`] without copying: the catalog checks every name of a long
/// history on each run.
pub fn split<'a>(name: &'a str, known_schemas: &[&str]) -> Result<NameParts<'a>, String> {
    let rest = name
        .strip_prefix('m')
        .ok_or_else(|| "it does not start with `m`".to_owned())?;
    let (timestamp, rest) = split_timestamp(rest)?;
    let schema = known_schemas
        .iter()
        .filter(|schema| {
            rest.strip_prefix(**schema)
                .is_some_and(|after| after.starts_with('_'))
        })
        .max_by_key(|schema| schema.len())
        .map(|schema| &rest[..schema.len()])
        .or_else(|| rest.split('_').next())
        .filter(|schema| !schema.is_empty())
        .ok_or_else(|| "the schema is missing after the timestamp".to_owned())?;
    let description = rest
        .strip_prefix(schema)
        .and_then(|after| after.strip_prefix('_'))
        .unwrap_or_default();
    if description.is_empty() {
        return Err(format!("it has no description after the schema `{schema}`"));
    }
    if let Some(bad) = rest
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
    {
        return Err(format!(
            "`{bad}` is not allowed (use lowercase letters, digits and `_`)"
        ));
    }
    Ok(NameParts {
        timestamp,
        schema,
        description,
    })
}

fn split_timestamp(rest: &str) -> Result<(&str, &str), String> {
    let stamp = rest.get(..15).unwrap_or_default();
    let well_formed = stamp.len() == 15
        && stamp
            .char_indices()
            .all(|(i, c)| if i == 8 { c == '_' } else { c.is_ascii_digit() });
    if !well_formed || rest.as_bytes().get(15) != Some(&b'_') {
        return Err(
            "it does not start with a `YYYYMMDD_HHMMSS_` timestamp after the `m`".to_owned(),
        );
    }
    // Digits only, checked above: each field is a plain number. Built
    // through chrono rather than parsed with a format string, which costs
    // more than the rest of a long catalog's loading.
    let field = |range: std::ops::Range<usize>| stamp[range].parse::<u32>().unwrap_or(u32::MAX);
    let real = chrono::NaiveDate::from_ymd_opt(field(0..4) as i32, field(4..6), field(6..8))
        .zip(chrono::NaiveTime::from_hms_opt(
            field(9..11),
            field(11..13),
            field(13..15),
        ))
        .is_some();
    if !real {
        return Err(format!("`{stamp}` is not a real date and time"));
    }
    Ok((stamp, &rest[16..]))
}

/// Turns free text into the `<what>` part of a name: `Add webinar capacity!` → `add_webinar_capacity`.
pub fn slugify(description: &str) -> String {
    let mut slug = String::with_capacity(description.len());
    for c in description.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('_') && !slug.is_empty() {
            slug.push('_');
        }
    }
    slug.trim_end_matches('_').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMAS: &[&str] = &["core", "academy", "talent", "vacancy"];

    #[test]
    fn parses_a_well_formed_name() {
        let name = parse("m20251008_120000_academy_add_webinar_capacity", SCHEMAS).unwrap();
        assert_eq!(name.timestamp, "20251008_120000");
        assert_eq!(name.schema, "academy");
        assert_eq!(name.description, "add_webinar_capacity");
    }

    #[test]
    fn refuses_malformed_names_with_the_reason() {
        let cases = [
            ("20251008_120000_academy_x", "does not start with `m`"),
            ("m2025100_120000_academy_x", "timestamp"),
            ("m20251308_120000_academy_x", "not a real date"),
            ("m20251008_120000_academy", "no description"),
            ("m20251008_120000_academy_Add", "`A` is not allowed"),
        ];
        for (name, expected) in cases {
            let err = parse(name, SCHEMAS).unwrap_err();
            assert!(err.contains(expected), "{name}: {err}");
        }
    }

    #[test]
    fn slugify_keeps_words_and_drops_punctuation() {
        assert_eq!(slugify("Add webinar capacity!"), "add_webinar_capacity");
        assert_eq!(slugify("  users: last-seen  "), "users_last_seen");
    }
}
