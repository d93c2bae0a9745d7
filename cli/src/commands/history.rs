//! `contact-import history`: the tenant's imports, newest first.

use std::io::Write;

use contact_import_core::imports::ImportRecord;
use contact_import_core::ports::ImportStore;
use serde_json::{json, Value};

use crate::backends::{file_name, stopped_note, Backend, BackendArgs};
use crate::failure::Failure;
use crate::output::layout::{fit, one_line, wrap};

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// Print one JSON object on stdout: {"imports": [...]}.
    #[arg(long)]
    pub json: bool,
    /// Show at most N imports.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 20,
        value_parser = clap::value_parser!(u64).range(1..=100_000)
    )]
    pub limit: u64,
    #[command(flatten)]
    pub backend: BackendArgs,
}

pub async fn run<B: Backend>(
    backend: &B,
    args: &HistoryArgs,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let limit = usize::try_from(args.limit).unwrap_or(usize::MAX);
    let records = backend
        .store()
        .list_imports(backend.tenant(), limit)
        .await?;
    if args.json {
        let imports: Vec<Value> = records
            .iter()
            .map(|record| to_json(record, stopped_note(backend, record)))
            .collect();
        serde_json::to_writer(&mut *out, &json!({ "imports": imports }))?;
        writeln!(out)?;
        return Ok(());
    }
    if records.is_empty() {
        writeln!(out, "No imports yet for {}.", backend.describe())?;
        return Ok(());
    }
    writeln!(
        out,
        "{} {} {} {:>9} {:>9} {:>7}  file",
        fit("import", 24),
        fit("status", 21),
        fit("created (UTC)", 19),
        "processed",
        "inserted",
        "failed"
    )?;
    let mut stopped = 0;
    for record in &records {
        let status = match stopped_note(backend, record) {
            Some(_) => {
                stopped += 1;
                format!("{} (stopped)", record.status)
            }
            None => record.status.to_string(),
        };
        writeln!(
            out,
            "{} {} {} {:>9} {:>9} {:>7}  {}",
            fit(&record.import_id, 24),
            fit(&status, 21),
            fit(&created(record), 19),
            record.tally.processed,
            record.tally.inserted,
            record.tally.failed,
            one_line(file_name(record))
        )?;
    }
    if stopped > 0 {
        let note = "(stopped): the command that ran the import ended before it finished; \
                    `contact-import resume IMPORT_ID` finishes it.";
        writeln!(out)?;
        for line in wrap(note, "", "") {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

/// `2026-01-31 09:15:02` from `2026-01-31T09:15:02.345Z`.
fn created(record: &ImportRecord) -> String {
    record
        .created_at
        .get(..19)
        .unwrap_or(&record.created_at)
        .replace('T', " ")
}

/// An import as `history --json` lists it; `stopped` as in `status --json`.
fn to_json(record: &ImportRecord, stopped: Option<String>) -> Value {
    let mut object = json!({
        "import_id": record.import_id,
        "status": record.status.as_str(),
        "created_at": record.created_at,
        "finished_at": record.finished_at,
        "file": file_name(record),
        "destination": record.spec.destination.scope(),
        "processed": record.tally.processed,
        "inserted": record.tally.inserted,
        "updated": record.tally.updated,
        "skipped": record.tally.skipped,
        "failed": record.tally.failed,
    });
    if let (Some(stopped), Some(fields)) = (stopped, object.as_object_mut()) {
        fields.insert("stopped".to_owned(), stopped.into());
    }
    object
}
