//! `contact-import status`: one import's summary, the latest by default.

use std::io::Write;

use crate::backends::{
    find_import, latest_import, report_location, stopped_note, Backend, BackendArgs,
};
use crate::failure::Failure;
use crate::output::summary;

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The import, as `import` and `history` show it [default: the latest]
    pub import_id: Option<String>,
    /// Print one JSON object on stdout, with the fields of `import --json`.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub backend: BackendArgs,
}

pub async fn run<B: Backend>(
    backend: &B,
    args: &StatusArgs,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let record = match &args.import_id {
        Some(import_id) => find_import(backend, import_id).await?,
        None => latest_import(backend).await?,
    };
    let report = report_location(backend, &record)?;
    // Whatever its counters say: the record is what the command left.
    let stopped = stopped_note(backend, &record);
    if args.json {
        summary::render_json(&record, report.as_deref(), stopped.as_deref(), out)?;
    } else {
        let title = format!("Status of import {}", record.import_id);
        summary::render_text(&title, &record, report.as_deref(), stopped.as_deref(), out)?;
    }
    Ok(())
}
