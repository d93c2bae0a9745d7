//! `contact-import`: preview contact files, import them into a local store,
//! and look at the imports, their reports and the stored contacts.

mod backend;
mod contacts;
mod dnc;
mod failure;
mod generate;
mod history;
mod import;
mod layout;
mod local;
mod preview;
mod progress;
mod report;
mod status;
mod summary;

use std::future::Future;
use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::contacts::ContactsCommand;
use crate::dnc::DncCommand;
use crate::failure::{Failure, JsonFailure};
use crate::generate::GenerateArgs;
use crate::history::HistoryArgs;
use crate::import::ImportArgs;
use crate::local::Local;
use crate::preview::PreviewArgs;
use crate::report::ReportArgs;
use crate::status::StatusArgs;

/// Contact import for the dialer: check a contact file, import it, and look
/// at the imports, their error reports and the stored contacts.
///
/// Imports run on this machine: the store and the uploaded files live in
/// the --data folder, so imports accumulate and deduplicate across runs.
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
    /// Import FILE: every row is imported or reported, then the summary.
    ///
    /// The file is checked first (encoding, header, columns, spec); a file
    /// that cannot be imported is refused and nothing is written. Rows run
    /// in parallel across cores; rejected rows go to an error report, which
    /// can be fixed and imported again.
    Import(ImportArgs),
    /// Show an import's summary: the latest import, or IMPORT_ID.
    Status(StatusArgs),
    /// List the imports, newest first.
    History(HistoryArgs),
    /// Print or save an import's error report (errors.csv).
    Report(ReportArgs),
    /// List or export the stored contacts.
    #[command(subcommand)]
    Contacts(ContactsCommand),
    /// Add numbers to the do-not-call list; imports skip them.
    #[command(subcommand)]
    Dnc(DncCommand),
    /// Write a synthetic contact file, to try the importer at scale.
    Generate(GenerateArgs),
}

impl Command {
    /// What the user asked for on stdout when the command fails.
    fn json_failure(&self) -> JsonFailure {
        let (json, with_status) = match self {
            Command::Preview(args) => (args.json, true),
            Command::Import(args) => (args.json, true),
            Command::Status(args) => (args.json, false),
            Command::History(args) => (args.json, false),
            Command::Report(args) => (args.json, false),
            Command::Contacts(command) => (command.args().json, false),
            Command::Dnc(command) => (command.options().json, false),
            Command::Generate(args) => (args.json, false),
        };
        match (json, with_status) {
            (false, _) => JsonFailure::Off,
            (true, false) => JsonFailure::Plain,
            (true, true) => JsonFailure::WithStatus,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.command.json_failure();
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let result = run(&cli.command, &mut out);
    let result = result.and_then(|()| out.flush().map_err(Failure::from));
    drop(out);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(json),
    }
}

fn run(command: &Command, out: &mut impl Write) -> Result<(), Failure> {
    match command {
        Command::Preview(args) => preview::run(args, out),
        Command::Generate(args) => generate::run(args, out),
        Command::Import(args) => {
            // Checked before the data folder is touched: a refused file writes nothing.
            let checked = import::check(args)?;
            let local = Local::open(&args.backend)?.with_chunk_rows(args.chunk_rows);
            on_runtime(import::run(&local, args, checked, out))
        }
        Command::Status(args) => {
            let local = Local::open(&args.backend)?;
            on_runtime(status::run(&local, args, out))
        }
        Command::History(args) => {
            let local = Local::open(&args.backend)?;
            on_runtime(history::run(&local, args, out))
        }
        Command::Report(args) => {
            let local = Local::open(&args.backend)?;
            on_runtime(report::run(&local, args, out))
        }
        Command::Contacts(command) => {
            let local = Local::open(&command.args().backend)?;
            on_runtime(contacts::run(&local, command, out))
        }
        Command::Dnc(command) => {
            let numbers = dnc::numbers(command)?;
            let local = Local::open(&command.options().backend)?;
            on_runtime(dnc::run(&local, command, numbers, out))
        }
    }
}

/// Runs a command on a multi-threaded runtime: the importers use every core.
fn on_runtime(command: impl Future<Output = Result<(), Failure>>) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(command)
}

/// Every local command takes the same data options.
#[cfg(test)]
fn backend_args(command: &Command) -> Option<&backend::BackendArgs> {
    match command {
        Command::Preview(_) | Command::Generate(_) => None,
        Command::Import(args) => Some(&args.backend),
        Command::Status(args) => Some(&args.backend),
        Command::History(args) => Some(&args.backend),
        Command::Report(args) => Some(&args.backend),
        Command::Contacts(command) => Some(&command.args().backend),
        Command::Dnc(command) => Some(&command.options().backend),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_local_command_takes_data_and_tenant() {
        let lines: [&[&str]; 9] = [
            &["import", "a.csv"],
            &["status"],
            &["history"],
            &["report", "imp-1"],
            &["contacts", "list"],
            &["contacts", "export"],
            &["dnc", "add", "+14155552671"],
            &["dnc", "import", "dnc.csv"],
            &["import", "a.csv", "--json"],
        ];
        for line in lines {
            let args = ["contact-import"]
                .iter()
                .chain(line)
                .chain(&["--data", "d", "--tenant", "acme"]);
            let cli = Cli::try_parse_from(args).unwrap();
            let backend = backend_args(&cli.command).expect("a local command");
            assert_eq!(backend.data.as_deref(), Some(std::path::Path::new("d")));
            assert_eq!(backend.tenant, "acme", "{line:?}");
        }
    }
}
