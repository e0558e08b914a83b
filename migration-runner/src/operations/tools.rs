//! Finding `pg_dump` and `pg_restore` as the local cluster finds the server
//! binaries: `$PG_BIN_DIR` (only there when it is set: an explicit choice),
//! else `PATH`, `pg_config --bindir`, `/usr/lib/postgresql/*/bin` (newest
//! first) and Homebrew's prefixes; the first one at least as new as the
//! server wins, since an older `pg_dump` refuses a newer server.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::OperationsError;

/// A client tool found on this machine, with its version.
#[derive(Debug, Clone)]
pub struct Tool {
    pub name: &'static str,
    pub path: PathBuf,
    /// `15.18`, as `--version` prints it.
    pub version: String,
    pub major: u32,
}

/// Finds `name` (`pg_dump`, `pg_restore`) for a server of major version `server_major`.
pub fn find(
    name: &'static str,
    server_major: u32,
    server_version: &str,
) -> Result<Tool, OperationsError> {
    let explicit = std::env::var_os("PG_BIN_DIR").map(PathBuf::from);
    let candidates = match &explicit {
        Some(dir) => vec![dir.clone()],
        None => search_path(),
    };
    let mut too_old: Vec<Tool> = Vec::new();
    for dir in candidates {
        let path = dir.join(name);
        if !path.is_file() {
            continue;
        }
        let Some(tool) = probe(name, &path) else {
            continue;
        };
        if tool.major >= server_major {
            return Ok(tool);
        }
        too_old.push(tool);
    }
    match too_old.into_iter().next() {
        Some(old) => Err(OperationsError::ToolTooOld {
            tool: name,
            path: old.path,
            version: old.version,
            server: server_version.to_owned(),
            server_major,
        }),
        None => Err(OperationsError::ToolMissing {
            tool: name,
            looked: if explicit.is_some() {
                "$PG_BIN_DIR (it is set, so nowhere else)".to_owned()
            } else {
                "$PG_BIN_DIR, PATH, `pg_config --bindir`, /usr/lib/postgresql/*/bin and Homebrew's prefixes"
                    .to_owned()
            },
            server_major,
        }),
    }
}

/// `name --version`, read as `<name> (PostgreSQL) 15.18 ...`.
fn probe(name: &'static str, path: &Path) -> Option<Tool> {
    let output = Command::new(path).arg("--version").output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let version = text
        .split_whitespace()
        .find(|word| word.starts_with(|c: char| c.is_ascii_digit()))?
        .to_owned();
    let major = version
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    Some(Tool {
        name,
        path: path.to_owned(),
        version,
        major,
    })
}

/// Where PostgreSQL's client and server binaries are looked for after
/// `$PG_BIN_DIR`: PATH, `pg_config --bindir`, Debian's versioned directories
/// (newest first), Homebrew's. The local cluster (`migration-dev`) uses it too.
pub fn search_path() -> Vec<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path));
    }
    if let Ok(output) = Command::new("pg_config").arg("--bindir").output()
        && output.status.success()
    {
        candidates.push(String::from_utf8_lossy(&output.stdout).trim().into());
    }
    candidates.extend(versioned_dirs("/usr/lib/postgresql", "", "bin"));
    for prefix in ["/opt/homebrew/opt", "/usr/local/opt"] {
        candidates.extend(versioned_dirs(prefix, "postgresql", "bin"));
    }
    candidates.push("/opt/homebrew/bin".into());
    candidates.push("/usr/local/bin".into());
    candidates
}

/// `<parent>/<prefix><version>/<leaf>`, newest version first.
fn versioned_dirs(parent: &str, prefix: &str, leaf: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Vec::new();
    };
    let mut found: Vec<(u32, PathBuf)> = entries
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().to_string_lossy().into_owned();
            let rest = name.strip_prefix(prefix)?.trim_start_matches('@');
            let version = rest
                .split('.')
                .next()
                .filter(|v| !v.is_empty())
                .map_or(Some(0), |v| v.parse().ok())?;
            Some((version, Path::new(parent).join(&name).join(leaf)))
        })
        .collect();
    found.sort_by_key(|(version, _)| std::cmp::Reverse(*version));
    found.into_iter().map(|(_, dir)| dir).collect()
}
