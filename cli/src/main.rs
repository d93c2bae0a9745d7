//! `contact-import`: preview contact files, import them into a local store
//! or a deployed stack, and look at the imports, their reports and the
//! stored contacts.

mod backends;
mod commands;
mod failure;
mod files;
mod output;

use std::future::Future;
use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use contact_import_core::rules::echo::echo;

use crate::backends::deployed::Aws;
use crate::backends::embedded::Local;
use crate::backends::BackendArgs;
use crate::commands::contacts::ContactsCommand;
use crate::commands::dnc::DncCommand;
use crate::commands::generate::GenerateArgs;
use crate::commands::history::HistoryArgs;
use crate::commands::import::ImportArgs;
use crate::commands::preview::PreviewArgs;
use crate::commands::report::ReportArgs;
use crate::commands::resume::ResumeArgs;
use crate::commands::status::StatusArgs;
use crate::commands::{contacts, dnc, generate, history, import, preview, report, resume, status};
use crate::failure::{BadInput, Failure, JsonFailure};

/// Contact import for the dialer: check a contact file, import it, and look
/// at the imports, their error reports and the stored contacts.
///
/// Imports run on this machine: the store and the uploaded files live in
/// the --data folder, so imports accumulate and deduplicate across runs.
/// With --aws, the commands work against a deployed stack instead.
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
    /// Finish an import whose command ended before it did: the latest
    /// import, or IMPORT_ID. The result is the same as if it had not stopped.
    Resume(ResumeArgs),
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
            Command::Resume(args) => (args.json, false),
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

// Rows are many small strings, made and freed on every core: mimalloc's
// per-thread heaps do that faster, and hold less memory, than the system
// allocator (docs/decisions.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return bad_arguments(error),
    };
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

/// A command line clap refuses, told as every other bad input: one line,
/// and one JSON object with `--json`. Help and the version print as clap
/// prints them.
fn bad_arguments(error: clap::Error) -> ExitCode {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        error.exit();
    }
    let text = error.render().to_string();
    // The problem is the first paragraph: `error: …`, and what it lists.
    let problem = text
        .lines()
        .take_while(|line| !line.trim().is_empty())
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ");
    let mut problem = problem.trim_start_matches("error: ").to_owned();
    for kind in [
        ContextKind::InvalidValue,
        ContextKind::InvalidArg,
        ContextKind::InvalidSubcommand,
    ] {
        if let Some(ContextValue::String(value)) = error.get(kind) {
            problem = problem.replace(value.as_str(), &echo(value));
        }
    }
    let message = match text.lines().find_map(|line| line.strip_prefix("Usage: ")) {
        Some(usage) => format!("{problem}; usage: {usage} (--help says more)"),
        None => format!("{problem}; `contact-import --help` says more"),
    };
    // The command line did not parse, so `--json` is looked for as written.
    let json = if std::env::args_os().any(|arg| arg == "--json") {
        JsonFailure::Plain
    } else {
        JsonFailure::Off
    };
    Failure::from(BadInput::other("contact-import", "bad_arguments", message)).report(json)
}

/// Runs `$command` with `$backend` bound to the backend `$args` names: the
/// deployed stack with --aws, else the local data folder.
macro_rules! on_backend {
    ($args:expr, |$backend:ident| $command:expr) => {{
        let args: &BackendArgs = $args;
        if args.aws {
            on_runtime(async {
                let $backend = Aws::connect(args).await?;
                $command.await
            })
        } else {
            let $backend = Local::open(args)?;
            on_runtime($command)
        }
    }};
}

fn run(command: &Command, out: &mut impl Write) -> Result<(), Failure> {
    match command {
        Command::Preview(args) => preview::run(args, out),
        Command::Generate(args) => generate::run(args, out),
        Command::Import(args) => {
            // Checked before anything is touched: a refused file writes nothing.
            let checked = import::check(args)?;
            if args.backend.aws {
                on_runtime(async {
                    let aws = Aws::connect(&args.backend)
                        .await?
                        .with_start_timeout(Duration::from_secs(args.start_timeout));
                    import::run(&aws, args, checked, out).await
                })
            } else {
                let local = Local::open(&args.backend)?.with_chunk_rows(args.chunk_rows);
                on_runtime(import::run(&local, args, checked, out))
            }
        }
        Command::Status(args) => {
            on_backend!(&args.backend, |backend| status::run(&backend, args, out))
        }
        Command::Resume(args) => {
            resume::check(args)?;
            let local = Local::open(&args.backend)?;
            on_runtime(resume::run(&local, args, out))
        }
        Command::History(args) => {
            on_backend!(&args.backend, |backend| history::run(&backend, args, out))
        }
        Command::Report(args) => {
            on_backend!(&args.backend, |backend| report::run(&backend, args, out))
        }
        Command::Contacts(command) => {
            on_backend!(&command.args().backend, |backend| contacts::run(
                &backend, command, out
            ))
        }
        Command::Dnc(command) => {
            let numbers = dnc::numbers(command)?;
            on_backend!(&command.options().backend, |backend| dnc::run(
                &backend, command, numbers, out
            ))
        }
    }
}

/// Runs a command on a multi-threaded runtime: the importers use every core.
fn on_runtime(command: impl Future<Output = Result<(), Failure>>) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(command);
    // After Ctrl-C a scan may still be reading on a blocking thread: exit
    // now rather than wait for it. Each store write is atomic either way.
    runtime.shutdown_background();
    result
}

/// Every command but `preview` and `generate` takes the same backend options.
#[cfg(test)]
fn backend_args(command: &Command) -> Option<&BackendArgs> {
    match command {
        Command::Preview(_) | Command::Generate(_) => None,
        Command::Import(args) => Some(&args.backend),
        Command::Status(args) => Some(&args.backend),
        Command::Resume(args) => Some(&args.backend),
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

    const EVERY_BACKEND_COMMAND: [&[&str]; 10] = [
        &["import", "a.csv"],
        &["status"],
        &["resume"],
        &["history"],
        &["report", "imp-1"],
        &["contacts", "list"],
        &["contacts", "export"],
        &["dnc", "add", "+14155552671"],
        &["dnc", "import", "dnc.csv"],
        &["import", "a.csv", "--json"],
    ];

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_local_command_takes_data_and_tenant() {
        for line in EVERY_BACKEND_COMMAND {
            let args = ["contact-import"]
                .iter()
                .chain(line)
                .chain(&["--data", "d", "--tenant", "acme"]);
            let cli = Cli::try_parse_from(args).unwrap();
            let backend = backend_args(&cli.command).expect("a local command");
            assert_eq!(backend.data.as_deref(), Some(std::path::Path::new("d")));
            assert_eq!(backend.tenant.as_deref(), Some("acme"), "{line:?}");
        }
    }

    #[test]
    fn every_local_command_takes_aws_with_a_bucket_and_a_tenant() {
        for line in EVERY_BACKEND_COMMAND {
            let args = ["contact-import"].iter().chain(line).chain(&[
                "--aws",
                "--bucket",
                "imports-1",
                "--tenant",
                "acme",
            ]);
            let cli = Cli::try_parse_from(args).unwrap();
            let backend = backend_args(&cli.command).expect("a backend command");
            assert!(backend.aws, "{line:?}");
            assert_eq!(backend.bucket.as_deref(), Some("imports-1"));
            assert_eq!(backend.table, None);
        }
    }

    #[test]
    fn aws_needs_a_bucket_and_a_tenant_and_refuses_local_options() {
        let refused: [&[&str]; 6] = [
            &["status", "--aws", "--tenant", "acme"],
            &["status", "--aws", "--bucket", "b"],
            &[
                "status", "--aws", "--bucket", "b", "--tenant", "acme", "--data", "d",
            ],
            &[
                "import",
                "a.csv",
                "--aws",
                "--bucket",
                "b",
                "--tenant",
                "t",
                "--chunk-rows",
                "5",
            ],
            &["status", "--bucket", "b"],
            &["status", "--table", "t"],
        ];
        for line in refused {
            let args = ["contact-import"].iter().chain(line);
            assert!(Cli::try_parse_from(args).is_err(), "{line:?}");
        }
    }
}
