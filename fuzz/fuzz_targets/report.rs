//! Report re-import: the error report of any file, uploaded again, is
//! recognised as a report with the file's columns, and each of its lines
//! comes back as one row.

#![no_main]

use std::collections::HashSet;

use contact_import_core::rules::report::ReportWriter;
use contact_import_core::{ContactFile, ImportSpec, Refusal, RowOutcome, Screen};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let spec = ImportSpec::default();
    let Ok(mut file) = ContactFile::open(data, &spec) else {
        return;
    };
    let headers = file.plan().source_headers();
    let mut report = ReportWriter::new(Vec::new(), &headers).expect("a report header");
    let no_list = HashSet::new();
    let mut screen = Screen::new(&spec, &no_list);
    while let Ok(Some(outcome)) = file.next_outcome(&mut screen) {
        if let RowOutcome::Rejected(rejection) = outcome {
            report.write(&rejection).expect("a report line");
        }
    }
    let lines = report.rows();
    if lines == 0 {
        return;
    }
    let report = report.finish().expect("the report ends");
    let shown = String::from_utf8_lossy(&report);
    match ContactFile::open(report.as_slice(), &spec) {
        Ok(mut again) => {
            assert!(
                again.plan().is_report_input(),
                "not seen as a report:\n{shown}"
            );
            assert_eq!(again.plan().source_headers(), headers, "{shown}");
            let mut screen = Screen::new(&spec, &no_list);
            let mut rows = 0;
            while again
                .next_outcome(&mut screen)
                .unwrap_or_else(|e| panic!("{e}:\n{shown}"))
                .is_some()
            {
                rows += 1;
            }
            assert_eq!(rows, lines, "one row per report line:\n{shown}");
        }
        // Rows rejected for their phones may leave no column that looks like one.
        Err(Refusal::NoPhoneColumn { .. }) => {}
        Err(refusal) => panic!("the report is refused: {refusal}\n{shown}"),
    }
});
