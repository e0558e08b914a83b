//! The sum file, `migration-runner/migrations.sum` (as Atlas's `atlas.sum`):
//! one line per migration in global order (name, schema, SHA-256 of the SQL
//! it emits, the tables it touches), then a line hashing every line above.
//!
//! Adding a migration rewrites that last line, so two branches that each add
//! one conflict in git at merge time instead of after deploy. The base side
//! of `migrate check` is read from it (`git show <ref>:migration-runner/migrations.sum`),
//! so the base never has to be built. `cargo xtask migrate hash` writes it;
//! `migrate new` keeps it current; `status`, `check` and the tests refuse
//! when it disagrees with the code.

use std::fmt;

use sha2::{Digest, Sha256};

use crate::source::script::Script;
use sql_objects::{self, Objects};

/// Where the sum file lives, relative to the workspace root.
pub const PATH: &str = "migration-runner/migrations.sum";

const HEADER: &str = "\
# migration-runner sum file: every migration in global order (name, schema, SHA-256 of its SQL,
# tables it touches), then the hash of all those lines. Written by `cargo xtask migrate hash`;
# never edit it by hand. A merge conflict here means two branches added migrations: run
# `cargo xtask migrate rebase` (it merges both sides' lines and renumbers this branch's).";

/// The documented global order: timestamp, then `core` before every other
/// schema, then schema name, then full name.
pub fn order_key<'a>(
    timestamp: &'a str,
    schema: &'a str,
    name: &'a str,
) -> (&'a str, bool, &'a str, &'a str) {
    (timestamp, schema != "core", schema, name)
}

/// One migration's line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SumEntry {
    pub name: String,
    pub schema: String,
    pub checksum: String,
    /// `schema.table`, sorted.
    pub tables: Vec<String>,
}

impl SumEntry {
    /// Its place in the global order (the catalog's: timestamp, `core`
    /// first, schema, name).
    pub fn sort_key(&self) -> (&str, bool, &str, &str) {
        let timestamp = self.name.get(1..16).unwrap_or_default();
        order_key(timestamp, &self.schema, &self.name)
    }

    /// The line for a migration whose `up` emitted `script`.
    pub fn of(name: &str, schema: &str, script: &Script) -> Self {
        let mut objects = Objects::default();
        for statement in &script.statements {
            sql_objects::collect(&statement.to_string(), &mut objects);
        }
        let mut tables: Vec<String> = objects
            .created_tables
            .iter()
            .chain(&objects.altered_tables)
            .chain(&objects.referenced_tables)
            .map(|(schema, table)| format!("{schema}.{table}"))
            .collect();
        tables.sort();
        tables.dedup();
        Self {
            name: name.to_owned(),
            schema: schema.to_owned(),
            checksum: script.checksum(),
            tables,
        }
    }

    fn line(&self) -> String {
        let tables = if self.tables.is_empty() {
            "-".to_owned()
        } else {
            self.tables.join(",")
        };
        format!("{} {} {} {tables}", self.name, self.schema, self.checksum)
    }
}

/// A parsed, self-consistent sum file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SumFile {
    pub entries: Vec<SumEntry>,
}

/// Why a sum file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SumError {
    #[error(
        "{PATH} line {line} is malformed ({problem}); it is written by `cargo xtask migrate hash`: run it \
         (a merge conflict in it: `cargo xtask migrate rebase` resolves it)"
    )]
    Malformed { line: usize, problem: String },
    #[error(
        "{PATH} does not add up: its last line does not hash the lines above (edited by hand, or a merge \
         kept both sides): `cargo xtask migrate rebase` merges both sides' lines, or run `cargo xtask migrate hash`"
    )]
    Total,
}

/// The history digest of `(name, checksum)` rows, each `applied`, as the
/// history table's trigger computes it: the row count and four 60-bit lanes
/// of each row's SHA-256, summed (see `history::Digest`).
pub fn row_digest<'a>(rows: impl IntoIterator<Item = (&'a str, &'a str)>) -> (usize, [u128; 4]) {
    let mut count = 0;
    let mut lanes = [0u128; 4];
    for (name, checksum) in rows {
        let mut hasher = Sha256::new();
        hasher.update(name.as_bytes());
        hasher.update(b"\n");
        hasher.update(checksum.as_bytes());
        hasher.update(b"\napplied");
        let hash = hasher.finalize();
        for (lane, sum) in lanes.iter_mut().enumerate() {
            *sum += u128::from(lane_value(&hash, lane));
        }
        count += 1;
    }
    (count, lanes)
}

/// The number the trigger reads from a row hash's hex digits
/// `lane * 15 .. lane * 15 + 15` (`('x' || substr(...))::bit(60)`), taken
/// from the bytes without writing the hex out: a long history's digest is
/// mostly this.
fn lane_value(hash: &[u8], lane: usize) -> u64 {
    (lane * 15..lane * 15 + 15).fold(0, |value, nibble| {
        let byte = hash[nibble / 2];
        let digit = if nibble % 2 == 0 {
            byte >> 4
        } else {
            byte & 0x0f
        };
        (value << 4) | u64::from(digit)
    })
}

/// What the release binary's no-op check takes from its compiled-in sum
/// file: each migration's `(name, schema, checksum)` and the digest history
/// must have when all are applied. Computed on a thread of its own while the
/// run connects ([`SumRecord::start`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SumRecord {
    pub entries: Vec<(&'static str, &'static str, &'static str)>,
    pub rows: usize,
    pub lanes: [u128; 4],
}

impl SumRecord {
    /// The record of `text`; `None` when its total does not add up.
    pub fn of(text: &'static str) -> Option<Self> {
        let entries = records(text)?;
        let (rows, lanes) =
            row_digest(entries.iter().map(|(name, _, checksum)| (*name, *checksum)));
        Some(Self {
            entries,
            rows,
            lanes,
        })
    }

    /// [`SumRecord::of`] on a thread of its own (pure CPU: it runs while the
    /// run connects); `join` it when needed.
    pub fn start(text: &'static str) -> std::thread::JoinHandle<Option<Self>> {
        std::thread::spawn(move || Self::of(text))
    }
}

/// `(name, schema, checksum)` of every migration line of a sum file's text,
/// borrowed from it, when its total adds up (`None` otherwise, or when a
/// line is malformed: [`SumFile::parse`] then says what is wrong). What the
/// no-op check reads: no entry is built.
fn records(text: &str) -> Option<Vec<(&str, &str, &str)>> {
    let lines = read_lines(text).ok()?;
    lines.adds_up.then(|| {
        lines
            .entries
            .into_iter()
            .map(|[name, schema, checksum, _]| (name, schema, checksum))
            .collect()
    })
}

/// A sum file's text read line by line, borrowed: each migration line's
/// four fields, and whether the total hashes the lines above as written (a
/// line that reads is written exactly as [`SumEntry`] renders it).
struct Lines<'a> {
    entries: Vec<[&'a str; 4]>,
    adds_up: bool,
}

fn read_lines(text: &str) -> Result<Lines<'_>, SumError> {
    let mut hasher = Sha256::new();
    let mut entries = Vec::new();
    let mut total = None;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let malformed = |problem: &str| SumError::Malformed {
            line: number,
            problem: problem.to_owned(),
        };
        if total.is_some() {
            return Err(malformed("a line after the total"));
        }
        if line.starts_with("<<<<<<<") || line.starts_with("=======") || line.starts_with(">>>>>>>")
        {
            return Err(malformed("an unresolved merge conflict"));
        }
        let fields: Vec<&str> = line.split(' ').collect();
        match fields.as_slice() {
            ["total", sum] => total = Some(*sum),
            [name, schema, checksum, tables] => {
                hasher.update(line.as_bytes());
                hasher.update(b"\n");
                entries.push([*name, *schema, *checksum, *tables]);
            }
            _ => {
                return Err(malformed(
                    "expected `<name> <schema> <checksum> <tables>` or `total <hash>`",
                ));
            }
        }
    }
    let Some(total) = total else {
        return Err(SumError::Malformed {
            line: text.lines().count(),
            problem: "no `total` line".to_owned(),
        });
    };
    Ok(Lines {
        entries,
        adds_up: total == hex::encode(hasher.finalize()),
    })
}

impl SumFile {
    pub fn new(entries: Vec<SumEntry>) -> Self {
        Self { entries }
    }

    fn total(entries: &[SumEntry]) -> String {
        let mut hasher = Sha256::new();
        for entry in entries {
            hasher.update(entry.line().as_bytes());
            hasher.update(b"\n");
        }
        hex::encode(hasher.finalize())
    }

    /// The file's text.
    pub fn render(&self) -> String {
        let mut text = String::from(HEADER);
        text.push('\n');
        for entry in &self.entries {
            text.push_str(&entry.line());
            text.push('\n');
        }
        text.push_str(&format!("total {}\n", Self::total(&self.entries)));
        text
    }

    /// Reads a sum file, refusing one whose total does not match its lines.
    pub fn parse(text: &str) -> Result<Self, SumError> {
        let lines = read_lines(text)?;
        if !lines.adds_up {
            return Err(SumError::Total);
        }
        let entries = lines
            .entries
            .into_iter()
            .map(|[name, schema, checksum, tables]| SumEntry {
                name: name.to_owned(),
                schema: schema.to_owned(),
                checksum: checksum.to_owned(),
                tables: if tables == "-" {
                    Vec::new()
                } else {
                    tables.split(',').map(str::to_owned).collect()
                },
            })
            .collect();
        Ok(Self { entries })
    }

    /// The entry of `name`.
    pub fn get(&self, name: &str) -> Option<&SumEntry> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// Appends an entry (a migration written by `migrate new`).
    pub fn push(&mut self, entry: SumEntry) {
        self.entries.push(entry);
    }
}

/// How the code and a sum file disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SumMismatch {
    /// In the code, not in the sum file.
    Unlisted { name: String },
    /// In the sum file, not in the code.
    Gone { name: String },
    /// Listed with another checksum (or other tables).
    Differs { name: String },
}

impl fmt::Display for SumMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SumMismatch::Unlisted { name } => write!(f, "`{name}` is not in {PATH}"),
            SumMismatch::Gone { name } => write!(f, "`{name}` is in {PATH} but not in the code"),
            SumMismatch::Differs { name } => {
                write!(f, "`{name}` emits other SQL than {PATH} records")
            }
        }
    }
}

/// What differs between `expected` (the code) and `file`.
pub fn compare(expected: &SumFile, file: &SumFile) -> Vec<SumMismatch> {
    mismatches(
        file,
        expected
            .entries
            .iter()
            .map(|entry| (entry.name.as_str(), file.get(&entry.name) == Some(entry))),
    )
}

/// What differs between the code, as `(name, checksum)` pairs (`None` when a
/// migration cannot be checksummed: reported elsewhere), and `file`.
pub fn compare_checksums<'a>(
    file: &SumFile,
    code: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
) -> Vec<SumMismatch> {
    mismatches(
        file,
        code.into_iter().map(|(name, checksum)| {
            let agrees = match (file.get(name), checksum) {
                (Some(listed), Some(checksum)) => listed.checksum == checksum,
                _ => true,
            };
            (name, agrees)
        }),
    )
}

/// Unlisted and differing migrations in code order, then those only listed.
fn mismatches<'a>(
    file: &SumFile,
    code: impl IntoIterator<Item = (&'a str, bool)>,
) -> Vec<SumMismatch> {
    let mut found = Vec::new();
    let mut in_code = std::collections::HashSet::new();
    for (name, agrees) in code {
        in_code.insert(name);
        match file.get(name) {
            None => found.push(SumMismatch::Unlisted {
                name: name.to_owned(),
            }),
            Some(_) if !agrees => found.push(SumMismatch::Differs {
                name: name.to_owned(),
            }),
            Some(_) => {}
        }
    }
    for listed in &file.entries {
        if !in_code.contains(listed.name.as_str()) {
            found.push(SumMismatch::Gone {
                name: listed.name.clone(),
            });
        }
    }
    found
}

#[cfg(test)]
mod tests {

    /// The lanes read from the bytes are the trigger's: 15 hex digits each.
    #[test]
    fn a_lane_is_fifteen_hex_digits_of_the_row_hash() {
        for text in [
            "m1\nabc\napplied",
            "",
            "m20250101_000000_core_x\n00ff\napplied",
        ] {
            let hash = Sha256::digest(text.as_bytes());
            let hex = hex::encode(hash);
            for lane in 0..4 {
                let expected = u64::from_str_radix(&hex[lane * 15..lane * 15 + 15], 16).unwrap();
                assert_eq!(lane_value(&hash, lane), expected, "lane {lane} of {text:?}");
            }
        }
        let (rows, lanes) = row_digest([("a", "1"), ("b", "2")]);
        assert_eq!(rows, 2);
        assert_ne!(lanes, [0; 4]);
    }

    use super::*;

    fn entry(name: &str, checksum: &str) -> SumEntry {
        SumEntry {
            name: name.to_owned(),
            schema: "core".to_owned(),
            checksum: checksum.to_owned(),
            tables: vec!["core.users".to_owned()],
        }
    }

    #[test]
    fn a_rendered_file_parses_back() {
        let file = SumFile::new(vec![entry("m1", "aa"), entry("m2", "bb")]);
        assert_eq!(SumFile::parse(&file.render()).unwrap(), file);
    }

    #[test]
    fn a_hand_edit_or_a_conflict_is_refused() {
        let text = SumFile::new(vec![entry("m1", "aa"), entry("m2", "bb")]).render();
        assert_eq!(
            SumFile::parse(&text.replace(" bb ", " cc ")).unwrap_err(),
            SumError::Total
        );
        let conflicted = text.replace("m2 core", "<<<<<<< HEAD\nm2 core");
        assert!(matches!(
            SumFile::parse(&conflicted).unwrap_err(),
            SumError::Malformed { .. }
        ));
    }

    #[test]
    fn mismatches_are_named() {
        let code = SumFile::new(vec![entry("m1", "aa"), entry("m3", "cc")]);
        let file = SumFile::new(vec![entry("m1", "xx"), entry("m2", "bb")]);
        assert_eq!(
            compare(&code, &file),
            vec![
                SumMismatch::Differs { name: "m1".into() },
                SumMismatch::Unlisted { name: "m3".into() },
                SumMismatch::Gone { name: "m2".into() },
            ]
        );
    }
}
