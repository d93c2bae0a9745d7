//! An import's summary, as `import` and `status` print it.

use std::io::{self, Write};

use contact_import_core::imports::{ImportRecord, ImportStatus};
use contact_import_core::pipeline::ImportSummary;
use contact_import_core::rules::outcome::Counted;
use serde_json::{json, Map, Value};

use crate::backends::file_name;
use crate::output::layout::{one_line, wrap};

/// The one JSON object of `import --json` and `status --json`: exactly these
/// fields, `error` for a FAILED import, and `stopped` (what happened and
/// what finishes it) for an import whose command ended before it did.
pub fn to_json(record: &ImportRecord, report: Option<&str>, stopped: Option<&str>) -> Value {
    let summary = ImportSummary::of(record);
    let reasons: Map<String, Value> = summary
        .reasons
        .iter()
        .map(|(code, n)| (code.as_str().to_owned(), (*n).into()))
        .collect();
    let mut object = json!({
        "import_id": summary.import_id,
        "status": summary.status.as_str(),
        "processed": summary.processed,
        "inserted": summary.inserted,
        "updated": summary.updated,
        "skipped": summary.skipped,
        "failed": summary.failed,
        "reasons": reasons,
        "report": report,
        "encoding": summary.encoding,
        "layout": summary.layout,
        "delimiter": record.facts.as_ref().map(|f| f.delimiter.name()),
        "duration_ms": summary.duration_ms,
    });
    if let Some(fields) = object.as_object_mut() {
        if let Some(error) = summary.error {
            fields.insert("error".to_owned(), error.into());
        }
        if let Some(stopped) = stopped {
            fields.insert("stopped".to_owned(), stopped.into());
        }
    }
    object
}

pub fn render_json(
    record: &ImportRecord,
    report: Option<&str>,
    stopped: Option<&str>,
    out: &mut impl Write,
) -> io::Result<()> {
    serde_json::to_writer(&mut *out, &to_json(record, report, stopped))?;
    writeln!(out)
}

/// The summary in lines; `title` is the first, and `stopped`, for an
/// import whose command ended before it did, the last.
pub fn render_text(
    title: &str,
    record: &ImportRecord,
    report: Option<&str>,
    stopped: Option<&str>,
    out: &mut impl Write,
) -> io::Result<()> {
    let summary = ImportSummary::of(record);
    writeln!(out, "{}", one_line(title))?;
    writeln!(out, "  import       {}", record.import_id)?;
    writeln!(out, "  file         {}", one_line(file_name(record)))?;
    writeln!(
        out,
        "  destination  {}",
        one_line(&record.spec.destination.scope())
    )?;
    match stopped {
        Some(_) => writeln!(out, "  status       {} (stopped)", record.status)?,
        None => writeln!(out, "  status       {}", record.status)?,
    }
    if let Some(error) = summary.error {
        for line in wrap(error, "  error        ", "               ") {
            writeln!(out, "{line}")?;
        }
    }
    if !record.status.is_final() {
        writeln!(
            out,
            "  progress     {} of {} chunks done",
            record.chunks_done, record.chunks_total
        )?;
    }
    writeln!(
        out,
        "  rows         {} processed: {} inserted, {} updated, {} skipped, {} failed",
        summary.processed, summary.inserted, summary.updated, summary.skipped, summary.failed
    )?;
    for (code, n) in summary.reasons {
        let counted = match code.counted() {
            Counted::Failed => "failed",
            Counted::Skipped => "skipped",
        };
        writeln!(out, "    {:<24}{:>9}  {counted}", code.as_str(), n)?;
    }
    writeln!(out, "  report       {}", report.unwrap_or("none"))?;
    if let Some(encoding) = summary.encoding {
        writeln!(out, "  encoding     {encoding}")?;
    }
    if let Some(layout) = summary.layout {
        writeln!(out, "  layout       {layout}")?;
    }
    if let Some(facts) = &record.facts {
        writeln!(out, "  delimiter    {}", facts.delimiter.name())?;
    }
    if let Some(ms) = summary.duration_ms {
        writeln!(out, "  duration     {}", duration(ms))?;
    }
    if report.is_some() && record.status != ImportStatus::Failed {
        writeln!(out)?;
        let hint = "The report repeats each rejected row with its reason. Fix the rows \
                    there and import the report itself: the fixed rows are imported.";
        for line in wrap(hint, "", "") {
            writeln!(out, "{line}")?;
        }
    }
    if let Some(stopped) = stopped {
        writeln!(out)?;
        for line in wrap(&format!("{stopped}."), "", "") {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

/// Milliseconds as a person reads them.
pub fn duration(ms: i64) -> String {
    if ms < 1_000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1_000.0)
    } else {
        format!("{} min {:02} s", ms / 60_000, (ms % 60_000) / 1_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(42), "42 ms");
        assert_eq!(duration(1_540), "1.5 s");
        assert_eq!(duration(125_000), "2 min 05 s");
    }
}
