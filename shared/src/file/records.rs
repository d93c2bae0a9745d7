//! Records of a UTF-8 CSV stream, numbered as a spreadsheet numbers rows,
//! whatever the line endings, and every line accounted for: a quote that
//! never closes takes one row, not the rest of the file.

use std::io::{self, Read, Seek, SeekFrom};

use csv::ByteRecord;
use serde::{Deserialize, Serialize};

use crate::file::input::Delimiter;

/// The longest a row may be, in bytes of UTF-8. Far above any CRM export;
/// it bounds memory on files that are not CSV (no line ends at all).
pub(crate) const MAX_ROW_BYTES: u64 = 1 << 20;

/// Bytes one reading may read twice: after a quote that ran on, the lines
/// it swallowed are read again as rows. This bounds the work on a file
/// whose quotes run on everywhere.
const MAX_REREAD_BYTES: u64 = 256 << 20;

/// The csv reader's own buffer: a record in progress has at most this many
/// bytes read past it.
const CSV_BUFFER: usize = 8 * 1024;

/// What is read from the source at a time.
const BLOCK: usize = 64 * 1024;

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
    /// A quote opened in this row never closes: the record is the row's own
    /// line, and the lines after it were read as rows of their own.
    pub quote_never_closed: bool,
}

/// A place in a file where reading can resume: after the header, or after
/// any record. The splitter hands one to each chunk so that rows are
/// numbered exactly as a reading of the whole file numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumePoint {
    /// Offset in the UTF-8 stream.
    pub byte: u64,
    /// 1 + the line endings before this point (a CR LF is one; a CR whose
    /// LF is past the point counts with the LF).
    pub line: u64,
    /// Line breaks inside quoted cells before this point.
    pub embedded_newlines: u64,
}

impl ResumePoint {
    pub const START: ResumePoint = ResumePoint {
        byte: 0,
        line: 1,
        embedded_newlines: 0,
    };
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("row {row} is longer than {} MiB; a CSV row that long is not contact data (is this a CSV file?)", MAX_ROW_BYTES >> 20)]
    RowTooLong { row: u64 },
    #[error("quotes that never close run on through the file, making it too slow to read")]
    QuotesRunOn,
    #[error("row {row} was read after row {previous}; rows must be read in order")]
    OutOfOrder { row: u64, previous: u64 },
}

/// Records of a UTF-8 CSV stream: a blank line takes a row, a line break
/// inside a quoted cell does not. CR, LF and CR LF all end a line, mixed
/// as they come.
pub struct RecordReader<R: Read> {
    /// Positioned in the whole stream, whatever part of it `R` holds.
    csv: csv::Reader<Tape<R>>,
    delimiter: Delimiter,
    /// Where the last record ended: the next one starts here.
    last_end: ResumePoint,
    last_row: Option<u64>,
    /// Bytes read again after quotes that ran on.
    reread: u64,
    /// The bytes and cells of the last record: the room the next one gets
    /// up front, instead of growing from nothing a few times per record.
    room: (usize, usize),
    /// A record its reader is done with, to read the next one into.
    spare: Option<ByteRecord>,
}

/// The most bytes a record gets up front, whatever the last one took.
const MOST_ROOM: usize = 64 << 10;

impl<R: Read> RecordReader<R> {
    /// Reads `utf8`, whose first byte is at `start` in the whole file.
    pub fn new(utf8: R, delimiter: Delimiter, start: ResumePoint) -> Self {
        let mut csv = csv_reader(Tape::new(utf8, start.byte), delimiter);
        // Headers set up front keep csv from reading ahead for them.
        csv.set_byte_headers(ByteRecord::new());
        csv.seek_raw(SeekFrom::Start(start.byte), position(start))
            .expect("a new tape is at its start");
        RecordReader {
            csv,
            delimiter,
            last_end: start,
            last_row: None,
            reread: 0,
            room: (0, 0),
            spare: None,
        }
    }

    /// Takes back a record that its reader is done with, as the splitter's
    /// cut pass is with every record: the next record is read into it
    /// instead of a new allocation.
    pub(crate) fn give_back(&mut self, record: ByteRecord) {
        // Reading a record into it clears it first.
        self.spare = Some(record);
    }

    pub fn next_record(&mut self) -> Result<Option<RawRecord>, RecordError> {
        let mut record = self
            .spare
            .take()
            .unwrap_or_else(|| ByteRecord::with_capacity(self.room.0.min(MOST_ROOM), self.room.1));
        let more = match self.csv.read_byte_record(&mut record) {
            Ok(more) => more,
            Err(_) if self.csv.get_ref().over_limit => return self.recover_long_row().map(Some),
            Err(e) => return Err(io::Error::other(e.to_string()).into()),
        };
        if !more {
            return Ok(None);
        }
        let end_byte = self.csv.position().byte();
        let end = ResumePoint {
            byte: end_byte,
            line: self.last_end.line + self.line_endings(self.last_end.byte, end_byte),
            embedded_newlines: self.last_end.embedded_newlines,
        };
        // Only a record that spans lines, or the last one, can hold a quote
        // that ran on: csv has closed any other.
        let tape = self.csv.get_ref();
        let last = tape.at_end() && end.byte == tape.end_offset();
        let multi_line = memchr::memchr2(b'\r', b'\n', record.as_slice()).is_some();
        if last || multi_line {
            let span = (end.byte - self.last_end.byte) as usize;
            let raw = &tape.since(self.last_end.byte)[..span];
            if let Some(quote) = broken_quote(raw, self.delimiter) {
                return self.recover(quote).map(Some);
            }
        }
        let (row, byte_offset) = self.next_start();
        if end.byte - self.last_end.byte > MAX_ROW_BYTES {
            return Err(RecordError::RowTooLong { row });
        }
        let embedded = if multi_line {
            record.iter().map(|cell| line_endings(cell, None)).sum()
        } else {
            0
        };
        self.room = (record.as_slice().len(), record.len());
        self.finish(row, embedded, end, byte_offset, record, false)
    }

    /// Where the next record starts: hand it to a reader of the rest.
    pub fn resume_point(&self) -> ResumePoint {
        self.last_end
    }

    /// The row and offset of the record after the last one: csv skips the
    /// line endings of blank lines before it, and of the last record's CR LF.
    fn next_start(&self) -> (u64, u64) {
        let rest = self.csv.get_ref().since(self.last_end.byte);
        let skipped = rest
            .iter()
            .take_while(|b| matches!(b, b'\r' | b'\n'))
            .count();
        let start = self.last_end.byte + skipped as u64;
        let line = self.last_end.line + self.line_endings(self.last_end.byte, start);
        (line - self.last_end.embedded_newlines, start)
    }

    /// Line endings in `from..to` of the stream, `from` at or after the last
    /// record's end: a CR whose LF is past `to` is counted with its LF.
    fn line_endings(&self, from: u64, to: u64) -> u64 {
        let tape = self.csv.get_ref();
        let bytes = &tape.since(from)[..(to - from) as usize];
        line_endings(bytes, tape.byte_at(to))
    }

    fn finish(
        &mut self,
        row: u64,
        embedded: u64,
        end: ResumePoint,
        byte_offset: u64,
        record: ByteRecord,
        quote_never_closed: bool,
    ) -> Result<Option<RawRecord>, RecordError> {
        if let Some(previous) = self.last_row.filter(|&previous| row <= previous) {
            return Err(RecordError::OutOfOrder { row, previous });
        }
        self.last_row = Some(row);
        self.last_end = ResumePoint {
            embedded_newlines: self.last_end.embedded_newlines + embedded,
            ..end
        };
        self.csv.get_mut().keep_from(self.last_end.byte);
        Ok(Some(RawRecord {
            row,
            byte_offset,
            end: self.last_end,
            record,
            quote_never_closed,
        }))
    }

    /// A row that ran past the limit: a quote that never closes if one is
    /// open, else a row too long to be contact data.
    fn recover_long_row(&mut self) -> Result<RawRecord, RecordError> {
        let kept = self.csv.get_ref().since(self.last_end.byte);
        // Exactly the limit, however far the source was read past it.
        let kept = &kept[..kept.len().min(MAX_ROW_BYTES as usize)];
        match broken_quote(kept, self.delimiter) {
            Some(quote) => self.recover(quote),
            None => Err(RecordError::RowTooLong {
                row: self.next_start().0,
            }),
        }
    }

    /// Makes the line where a cell that never closes opened (at `quote`,
    /// an offset past the last record's end) one malformed record, and
    /// reads on from the next line.
    fn recover(&mut self, quote: usize) -> Result<RawRecord, RecordError> {
        let (row, byte_offset) = self.next_start();
        let kept = self.csv.get_ref().since(self.last_end.byte);
        let start = usize::try_from(byte_offset - self.last_end.byte).expect("within what is kept");
        // Up to its line ending's first byte: the LF of a CR LF is left to
        // the next record, as csv leaves it.
        let line_end = memchr::memchr2(b'\r', b'\n', &kept[quote..]).map(|i| quote + i);
        let taken = line_end.map_or(kept.len(), |at| at + 1);
        if taken as u64 > MAX_ROW_BYTES {
            return Err(RecordError::RowTooLong { row });
        }
        self.reread += (kept.len() - taken) as u64;
        if self.reread > MAX_REREAD_BYTES {
            return Err(RecordError::QuotesRunOn);
        }
        let line = &kept[start..line_end.unwrap_or(kept.len())];
        let mut record = ByteRecord::new();
        csv_reader(line, self.delimiter)
            .read_byte_record(&mut record)
            .map_err(io::Error::other)?;
        let embedded = line_endings(&kept[start..quote], kept.get(quote).copied());
        let end_byte = self.last_end.byte + taken as u64;
        let end = ResumePoint {
            byte: end_byte,
            line: self.last_end.line + self.line_endings(self.last_end.byte, end_byte),
            embedded_newlines: self.last_end.embedded_newlines,
        };
        // The csv reader is somewhere past the line: read on from its end.
        self.csv
            .seek_raw(SeekFrom::Start(end.byte), position(end))
            .map_err(io::Error::other)?;
        let record = self.finish(row, embedded, end, byte_offset, record, true)?;
        Ok(record.expect("finish always returns the record"))
    }
}

fn position(at: ResumePoint) -> csv::Position {
    let mut position = csv::Position::new();
    position.set_byte(at.byte).set_line(at.line);
    position
}

fn csv_reader<R: Read>(input: R, delimiter: Delimiter) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter.byte())
        .buffer_capacity(CSV_BUFFER)
        .from_reader(input)
}

/// LFs, CRs and CR LFs in `bytes`, each one line ending; `next` is the
/// byte after them, if known, for a CR at the end.
fn line_endings(bytes: &[u8], next: Option<u8>) -> u64 {
    memchr::memchr2_iter(b'\r', b'\n', bytes)
        .filter(|&at| bytes[at] == b'\n' || bytes.get(at + 1).copied().or(next) != Some(b'\n'))
        .count() as u64
}

/// Where a quoted cell that does not close opens in `record`, the bytes of
/// a record from where the last one ended: a quote still open at the end of
/// `record`, or a quoted cell that spans lines and whose closing quote is
/// followed by more text, which can only be a stray quote that ran on into
/// the rows below. On one line, text after a closing quote is read as part
/// of the cell, as csv reads it.
fn broken_quote(record: &[u8], delimiter: Delimiter) -> Option<usize> {
    let delimiter = delimiter.byte();
    let mut at = record
        .iter()
        .take_while(|b| matches!(b, b'\r' | b'\n'))
        .count();
    loop {
        if record.get(at) == Some(&b'"') {
            let open = at;
            at += 1;
            loop {
                match memchr::memchr(b'"', &record[at..]) {
                    Some(found) => at += found + 1,
                    None => return Some(open),
                }
                if record.get(at) != Some(&b'"') {
                    break;
                }
                at += 1;
            }
            match record.get(at) {
                None | Some(b'\r' | b'\n') => return None,
                Some(&next) if next == delimiter => {
                    at += 1;
                    continue;
                }
                Some(_) if memchr::memchr2(b'\r', b'\n', &record[open..at]).is_some() => {
                    return Some(open)
                }
                Some(_) => {}
            }
        }
        match memchr::memchr3(delimiter, b'\r', b'\n', &record[at..]) {
            Some(found) if record[at + found] == delimiter => at += found + 1,
            _ => return None,
        }
    }
}

/// The source as the csv reader sees it, with what the reader needs to
/// number rows: the bytes since the last record are kept, to count their
/// line endings and to read them again after a quote that ran on; a CR is
/// handed out only once the byte after it is known, so that a lone CR (old
/// Mac line endings) and a CR LF are told apart; and a record cannot grow
/// past [`MAX_ROW_BYTES`].
struct Tape<R> {
    inner: R,
    /// Bytes from `kept_start`; those before `ready` may be handed out (a CR
    /// at the end waits for the next byte), those before `cursor` were.
    kept: Vec<u8>,
    kept_start: u64,
    ready: usize,
    cursor: usize,
    /// Offset of the last record's end: what is kept starts there.
    mark: u64,
    inner_done: bool,
    over_limit: bool,
    /// csv drops a byte-order mark at the start of what it reads first
    /// (after a seek too); handed one byte, it cannot see one, so a cell
    /// that starts with U+FEFF reads the same at a chunk's start as mid-file.
    first_read: bool,
}

impl<R: Read> Tape<R> {
    fn new(inner: R, offset: u64) -> Self {
        Tape {
            inner,
            kept: Vec::new(),
            kept_start: offset,
            ready: 0,
            cursor: 0,
            mark: offset,
            inner_done: false,
            over_limit: false,
            first_read: true,
        }
    }

    fn keep_from(&mut self, offset: u64) {
        self.mark = offset;
    }

    /// The bytes from `offset` (at or after the mark) to what was handed out.
    fn since(&self, offset: u64) -> &[u8] {
        let from = (offset - self.kept_start) as usize;
        &self.kept[from..self.cursor]
    }

    /// A byte at or after the mark, handed out or not, if it was read.
    fn byte_at(&self, offset: u64) -> Option<u8> {
        self.kept.get((offset - self.kept_start) as usize).copied()
    }

    fn end_offset(&self) -> u64 {
        self.kept_start + self.cursor as u64
    }

    /// Whether everything was handed out.
    fn at_end(&self) -> bool {
        self.inner_done && self.cursor == self.kept.len()
    }

    fn refill(&mut self) -> io::Result<()> {
        let keep = usize::try_from(self.mark - self.kept_start).expect("the mark is kept");
        if keep > 0 {
            self.kept.drain(..keep);
            self.kept_start = self.mark;
            self.ready -= keep;
            self.cursor -= keep;
        }
        let old = self.kept.len();
        self.kept.resize(old + BLOCK, 0);
        let read = loop {
            match self.inner.read(&mut self.kept[old..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        let read = match read {
            Ok(read) => read,
            Err(e) => {
                self.kept.truncate(old);
                return Err(e);
            }
        };
        self.kept.truncate(old + read);
        self.inner_done = read == 0;
        let end = self.kept.len();
        self.ready = if !self.inner_done && self.kept.last() == Some(&b'\r') {
            end - 1
        } else {
            end
        };
        Ok(())
    }
}

impl<R: Read> Read for Tape<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.cursor == self.ready {
            if self.inner_done {
                return Ok(0);
            }
            // The record in progress started at the mark; the csv reader
            // holds at most its buffer of bytes past what it needs.
            if self.end_offset() - self.mark > MAX_ROW_BYTES + CSV_BUFFER as u64 {
                self.over_limit = true;
                return Err(io::Error::other("row too long"));
            }
            self.refill()?;
        }
        let mut n = buf.len().min(self.ready - self.cursor);
        if std::mem::take(&mut self.first_read) {
            n = n.min(1);
        }
        buf[..n].copy_from_slice(&self.kept[self.cursor..self.cursor + n]);
        self.cursor += n;
        Ok(n)
    }
}

impl<R> Seek for Tape<R> {
    /// Only back to the last record's end or later: what is kept.
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        match to {
            SeekFrom::Start(offset)
                if offset >= self.mark && offset <= self.kept_start + self.kept.len() as u64 =>
            {
                self.mark = offset;
                self.cursor = (offset - self.kept_start) as usize;
                self.over_limit = false;
                self.first_read = true;
                Ok(offset)
            }
            _ => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "a tape only rewinds to what it keeps",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Read = (u64, Vec<String>, bool, ResumePoint);

    /// Every record of `bytes[from.byte..]`, read as the chunk reader does.
    fn read_from(bytes: &[u8], from: ResumePoint) -> Result<Vec<Read>, RecordError> {
        let mut reader = RecordReader::new(&bytes[from.byte as usize..], Delimiter::Comma, from);
        let mut records = Vec::new();
        while let Some(raw) = reader.next_record()? {
            let cells = raw
                .record
                .iter()
                .map(|cell| String::from_utf8_lossy(cell).into_owned())
                .collect();
            records.push((raw.row, cells, raw.quote_never_closed, raw.end));
        }
        Ok(records)
    }

    fn rows(bytes: &[u8]) -> Vec<(u64, Vec<String>, bool)> {
        read_from(bytes, ResumePoint::START)
            .unwrap()
            .into_iter()
            .map(|(row, cells, open, _)| (row, cells, open))
            .collect()
    }

    fn row(row: u64, cells: &[&str], open: bool) -> (u64, Vec<String>, bool) {
        (row, cells.iter().map(|c| c.to_string()).collect(), open)
    }

    /// Reading any chunk between two record ends gives the records of the
    /// whole reading in between, as the importers rely on.
    fn assert_chunks_read_as_the_whole(bytes: &[u8]) {
        let whole = read_from(bytes, ResumePoint::START).unwrap();
        let starts: Vec<ResumePoint> = whole.iter().map(|r| r.3).collect();
        for (i, start) in starts.iter().enumerate() {
            for (j, end) in starts.iter().enumerate().skip(i + 1) {
                let chunk = &bytes[..end.byte as usize];
                // Rows and cells; where the last one ends is the chunk's end.
                let read: Vec<_> = read_from(chunk, *start)
                    .unwrap()
                    .into_iter()
                    .map(|r| (r.0, r.1, r.2))
                    .collect();
                let expected: Vec<_> = whole[i + 1..=j]
                    .iter()
                    .map(|r| (r.0, r.1.clone(), r.2))
                    .collect();
                assert_eq!(read, expected, "chunk {i}..{j} of {bytes:?}");
            }
        }
    }

    #[test]
    fn every_line_ending_numbers_rows_alike() {
        for eol in ["\n", "\r\n", "\r"] {
            for final_eol in [true, false] {
                let text = format!(
                    "h1,h2{eol}a,1{eol}{eol}b,2{eol}\"c{eol}d\",3{eol}e,4{}",
                    if final_eol { eol } else { "" }
                );
                let expected = vec![
                    row(1, &["h1", "h2"], false),
                    row(2, &["a", "1"], false),
                    row(4, &["b", "2"], false),
                    row(5, &[&format!("c{eol}d"), "3"], false),
                    row(6, &["e", "4"], false),
                ];
                assert_eq!(rows(text.as_bytes()), expected, "{eol:?} {final_eol}");
                assert_chunks_read_as_the_whole(text.as_bytes());
            }
        }
    }

    #[test]
    fn a_cell_that_starts_with_a_byte_order_mark_reads_alike_from_a_chunk() {
        // Two exports pasted into one file: the second one's BOM starts a row.
        let text = "h\na\n\u{feff}b\n\u{feff}c,\"d\n\"\n".as_bytes();
        assert_eq!(rows(text)[2], row(3, &["\u{feff}b"], false));
        assert_chunks_read_as_the_whole(text);
    }

    #[test]
    fn mixed_line_endings_in_one_file() {
        let text = b"h\na\r\nb\rc\r\n\rd\n\n\re";
        let numbered: Vec<u64> = rows(text).iter().map(|r| r.0).collect();
        assert_eq!(numbered, [1, 2, 3, 4, 6, 9]);
        assert_chunks_read_as_the_whole(text);
    }

    #[test]
    fn a_quote_that_never_closes_takes_its_own_line_only() {
        for eol in ["\n", "\r\n", "\r"] {
            let text = format!("phone,note{eol}1,ok{eol}2,\"open{eol}3,after{eol}4,last{eol}");
            assert_eq!(
                rows(text.as_bytes()),
                vec![
                    row(1, &["phone", "note"], false),
                    row(2, &["1", "ok"], false),
                    row(3, &["2", "open"], true),
                    row(4, &["3", "after"], false),
                    row(5, &["4", "last"], false),
                ],
                "{eol:?}"
            );
            assert_chunks_read_as_the_whole(text.as_bytes());
        }
        // On the last line, with no line ending after it.
        assert_eq!(
            rows(b"p,n\n1,\"open"),
            vec![row(1, &["p", "n"], false), row(2, &["1", "open"], true)]
        );
    }

    #[test]
    fn a_quote_that_closes_rows_later_amid_text_ran_on() {
        let text = b"p,n\n1,\"open\n2,\"quoted\" here\n3,\"two\nlines\"\n4,x\n";
        assert_eq!(
            rows(text),
            vec![
                row(1, &["p", "n"], false),
                row(2, &["1", "open"], true),
                // On one line, text after a closing quote stays in the cell.
                row(3, &["2", "quoted here"], false),
                row(4, &["3", "two\nlines"], false),
                row(5, &["4", "x"], false),
            ]
        );
        assert_chunks_read_as_the_whole(text);
    }

    #[test]
    fn a_quote_that_runs_past_the_row_limit_is_recovered_mid_file() {
        for eol in ["\n", "\r\n", "\r"] {
            let mut text = format!("p,n{eol}1,\"open{eol}").into_bytes();
            let lines = (MAX_ROW_BYTES as usize / 6) + 10;
            for i in 0..lines {
                text.extend(format!("{},v{eol}", i % 10_000).as_bytes());
            }
            let read = rows(&text);
            assert_eq!(read.len(), 2 + lines, "{eol:?}");
            assert_eq!(read[1], row(2, &["1", "open"], true));
            assert_eq!(read[2], row(3, &["0", "v"], false));
            assert_eq!(read.last().unwrap().0, 2 + lines as u64);
        }
    }

    #[test]
    fn a_line_with_no_end_is_refused_not_held() {
        let mut text = b"p,n\n".to_vec();
        text.resize(text.len() + 3 * MAX_ROW_BYTES as usize, b'a');
        assert!(matches!(
            read_from(&text, ResumePoint::START),
            Err(RecordError::RowTooLong { row: 2 })
        ));
        let zeros = vec![0u8; 3 * MAX_ROW_BYTES as usize];
        assert!(matches!(
            read_from(&zeros, ResumePoint::START),
            Err(RecordError::RowTooLong { row: 1 })
        ));
    }

    #[test]
    fn broken_quote_finds_only_quotes_that_ran_on() {
        let find = |text: &[u8]| broken_quote(text, Delimiter::Comma);
        assert_eq!(find(b"a,\"b,c\"\n"), None);
        assert_eq!(find(b"a,\"b\"\"c\"\n"), None);
        assert_eq!(find(b"a,\"b\nc\",d\n"), None);
        assert_eq!(find(b"a,\"b\" c,d\n"), None);
        assert_eq!(find(b"a,b\"c\nd"), None);
        assert_eq!(find(b"\n\na,\"open"), Some(4));
        assert_eq!(find(b"a,\"b\nc\"d\n"), Some(2));
    }
}
