//! `contact-import dnc add|import`: numbers on the tenant's do-not-call
//! list, which imports then skip as `do_not_call`.
//!
//! Every number is checked before any is written: one invalid number and
//! nothing is added.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufReader, Seek, Write};
use std::path::{Path, PathBuf};

use contact_import_core::ports::DoNotCallStore;
use contact_import_core::rules::echo::echo;
use contact_import_core::rules::engine::{FileStart, SAMPLE_ROWS};
use contact_import_core::rules::headers::Field;
use contact_import_core::rules::headers::Target;
use contact_import_core::rules::phone::PhoneParser;
use contact_import_core::rules::spec::Country;
use contact_import_core::{ContactFile, ImportSpec, Refusal};
use serde_json::json;

use crate::backends::{Backend, BackendArgs};
use crate::failure::{describe_io, BadInput, Failure};
use crate::files::open_regular;
use crate::output::layout::plural;

/// Numbers written to the store at a time.
const BATCH: usize = 1_000;

#[derive(Debug, clap::Subcommand)]
pub enum DncCommand {
    /// Add numbers to the do-not-call list.
    Add(AddArgs),
    /// Add the numbers of a CSV or TXT file: its phone column, or else its
    /// first column. A file without a header row works too.
    Import(DncFileArgs),
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// Numbers in any common format; without a country code they are read
    /// as numbers of --country.
    #[arg(required = true, value_name = "NUMBER")]
    pub numbers: Vec<String>,
    #[command(flatten)]
    pub options: Options,
}

#[derive(Debug, clap::Args)]
pub struct DncFileArgs {
    /// A .csv or .txt file with a phone column, or one number per line.
    pub file: PathBuf,
    #[command(flatten)]
    pub options: Options,
}

#[derive(Debug, clap::Args)]
pub struct Options {
    /// The country of numbers written without a country code (ISO 3166 alpha-2).
    #[arg(long, value_name = "CC", default_value = "US")]
    pub country: String,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub backend: BackendArgs,
}

impl DncCommand {
    pub fn options(&self) -> &Options {
        match self {
            DncCommand::Add(args) => &args.options,
            DncCommand::Import(args) => &args.options,
        }
    }
}

/// The numbers to add, all valid, in E.164.
#[derive(Debug, Default)]
pub struct Numbers {
    e164: BTreeSet<String>,
    /// Data rows read from a file, blank ones included.
    rows: u64,
    blank: u64,
}

/// Reads and checks every number before anything is written.
pub fn numbers(command: &DncCommand) -> Result<Numbers, BadInput> {
    let options = command.options();
    options.backend.tenant()?;
    let country = Country::try_from(options.country.clone()).map_err(|message| {
        BadInput::other(
            format!("--country {}", echo(&options.country)),
            "bad_country",
            message,
        )
    })?;
    let parser = PhoneParser::new(country);
    match command {
        DncCommand::Add(args) => {
            let mut numbers = Numbers::default();
            for raw in &args.numbers {
                let parsed = parser.parse(raw.trim()).map_err(|problem| {
                    BadInput::other(
                        "dnc add",
                        "invalid_number",
                        format!(
                            "`{}` {}; write it with its country code, for example \
                             +14155552671, or pass --country; nothing was added",
                            echo(raw),
                            problem.describe()
                        ),
                    )
                })?;
                numbers.e164.insert(parsed.e164);
            }
            Ok(numbers)
        }
        DncCommand::Import(args) => read_file(&args.file, country, &parser),
    }
}

/// The numbers of a file's phone column, or else of its most phone-like
/// column, or else of its first.
fn read_file(path: &Path, country: Country, parser: &PhoneParser) -> Result<Numbers, BadInput> {
    let refused = |refusal: Refusal| BadInput::new(path, refusal);
    // Opened once and read from the start each time: the path could name
    // another file by the second read.
    let input = open_regular(path)?;
    let file = input.as_file();
    let (first, sample) = head(file).map_err(refused)?;
    // A file of bare numbers has no header: its first line is a number too.
    let headerless = first.iter().any(|cell| parser.is_valid(cell));
    let mut spec = ImportSpec {
        default_country: country,
        ..ImportSpec::default()
    };
    let mut contacts = match open(file, &spec) {
        Err(Refusal::NoPhoneColumn { .. }) => {
            let mut rows: Vec<&Vec<String>> = sample.iter().collect();
            if headerless {
                rows.push(&first);
            }
            let column = most_phone_like(first.len(), &rows, parser);
            let header = first.get(column).map_or("", |h| h.trim());
            spec.mapping
                .insert(header.to_owned(), Target::Field(Field::Phone));
            open(file, &spec)
        }
        Err(Refusal::NoDataRows) if headerless => {
            // One line, and it holds a number.
            let mut numbers = Numbers {
                rows: 1,
                ..Numbers::default()
            };
            let column = most_phone_like(first.len(), &[&first], parser);
            numbers
                .e164
                .extend(parser.parse(first[column].trim()).map(|p| p.e164));
            return Ok(numbers);
        }
        other => other,
    }
    .map_err(refused)?;
    let column = contacts.plan().column_of(Field::Phone).unwrap_or(0);
    let header = contacts.plan().header(column).to_owned();
    let mut numbers = Numbers::default();
    if headerless {
        numbers.rows += 1;
        if let Some(cell) = first.get(column) {
            numbers
                .e164
                .extend(parser.parse(cell.trim()).map(|p| p.e164));
        }
    }
    while let Some(raw) = contacts.next_record().map_err(refused)? {
        numbers.rows += 1;
        let cell = raw
            .record
            .get(column)
            .map(String::from_utf8_lossy)
            .unwrap_or_default();
        let cell = cell.trim();
        if cell.is_empty() {
            numbers.blank += 1;
            continue;
        }
        // The value stays out of the message: a file's numbers are not echoed.
        let parsed = parser.parse(cell).map_err(|problem| {
            BadInput::other(
                format!("{}, row {}", path.display(), raw.row),
                "invalid_number",
                format!(
                    "the value in column `{header}` {}; correct or delete the row and \
                     import the file again; nothing was added",
                    problem.describe()
                ),
            )
        })?;
        numbers.e164.insert(parsed.e164);
    }
    Ok(numbers)
}

/// The column with the most valid numbers in `rows`; the first on a tie.
fn most_phone_like(columns: usize, rows: &[&Vec<String>], parser: &PhoneParser) -> usize {
    let valid = |column: usize| {
        rows.iter()
            .filter(|row| row.get(column).is_some_and(|cell| parser.is_valid(cell)))
            .count()
    };
    (0..columns)
        .rev()
        .max_by_key(|&column| valid(column))
        .unwrap_or(0)
}

/// `file` from its start, through the import rules.
fn open<'a>(
    mut file: &'a File,
    spec: &ImportSpec,
) -> Result<ContactFile<BufReader<&'a File>>, Refusal> {
    file.rewind()
        .map_err(|e| Refusal::Unreadable(describe_io(&e)))?;
    ContactFile::open(BufReader::new(file), spec)
}

/// The file's first line and a sample of the lines after it, read as the
/// importer reads them.
fn head(file: &File) -> Result<(Vec<String>, Vec<Vec<String>>), Refusal> {
    let mut start = FileStart::read(BufReader::new(file))?;
    let mut lines = Vec::new();
    while lines.len() <= SAMPLE_ROWS {
        let Some(raw) = start.next_record()? else {
            break;
        };
        lines.push(
            raw.record
                .iter()
                .map(|cell| String::from_utf8_lossy(cell).trim().to_owned())
                .collect::<Vec<_>>(),
        );
    }
    let mut lines = lines.into_iter();
    let first = lines.next().unwrap_or_default();
    Ok((first, lines.collect()))
}

pub async fn run<B: Backend>(
    backend: &B,
    command: &DncCommand,
    numbers: Numbers,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let distinct: Vec<String> = numbers.e164.into_iter().collect();
    let mut added = 0;
    for batch in distinct.chunks(BATCH) {
        added += backend
            .store()
            .add_do_not_call(backend.tenant(), batch)
            .await?;
    }
    let already = distinct.len() - added;
    if command.options().json {
        let mut object = json!({
            "added": added,
            "already_listed": already,
            "numbers": distinct.len(),
        });
        if let (DncCommand::Import(_), Some(fields)) = (command, object.as_object_mut()) {
            fields.insert("rows".to_owned(), numbers.rows.into());
            fields.insert("blank".to_owned(), numbers.blank.into());
        }
        writeln!(out, "{object}")?;
        return Ok(());
    }
    writeln!(
        out,
        "Added {} to the do-not-call list of {}; {already} {} already on it.",
        plural(added as u64, "new number", "new numbers"),
        backend.describe(),
        if already == 1 { "was" } else { "were" },
    )?;
    if let DncCommand::Import(args) = command {
        writeln!(
            out,
            "Read {} of {}: {}, {} without a number.",
            plural(numbers.rows, "row", "rows"),
            args.file.display(),
            plural(distinct.len() as u64, "distinct number", "distinct numbers"),
            numbers.blank
        )?;
    }
    Ok(())
}
