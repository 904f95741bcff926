//! Standard output that a closed pipe ends quietly: `confrere ledger
//! verify | head -1` stops reading after one line, and the next write
//! fails with a broken pipe. `println!` panics there; `outln!` and
//! `out!` end the process with exit code 0 and nothing on stderr, as a
//! command whose reader is done. Any other write error is reported.

use std::fmt;
use std::io::{self, Write};

/// Writes `args` (and a line break when `newline`) to standard output.
pub(crate) fn write(args: fmt::Arguments<'_>, newline: bool) {
    let mut stdout = io::stdout().lock();
    let mut result = stdout.write_fmt(args);
    if newline {
        result = result.and_then(|()| stdout.write_all(b"\n"));
    }
    if let Err(e) = result {
        drop(stdout);
        if e.kind() == io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to standard output: {e}");
        eprintln!("hint: check where the output goes (a full disk, a closed terminal)");
        std::process::exit(i32::from(crate::error::EXIT_REFUSED));
    }
}

/// `println!` to standard output; a closed pipe ends the process quietly.
macro_rules! outln {
    () => { $crate::out::write(format_args!(""), true) };
    ($($arg:tt)*) => { $crate::out::write(format_args!($($arg)*), true) };
}

/// `print!` to standard output; a closed pipe ends the process quietly.
macro_rules! out {
    ($($arg:tt)*) => { $crate::out::write(format_args!($($arg)*), false) };
}
