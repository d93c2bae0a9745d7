//! Reading a contact file: from raw bytes to one outcome per record.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{Cursor, Read};

use csv::{ByteRecord, StringRecord};
use serde::{Deserialize, Serialize};

use crate::file::input::{
    detect_delimiter, utf8_reader, Delimiter, HeadThenRest, TextEncoding, Utf8Reader, HEAD_BYTES,
};
use crate::file::records::{RawRecord, RecordReader, ResumePoint};
use crate::rules::contact::Contact;
use crate::rules::echo::echo;
use crate::rules::first_occurrences::FirstOccurrences;
use crate::rules::outcome::{ErrorCode, Rejection};
use crate::rules::phone::{e164_key, PhoneParser};
use crate::rules::plan::ColumnPlan;
use crate::rules::refusal::{Refusal, MAX_COLUMNS, MAX_HEADER_BYTES};
use crate::rules::report::{is_invisible_control, is_report_header, restore, REPORT_COLUMNS};
use crate::rules::row::RowValidator;
use crate::rules::spec::{DuplicateMode, ImportSpec};

/// Rows read before planning: enough to rank phone columns, small enough to hold.
pub const SAMPLE_ROWS: usize = 200;

/// What was detected about a file; part of every result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileFacts {
    pub encoding: TextEncoding,
    pub delimiter: Delimiter,
    pub headers: Vec<String>,
}

/// A file's records from its first line, as every reader of contact files
/// sees them: decoded to UTF-8 and split by the delimiter its head shows.
pub struct FileStart<R: Read> {
    pub encoding: TextEncoding,
    pub delimiter: Delimiter,
    records: RecordReader<HeadThenRest<Utf8Reader<R>>>,
}

impl<R: Read> FileStart<R> {
    /// Detects the encoding, then the delimiter from the file's head (or
    /// the `sep=` line a spreadsheet wrote). A blank file is refused.
    pub fn read(input: R) -> Result<Self, Refusal> {
        let (encoding, mut utf8) = utf8_reader(input)?;
        // A decoder may hand out only a few bytes per read, so the head is
        // read to its full size before the delimiter is chosen from it.
        let mut head = Vec::with_capacity(HEAD_BYTES);
        (&mut utf8)
            .take(HEAD_BYTES as u64)
            .read_to_end(&mut head)
            .map_err(|e| Refusal::Unreadable(e.to_string()))?;
        if head.iter().all(u8::is_ascii_whitespace) {
            return Err(Refusal::EmptyFile);
        }
        let (delimiter, start) = match declared_delimiter(&head)? {
            // Spreadsheets hide the line, so the header is still row 1.
            Some((delimiter, line_bytes)) => (
                delimiter,
                ResumePoint {
                    byte: line_bytes,
                    ..ResumePoint::START
                },
            ),
            None => (detect_delimiter(&head), ResumePoint::START),
        };
        let mut head = Cursor::new(head);
        head.set_position(start.byte);
        Ok(FileStart {
            encoding,
            delimiter,
            records: RecordReader::new(head.chain(utf8), delimiter, start),
        })
    }

    pub fn next_record(&mut self) -> Result<Option<RawRecord>, Refusal> {
        Ok(self.records.next_record()?)
    }
}

/// An opened contact file: facts detected, plan built, records ready.
pub struct ContactFile<R: Read> {
    facts: FileFacts,
    data_start: ResumePoint,
    validator: RowValidator,
    records: RecordReader<HeadThenRest<Utf8Reader<R>>>,
    sampled: VecDeque<RawRecord>,
}

impl<R: Read> ContactFile<R> {
    /// Detects encoding and delimiter, reads the header and a sample, and
    /// builds the column plan. A file that cannot be imported is refused here.
    pub fn open(input: R, spec: &ImportSpec) -> Result<Self, Refusal> {
        spec.validate()?;
        let FileStart {
            encoding,
            delimiter,
            mut records,
        } = FileStart::read(input)?;
        let header = records.next_record()?.ok_or(Refusal::EmptyFile)?;
        if header.quote_never_closed {
            return Err(Refusal::BrokenQuoting(format!(
                "the header (row {}) opens a quote that never closes",
                header.row
            )));
        }
        let data_start = header.end;
        let mut headers: Vec<String> = header
            .record
            .iter()
            // A second byte-order mark (files joined by hand) is not part of a
            // name, nor are control characters that no spreadsheet shows.
            .map(|h| {
                let name = String::from_utf8_lossy(h).replace(is_invisible_control, "");
                name.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
                    .to_owned()
            })
            .collect();
        let is_report = is_report_header(&headers);
        if is_report {
            // An uploaded report: its headers were neutralised like its cells.
            headers = headers.iter().map(|h| restore(h).to_owned()).collect();
        }
        // A report of a file at the limit has the report's columns besides.
        let allowed = match is_report {
            true => MAX_COLUMNS + REPORT_COLUMNS.len(),
            false => MAX_COLUMNS,
        };
        if headers.len() > allowed {
            return Err(Refusal::TooManyColumns {
                found: headers.len(),
            });
        }
        if let Some((column, name)) = headers
            .iter()
            .enumerate()
            .find(|(_, name)| name.len() > MAX_HEADER_BYTES)
        {
            return Err(Refusal::HeaderTooLong {
                column: column + 1,
                bytes: name.len(),
            });
        }
        if headers.iter().all(String::is_empty) {
            return Err(Refusal::BlankHeader { row: header.row });
        }
        let mut sampled = VecDeque::with_capacity(SAMPLE_ROWS);
        while sampled.len() < SAMPLE_ROWS {
            match records.next_record()? {
                Some(record) => sampled.push_back(record),
                None => break,
            }
        }
        if sampled.is_empty() {
            return Err(Refusal::NoDataRows);
        }
        let sample: Vec<StringRecord> = sampled
            .iter()
            .map(|raw| {
                StringRecord::from(
                    raw.record
                        .iter()
                        .map(|f| String::from_utf8_lossy(f))
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
        let plan = ColumnPlan::build(
            &headers,
            &sample,
            spec,
            &PhoneParser::new(spec.default_country),
        )?;
        Ok(ContactFile {
            facts: FileFacts {
                encoding,
                delimiter,
                headers,
            },
            data_start,
            validator: RowValidator::new(plan, spec, delimiter),
            records,
            sampled,
        })
    }

    pub fn facts(&self) -> &FileFacts {
        &self.facts
    }

    pub fn plan(&self) -> &ColumnPlan {
        self.validator.plan()
    }

    /// Where the first data record starts, in the UTF-8 stream.
    pub(crate) fn data_start(&self) -> ResumePoint {
        self.data_start
    }

    pub fn validator(&self) -> &RowValidator {
        &self.validator
    }

    /// The next data record, sampled ones first.
    /// See [`RecordReader::give_back`].
    pub(crate) fn give_back(&mut self, record: ByteRecord) {
        self.records.give_back(record);
    }

    pub fn next_record(&mut self) -> Result<Option<RawRecord>, Refusal> {
        if let Some(record) = self.sampled.pop_front() {
            return Ok(Some(record));
        }
        Ok(self.records.next_record()?)
    }

    /// The next record's outcome under `screen`, or None at the end of the file.
    pub fn next_outcome(&mut self, screen: &mut Screen<'_>) -> Result<Option<RowOutcome>, Refusal> {
        Ok(self
            .next_record()?
            .map(|raw| screen.screen(&self.validator, raw)))
    }
}

/// A row that passed every rule the file and the do-not-call list decide.
#[derive(Debug, Clone)]
pub struct AcceptedRow {
    pub row: u64,
    pub contact: Contact,
    /// Kept until the store has decided, for a duplicate_existing report line.
    pub record: StringRecord,
}

// Most rows are accepted and each outcome is moved once, so boxing the large
// variant would add an allocation per row for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum RowOutcome {
    Accepted(AcceptedRow),
    Rejected(Rejection),
}

/// The tenant's do-not-call numbers, as E.164.
pub trait DoNotCall {
    fn contains(&self, e164: &str) -> bool;
}

impl DoNotCall for HashSet<String> {
    fn contains(&self, e164: &str) -> bool {
        HashSet::contains(self, e164)
    }
}

/// Where a row learns that an earlier row of the file has its number.
enum InFile<'a> {
    /// Decided here, from the rows screened so far, in file order.
    Deciding(FirstOccurrences),
    /// Decided by the splitter for a chunk: (row, earlier row).
    Decided(&'a HashMap<u64, u64>),
    /// Under `create` every row is a contact of its own.
    Off,
}

/// The rules after validation: do-not-call, then duplicates within the file.
/// The pipeline's importers and a reading of a whole file (preview, the
/// benchmark) screen rows with it alike.
pub struct Screen<'a> {
    do_not_call: &'a dyn DoNotCall,
    in_file: InFile<'a>,
}

impl<'a> Screen<'a> {
    /// For a reading of a whole file, in order.
    pub fn new(spec: &ImportSpec, do_not_call: &'a dyn DoNotCall) -> Self {
        let in_file = match spec.duplicates {
            DuplicateMode::Create => InFile::Off,
            _ => InFile::Deciding(FirstOccurrences::default()),
        };
        Screen {
            do_not_call,
            in_file,
        }
    }

    /// For a chunk whose in-file duplicates the splitter decided.
    pub fn decided(do_not_call: &'a dyn DoNotCall, duplicates: &'a HashMap<u64, u64>) -> Self {
        Screen {
            do_not_call,
            in_file: InFile::Decided(duplicates),
        }
    }

    pub fn screen(&mut self, validator: &RowValidator, raw: RawRecord) -> RowOutcome {
        let row = raw.row;
        match validator.check(raw) {
            Ok((contact, record)) => self.screen_accepted(
                validator,
                AcceptedRow {
                    row,
                    contact,
                    record,
                },
            ),
            Err(rejection) => RowOutcome::Rejected(rejection),
        }
    }

    /// The outcome of a row that passed validation.
    pub(crate) fn screen_accepted(
        &mut self,
        validator: &RowValidator,
        accepted: AcceptedRow,
    ) -> RowOutcome {
        let AcceptedRow {
            row,
            contact,
            record,
        } = accepted;
        if self.do_not_call.contains(&contact.phone) {
            return RowOutcome::Rejected(validator.rejection(
                row,
                &record,
                ErrorCode::DoNotCall,
                format!("{} is on your do-not-call list", contact.phone),
                "Remove the number from the do-not-call list only if the contact asked to be called again; otherwise delete the row",
            ));
        }
        let earlier = match &mut self.in_file {
            InFile::Deciding(first) => first.earlier_row(e164_key(&contact.phone), row),
            InFile::Decided(duplicates) => duplicates.get(&row).copied(),
            InFile::Off => None,
        };
        if let Some(earlier) = earlier {
            return RowOutcome::Rejected(duplicate_in_file(
                validator,
                row,
                &record,
                &contact.phone,
                earlier,
            ));
        }
        RowOutcome::Accepted(AcceptedRow {
            row,
            contact,
            record,
        })
    }
}

fn duplicate_in_file(
    validator: &RowValidator,
    row: u64,
    record: &StringRecord,
    e164: &str,
    earlier: u64,
) -> Rejection {
    validator.rejection(
        row,
        record,
        ErrorCode::DuplicateInFile,
        format!("{e164} is already on row {earlier} of this file"),
        "The first row with this number is imported; merge this row into it, or import with duplicates set to create to keep both",
    )
}

/// The report line for a row the store found already in the destination.
pub fn duplicate_existing(
    validator: &RowValidator,
    row: u64,
    record: &StringRecord,
    e164: &str,
    destination: &str,
) -> Rejection {
    // Pieced together, not formatted: an import run again writes this line
    // for every row.
    const ALREADY_IN: &str = " is already in ";
    let mut message = String::with_capacity(e164.len() + ALREADY_IN.len() + destination.len());
    message.push_str(e164);
    message.push_str(ALREADY_IN);
    message.push_str(destination);
    validator.rejection(
        row,
        record,
        ErrorCode::DuplicateExisting,
        message,
        "Nothing to fix if the stored contact is right; import with duplicates set to update to refresh it with this row's values",
    )
}

/// Excel's `sep=;` first line, which names the delimiter: the delimiter,
/// and the bytes of the line with its line ending.
fn declared_delimiter(head: &[u8]) -> Result<Option<(Delimiter, u64)>, Refusal> {
    let Some(rest) = head
        .get(..4)
        .filter(|start| start.eq_ignore_ascii_case(b"sep="))
        .map(|_| &head[4..])
    else {
        return Ok(None);
    };
    let value_len = memchr::memchr2(b'\r', b'\n', rest).unwrap_or(rest.len());
    let line_end = match &rest[value_len..] {
        [b'\r', b'\n', ..] => 2,
        [] => 0,
        _ => 1,
    };
    let value = &rest[..value_len];
    match Delimiter::ALL.into_iter().find(|d| value == [d.byte()]) {
        Some(delimiter) => Ok(Some((delimiter, (4 + value_len + line_end) as u64))),
        None => Err(Refusal::UnsupportedSeparator {
            found: echo(&String::from_utf8_lossy(value)).into_owned(),
        }),
    }
}
