//! Running the binary as a user runs it, in a folder of its own.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use assert_cmd::cargo::cargo_bin_cmd;
use serde_json::Value;
use tempfile::TempDir;

/// The fields of `import --json` and `status --json`, exactly.
pub const SUMMARY_FIELDS: [&str; 13] = [
    "import_id",
    "status",
    "processed",
    "inserted",
    "updated",
    "skipped",
    "failed",
    "reasons",
    "report",
    "encoding",
    "layout",
    "delimiter",
    "duration_ms",
];

/// A temporary folder to run the binary in, and the backend options every
/// run there gets.
pub struct Dir {
    dir: TempDir,
    backend: Vec<String>,
}

impl Dir {
    /// Runs get `--data data`: a local store of their own.
    pub fn new() -> Self {
        Dir::with_backend(&["--data", "data"])
    }

    /// Runs get `backend`, e.g. `--aws --bucket B --tenant T`.
    pub fn with_backend(backend: &[&str]) -> Self {
        Dir {
            dir: TempDir::new().expect("a temporary directory"),
            backend: backend.iter().map(|a| a.to_string()).collect(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path().join(name);
        fs::write(&path, bytes).expect("a test file");
        path
    }

    /// The local data folder of `Dir::new()`'s runs.
    pub fn data(&self) -> PathBuf {
        self.path().join("data")
    }

    /// The names in the folder, sorted.
    pub fn entries(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// Runs the binary in this folder with `args` and the backend options.
    pub fn run(&self, args: &[&str]) -> Run {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(self.backend.iter().map(String::as_str));
        self.run_exactly(&all)
    }

    /// Runs the binary in this folder with exactly `args`. A run that has
    /// not ended within a minute is killed: a hang fails, not blocks.
    pub fn run_exactly(&self, args: &[&str]) -> Run {
        let output = cargo_bin_cmd!("contact-import")
            .current_dir(self.path())
            .args(args)
            .timeout(Duration::from_secs(60))
            .output()
            .expect("the binary runs");
        Run {
            args: args.join(" "),
            code: output.status.code(),
            stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
        }
    }

    /// `args` succeed with nothing on stderr; their stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        self.run(args).ok()
    }

    /// `args --json` succeed; their one JSON object.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        let out = self.ok(&all);
        assert_eq!(out.lines().count(), 1, "one JSON line: {out}");
        serde_json::from_str(&out).expect("stdout is JSON")
    }

    /// Imports `name` as a file holding `text`; the summary.
    pub fn import(&self, name: &str, text: &str) -> Value {
        self.write(name, text);
        self.json(&["import", name])
    }

    /// The stored contacts, by `contacts export --json` with `filters`.
    pub fn contacts(&self, filters: &[&str]) -> Vec<Value> {
        let mut args = vec!["contacts", "export", "--json"];
        args.extend(filters);
        self.ok(&args)
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON line"))
            .collect()
    }

    /// The imports in the store, newest first.
    pub fn import_ids(&self) -> Vec<String> {
        self.json(&["history"])["imports"]
            .as_array()
            .expect("an array of imports")
            .iter()
            .map(|i| i["import_id"].as_str().unwrap().to_owned())
            .collect()
    }
}

pub struct Run {
    pub args: String,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(self) -> String {
        assert_eq!(
            (self.code, self.stderr.as_str()),
            (Some(0), ""),
            "{}\nstdout: {}",
            self.args,
            self.stdout
        );
        self.stdout
    }

    /// A bad input: status 2 and one `error:` line on stderr.
    pub fn refused(&self) -> &str {
        self.failed_with(2)
    }

    /// A failure with exit status `code` and one `error:` line on stderr.
    pub fn failed_with(&self, code: i32) -> &str {
        assert_eq!(
            self.code,
            Some(code),
            "{}\nstdout: {}\nstderr: {}",
            self.args,
            self.stdout,
            self.stderr
        );
        assert_eq!(
            self.stderr.lines().count(),
            1,
            "{}: one line on stderr: {:?}",
            self.args,
            self.stderr
        );
        assert!(self.stderr.starts_with("error: "), "{:?}", self.stderr);
        assert!(!self.stderr.contains("panicked") && !self.stderr.contains("backtrace"));
        self.stderr.trim_end()
    }

    /// A `--json` run that failed with exit status `code`: one `error:`
    /// line on stderr, and on stdout exactly one JSON object with `error`
    /// and `code`, which it returns.
    pub fn json_failure(&self, code: i32) -> Value {
        self.failed_with(code);
        assert_eq!(
            self.stdout.lines().count(),
            1,
            "{}: {}",
            self.args,
            self.stdout
        );
        let object: Value = serde_json::from_str(&self.stdout).expect("stdout is JSON");
        assert!(
            object["error"].is_string() && object["code"].is_string(),
            "{}: {object}",
            self.args
        );
        object
    }
}

/// The line of the text output that starts, once trimmed, with `start`.
pub fn line<'a>(stdout: &'a str, start: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.trim_start().starts_with(start))
        .unwrap_or_else(|| panic!("no line starting with {start:?} in:\n{stdout}"))
}

/// The whitespace-separated words of a line.
pub fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// The phone numbers of exported contacts.
pub fn phones(contacts: &[Value]) -> BTreeSet<String> {
    contacts
        .iter()
        .map(|c| c["contact"]["phone"].as_str().unwrap().to_owned())
        .collect()
}

/// The keys of a JSON object.
pub fn keys(object: &Value) -> BTreeSet<&str> {
    object
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect()
}

/// Report parts the importers of `dir`'s `data` folder have written: one
/// per chunk done, as every chunk of a generated file has a rejected row.
pub fn parts_written(dir: &Dir) -> usize {
    fn count(path: &Path) -> usize {
        let Ok(entries) = fs::read_dir(path) else {
            return 0;
        };
        entries
            .flatten()
            .map(|entry| {
                let path = entry.path();
                match path.is_dir() {
                    true if path.file_name().is_some_and(|name| name == "parts") => {
                        fs::read_dir(&path).map_or(0, |parts| parts.count())
                    }
                    true => count(&path),
                    false => 0,
                }
            })
            .sum()
    }
    count(&dir.path().join("data"))
}

/// Waits until the importers of `child` have written more than `parts`
/// report parts, so that a signal sent next stops it part way on a machine
/// of any speed.
pub fn wait_for_parts_beyond(dir: &Dir, child: &mut std::process::Child, parts: usize) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while parts_written(dir) <= parts {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("it ended ({status}) before writing a chunk more; a larger file is needed");
        }
        assert!(Instant::now() < deadline, "no chunk done in two minutes");
        std::thread::sleep(Duration::from_millis(10));
    }
}
