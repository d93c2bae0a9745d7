//! The reader and the row rules on any bytes: every data record yields
//! exactly one outcome, and rows are numbered in strictly increasing order.

#![no_main]

use std::collections::HashSet;
use std::io::Read;

use contact_import_core::input::utf8_reader;
use contact_import_core::{ContactFile, ImportSpec, RowOutcome, Screen};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let spec = ImportSpec::default();
    let Ok(mut file) = ContactFile::open(data, &spec) else {
        return;
    };
    let no_list = HashSet::new();
    let mut screen = Screen::new(&spec, &no_list);
    let mut rows = Vec::new();
    let finished = loop {
        match file.next_outcome(&mut screen) {
            Ok(Some(RowOutcome::Accepted(accepted))) => rows.push(accepted.row),
            Ok(Some(RowOutcome::Rejected(rejection))) => rows.push(rejection.row),
            Ok(None) => break true,
            // Bytes that stop decoding part way: the import fails there.
            Err(_) => break false,
        }
    };
    assert!(
        rows.windows(2).all(|w| w[0] < w[1]),
        "rows out of order: {rows:?}"
    );
    assert!(
        rows.first().is_none_or(|&first| first >= 2),
        "a data row numbered before row 2, the header's at the earliest: {rows:?}"
    );
    if finished {
        // The same text read as plain CSV: one record per outcome after the header.
        let (_, mut utf8) = utf8_reader(data).expect("decodes as it did");
        let mut text = Vec::new();
        utf8.read_to_end(&mut text)
            .expect("decodes to the end as it did");
        let records = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(file.facts().delimiter.byte())
            .from_reader(text.as_slice())
            .byte_records()
            .count();
        assert_eq!(rows.len() + 1, records, "one outcome per data record");
    }
});
