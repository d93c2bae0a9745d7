//! `contact-import report`: an import's error report, printed or saved.

use std::io::{self, Read, Write};
use std::path::PathBuf;

use contact_import_core::imports::{ImportRecord, ImportStatus};
use contact_import_core::ports::ObjectStore;
use serde_json::json;

use crate::backends::{find_import, stopped_note, Backend, BackendArgs};
use crate::failure::Failure;
use crate::files::{Input, Output};
use crate::output::layout::plural;

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The import, as `import` and `history` show it.
    pub import_id: String,
    /// Save the report to FILE instead of printing it.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print one JSON object on stdout (where the report is, how many rows
    /// it has) instead of the report; with --output, the report is saved.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub backend: BackendArgs,
}

pub async fn run<B: Backend>(
    backend: &B,
    args: &ReportArgs,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let record = find_import(backend, &args.import_id).await?;
    let rejected = record.tally.skipped + record.tally.failed;
    let Some(key) = &record.report_key else {
        let why = stopped_note(backend, &record).unwrap_or_else(|| no_report(&record));
        if args.json {
            let object = json!({
                "import_id": record.import_id,
                "report": null,
                "rejected": rejected,
                "output": null,
                "message": why,
            });
            writeln!(out, "{object}")?;
        } else if args.output.is_some() {
            writeln!(out, "{why}; nothing was saved.")?;
        } else {
            // stdout is where the CSV would go: the note goes beside it.
            writeln!(io::stderr(), "{why}.")?;
        }
        return Ok(());
    };
    let location = backend.locate(key)?;
    if let Some(path) = &args.output {
        let mut file = Output::create(path, "the report")?;
        let report = backend.objects().reader(key).await?;
        copy(Input::named(report, &location), &mut file)?;
        file.finish()?;
    } else if !args.json {
        let report = backend.objects().reader(key).await?;
        copy(Input::named(report, &location), out)?;
    }
    if args.json {
        let object = json!({
            "import_id": record.import_id,
            "report": location,
            "rejected": rejected,
            "output": args.output.as_ref().map(|p| p.display().to_string()),
        });
        writeln!(out, "{object}")?;
    } else if let Some(path) = &args.output {
        writeln!(
            out,
            "Saved the error report of {} ({}) to {}",
            record.import_id,
            plural(rejected, "rejected row", "rejected rows"),
            path.display()
        )?;
    }
    Ok(())
}

/// Copies a report as it downloads. A stored object's reader may block on
/// the runtime (S3's does), which only a thread allowed to block can do.
fn copy(mut report: Input<Box<dyn Read + Send>>, out: &mut impl Write) -> io::Result<u64> {
    tokio::task::block_in_place(|| io::copy(&mut report, out))
}

/// Why an import has no error report.
fn no_report(record: &ImportRecord) -> String {
    let id = &record.import_id;
    match record.status {
        ImportStatus::Failed => format!(
            "Import {id} failed before any row was imported, so it has no error report \
             (`contact-import status {id}` says why)"
        ),
        status if !status.is_final() => format!(
            "Import {id} is still running ({status}); its report is written when it finishes"
        ),
        _ => format!("Import {id} has no rejected rows, so there is no error report"),
    }
}
