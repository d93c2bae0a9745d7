//! Bytes to records: what a file is, and its rows.

pub mod input;
pub mod records;
pub mod synthetic;
pub mod vcard;
