//! The error report: its columns, formula neutralising, and uploading the
//! report itself again after fixing rows.

use contact_import_core::rules::headers::Target;
use contact_import_core::rules::plan::MappingSource;
use contact_import_core::rules::refusal::MAX_COLUMNS;
use contact_import_core::rules::report::REPORT_COLUMNS;

use crate::support::{import, import_bytes, import_with_dnc, read_csv, write_csv, Import};

/// Rows 2, 4 and 5 are on this list; row 3 has a number with too few digits.
const DO_NOT_CALL: &[&str] = &["+14155552671", "+14155552673", "+14155552674"];

fn injection_import() -> Import {
    let import = import_with_dnc("report_injection.csv", "{}", DO_NOT_CALL);
    assert_eq!(
        import.summary(),
        [
            (2, "do_not_call"),
            (3, "invalid_phone"),
            (4, "do_not_call"),
            (5, "do_not_call")
        ]
    );
    import
}

#[test]
fn report_has_the_four_report_columns_then_every_original_header() {
    let report = read_csv(&injection_import().report());
    assert_eq!(
        report.header,
        [
            "row",
            "error_code",
            "error_message",
            "guidance",
            "phone",
            "name",
            "notes",
            "amount",
            "'@handle"
        ]
    );
    assert_eq!(report.rows.len(), 4);
    let line = report.report_line(3);
    assert_eq!(line[1], "invalid_phone");
    assert!(
        line[2].contains("`+1 415 555 26`") && line[2].contains("`phone`"),
        "{}",
        line[2]
    );
    assert!(!line[3].is_empty(), "guidance is given");
    assert_eq!(
        line[5], "Bob Stone",
        "original values under their original headers"
    );
}

#[test]
fn report_row_column_is_the_spreadsheet_row() {
    let import = injection_import();
    let report = read_csv(&import.report());
    let rows: Vec<&str> = report.rows.iter().map(|line| line[0].as_str()).collect();
    assert_eq!(rows, ["2", "3", "4", "5"]);
}

#[test]
fn formula_cells_are_prefixed_with_a_quote() {
    let report = read_csv(&injection_import().report());
    let data = |row: u64| report.report_line(row)[4..].to_vec();
    assert_eq!(
        data(2),
        ["'+1 415 555 2671", "Ann Lee", "'=1+1", "'-5", "'@ann"]
    );
    assert_eq!(
        data(3),
        ["'+1 415 555 26", "Bob Stone", "'@SUM(A1)", "'+7", "bob"]
    );
    assert_eq!(
        data(4),
        [
            "'+14155552673",
            "Cid Moss",
            "'\ttabbed",
            "'\rcarriage",
            "cid"
        ]
    );
    assert_eq!(
        data(5),
        ["'+14155552674", "Dee Park", "'tis fine", "''=kept", "dee"]
    );
}

#[test]
fn no_report_cell_starts_like_a_formula() {
    let report = read_csv(&injection_import().report());
    for cell in report.header.iter().chain(report.rows.iter().flatten()) {
        assert!(
            !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
            "cell {cell:?} would run as a formula"
        );
    }
}

/// The report columns ignored, the file's own columns kept as they were.
fn assert_read_as_the_injection_report(reimport: &Import) {
    assert!(reimport.plan.is_report_input());
    for header in REPORT_COLUMNS {
        assert_eq!(
            reimport.target(header),
            (&Target::Ignore, MappingSource::ReportColumn),
            "{header}"
        );
    }
    assert_eq!(reimport.plan.custom_keys(), ["notes", "amount", "handle"]);
}

#[test]
fn reimported_report_ignores_the_report_columns() {
    let reimport = import_bytes(&injection_import().report(), "{}", &[]);
    assert_read_as_the_injection_report(&reimport);
    for accepted in reimport.accepted() {
        for key in ["row", "error_code", "error_message", "guidance"] {
            assert!(
                !accepted.contact.custom.contains_key(key),
                "{key} became a custom field"
            );
        }
    }
}

#[test]
fn report_columns_are_recognised_wherever_the_user_moved_them() {
    let report = read_csv(&injection_import().report());
    // The four report columns moved behind the file's own, as a user might.
    let mut moved = csv::Writer::from_writer(Vec::new());
    let reorder =
        |line: &[String]| -> Vec<String> { line[4..].iter().chain(&line[..4]).cloned().collect() };
    moved.write_record(reorder(&report.header)).unwrap();
    for line in &report.rows {
        moved.write_record(reorder(line)).unwrap();
    }
    let reimport = import_bytes(&moved.into_inner().unwrap(), "{}", &[]);
    assert_read_as_the_injection_report(&reimport);
    assert_eq!(
        reimport.summary(),
        import_bytes(&injection_import().report(), "{}", &[]).summary()
    );
}

#[test]
fn reimported_report_restores_neutralised_values() {
    let reimport = import_bytes(&injection_import().report(), "{}", &[]);
    assert_eq!(
        reimport.summary(),
        [
            (2, "imported"),
            (3, "invalid_phone"),
            (4, "imported"),
            (5, "imported")
        ]
    );
    let ann = reimport.contact(2);
    assert_eq!(ann.phone, "+14155552671");
    assert_eq!(
        ann.phone_raw, "+1 415 555 2671",
        "the ' added by the report is gone"
    );
    assert_eq!(ann.custom["notes"], "=1+1");
    assert_eq!(ann.custom["amount"], "-5");
    assert_eq!(ann.custom["handle"], "@ann");
    // A leading ' the file had is a spreadsheet's text marker: the rules
    // read the value without it, the report shows it as written.
    let dee = reimport.contact(5);
    assert_eq!(dee.custom["notes"], "tis fine");
    assert_eq!(dee.custom["amount"], "=kept");
    assert_eq!(&reimport.rejection(3).values[0], "+1 415 555 26");
}

#[test]
fn reimporting_an_unfixed_report_rejects_the_same_values_again() {
    let first = injection_import();
    let second = import_bytes(&first.report(), "{}", DO_NOT_CALL);
    let codes = |import: &Import| import.rejected().iter().map(|r| r.code).collect::<Vec<_>>();
    assert_eq!(codes(&second), codes(&first));
    for (again, original) in second.rejected().iter().zip(first.rejected()) {
        assert_eq!(
            again.values, original.values,
            "row {} round-trips exactly",
            original.row
        );
    }
    let first_report = read_csv(&first.report());
    let second_report = read_csv(&second.report());
    for (again, original) in second_report.rows.iter().zip(&first_report.rows) {
        assert_eq!(
            again[4..],
            original[4..],
            "values are neutralised once, not twice"
        );
    }
}

#[test]
fn reimported_report_keeps_the_original_headers() {
    let first = injection_import();
    let reimport = import_bytes(&first.report(), "{}", DO_NOT_CALL);
    assert_eq!(
        reimport.plan.source_headers(),
        first.plan.source_headers(),
        "a neutralised header is restored like any other cell"
    );
    assert_eq!(
        read_csv(&reimport.report()).header,
        read_csv(&first.report()).header
    );
}

#[test]
fn fixed_row_of_a_report_imports() {
    let mut report = read_csv(&injection_import().report());
    let phone = report.column("phone");
    // The user corrects the digits in a spreadsheet, which keeps the leading '.
    report.report_line_mut(3)[phone] = "'+1 415 555 2672".to_owned();
    let reimport = import_bytes(&write_csv(&report), "{}", DO_NOT_CALL);
    assert_eq!(
        reimport.summary(),
        [
            (2, "do_not_call"),
            (3, "imported"),
            (4, "do_not_call"),
            (5, "do_not_call")
        ]
    );
    let bob = reimport.contact(3);
    assert_eq!(bob.phone, "+14155552672");
    assert_eq!(bob.phone_raw, "+1 415 555 2672");
    assert_eq!(bob.first_name.as_deref(), Some("Bob"));
    assert_eq!(bob.custom["notes"], "@SUM(A1)");
    assert_eq!(bob.custom["amount"], "+7");
}

#[test]
fn fixed_row_typed_without_the_quote_imports_too() {
    let mut report = read_csv(&injection_import().report());
    let phone = report.column("phone");
    report.report_line_mut(3)[phone] = "(415) 555-2672".to_owned();
    let reimport = import_bytes(&write_csv(&report), "{}", DO_NOT_CALL);
    assert_eq!(reimport.contact(3).phone, "+14155552672");
    assert_eq!(reimport.contact(3).phone_raw, "(415) 555-2672");
}

#[test]
fn report_saved_from_a_spreadsheet_after_fixing_imports() {
    let import = import("report_fixed.csv", "{}");
    assert!(import.plan.is_report_input());
    assert_eq!(
        import.summary(),
        [(2, "imported"), (3, "imported"), (4, "imported")]
    );
    assert_eq!(
        import.plan.custom_keys(),
        ["notes"],
        "the report columns are not custom fields"
    );
    let bob = import.contact(2);
    assert_eq!(bob.phone, "+14155552672");
    assert_eq!(bob.phone_raw, "+1 415 555 2672");
    assert_eq!(bob.custom["notes"], "=SUM(A1)");
    let cid = import.contact(3);
    assert_eq!(cid.phone, "+442079460958");
    assert_eq!(cid.phone_raw, "+44 20 7946 0958");
    assert_eq!(cid.custom["notes"], "-");
    assert_eq!(import.contact(4).custom["notes"], "@home");
}

#[test]
fn report_keeps_values_beyond_the_header() {
    let import = import("malformed_rows.csv", "{}");
    let report = read_csv(&import.report());
    assert_eq!(report.header[4..], ["phone", "name", "city"]);
    assert_eq!(
        report.report_line(3)[4..],
        ["'+14155552672", "Bob Stone", "Paris", "extra"]
    );
    assert_eq!(report.report_line(2)[4..], ["'+14155552671", "Ann Lee", ""]);
}

/// The report of any file that was read uploads again: control characters
/// no spreadsheet shows are left out (they made it look like binary data),
/// and a file at the column limit gets the report's columns besides.
#[test]
fn report_of_a_file_at_the_limits_uploads_again() {
    // Under 1% of its bytes are control bytes, so the file is read as text.
    let notes = "n".repeat(200);
    let file = format!(
        "phone,na\u{0}me,notes\n+1 415 555 26,A\u{0}nn\u{1b},{notes}\n+1 415 555 27,B\u{7}ob,{notes}\n"
    );
    let import = import_bytes(file.as_bytes(), "{}", &[]);
    assert_eq!(import.plan.source_headers(), ["phone", "name", "notes"]);
    let report = import.report();
    assert!(!report
        .iter()
        .any(|b| matches!(b, 0..=8 | 0x0E..=0x1F | 0x7F)));
    let reimport = import_bytes(&report, "{}", &[]);
    assert_eq!(
        reimport.summary(),
        [(2, "invalid_phone"), (3, "invalid_phone")]
    );
    assert_eq!(&reimport.rejected()[0].values[1], "Ann");

    let columns = MAX_COLUMNS;
    let header: Vec<String> = std::iter::once("phone".to_owned())
        .chain((2..=columns).map(|c| format!("c{c}")))
        .collect();
    let file = format!(
        "{}\n+1 415 555 26{}\n",
        header.join(","),
        ",x".repeat(columns - 1)
    );
    let import = import_bytes(file.as_bytes(), "{}", &[]);
    let reimport = import_bytes(&import.report(), "{}", &[]);
    assert!(reimport.plan.is_report_input());
    assert_eq!(reimport.plan.source_headers(), header);
    assert_eq!(reimport.summary(), [(2, "invalid_phone")]);
}

/// A file with a `row` or `guidance` column of its own (an export of some
/// other tool's report, say) gets a report that is still read as a report.
#[test]
fn report_of_a_file_with_report_like_columns_uploads_again() {
    let file = "row,guidance,phone,name\n7,call back,+1 415 555 26,Ann\n";
    let import = import_bytes(file.as_bytes(), "{}", &[]);
    assert!(!import.plan.is_report_input(), "two of the four names only");
    let reimport = import_bytes(&import.report(), "{}", &[]);
    assert!(reimport.plan.is_report_input());
    assert_eq!(
        reimport.plan.source_headers(),
        ["row", "guidance", "phone", "name"]
    );
    assert_eq!(reimport.summary(), [(2, "invalid_phone")]);
    assert_eq!(
        reimport.rejected()[0].values,
        vec!["7", "call back", "+1 415 555 26", "Ann"]
    );
}
