//! The one table of exit codes every command of both binaries (`cargo xtask`
//! and `migration-runner`) follows; the README prints the same table.

/// A process exit code with a meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done; for `status`, everything is applied and intact.
    Success,
    /// Nothing is wrong, but something is left to do: `status` with pending
    /// migrations, `db status` with the local cluster stopped.
    Pending,
    /// Refused before changing anything: a history integrity problem, missing
    /// privileges, pending migrations (for `seed`), an unwritten migration,
    /// invalid seeds, or a safety rule (`down` in production, a declined prompt).
    Refused,
    /// Failed while changing the database: a migration or a seed failed and was
    /// rolled back, or the connection was lost midway.
    Failed,
    /// The database could not be reached, or the migration lock was not
    /// granted in time: nothing was changed, retry later.
    Unavailable,
    /// Bad arguments or configuration (flags, `DATABASE_URL`, `.env`).
    Usage,
}

impl Exit {
    pub const ALL: [Exit; 6] = [
        Exit::Success,
        Exit::Pending,
        Exit::Refused,
        Exit::Failed,
        Exit::Unavailable,
        Exit::Usage,
    ];

    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Pending => 1,
            Exit::Refused => 2,
            Exit::Failed => 3,
            Exit::Unavailable => 4,
            Exit::Usage => 64,
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit.code())
    }
}
