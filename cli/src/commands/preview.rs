//! `contact-import preview`: what importing a file would do, writing nothing.

use std::collections::{BTreeMap, HashSet};
use std::io::{self, BufReader, Write};
use std::path::{Path, PathBuf};

use contact_import_core::file::input::{Delimiter, TextEncoding};
use contact_import_core::rules::headers::Target;
use contact_import_core::rules::outcome::Counted;
use contact_import_core::rules::plan::{Column, MappingSource};
use contact_import_core::{
    Contact, ContactFile, ErrorCode, ImportSpec, Refusal, RowOutcome, Screen,
};
use serde_json::{json, Map, Value};

use crate::failure::{BadInput, Failure};
use crate::files::{open_regular, read_spec};
use crate::output::layout::{cut, fit, flow, one_line, plural, wrap};

/// Clean contacts shown as they would be stored.
pub const SAMPLE_SIZE: usize = 5;

#[derive(Debug, clap::Args)]
pub struct PreviewArgs {
    /// The contact file: CSV in UTF-8, UTF-16 or Windows-1252, delimited by
    /// comma, semicolon, tab or pipe.
    pub file: PathBuf,
    /// An import spec (JSON): column mapping, unmapped columns, default
    /// country, consent column, custom field rules.
    #[arg(long, value_name = "SPEC.json")]
    pub spec: Option<PathBuf>,
    /// Print one JSON object on stdout instead of the text summary.
    #[arg(long)]
    pub json: bool,
}

/// Everything a preview shows.
#[derive(Debug)]
pub struct Preview {
    /// The path as the user wrote it.
    pub file: String,
    pub encoding: TextEncoding,
    /// The exporter whose column layout the file has, when recognised.
    pub layout: Option<String>,
    pub delimiter: Delimiter,
    pub columns: Vec<Column>,
    pub warnings: Vec<String>,
    pub counts: Counts,
    /// The first clean contacts, with their row numbers.
    pub sample: Vec<(u64, Contact)>,
    pub custom_fields: Vec<String>,
}

/// Outcomes over the whole file.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub accepted: u64,
    /// Rejected rows per code, in the order the rules apply.
    pub rejected: BTreeMap<ErrorCode, u64>,
    pub failed: u64,
    pub skipped: u64,
}

impl Counts {
    fn reject(&mut self, code: ErrorCode) {
        *self.rejected.entry(code).or_default() += 1;
        match code.counted() {
            Counted::Failed => self.failed += 1,
            Counted::Skipped => self.skipped += 1,
        }
    }

    /// Data rows read: every one has exactly one outcome.
    pub fn rows(&self) -> u64 {
        self.accepted + self.failed + self.skipped
    }
}

/// Runs `preview` as the command line asked and writes the result to `out`.
pub fn run(args: &PreviewArgs, out: &mut impl Write) -> Result<(), Failure> {
    let spec = load_spec(args.spec.as_deref())?;
    let preview = preview(&args.file, &spec)?;
    if args.json {
        render_json(&preview, out)?;
    } else {
        render_text(&preview, out)?;
    }
    Ok(())
}

/// The spec in `path`, or the default spec when none is given.
pub fn load_spec(path: Option<&Path>) -> Result<ImportSpec, BadInput> {
    let Some(path) = path else {
        return Ok(ImportSpec::default());
    };
    let text = read_spec(path)?;
    ImportSpec::from_json(&text).map_err(|e| BadInput::new(path, Refusal::Spec(e)))
}

/// Reads the whole file through the import rules, streaming, and keeps
/// the counts and the first clean contacts.
pub fn preview(path: &Path, spec: &ImportSpec) -> Result<Preview, BadInput> {
    let file = open_regular(path)?;
    let refused = |refusal: Refusal| BadInput::new(path, refusal);
    let mut contacts = ContactFile::open(BufReader::new(file), spec).map_err(refused)?;

    let facts = contacts.facts();
    let (encoding, delimiter) = (facts.encoding, facts.delimiter);
    let plan = contacts.plan();
    let layout = plan.layout().map(str::to_owned);
    let columns = plan.columns().to_vec();
    let warnings = plan.warnings().to_vec();
    let custom_fields = plan.custom_keys().into_iter().map(str::to_owned).collect();

    // The tenant's do-not-call list and stored contacts are only known at import time.
    let no_do_not_call: HashSet<String> = HashSet::new();
    let mut screen = Screen::new(spec, &no_do_not_call);
    let mut counts = Counts::default();
    let mut sample = Vec::with_capacity(SAMPLE_SIZE);
    while let Some(outcome) = contacts.next_outcome(&mut screen).map_err(refused)? {
        match outcome {
            RowOutcome::Accepted(accepted) => {
                counts.accepted += 1;
                if sample.len() < SAMPLE_SIZE {
                    sample.push((accepted.row, accepted.contact));
                }
            }
            RowOutcome::Rejected(rejection) => counts.reject(rejection.code),
        }
    }
    Ok(Preview {
        file: path.display().to_string(),
        encoding,
        layout,
        delimiter,
        columns,
        warnings,
        counts,
        sample,
        custom_fields,
    })
}

/// Why a column feeds its target, in words.
fn source_label(column: &Column) -> &'static str {
    match (column.source, &column.target) {
        (MappingSource::Detected, _) => "auto",
        (MappingSource::Spec, _) => "spec",
        (MappingSource::Unmapped, Target::Ignore) => "ignored",
        (MappingSource::Unmapped, _) => "unmapped → custom field",
        (MappingSource::ReportColumn, _) => "report column (ignored)",
    }
}

/// The one JSON object of `--json`.
pub fn to_json(preview: &Preview) -> Value {
    let mut counts = Map::new();
    counts.insert("accepted".to_owned(), preview.counts.accepted.into());
    for (code, n) in &preview.counts.rejected {
        counts.insert(code.as_str().to_owned(), (*n).into());
    }
    let sample: Vec<&Contact> = preview.sample.iter().map(|(_, contact)| contact).collect();
    json!({
        "file": preview.file,
        "encoding": preview.encoding.label(),
        "layout": preview.layout,
        "delimiter": preview.delimiter.name(),
        "rows": preview.counts.rows(),
        "columns": preview.columns,
        "warnings": preview.warnings,
        "counts": counts,
        "failed": preview.counts.failed,
        "skipped": preview.counts.skipped,
        "sample": sample,
        "custom_fields": preview.custom_fields,
    })
}

pub fn render_json(preview: &Preview, out: &mut impl Write) -> io::Result<()> {
    serde_json::to_writer(&mut *out, &to_json(preview))?;
    writeln!(out)
}

/// Widest header and target shown before they are cut with `…`.
const NAME_WIDTH: usize = 24;
/// Widest single value shown in the sample.
const VALUE_WIDTH: usize = 40;

pub fn render_text(preview: &Preview, out: &mut impl Write) -> io::Result<()> {
    let counts = &preview.counts;
    writeln!(
        out,
        "Preview of {} (nothing is written)",
        one_line(&preview.file)
    )?;
    writeln!(out, "  encoding   {}", preview.encoding.label())?;
    if let Some(layout) = &preview.layout {
        writeln!(out, "  layout     {layout}")?;
    }
    writeln!(out, "  delimiter  {}", preview.delimiter.name())?;
    writeln!(out, "  data rows  {}", counts.rows())?;

    writeln!(out)?;
    writeln!(out, "Columns")?;
    let headers: Vec<String> = preview
        .columns
        .iter()
        .map(|c| header_text(&c.header))
        .collect();
    let targets: Vec<String> = preview
        .columns
        .iter()
        .map(|c| c.target.to_string())
        .collect();
    let header_width = width_of(&headers);
    let target_width = width_of(&targets);
    for ((column, header), target) in preview.columns.iter().zip(&headers).zip(&targets) {
        let line = format!(
            "  {} → {}  {}",
            fit(header, header_width),
            fit(target, target_width),
            source_label(column)
        );
        writeln!(out, "{}", line.trim_end())?;
    }

    if !preview.warnings.is_empty() {
        writeln!(out)?;
        writeln!(out, "Warnings")?;
        for warning in &preview.warnings {
            for line in wrap(warning, "  - ", "    ") {
                writeln!(out, "{line}")?;
            }
        }
    }

    writeln!(out)?;
    writeln!(out, "Outcomes for the whole file")?;
    writeln!(out, "  {:<24}{:>8}", "would import", counts.accepted)?;
    for (code, n) in &counts.rejected {
        let counted = match code.counted() {
            Counted::Failed => "failed",
            Counted::Skipped => "skipped",
        };
        writeln!(out, "  {:<24}{:>8}  {counted}", code.as_str(), n)?;
    }
    writeln!(
        out,
        "  {} failed, {} skipped of {}",
        counts.failed,
        counts.skipped,
        plural(counts.rows(), "row", "rows")
    )?;
    let note = "Note: contacts already stored (duplicate_existing) and numbers on your \
                do-not-call list (do_not_call) are only known at import time.";
    for line in wrap(note, "  ", "  ") {
        writeln!(out, "{line}")?;
    }

    writeln!(out)?;
    if preview.sample.is_empty() {
        writeln!(out, "Sample: no row would be imported")?;
    } else {
        let shown = match preview.sample.len() {
            1 => "the first clean contact as it would be stored".to_owned(),
            n => format!("the first {n} clean contacts as they would be stored"),
        };
        writeln!(out, "Sample: {shown}")?;
        for (row, contact) in &preview.sample {
            render_contact(*row, contact, out)?;
        }
    }

    writeln!(out)?;
    if preview.custom_fields.is_empty() {
        writeln!(out, "Custom fields to be created: none")?;
    } else {
        writeln!(out, "Custom fields to be created")?;
        for line in flow(&preview.custom_fields, ", ", "  ") {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

fn header_text(header: &str) -> String {
    if header.is_empty() {
        "(blank)".to_owned()
    } else {
        one_line(header)
    }
}

fn width_of(names: &[String]) -> usize {
    names
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(0)
        .min(NAME_WIDTH)
}

/// One contact in two or more lines: row, phone, name and email first,
/// then every other stored value.
fn render_contact(row: u64, contact: &Contact, out: &mut impl Write) -> io::Result<()> {
    let indent = "    ";
    let mut phone = contact.phone.clone();
    if let Some(extension) = &contact.extension {
        phone.push_str(&format!(" ext. {extension}"));
    }
    let name = contact.full_name();
    let mut head = vec![format!("row {row}"), phone];
    head.extend(
        [name, contact.email.clone().unwrap_or_default()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .map(|s| cut(&s, VALUE_WIDTH)),
    );
    for line in flow(&head, "  ", "  ") {
        writeln!(out, "{line}")?;
    }
    for line in flow(&details(contact), " · ", indent) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// `key: value` for each stored value besides phone, names and email.
fn details(contact: &Contact) -> Vec<String> {
    let mut items: Vec<(String, String)> = Vec::new();
    let mut text = |key: &str, value: &Option<String>| {
        if let Some(value) = value {
            items.push((key.to_owned(), value.clone()));
        }
    };
    text("contact_id", &contact.contact_id);
    text("company", &contact.company);
    text("address", &contact.address);
    text("city", &contact.city);
    text("state", &contact.state);
    text("zip", &contact.zip);
    text("country", &contact.country);
    text("timezone", &contact.timezone);
    text("scheduled_at", &contact.scheduled_at);
    if let Some(priority) = contact.priority {
        items.push(("priority".to_owned(), priority.to_string()));
    }
    if !contact.secondary.is_empty() {
        let numbers: Vec<&str> = contact.secondary.iter().map(|s| s.phone.as_str()).collect();
        items.push(("secondary".to_owned(), numbers.join(", ")));
    }
    if !contact.tags.is_empty() {
        items.push(("tags".to_owned(), contact.tags.join(", ")));
    }
    for (key, value) in &contact.custom {
        let shown = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        items.push((key.clone(), shown));
    }
    if let Some(data) = &contact.data {
        items.push(("data".to_owned(), Value::Object(data.clone()).to_string()));
    }
    items
        .into_iter()
        .map(|(key, value)| format!("{key}: {}", cut(&value, VALUE_WIDTH)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_split_failed_and_skipped() {
        let mut counts = Counts {
            accepted: 3,
            ..Counts::default()
        };
        for code in [
            ErrorCode::InvalidPhone,
            ErrorCode::NoConsent,
            ErrorCode::InvalidPhone,
        ] {
            counts.reject(code);
        }
        assert_eq!((counts.failed, counts.skipped, counts.rows()), (2, 1, 6));
        assert_eq!(counts.rejected[&ErrorCode::InvalidPhone], 2);
    }

    #[test]
    fn sources_are_explained() {
        let column = |target, source| Column {
            header: "h".into(),
            target,
            source,
        };
        let custom = Target::Custom("k".into());
        assert_eq!(
            source_label(&column(custom.clone(), MappingSource::Detected)),
            "auto"
        );
        assert_eq!(
            source_label(&column(Target::Ignore, MappingSource::Spec)),
            "spec"
        );
        assert_eq!(
            source_label(&column(custom, MappingSource::Unmapped)),
            "unmapped → custom field"
        );
        assert_eq!(
            source_label(&column(Target::Ignore, MappingSource::Unmapped)),
            "ignored"
        );
        assert_eq!(
            source_label(&column(Target::Ignore, MappingSource::ReportColumn)),
            "report column (ignored)"
        );
    }

    #[test]
    fn details_show_every_other_stored_value() {
        let contact = Contact {
            phone: "+14155552671".into(),
            company: Some("Acme".into()),
            priority: Some(3),
            tags: vec!["vip".into(), "west".into()],
            custom: BTreeMap::from([("score".into(), json!(7)), ("plan".into(), json!("gold"))]),
            ..Contact::default()
        };
        assert_eq!(
            details(&contact),
            [
                "company: Acme",
                "priority: 3",
                "tags: vip, west",
                "plan: gold",
                "score: 7"
            ]
        );
    }
}
