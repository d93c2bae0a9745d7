//! Reasons a whole file is refused before any row is imported.

use crate::file::records::{RecordError, MAX_ROW_BYTES};
use crate::rules::spec::SpecError;

/// The most columns a file may have. Excel sheets stop at 16,384; CRM
/// exports with every property stay under a thousand.
pub const MAX_COLUMNS: usize = 4_096;

/// The longest a column name may be, in bytes.
pub const MAX_HEADER_BYTES: usize = 1_024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the file is empty; upload a CSV whose first row is a header such as phone,first_name,last_name")]
    EmptyFile,
    #[error(
        "the file has a header row but no data rows; add at least one contact below the header"
    )]
    NoDataRows,
    #[error("no column holds phone numbers (headers found: {headers}); {hint}")]
    NoPhoneColumn { headers: String, hint: String },
    #[error("columns `{first}` and `{second}` are both mapped to {target}; map only one of them to {target} and set the other to \"ignore\" or a custom field")]
    ConflictingMapping {
        target: String,
        first: String,
        second: String,
    },
    #[error("{key} names the column `{column}`, which is not in the file (headers found: {headers}); correct the header name in the spec")]
    UnknownColumn {
        key: String,
        column: String,
        headers: String,
    },
    #[error("custom field `{key}` is required but no column maps to it; add a `{key}` column or map one with \"custom:{key}\"")]
    RequiredFieldWithoutColumn { key: String },
    #[error("this is {}, not a CSV file; {}", .0.what(), .0.fix())]
    NotText(NotText),
    #[error("row {row}, the first row of the file, has no column names; put the header (for example phone,first_name,last_name) on the first row")]
    BlankHeader { row: u64 },
    #[error("the header has {found} columns, more than the {MAX_COLUMNS} a file may have; remove the columns you do not import")]
    TooManyColumns { found: usize },
    #[error("column {column}'s name is {bytes} bytes long, more than the {MAX_HEADER_BYTES} a column name may have; the first row must be a header such as phone,first_name,last_name")]
    HeaderTooLong { column: usize, bytes: usize },
    #[error("the first line `sep={found}` asks for a delimiter that is not read here; use sep=, sep=; or sep=| (or a tab), or delete that line")]
    UnsupportedSeparator { found: String },
    #[error("row {row} is longer than {} MiB, which no contact row needs; check that this is a CSV export, or split the row's long values", MAX_ROW_BYTES >> 20)]
    RowTooLong { row: u64 },
    #[error("{0}; check the quotes in the file: a value that starts with \" must end with \", and a quote inside a value is written twice (\"\")")]
    BrokenQuoting(String),
    #[error("the file could not be read: {0}")]
    Unreadable(String),
    #[error(transparent)]
    Spec(#[from] SpecError),
}

impl Refusal {
    /// A short stable code for summaries and `--json` output.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::EmptyFile => "empty_file",
            Refusal::NoDataRows => "no_data_rows",
            Refusal::NoPhoneColumn { .. } => "no_phone_column",
            Refusal::ConflictingMapping { .. } => "conflicting_mapping",
            Refusal::UnknownColumn { .. } => "unknown_column",
            Refusal::RequiredFieldWithoutColumn { .. } => "required_field_without_column",
            Refusal::NotText(_) => "not_csv",
            Refusal::BlankHeader { .. } => "blank_header",
            Refusal::TooManyColumns { .. } => "too_many_columns",
            Refusal::HeaderTooLong { .. } => "header_too_long",
            Refusal::UnsupportedSeparator { .. } => "unsupported_separator",
            Refusal::RowTooLong { .. } => "row_too_long",
            Refusal::BrokenQuoting(_) => "broken_quoting",
            Refusal::Unreadable(_) => "unreadable",
            Refusal::Spec(_) => "invalid_spec",
        }
    }
}

impl From<RecordError> for Refusal {
    fn from(error: RecordError) -> Self {
        match error {
            RecordError::RowTooLong { row } => Refusal::RowTooLong { row },
            RecordError::QuotesRunOn => Refusal::BrokenQuoting(error.to_string()),
            RecordError::Io(_) | RecordError::OutOfOrder { .. } => {
                Refusal::Unreadable(error.to_string())
            }
        }
    }
}

/// Headers as one readable list for messages.
pub(crate) fn list_headers(headers: &[String]) -> String {
    headers
        .iter()
        .map(|h| format!("`{h}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A file that is not delimited text, told by its first bytes, so that the
/// user hears what they uploaded rather than what its bytes look like as CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotText {
    ExcelWorkbook,
    OpenDocument,
    LegacyOffice,
    ZipArchive,
    Gzip,
    OtherArchive,
    Pdf,
    Utf32,
    Binary,
}

impl NotText {
    /// What the file is, as a sentence's subject complement.
    pub fn what(self) -> &'static str {
        match self {
            NotText::ExcelWorkbook => "an Excel workbook (.xlsx)",
            NotText::OpenDocument => "an OpenDocument spreadsheet (.ods)",
            NotText::LegacyOffice => {
                "an Excel 97-2003 workbook (.xls) or another Office 97-2003 document"
            }
            NotText::ZipArchive => "a zip archive",
            NotText::Gzip => "a gzip-compressed file",
            NotText::OtherArchive => "a compressed archive (7z, bzip2, xz or rar)",
            NotText::Pdf => "a PDF document",
            NotText::Utf32 => "text in UTF-32",
            NotText::Binary => "binary data",
        }
    }

    /// What to do instead.
    pub fn fix(self) -> &'static str {
        match self {
            NotText::ExcelWorkbook | NotText::OpenDocument | NotText::LegacyOffice => {
                "open it in your spreadsheet program, save the sheet as \"CSV UTF-8\", and upload the .csv file"
            }
            NotText::ZipArchive | NotText::Gzip | NotText::OtherArchive => {
                "extract it and upload the CSV file inside"
            }
            NotText::Pdf => {
                "export the contacts as CSV from the program that made the PDF, and upload that"
            }
            NotText::Utf32 => "save it as CSV UTF-8 and upload it again",
            NotText::Binary => "export your contacts as a CSV file and upload that",
        }
    }
}
