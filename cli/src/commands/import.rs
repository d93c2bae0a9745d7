//! `contact-import import`: a file through the splitter, importers and
//! finalizer, then its summary.

use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use contact_import_core::imports::{keys, ImportStatus};
use contact_import_core::pipeline::{now, DEFAULT_CHUNK_ROWS};
use contact_import_core::rules::echo::echo;
use contact_import_core::rules::spec::SpecError;
use contact_import_core::{ContactFile, ImportSpec, Refusal};

use crate::backends::{report_location, Backend, BackendArgs};
use crate::commands::preview::load_spec;
use crate::failure::{BadInput, Failure};
use crate::files::{open_regular, Input};
use crate::output::progress::Progress;
use crate::output::summary;

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The contact file: .csv, .tsv or .txt, in UTF-8, UTF-16 or
    /// Windows-1252, delimited by comma, semicolon, tab or pipe; or a
    /// .vcf address-book export.
    pub file: PathBuf,
    /// An import spec (JSON): destination, duplicates, default country,
    /// column mapping, custom field rules, tags.
    #[arg(long, value_name = "SPEC.json")]
    pub spec: Option<PathBuf>,
    /// Print one JSON object on stdout instead of the text summary.
    #[arg(long)]
    pub json: bool,
    /// Rows per chunk: the unit of parallel work and of retries. (A
    /// deployed stack uses its own CHUNK_ROWS setting.)
    #[arg(
        long,
        value_name = "N",
        default_value_t = DEFAULT_CHUNK_ROWS,
        value_parser = clap::value_parser!(u64).range(1..),
        conflicts_with = "aws"
    )]
    pub chunk_rows: u64,
    /// With --aws: how long to wait for the stack to start the import
    /// after the upload before giving up. The upload stays; `history --aws`
    /// finds the import once it runs.
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    pub start_timeout: u64,
    #[command(flatten)]
    pub backend: BackendArgs,
}

/// A file that passed the pre-check, and where it will be uploaded.
#[derive(Debug)]
pub struct Checked {
    pub key: String,
    pub spec: ImportSpec,
    /// The file, open at its start: the upload reads what the check read,
    /// not whatever the path names by then.
    pub file: Input,
}

/// Everything that can refuse the import before anything is written: the
/// tenant, the spec, the file's name, and its encoding, header and columns.
/// The file is opened once, and not read: only its head is, to plan the
/// columns.
pub fn check(args: &ImportArgs) -> Result<Checked, BadInput> {
    let tenant = args.backend.tenant()?;
    let mut spec = load_spec(args.spec.as_deref())?;
    if let (Some(named), Some(path)) = (&spec.tenant, &args.spec) {
        if named != tenant {
            let (named, tenant) = (echo(named), echo(tenant));
            let error = SpecError {
                key: "tenant".to_owned(),
                message: format!(
                    "the spec names tenant `{named}` but the import is for tenant `{tenant}`; \
                     pass --tenant {named} or remove `tenant` from the spec"
                ),
            };
            return Err(BadInput::new(path, Refusal::Spec(error)));
        }
    }
    spec.tenant = Some(tenant.to_owned());

    let path = &args.file;
    let mut file = open_regular(path)?;
    let key = upload_key(tenant, path, &now())?;
    ContactFile::open(BufReader::new(file.as_file()), &spec).map_err(|r| BadInput::new(path, r))?;
    file.rewind()?;
    Ok(Checked { key, spec, file })
}

/// `uploads/<tenant>/<UTC time with milliseconds>/<file name>`: a new key,
/// hence a new import, for every run, and the name the user knows.
fn upload_key(tenant: &str, path: &Path, now: &str) -> Result<String, BadInput> {
    let refuse = |message: &str| BadInput::other(path.display(), "bad_file_name", message);
    let name = path
        .file_name()
        .and_then(|name| name.to_str())
        .ok_or_else(|| refuse("the file name is not valid UTF-8; rename the file"))?;
    let lower = name.to_ascii_lowercase();
    if !keys::ACCEPTED_SUFFIXES.iter().any(|s| lower.ends_with(s)) {
        return Err(BadInput::other(
            path.display(),
            "unsupported_file_type",
            "only .csv, .tsv, .txt and .vcf files can be imported; save the sheet \
             as CSV (UTF-8) and import that file",
        ));
    }
    if name.starts_with('.') || name.contains('\\') {
        return Err(refuse(
            "a file name that starts with a dot or holds a backslash cannot be \
             imported; rename the file",
        ));
    }
    // `2026-01-31T09:15:02.345Z` without colons, which some file systems refuse.
    let folder = now.replace(':', "-");
    // The name the user knows, shortened to what file systems and S3 take.
    let name = keys::upload_name(name);
    let key = format!("{}{tenant}/{folder}/{name}", keys::UPLOADS);
    keys::upload_tenant(&key).map_err(|e| refuse(&e.message))?;
    Ok(key)
}

/// Imports the checked file and prints its summary. A file the pipeline
/// refuses after all is a FAILED import: its summary, then the error.
pub async fn run<B: Backend>(
    backend: &B,
    args: &ImportArgs,
    checked: Checked,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let progress = Progress::on_stderr();
    let Checked { key, spec, file } = checked;
    let record = tokio::select! {
        record = backend.import(file, &key, &spec, &progress) => record,
        _ = tokio::signal::ctrl_c() => Err(Failure::Interrupted(interrupted(backend))),
    };
    progress.finish();
    let record = record?;
    let report = report_location(backend, &record)?;
    if args.json {
        summary::render_json(&record, report.as_deref(), None, out)?;
    } else {
        let title = format!("Imported {}", args.file.display());
        summary::render_text(&title, &record, report.as_deref(), None, out)?;
    }
    if record.status == ImportStatus::Failed {
        out.flush()?;
        let reason = record
            .failure
            .as_ref()
            .map_or("the import failed", |f| f.message.as_str());
        return Err(Failure::Reported(BadInput::other(
            args.file.display(),
            "refused",
            reason,
        )));
    }
    Ok(())
}

/// What Ctrl-C left behind, and what to run next.
fn interrupted<B: Backend>(backend: &B) -> String {
    if backend.resumes_imports() {
        "interrupted: the import stopped part way; `contact-import resume` finishes it".to_owned()
    } else {
        "interrupted: stopped following the import, which goes on in the stack; \
         `contact-import status --aws` shows it"
            .to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-01-31T09:15:02.345Z";

    #[test]
    fn upload_keys_keep_the_name_under_a_time_folder() {
        assert_eq!(
            upload_key("acme", Path::new("dir/My List.CSV"), NOW).unwrap(),
            "uploads/acme/2026-01-31T09-15-02.345Z/My List.CSV"
        );
    }

    #[test]
    fn long_names_are_shortened_within_key_and_file_name_limits() {
        let name = format!("{}.csv", "é".repeat(125));
        let key = upload_key("acme", Path::new(&name), NOW).unwrap();
        let last = key.rsplit('/').next().unwrap();
        assert!(
            last.len() <= keys::MAX_NAME_BYTES && last.ends_with(".csv"),
            "{key}"
        );
        assert!(keys::spec_sidecar(last).len() <= 255 && key.len() <= 1024);
    }

    #[test]
    fn names_the_key_rules_refuse_are_refused_up_front() {
        let xlsx = upload_key("acme", Path::new("list.xlsx"), NOW).unwrap_err();
        assert_eq!(xlsx.code(), "unsupported_file_type");
        assert!(
            xlsx.to_string().starts_with("list.xlsx: only .csv"),
            "{xlsx}"
        );
        for bad in [".hidden.csv", "a\\b.csv"] {
            assert_eq!(
                upload_key("acme", Path::new(bad), NOW).unwrap_err().code(),
                "bad_file_name",
                "{bad}"
            );
        }
    }
}
