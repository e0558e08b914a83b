//! A migration's recorded step: its direction and the statements it emits,
//! with the checksum history records. Plain data, below everything that
//! records, prints, sums or runs it (capture, sum, plan, the executor).

use sea_orm::Statement;
use sha2::{Digest, Sha256};

/// Which step of a migration to record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
        }
    }
}

/// The statements one step of a migration emits, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    pub statements: Vec<Statement>,
}

impl Script {
    /// SHA-256 over the statements as they would be printed (values inlined).
    pub fn checksum(&self) -> String {
        let mut hasher = Sha256::new();
        for statement in &self.statements {
            hasher.update(statement.to_string().as_bytes());
            hasher.update(b"\n;\n");
        }
        hex::encode(hasher.finalize())
    }

    /// The statements as SQL text, each terminated by `;`.
    pub fn sql_lines(&self) -> impl Iterator<Item = String> + '_ {
        self.statements.iter().map(|statement| {
            let sql = statement.to_string();
            if sql.trim_end().ends_with(';') {
                sql
            } else {
                format!("{sql};")
            }
        })
    }
}
