//! Reasons a whole file is refused before any row is imported.

use crate::spec::SpecError;

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
            Refusal::Unreadable(_) => "unreadable",
            Refusal::Spec(_) => "invalid_spec",
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
