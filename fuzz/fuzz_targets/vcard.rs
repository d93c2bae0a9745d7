//! The vCard converter on any bytes: it never panics, its output is UTF-8
//! CSV whose every record has one cell per column, and reading it a byte at
//! a time gives what reading it at once gives.

#![no_main]

use std::io::Read;

use contact_import_core::file::vcard::{VcardToCsv, HEADERS};
use libfuzzer_sys::fuzz_target;

/// Hands out one byte per read, as a slow network stream may.
struct OneByteReads<'a>(&'a [u8]);

impl Read for OneByteReads<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match (self.0.split_first(), buf.first_mut()) {
            (Some((&byte, rest)), Some(slot)) => {
                *slot = byte;
                self.0 = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut whole = Vec::new();
    VcardToCsv::new(data)
        .read_to_end(&mut whole)
        .expect("reading from memory does not fail");
    let text = std::str::from_utf8(&whole).expect("the CSV is UTF-8");

    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let header = records.next().expect("a header row").expect("a CSV record");
    assert_eq!(header.iter().collect::<Vec<_>>(), HEADERS);
    for record in records {
        let record = record.expect("a CSV record");
        assert_eq!(record.len(), HEADERS.len(), "{record:?}");
    }

    let mut trickled = Vec::new();
    let mut converter = VcardToCsv::new(OneByteReads(data));
    let mut byte = [0u8; 1];
    while converter.read(&mut byte).expect("reading from memory does not fail") == 1 {
        trickled.push(byte[0]);
    }
    assert!(trickled == whole, "one-byte reads gave other bytes");
});
