//! Reading a contact file: from raw bytes to one outcome per record.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{BufReader, Cursor, Read};

use csv::{ByteRecord, StringRecord};
use serde::{Deserialize, Serialize};

use crate::contact::Contact;
use crate::input::{
    detect_delimiter, utf8_reader, Delimiter, HeadThenRest, TextEncoding, Utf8Reader,
};
use crate::outcome::{ErrorCode, Rejection};
use crate::phone::{e164_key, PhoneParser};
use crate::plan::ColumnPlan;
use crate::refusal::Refusal;
use crate::report::{is_report_header, restore};
use crate::row::RowValidator;
use crate::spec::{DuplicateMode, ImportSpec};

/// The start of the file that the delimiter is chosen from.
const HEAD_BYTES: usize = 64 * 1024;

/// Rows read before planning: enough to rank phone columns, small enough to hold.
pub const SAMPLE_ROWS: usize = 200;

/// What was detected about a file; part of every result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileFacts {
    pub encoding: TextEncoding,
    pub delimiter: Delimiter,
    pub headers: Vec<String>,
}

/// One record as read, before any rule.
#[derive(Debug, Clone)]
pub struct RawRecord {
    /// The row number a spreadsheet shows for it.
    pub row: u64,
    /// Where it starts in the UTF-8 stream.
    pub byte_offset: u64,
    /// Where reading resumes after it: a chunk boundary, if one falls here.
    pub end: ResumePoint,
    pub record: ByteRecord,
}

/// A place in a file where reading can resume: after the header, or after
/// any record. The splitter hands one to each chunk so that rows are
/// numbered exactly as a reading of the whole file numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumePoint {
    /// Offset in the UTF-8 stream.
    pub byte: u64,
    /// The csv line counter there (1-based; counts every line feed read).
    pub line: u64,
    /// Line feeds inside quoted cells before this point.
    pub embedded_newlines: u64,
}

impl ResumePoint {
    pub const START: ResumePoint = ResumePoint {
        byte: 0,
        line: 1,
        embedded_newlines: 0,
    };
}

/// Records of a UTF-8 CSV stream, numbered as a spreadsheet numbers rows:
/// a blank line takes a row, a line break inside a quoted cell does not.
pub struct RecordReader<R: Read> {
    csv: csv::Reader<LastBlock<R>>,
    start: ResumePoint,
    embedded_newlines: u64,
}

impl<R: Read> RecordReader<R> {
    /// Reads `utf8`, whose first byte is at `start` in the whole file.
    pub fn new(utf8: R, delimiter: Delimiter, start: ResumePoint) -> Self {
        let csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter.byte())
            .from_reader(LastBlock::new(utf8));
        RecordReader {
            csv,
            start,
            embedded_newlines: start.embedded_newlines,
        }
    }

    pub fn next_record(&mut self) -> std::io::Result<Option<RawRecord>> {
        let mut record = ByteRecord::new();
        let more = self
            .csv
            .read_byte_record(&mut record)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        if !more {
            return Ok(None);
        }
        // csv stamps a record's start before skipping blank lines, so the row
        // is found from where the record ended: one line back if its line feed
        // was consumed (LF endings), on that line otherwise (CR LF, end of file).
        let end = self.csv.position();
        let ended_on_line_feed = end
            .byte()
            .checked_sub(1)
            .and_then(|last| self.csv.get_ref().byte_at(last))
            == Some(b'\n');
        let embedded = memchr::memchr_iter(b'\n', record.as_slice()).count() as u64;
        let first_line =
            self.start.line + end.line() - 1 - u64::from(ended_on_line_feed) - embedded;
        let row = first_line - self.embedded_newlines;
        self.embedded_newlines += embedded;
        let byte_offset = self.start.byte + record.position().map_or(0, |p| p.byte());
        Ok(Some(RawRecord {
            row,
            byte_offset,
            end: self.resume_point(),
            record,
        }))
    }

    /// Where the next record starts: hand it to a reader of the rest.
    pub fn resume_point(&self) -> ResumePoint {
        let here = self.csv.position();
        ResumePoint {
            byte: self.start.byte + here.byte(),
            line: self.start.line + here.line() - 1,
            embedded_newlines: self.embedded_newlines,
        }
    }
}

/// Keeps the last block handed to the csv reader, which holds the last byte
/// it consumed: enough to tell how a record ended.
struct LastBlock<R> {
    inner: R,
    block: Vec<u8>,
    block_start: u64,
    delivered: u64,
}

impl<R> LastBlock<R> {
    fn new(inner: R) -> Self {
        LastBlock {
            inner,
            block: Vec::new(),
            block_start: 0,
            delivered: 0,
        }
    }

    fn byte_at(&self, offset: u64) -> Option<u8> {
        let index = usize::try_from(offset.checked_sub(self.block_start)?).ok()?;
        self.block.get(index).copied()
    }
}

impl<R: Read> Read for LastBlock<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            self.block.clear();
            self.block.extend_from_slice(&buf[..n]);
            self.block_start = self.delivered;
            self.delivered += n as u64;
        }
        Ok(n)
    }
}

/// An opened contact file: facts detected, plan built, records ready.
pub struct ContactFile<R: Read> {
    facts: FileFacts,
    data_start: ResumePoint,
    validator: RowValidator,
    records: RecordReader<BufReader<HeadThenRest<Utf8Reader<R>>>>,
    sampled: VecDeque<RawRecord>,
}

impl<R: Read> ContactFile<R> {
    /// Detects encoding and delimiter, reads the header and a sample, and
    /// builds the column plan. A file that cannot be imported is refused here.
    pub fn open(input: R, spec: &ImportSpec) -> Result<Self, Refusal> {
        spec.validate()?;
        let unreadable = |e: std::io::Error| Refusal::Unreadable(e.to_string());
        let (encoding, mut utf8) = utf8_reader(input).map_err(unreadable)?;
        // A decoder may hand out only a few bytes per read, so the head is
        // read to its full size before the delimiter is chosen from it.
        let mut head = Vec::with_capacity(HEAD_BYTES);
        (&mut utf8)
            .take(HEAD_BYTES as u64)
            .read_to_end(&mut head)
            .map_err(unreadable)?;
        if head.iter().all(u8::is_ascii_whitespace) {
            return Err(Refusal::EmptyFile);
        }
        let delimiter = detect_delimiter(&head);
        let stream = BufReader::with_capacity(HEAD_BYTES, Cursor::new(head).chain(utf8));
        let mut records = RecordReader::new(stream, delimiter, ResumePoint::START);
        let header = records
            .next_record()
            .map_err(unreadable)?
            .ok_or(Refusal::EmptyFile)?;
        let data_start = header.end;
        let mut headers: Vec<String> = header
            .record
            .iter()
            .map(|h| String::from_utf8_lossy(h).trim().to_owned())
            .collect();
        if headers.iter().all(String::is_empty) {
            return Err(Refusal::EmptyFile);
        }
        if is_report_header(&headers) {
            // An uploaded report: its headers were neutralised like its cells.
            headers = headers.iter().map(|h| restore(h).to_owned()).collect();
        }
        let mut sampled = VecDeque::with_capacity(SAMPLE_ROWS);
        while sampled.len() < SAMPLE_ROWS {
            match records.next_record().map_err(unreadable)? {
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
    pub fn data_start(&self) -> ResumePoint {
        self.data_start
    }

    pub fn validator(&self) -> &RowValidator {
        &self.validator
    }

    /// The next data record, sampled ones first.
    pub fn next_record(&mut self) -> Result<Option<RawRecord>, Refusal> {
        if let Some(record) = self.sampled.pop_front() {
            return Ok(Some(record));
        }
        self.records
            .next_record()
            .map_err(|e| Refusal::Unreadable(e.to_string()))
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

/// The first row of the file with each number; later ones are duplicates.
#[derive(Debug, Default)]
pub struct FirstOccurrences {
    rows: HashMap<u64, u64>,
}

impl FirstOccurrences {
    /// The earlier row with this number, or None when this row is the first.
    pub fn earlier_row(&mut self, e164: &str, row: u64) -> Option<u64> {
        match self.rows.entry(e164_key(e164)) {
            std::collections::hash_map::Entry::Occupied(first) => Some(*first.get()),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(row);
                None
            }
        }
    }
}

/// The rules after validation: do-not-call, then duplicates within the file.
pub struct Screen<'a> {
    do_not_call: &'a dyn DoNotCall,
    first_occurrences: Option<FirstOccurrences>,
}

impl<'a> Screen<'a> {
    pub fn new(spec: &ImportSpec, do_not_call: &'a dyn DoNotCall) -> Self {
        Screen {
            do_not_call,
            // Under `create` every row is a contact of its own.
            first_occurrences: (spec.duplicates != DuplicateMode::Create)
                .then(FirstOccurrences::default),
        }
    }

    pub fn screen(&mut self, validator: &RowValidator, raw: RawRecord) -> RowOutcome {
        let (contact, record) = match validator.check(raw.row, raw.record) {
            Ok(checked) => checked,
            Err(rejection) => return RowOutcome::Rejected(rejection),
        };
        if self.do_not_call.contains(&contact.phone) {
            return RowOutcome::Rejected(validator.rejection(
                raw.row,
                &record,
                ErrorCode::DoNotCall,
                format!("{} is on your do-not-call list", contact.phone),
                "Remove the number from the do-not-call list only if the contact asked to be called again; otherwise delete the row",
            ));
        }
        if let Some(earlier) = self
            .first_occurrences
            .as_mut()
            .and_then(|first| first.earlier_row(&contact.phone, raw.row))
        {
            return RowOutcome::Rejected(duplicate_in_file(
                validator,
                raw.row,
                &record,
                &contact.phone,
                earlier,
            ));
        }
        RowOutcome::Accepted(AcceptedRow {
            row: raw.row,
            contact,
            record,
        })
    }
}

pub fn duplicate_in_file(
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
    accepted: &AcceptedRow,
    destination: &str,
) -> Rejection {
    validator.rejection(
        accepted.row,
        &accepted.record,
        ErrorCode::DuplicateExisting,
        format!("{} is already in {destination}", accepted.contact.phone),
        "Nothing to fix if the stored contact is right; import with duplicates set to update to refresh it with this row's values",
    )
}
