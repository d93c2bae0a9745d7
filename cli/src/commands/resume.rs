//! `contact-import resume`: finishes a local import whose command ended
//! before it did (Ctrl-C, a closed terminal, a crash).

use std::io::Write;

use crate::backends::embedded::Local;
use crate::backends::{find_import, latest_import, report_location, BackendArgs};
use crate::failure::{BadInput, Failure};
use crate::output::progress::Progress;
use crate::output::summary;

#[derive(Debug, clap::Args)]
pub struct ResumeArgs {
    /// The import, as `status` and `history` show it [default: the latest]
    pub import_id: Option<String>,
    /// Print one JSON object on stdout, with the fields of `import --json`.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub backend: BackendArgs,
}

/// Refuses `--aws` before anything is opened: a stack resumes by itself.
pub fn check(args: &ResumeArgs) -> Result<(), BadInput> {
    if args.backend.aws {
        return Err(BadInput::other(
            "--aws",
            "not_resumable",
            "imports on a deployed stack need no resume: their queues deliver what is \
             left; `contact-import status --aws` follows them",
        ));
    }
    Ok(())
}

pub async fn run(local: &Local, args: &ResumeArgs, out: &mut impl Write) -> Result<(), Failure> {
    let record = match &args.import_id {
        Some(import_id) => find_import(local, import_id).await?,
        None => latest_import(local).await?,
    };
    let title = if record.status.is_final() {
        format!(
            "Import {} had finished; there is nothing to resume",
            record.import_id
        )
    } else {
        format!("Resumed import {}", record.import_id)
    };
    let record = if record.status.is_final() {
        record
    } else {
        let progress = Progress::on_stderr();
        let resumed = tokio::select! {
            resumed = local.resume(&record, &progress) => resumed,
            _ = tokio::signal::ctrl_c() => Err(Failure::Interrupted(
                "interrupted: the import stopped part way again; `contact-import resume` \
                 finishes it"
                    .to_owned(),
            )),
        };
        progress.finish();
        resumed?
    };
    let report = report_location(local, &record)?;
    if args.json {
        summary::render_json(&record, report.as_deref(), None, out)?;
    } else {
        summary::render_text(&title, &record, report.as_deref(), None, out)?;
    }
    Ok(())
}
