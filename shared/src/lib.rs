//! The contact-import rules, shared by the Lambdas, the CLI and the tests.
//!
//! A file goes through [`engine::ContactFile::open`] (what the file is,
//! encoding, delimiter, header, column plan), its records come from
//! [`records::RecordReader`] (rows numbered whatever the line endings; a
//! quote that runs on is one row), then each through [`row::RowValidator`] and
//! [`engine::Screen`]; rejected rows become lines of a [`report`].
//! Nothing here knows about AWS.

pub mod contact;
#[cfg(any(test, feature = "contract"))]
pub mod contract;
pub mod echo;
pub mod engine;
mod first_occurrences;
pub mod headers;
pub mod imports;
pub mod input;
pub mod layouts;
pub mod memory;
pub mod outcome;
pub mod phone;
pub mod pipeline;
pub mod plan;
pub mod ports;
pub mod records;
pub mod refusal;
pub mod report;
pub mod row;
pub mod spec;
pub mod synthetic;
pub mod vcard;

pub use contact::Contact;
pub use engine::{ContactFile, FileFacts, RowOutcome, Screen};
pub use outcome::{ErrorCode, Rejection, Tally, WriteOutcome};
pub use refusal::Refusal;
pub use spec::ImportSpec;
