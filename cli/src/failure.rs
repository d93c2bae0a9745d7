//! How a command fails: input the user can fix (exit status 2), or anything
//! else (exit status 1). Either way one line on stderr, never a panic.

use std::fmt;
use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use contact_import_core::Refusal;

/// Exit status for input the user has to fix.
const BAD_INPUT: u8 = 2;
/// Exit status for everything else.
const INTERNAL: u8 = 1;

/// A missing or unreadable file, a bad spec or a refused file.
///
/// Its message comes from a [`Refusal`], which names columns and keys but
/// never a row's values, so no phone number reaches stderr.
#[derive(Debug)]
pub struct BadInput {
    /// The path at fault, as the user wrote it.
    subject: String,
    refusal: Refusal,
}

impl BadInput {
    pub fn new(path: &Path, refusal: Refusal) -> Self {
        BadInput {
            subject: path.display().to_string(),
            refusal,
        }
    }

    /// A file that could not be opened or read.
    pub fn unreadable(path: &Path, error: &io::Error) -> Self {
        BadInput::new(path, Refusal::Unreadable(describe_io(error)))
    }

    pub fn code(&self) -> &'static str {
        self.refusal.code()
    }
}

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.subject, self.refusal)
    }
}

/// An I/O error as a reader who has to act on it wants it.
fn describe_io(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::NotFound => "no such file; check the path".to_owned(),
        io::ErrorKind::PermissionDenied => {
            "permission denied; check that you are allowed to read it".to_owned()
        }
        io::ErrorKind::IsADirectory => "it is a directory; give the path of a file".to_owned(),
        _ => error.to_string(),
    }
}

#[derive(Debug)]
pub enum Failure {
    BadInput(BadInput),
    /// Not the user's input: stdout closed, a write failed.
    Internal(anyhow::Error),
}

impl From<BadInput> for Failure {
    fn from(bad: BadInput) -> Self {
        Failure::BadInput(bad)
    }
}

impl From<io::Error> for Failure {
    fn from(error: io::Error) -> Self {
        Failure::Internal(error.into())
    }
}

impl Failure {
    /// Tells the user and gives the exit status. With `json`, a bad input is
    /// also one JSON object on stdout, as every `--json` run prints one.
    pub fn report(self, json: bool) -> ExitCode {
        match self {
            Failure::BadInput(bad) => {
                let _ = writeln!(io::stderr(), "error: {bad}");
                if json {
                    let object = serde_json::json!({
                        "status": "FAILED",
                        "error": bad.to_string(),
                        "code": bad.code(),
                    });
                    let _ = writeln!(io::stdout(), "{object}");
                }
                ExitCode::from(BAD_INPUT)
            }
            // The reader of our output went away (`| head`): nothing to say.
            Failure::Internal(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
            Failure::Internal(error) => {
                let _ = writeln!(io::stderr(), "error: {error:#}");
                ExitCode::from(INTERNAL)
            }
        }
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
}
