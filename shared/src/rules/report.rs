//! The error report: one line per rejected row, with the original values,
//! safe to open in a spreadsheet and fit to upload again once fixed.

use std::borrow::Cow;
use std::io::Write;

use crate::rules::outcome::Rejection;

/// The columns a report puts before the file's own columns.
pub const REPORT_COLUMNS: [&str; 4] = ["row", "error_code", "error_message", "guidance"];

/// Where the report's own columns stand in a file's headers, when the file
/// is a report uploaded again after fixes: wherever the user moved them.
/// Where a name appears twice (the file itself had a `row` column), the
/// report's is the first, as the report writes its columns first.
pub(crate) fn report_columns(headers: &[String]) -> Option<[usize; 4]> {
    if headers.len() <= REPORT_COLUMNS.len() {
        return None;
    }
    let mut found = [0; 4];
    for (slot, name) in found.iter_mut().zip(REPORT_COLUMNS) {
        *slot = headers.iter().position(|h| h == name)?;
    }
    Some(found)
}

/// Whether a file's headers are those of a report, uploaded again after fixes.
pub(crate) fn is_report_header(headers: &[String]) -> bool {
    report_columns(headers).is_some()
}

/// Cells starting with these are read as formulas by spreadsheets (OWASP CSV injection).
fn starts_formula(cell: &str) -> bool {
    matches!(
        cell.as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    )
}

/// Whether a cell gets a leading `'`. Cells that already start with `'`
/// before such a character get one too, so that reading back is exact.
fn needs_quote_prefix(cell: &str) -> bool {
    starts_formula(cell) || cell.strip_prefix('\'').is_some_and(needs_quote_prefix)
}

/// Makes a cell inert in spreadsheets by prefixing `'`.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if needs_quote_prefix(cell) {
        // Every number written `+1 ...` passes here.
        let mut inert = String::with_capacity(cell.len() + 1);
        inert.push('\'');
        inert.push_str(cell);
        Cow::Owned(inert)
    } else {
        Cow::Borrowed(cell)
    }
}

/// Control characters (NUL, escape, ...) that no spreadsheet shows.
pub(crate) fn is_invisible_control(c: char) -> bool {
    c.is_ascii_control() && !matches!(c, '\t' | '\n' | '\r')
}

/// A cell as the report writes it: without invisible control characters,
/// which would make the report look like binary data when uploaded again,
/// and inert in spreadsheets.
pub(crate) fn report_cell(cell: &str) -> Cow<'_, str> {
    // Bytes, not chars: an ASCII control is one byte that no longer UTF-8
    // sequence holds. Every rejected row's every cell passes here: a fold
    // without an early exit is vectorised, where `any` goes byte by byte.
    let has_control = cell.bytes().fold(false, |found, b| {
        found | is_invisible_control(char::from(b))
    });
    if has_control {
        let visible: String = cell.chars().filter(|&c| !is_invisible_control(c)).collect();
        Cow::Owned(neutralise(&visible).into_owned())
    } else {
        neutralise(cell)
    }
}

/// Undoes [`neutralise`]; applied to the cells of a report uploaded again.
pub fn restore(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if needs_quote_prefix(rest) => rest,
        _ => cell,
    }
}

/// Writes a report to any byte sink: a file, a buffer, an upload part.
pub struct ReportWriter<W: Write> {
    writer: csv::Writer<W>,
    rows: u64,
}

impl<W: Write> ReportWriter<W> {
    /// Starts a report whose original columns are `headers`.
    pub fn new(mut sink: W, headers: &[String]) -> csv::Result<Self> {
        // The delimiter of an uploaded file is the one its header line has
        // most of outside quotes: a name holding `;`, tab or `|` is quoted,
        // so that the report reads back with commas.
        let style = if headers.iter().any(|h| h.contains([';', '\t', '|'])) {
            csv::QuoteStyle::Always
        } else {
            csv::QuoteStyle::Necessary
        };
        let mut header = csv::WriterBuilder::new()
            .quote_style(style)
            .from_writer(&mut sink);
        header.write_record(
            REPORT_COLUMNS
                .iter()
                .copied()
                .chain(headers.iter().map(String::as_str))
                .map(|cell| report_cell(cell).into_owned()),
        )?;
        header.flush()?;
        drop(header);
        Ok(ReportWriter::without_header(sink))
    }

    /// A report part that continues another report, as the pipeline's chunks write.
    pub(crate) fn without_header(sink: W) -> Self {
        ReportWriter {
            // Rows with extra values keep them, so records may be longer than the header.
            writer: csv::WriterBuilder::new().flexible(true).from_writer(sink),
            rows: 0,
        }
    }

    pub fn write(&mut self, rejection: &Rejection) -> csv::Result<()> {
        let row = rejection.row.to_string();
        let fixed = [
            row.as_str(),
            rejection.code.as_str(),
            rejection.message.as_str(),
            &rejection.guidance,
        ];
        self.write_cells(fixed.into_iter().chain(rejection.values.iter()))?;
        self.rows += 1;
        Ok(())
    }

    fn write_cells<'c>(&mut self, cells: impl Iterator<Item = &'c str>) -> csv::Result<()> {
        // Field by field, so that a cell the report keeps as it is, which is
        // most cells of most rows, is not copied first.
        for cell in cells {
            self.writer.write_field(report_cell(cell).as_bytes())?;
        }
        self.writer.write_record(None::<&[u8]>)
    }

    /// Rejected rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    pub fn finish(self) -> std::io::Result<W> {
        self.writer
            .into_inner()
            .map_err(|e| std::io::Error::other(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::outcome::ErrorCode;

    #[test]
    fn formula_cells_are_neutralised_and_restored_exactly() {
        for cell in [
            "=1+1",
            "+14155552671",
            "-5",
            "@SUM(A1)",
            "\tx",
            "\rx",
            "'=already",
            "''+x",
            "plain",
            "'quoted",
            "",
            "'",
        ] {
            let safe = neutralise(cell);
            assert!(!starts_formula(&safe), "{cell:?} -> {safe:?}");
            assert_eq!(restore(&safe), cell, "{cell:?}");
        }
        assert_eq!(neutralise("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(neutralise("Ann"), "Ann");
    }

    #[test]
    fn invisible_control_characters_are_left_out() {
        assert_eq!(report_cell("fi\u{0}\u{1}rst\u{1b}\u{7f}"), "first");
        assert_eq!(report_cell("\u{0}=1+1"), "'=1+1");
        assert_eq!(report_cell("a\tb\r\nc"), "a\tb\r\nc");
        assert_eq!(report_cell("Mu\u{f1}oz"), "Mu\u{f1}oz");
    }

    #[test]
    fn a_header_holding_another_delimiter_is_quoted_whole() {
        let headers = ["phone".to_owned(), "a;b;c;d;e".to_owned()];
        let report = ReportWriter::new(Vec::new(), &headers).unwrap();
        let text = String::from_utf8(report.finish().unwrap()).unwrap();
        assert_eq!(
            text,
            "\"row\",\"error_code\",\"error_message\",\"guidance\",\"phone\",\"a;b;c;d;e\"\n"
        );
        assert_eq!(
            crate::file::input::detect_delimiter(text.as_bytes()),
            crate::file::input::Delimiter::Comma
        );
    }

    #[test]
    fn report_has_fixed_columns_then_the_originals() {
        let mut report = ReportWriter::new(Vec::new(), &["phone".into(), "=name".into()]).unwrap();
        report
            .write(&Rejection {
                row: 7,
                code: ErrorCode::InvalidPhone,
                column: Some("phone".into()),
                message: "bad".into(),
                guidance: "fix it".into(),
                values: csv::StringRecord::from(vec!["+1 555", "=cmd|' /C calc'!A0", "extra"]),
            })
            .unwrap();
        assert_eq!(report.rows(), 1);
        let text = String::from_utf8(report.finish().unwrap()).unwrap();
        assert_eq!(
            text,
            "row,error_code,error_message,guidance,phone,'=name\n7,invalid_phone,bad,fix it,'+1 555,'=cmd|' /C calc'!A0,extra\n"
        );
    }
}
