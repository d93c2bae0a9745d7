//! What happened to each row, and the counters that add up.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use csv::StringRecord;
use serde::{Deserialize, Serialize};

/// Why a row was not imported. The order is the order the rules apply in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    MalformedRow,
    MissingPhone,
    InvalidPhone,
    InvalidSecondaryPhone,
    InvalidField,
    NoConsent,
    DoNotCall,
    DuplicateInFile,
    DuplicateExisting,
    /// The platform could not process the row after retries.
    InternalError,
}

/// How a rejection counts: a problem in the data, or a row left out on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    Failed,
    Skipped,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 10] = [
        ErrorCode::MalformedRow,
        ErrorCode::MissingPhone,
        ErrorCode::InvalidPhone,
        ErrorCode::InvalidSecondaryPhone,
        ErrorCode::InvalidField,
        ErrorCode::NoConsent,
        ErrorCode::DoNotCall,
        ErrorCode::DuplicateInFile,
        ErrorCode::DuplicateExisting,
        ErrorCode::InternalError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MalformedRow => "malformed_row",
            ErrorCode::MissingPhone => "missing_phone",
            ErrorCode::InvalidPhone => "invalid_phone",
            ErrorCode::InvalidSecondaryPhone => "invalid_secondary_phone",
            ErrorCode::InvalidField => "invalid_field",
            ErrorCode::NoConsent => "no_consent",
            ErrorCode::DoNotCall => "do_not_call",
            ErrorCode::DuplicateInFile => "duplicate_in_file",
            ErrorCode::DuplicateExisting => "duplicate_existing",
            ErrorCode::InternalError => "internal_error",
        }
    }

    pub fn parse(text: &str) -> Option<ErrorCode> {
        ErrorCode::ALL
            .into_iter()
            .find(|code| code.as_str() == text)
    }

    pub fn counted(self) -> Counted {
        match self {
            ErrorCode::NoConsent
            | ErrorCode::DoNotCall
            | ErrorCode::DuplicateInFile
            | ErrorCode::DuplicateExisting => Counted::Skipped,
            _ => Counted::Failed,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A row that was not imported, with everything its report line needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// The row number a spreadsheet shows (the header is row 1).
    pub row: u64,
    pub code: ErrorCode,
    /// The header of the column at fault, when one is.
    pub column: Option<String>,
    pub message: String,
    /// Most guidance is a fixed text, which a row then need not copy.
    pub guidance: Cow<'static, str>,
    /// The row's original values, in file order: one record, where a
    /// `String` a cell made every rejected row a dozen allocations.
    pub values: StringRecord,
}

/// What the store did with an accepted row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    Inserted,
    Updated,
    /// Already in the destination and duplicates are skipped.
    Existing,
}

/// The counters of an import. `processed` always equals the other four summed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub processed: u64,
    pub inserted: u64,
    pub updated: u64,
    pub skipped: u64,
    pub failed: u64,
    pub reasons: BTreeMap<ErrorCode, u64>,
}

impl Tally {
    pub fn record_rejection(&mut self, code: ErrorCode) {
        self.processed += 1;
        match code.counted() {
            Counted::Failed => self.failed += 1,
            Counted::Skipped => self.skipped += 1,
        }
        *self.reasons.entry(code).or_default() += 1;
    }

    pub fn record_write(&mut self, outcome: WriteOutcome) {
        match outcome {
            WriteOutcome::Inserted => {
                self.processed += 1;
                self.inserted += 1;
            }
            WriteOutcome::Updated => {
                self.processed += 1;
                self.updated += 1;
            }
            WriteOutcome::Existing => self.record_rejection(ErrorCode::DuplicateExisting),
        }
    }

    /// Adds another part's counters, as the finalizer does per chunk.
    pub fn add(&mut self, other: &Tally) {
        self.processed += other.processed;
        self.inserted += other.inserted;
        self.updated += other.updated;
        self.skipped += other.skipped;
        self.failed += other.failed;
        for (code, count) in &other.reasons {
            *self.reasons.entry(*code).or_default() += count;
        }
    }

    pub fn adds_up(&self) -> bool {
        self.processed == self.inserted + self.updated + self.skipped + self.failed
            && self.reasons.values().sum::<u64>() == self.skipped + self.failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_count_as_the_issue_says() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
        let skipped: Vec<_> = ErrorCode::ALL
            .into_iter()
            .filter(|c| c.counted() == Counted::Skipped)
            .collect();
        assert_eq!(
            skipped,
            [
                ErrorCode::NoConsent,
                ErrorCode::DoNotCall,
                ErrorCode::DuplicateInFile,
                ErrorCode::DuplicateExisting
            ]
        );
    }

    #[test]
    fn tally_adds_up_and_merges() {
        let mut a = Tally::default();
        a.record_write(WriteOutcome::Inserted);
        a.record_write(WriteOutcome::Existing);
        a.record_rejection(ErrorCode::InvalidPhone);
        let mut b = Tally::default();
        b.record_write(WriteOutcome::Updated);
        b.record_rejection(ErrorCode::InvalidPhone);
        a.add(&b);
        assert_eq!(
            (a.processed, a.inserted, a.updated, a.skipped, a.failed),
            (5, 1, 1, 1, 2)
        );
        assert_eq!(a.reasons[&ErrorCode::InvalidPhone], 2);
        assert_eq!(a.reasons[&ErrorCode::DuplicateExisting], 1);
        assert!(a.adds_up());
    }
}
