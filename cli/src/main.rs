//! `contact-import`: preview contact files before they are imported.

mod failure;
mod layout;
mod preview;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::failure::Failure;
use crate::preview::PreviewArgs;

/// Contact import for the dialer: check a contact file before importing it.
#[derive(Debug, Parser)]
#[command(name = "contact-import", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show what importing FILE would do; nothing is written.
    ///
    /// Shows the detected encoding and delimiter, the field each column maps
    /// to and why, warnings, counts per outcome for the whole file, the first
    /// clean contacts as they would be stored and the custom fields that
    /// would be created.
    Preview(PreviewArgs),
}

impl Command {
    /// Whether the user asked for JSON on stdout, failures included.
    fn json(&self) -> bool {
        match self {
            Command::Preview(args) => args.json,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.command.json();
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let result = match &cli.command {
        Command::Preview(args) => preview::run(args, &mut out),
    };
    let result = result.and_then(|()| out.flush().map_err(Failure::from));
    drop(out);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(json),
    }
}
