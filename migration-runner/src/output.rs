//! Writing to stdout without panicking when the reader has gone away
//! (`| head -0`): `println!` panics on a closed pipe, after the work is done.
//! Output lost to a closed pipe is dropped; the exit code still tells.

use std::io::Write as _;

/// Writes `text` and a newline to stdout, ignoring a closed pipe.
pub fn line(text: impl std::fmt::Display) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
}

/// Writes `text` as is to stdout, ignoring a closed pipe.
pub fn text(text: impl std::fmt::Display) {
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "{text}");
}

/// `println!` that never panics on a closed stdout.
#[macro_export]
macro_rules! say {
    () => { $crate::output::line("") };
    ($($arg:tt)*) => { $crate::output::line(format_args!($($arg)*)) };
}
