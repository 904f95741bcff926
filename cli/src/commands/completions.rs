//! `confrere completions SHELL` and `confrere man [--out DIR]`: shell
//! completion scripts and man pages, generated from the clap definitions in
//! `cli.rs`, so they always match the real commands and options.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::CommandFactory;
use clap_mangen::Man;

use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::error::CliError;

/// The binary's name, as completions and man pages call it.
const BIN: &str = "confrere";

/// Prints the completion script for the shell asked for.
pub(crate) fn completions(args: &CompletionsArgs) -> Result<ExitCode, CliError> {
    let mut cmd = Cli::command();
    // Rendered in memory first: the generators panic on a failed write, and
    // a closed stdout deserves an error message, not a panic.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, BIN, &mut script);
    print_bytes(&script)?;
    Ok(ExitCode::SUCCESS)
}

/// Prints the top-level man page, or writes every command's page to a
/// directory.
pub(crate) fn man(args: &ManArgs) -> Result<ExitCode, CliError> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    // Building the root names each subcommand `confrere-inbox-open` and so on,
    // which the pages' titles and file names take.
    cmd.build();
    match &args.out {
        None => {
            let mut page = Vec::new();
            page_of(cmd)
                .render(&mut page)
                .map_err(|e| CliError::input(format!("cannot render the man page: {e}"), BUG))?;
            print_bytes(&page)?;
        }
        Some(dir) => {
            fs::create_dir_all(dir).map_err(|e| {
                CliError::input(
                    format!("cannot create {}: {e}", dir.display()),
                    "give --out a directory you can write to, e.g. ~/.local/share/man/man1",
                )
            })?;
            let mut written = Vec::new();
            write_pages(&cmd, dir, &mut written)?;
            let mut out = String::new();
            for name in &written {
                out.push_str(&format!("{}\n", dir.join(name).display()));
            }
            print_bytes(out.as_bytes())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

const BUG: &str = "this is a bug in confrere: please report it";

/// A command's page, with the program's name and version as its source.
fn page_of(cmd: clap::Command) -> Man {
    Man::new(cmd)
        .source(format!("{BIN} {}", env!("CARGO_PKG_VERSION")))
        .manual("Confrère manual")
}

/// Writes `cmd`'s page and, depth first, those of its subcommands.
fn write_pages(cmd: &clap::Command, dir: &Path, written: &mut Vec<String>) -> Result<(), CliError> {
    let man = page_of(cmd.clone());
    let name = man.get_filename();
    let path = dir.join(&name);
    let mut page = Vec::new();
    man.render(&mut page)
        .map_err(|e| CliError::input(format!("cannot render {name}: {e}"), BUG))?;
    fs::write(&path, &page).map_err(|e| {
        CliError::input(
            format!("cannot write {}: {e}", path.display()),
            "check that the --out directory is writable and the disk not full",
        )
    })?;
    written.push(name);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, dir, written)?;
    }
    Ok(())
}

/// Writes to stdout, turning a failure (a full disk, say) into an error
/// rather than a panic. A reader that stopped early (`| head`) is no error.
fn print_bytes(bytes: &[u8]) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CliError::input(
            format!("cannot write to standard output: {e}"),
            "redirect the output to a file, e.g. `> confrere.1`",
        )),
    }
}
