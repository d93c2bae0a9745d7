//! How a command fails: input the user can fix (exit status 2), or anything
//! else (exit status 1). Either way one line on stderr, never a panic.

use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use contact_import_core::pipeline::PipelineError;
use contact_import_core::ports::PortError;
use contact_import_core::Refusal;

use crate::output::layout::one_line;

/// Exit status for input the user has to fix.
const BAD_INPUT: u8 = 2;
/// Exit status for everything else.
const INTERNAL: u8 = 1;
/// Exit status after Ctrl-C, as shells report a command that SIGINT ended.
const INTERRUPTED: u8 = 130;

/// Input the user can fix: a missing or unreadable file, a bad spec, a
/// refused file, an unknown import id, an invalid number or option.
///
/// A refused file's message comes from a [`Refusal`], which names columns
/// and keys but never a row's values, so no phone number from a file
/// reaches stderr.
#[derive(Debug)]
pub struct BadInput {
    /// What is at fault, as the user wrote it: a path, an id, a number.
    subject: String,
    problem: Problem,
}

#[derive(Debug)]
enum Problem {
    Refused(Refusal),
    /// Anything else, with a short stable code for `--json`.
    Other {
        code: &'static str,
        message: String,
    },
}

impl BadInput {
    pub fn new(path: &Path, refusal: Refusal) -> Self {
        BadInput {
            subject: path.display().to_string(),
            problem: Problem::Refused(refusal),
        }
    }

    /// A file that could not be opened or read.
    pub fn unreadable(path: &Path, error: &io::Error) -> Self {
        BadInput::new(path, Refusal::Unreadable(describe_io(error)))
    }

    /// Any other input at fault: `message` says what is wrong and what to do.
    pub fn other(
        subject: impl fmt::Display,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        BadInput {
            subject: subject.to_string(),
            problem: Problem::Other {
                code,
                message: message.into(),
            },
        }
    }

    pub fn code(&self) -> &'static str {
        match &self.problem {
            Problem::Refused(refusal) => refusal.code(),
            Problem::Other { code, .. } => code,
        }
    }
}

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.problem {
            Problem::Refused(refusal) => write!(f, "{}: {refusal}", self.subject),
            Problem::Other { message, .. } => write!(f, "{}: {message}", self.subject),
        }
    }
}

/// An I/O error as a reader who has to act on it wants it.
pub fn describe_io(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::NotFound => "no such file; check the path".to_owned(),
        io::ErrorKind::PermissionDenied => {
            "permission denied; check the permissions of the file and its folder".to_owned()
        }
        io::ErrorKind::IsADirectory => "it is a directory; give the path of a file".to_owned(),
        io::ErrorKind::StorageFull => "the disk is full; free some space".to_owned(),
        io::ErrorKind::ReadOnlyFilesystem => "the file system is read-only".to_owned(),
        _ => error.to_string(),
    }
}

#[derive(Debug)]
pub enum Failure {
    BadInput(BadInput),
    /// A bad input whose JSON object (a FAILED import's summary) is already
    /// on stdout: only the line on stderr is left to write.
    Reported(BadInput),
    /// Not the user's input: stdout closed, a write failed, the store is busy.
    Internal(anyhow::Error),
    /// Ctrl-C: what was left behind, and what to run next.
    Interrupted(String),
}

impl From<BadInput> for Failure {
    fn from(bad: BadInput) -> Self {
        Failure::BadInput(bad)
    }
}

impl From<io::Error> for Failure {
    fn from(error: io::Error) -> Self {
        // A file the user named could not be written: theirs to fix.
        if let Some(unwritable) = error.get_ref().and_then(|e| e.downcast_ref::<Unwritable>()) {
            return Failure::BadInput(unwritable.to_bad_input());
        }
        Failure::Internal(error.into())
    }
}

impl From<serde_json::Error> for Failure {
    fn from(error: serde_json::Error) -> Self {
        // Writing JSON to a closed pipe is an I/O error like any other write.
        if error.is_io() {
            return Failure::from(io::Error::from(error));
        }
        Failure::Internal(error.into())
    }
}

impl From<PortError> for Failure {
    fn from(error: PortError) -> Self {
        Failure::Internal(error.into())
    }
}

impl From<PipelineError> for Failure {
    fn from(error: PipelineError) -> Self {
        Failure::Internal(error.into())
    }
}

/// What `--json` prints for a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonFailure {
    /// No `--json`: stderr only.
    Off,
    /// `{"error", "code"}`.
    Plain,
    /// `{"status": "FAILED", "error", "code"}`, for commands whose JSON
    /// describes a file or an import (`preview`, `import`).
    WithStatus,
}

impl Failure {
    /// Tells the user and gives the exit status. With `--json`, every
    /// failure is also one JSON object on stdout, as every `--json` run
    /// prints one: `error` and `code`, and `"status": "FAILED"` for a bad
    /// input to `preview` or `import`, where nothing was imported.
    pub fn report(self, json: JsonFailure) -> ExitCode {
        match self {
            Failure::BadInput(bad) => {
                let error = bad.to_string();
                let _ = writeln!(io::stderr(), "error: {}", one_line(&error));
                print_json(json, json == JsonFailure::WithStatus, &error, bad.code());
                ExitCode::from(BAD_INPUT)
            }
            Failure::Reported(bad) => {
                let _ = writeln!(io::stderr(), "error: {}", one_line(&bad.to_string()));
                ExitCode::from(BAD_INPUT)
            }
            // The reader of our output went away (`| head`): nothing to say.
            Failure::Internal(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
            Failure::Internal(error) => {
                let message = format!("{error:#}");
                let _ = writeln!(io::stderr(), "error: {}", one_line(&message));
                // Not "FAILED": a local import that stopped here can be resumed.
                print_json(json, false, &message, internal_code(&error));
                ExitCode::from(INTERNAL)
            }
            Failure::Interrupted(message) => {
                let _ = writeln!(io::stderr(), "{message}");
                print_json(json, false, &message, "interrupted");
                ExitCode::from(INTERRUPTED)
            }
        }
    }
}

/// The one JSON object of a failed `--json` run, if it is one.
fn print_json(json: JsonFailure, failed_status: bool, error: &str, code: &str) {
    if json == JsonFailure::Off {
        return;
    }
    let mut object = serde_json::Map::new();
    if failed_status {
        object.insert("status".to_owned(), "FAILED".into());
    }
    object.insert("error".to_owned(), error.into());
    object.insert("code".to_owned(), code.into());
    let _ = writeln!(io::stdout(), "{}", serde_json::Value::Object(object));
}

/// `temporary` when trying again can help (a busy store), else `internal`.
fn internal_code(error: &anyhow::Error) -> &'static str {
    let temporary = error
        .downcast_ref::<PortError>()
        .is_some_and(PortError::is_retryable)
        || error
            .downcast_ref::<PipelineError>()
            .is_some_and(PipelineError::is_retryable);
    if temporary {
        "temporary"
    } else {
        "internal"
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<io::Error>()
        .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_read_as_advice() {
        let missing = BadInput::unreadable(Path::new("a.csv"), &io::ErrorKind::NotFound.into());
        assert_eq!(
            missing.to_string(),
            "a.csv: the file could not be read: no such file; check the path"
        );
        assert_eq!(missing.code(), "unreadable");
    }

    #[test]
    fn refusals_keep_their_code() {
        let bad = BadInput::new(Path::new("x.csv"), Refusal::NoDataRows);
        assert_eq!(bad.code(), "no_data_rows");
        assert!(bad
            .to_string()
            .starts_with("x.csv: the file has a header row"));
    }

    #[test]
    fn other_problems_name_their_subject() {
        let bad = BadInput::other("imp-1", "unknown_import", "no such import");
        assert_eq!(bad.to_string(), "imp-1: no such import");
        assert_eq!(bad.code(), "unknown_import");
    }
}

/// An output file that could not be created or written.
#[derive(Debug)]
pub struct Unwritable {
    path: PathBuf,
    what: &'static str,
    done: &'static str,
    error: io::Error,
}

impl Unwritable {
    pub fn new(path: &Path, what: &'static str, done: &'static str, error: io::Error) -> Self {
        Unwritable {
            path: path.to_owned(),
            what,
            done,
            error,
        }
    }

    pub fn to_bad_input(&self) -> BadInput {
        let why = match self.error.kind() {
            io::ErrorKind::AlreadyExists => {
                "it already exists; choose another path or delete it".to_owned()
            }
            _ => format!(
                "{} cannot be {} there ({}); choose another path",
                self.what,
                self.done,
                describe_io(&self.error)
            ),
        };
        BadInput::other(self.path.display(), "unwritable_output", why)
    }
}

impl fmt::Display for Unwritable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_bad_input())
    }
}

impl std::error::Error for Unwritable {}
