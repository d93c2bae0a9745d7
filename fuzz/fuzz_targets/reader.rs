//! The reader and the row rules on any bytes: every data record yields
//! exactly one outcome, rows are numbered in strictly increasing order
//! within the file's lines, and a reading resumed at any record's end (as
//! an importer reads its chunk) gives the same rows and cells as the whole.

#![no_main]

use std::collections::HashSet;
use std::io::Read;

use contact_import_core::file::input::utf8_reader;
use contact_import_core::file::records::{RecordReader, ResumePoint};
use contact_import_core::{ContactFile, ImportSpec, Screen};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let spec = ImportSpec::default();
    let Ok(mut file) = ContactFile::open(data, &spec) else {
        return;
    };
    let delimiter = file.facts().delimiter;
    let no_list = HashSet::new();
    let mut screen = Screen::new(&spec, &no_list);
    // (row, cells, where reading resumes after it)
    let mut records: Vec<(u64, Vec<Vec<u8>>, ResumePoint)> = Vec::new();
    let finished = loop {
        match file.next_record() {
            Ok(Some(raw)) => {
                let cells = raw.record.iter().map(<[u8]>::to_vec).collect();
                records.push((raw.row, cells, raw.end));
                // The rules take every record without a panic.
                screen.screen(file.validator(), raw);
            }
            Ok(None) => break true,
            // Bytes that stop decoding part way, a row past the limit: the import fails there.
            Err(_) => break false,
        }
    };
    let rows: Vec<u64> = records.iter().map(|r| r.0).collect();
    assert!(
        rows.windows(2).all(|w| w[0] < w[1]),
        "rows out of order: {rows:?}"
    );
    assert!(
        rows.first().is_none_or(|&first| first >= 2),
        "a data row numbered before row 2: {rows:?}"
    );
    if !finished || records.is_empty() {
        return;
    }
    let (_, mut utf8) = utf8_reader(data).expect("decodes as it did");
    let mut text = Vec::new();
    utf8.read_to_end(&mut text)
        .expect("decodes to the end as it did");
    let line_endings = text
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && text.get(i + 1) != Some(&b'\n')))
        .count() as u64;
    assert!(
        *rows.last().unwrap() <= line_endings + 1,
        "row {} past the file's {} lines",
        rows.last().unwrap(),
        line_endings + 1
    );
    // Chunks start after a record and end after a later one.
    let cut = records.len() / 2;
    let start = records[cut].2;
    let end = records.last().unwrap().2.byte as usize;
    let mut reader = RecordReader::new(&text[start.byte as usize..end], delimiter, start);
    for (row, cells, _) in &records[cut + 1..] {
        let raw = reader
            .next_record()
            .expect("a chunk reads as the whole did")
            .expect("a chunk holds the rows the whole had");
        let read: Vec<Vec<u8>> = raw.record.iter().map(<[u8]>::to_vec).collect();
        assert_eq!((raw.row, &read), (*row, cells), "resumed at {start:?}");
    }
    assert!(reader.next_record().expect("the chunk ends").is_none());
});
