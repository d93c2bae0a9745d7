//! Quoted fields and the row numbers a spreadsheet shows.

use crate::support::{import, read_csv};

#[test]
fn quoted_fields_keep_commas_doubled_quotes_and_newlines() {
    let import = import("quoted_fields.csv", "{}");
    assert_eq!(import.summary(), [(2, "imported"), (3, "imported")]);
    let ann = import.contact(2);
    assert_eq!(
        ann.first_name.as_deref(),
        Some("Ann"),
        "\"Lee, Ann\" is one cell"
    );
    assert_eq!(ann.last_name.as_deref(), Some("Lee"));
    assert_eq!(ann.company.as_deref(), Some("The \"Best\" Co"));
    assert_eq!(ann.custom["notes"], "line one\nline two, with a comma");
    let bob = import.contact(3);
    assert_eq!(
        bob.phone, "+14155552672",
        "a quoted phone cell is read without its quotes"
    );
    assert_eq!(bob.custom["notes"], "He said \"hi\"");
}

/// row_numbers.csv, line by line:
/// 1 header; 2-4 one record with a three-line cell (row 2); 5 invalid (row 3);
/// 6 blank (row 4); 7 valid (row 5); 8-9 invalid with a two-line cell (row 6);
/// 10 valid (row 7).
fn assert_spreadsheet_rows(name: &str) {
    let import = import(name, "{}");
    assert_eq!(
        import.summary(),
        [
            (2, "imported"),
            (3, "invalid_phone"),
            (5, "imported"),
            (6, "invalid_phone"),
            (7, "imported")
        ],
        "{name}: a line break inside quotes adds no row, a blank line adds one"
    );
    assert_eq!(
        import.contact(2).custom["notes"],
        "first line\nsecond line\nthird line"
    );
    assert_eq!(import.contact(5).first_name.as_deref(), Some("Cid"));
    assert_eq!(import.contact(7).first_name.as_deref(), Some("Eve"));
    assert_eq!(&import.rejection(3).values[1], "Bob Stone");
    assert_eq!(&import.rejection(6).values[1], "Dee Park");

    let report = read_csv(&import.report());
    let rows: Vec<&str> = report.rows.iter().map(|line| line[0].as_str()).collect();
    assert_eq!(rows, ["3", "6"], "{name}: the report's row column");
}

#[test]
fn row_numbers_skip_embedded_newlines_and_count_blank_lines() {
    assert_spreadsheet_rows("row_numbers.csv");
}

#[test]
fn row_numbers_are_the_same_with_crlf_line_endings() {
    assert_spreadsheet_rows("row_numbers_crlf.csv");
}

#[test]
fn header_is_row_one_and_the_first_record_row_two() {
    let import = import("duplicates.csv", "{}");
    let rows: Vec<u64> = import.summary().iter().map(|(row, _)| *row).collect();
    assert_eq!(rows, [2, 3, 4, 5, 6]);
}
