//! Row outcomes: every code, the order the rules apply in, and the counters.

use std::collections::BTreeSet;

use contact_import_core::rules::outcome::Counted;
use contact_import_core::ErrorCode;

use crate::support::{import, import_with_dnc};

const EVERY_OUTCOME_SPEC: &str = r#"{"fields":{"plan":{"type":"text","required":true}}}"#;
const DO_NOT_CALL: &[&str] = &["+14155552679"];

#[test]
fn every_code_of_the_table_on_one_file() {
    let import = import_with_dnc("every_outcome.csv", EVERY_OUTCOME_SPEC, DO_NOT_CALL);
    assert_eq!(
        import.summary(),
        [
            (2, "imported"),
            (3, "malformed_row"),
            (4, "missing_phone"),
            (5, "invalid_phone"),
            (6, "invalid_secondary_phone"),
            (7, "invalid_field"),
            (8, "no_consent"),
            (9, "do_not_call"),
            (10, "duplicate_in_file"),
            (11, "imported"),
        ]
    );
    let column = |row| import.rejection(row).column.as_deref();
    assert_eq!(
        column(3),
        None,
        "a malformed row has no single column at fault"
    );
    assert_eq!(column(4), Some("phone"));
    assert_eq!(column(5), Some("phone"));
    assert_eq!(column(6), Some("secondary_phone_1"));
    assert_eq!(column(7), Some("plan"));
    assert_eq!(column(8), Some("consent"));
    assert_eq!(column(9), Some("phone"));
    assert_eq!(column(10), Some("phone"));
    for rejection in import.rejected() {
        assert!(
            !rejection.message.is_empty() && !rejection.guidance.is_empty(),
            "{rejection:?}"
        );
    }
}

#[test]
fn every_row_is_either_a_contact_or_a_report_line_exactly_once() {
    let import = import_with_dnc("every_outcome.csv", EVERY_OUTCOME_SPEC, DO_NOT_CALL);
    let contacts: BTreeSet<u64> = import.accepted().iter().map(|a| a.row).collect();
    let reported: BTreeSet<u64> = import.rejected().iter().map(|r| r.row).collect();
    assert!(contacts.is_disjoint(&reported));
    assert_eq!(
        contacts.len() + reported.len(),
        import.outcomes.len(),
        "no row has two outcomes"
    );
    let all: BTreeSet<u64> = contacts.union(&reported).copied().collect();
    assert_eq!(all, (2..=11).collect(), "ten data records, rows 2 to 11");
}

#[test]
fn tally_over_a_file_adds_up() {
    let import = import_with_dnc("every_outcome.csv", EVERY_OUTCOME_SPEC, DO_NOT_CALL);
    let tally = import.tally();
    assert_eq!(tally.processed, 10);
    assert_eq!(tally.inserted, 2);
    assert_eq!(tally.updated, 0);
    assert_eq!(
        tally.failed, 5,
        "malformed, missing, invalid phone, invalid secondary, invalid field"
    );
    assert_eq!(
        tally.skipped, 3,
        "no consent, do not call, duplicate in file"
    );
    assert_eq!(
        tally.processed,
        tally.inserted + tally.updated + tally.skipped + tally.failed
    );
    assert!(tally.adds_up());
    assert_eq!(tally.reasons.len(), 8);
    assert!(
        tally.reasons.values().all(|&count| count == 1),
        "{:?}",
        tally.reasons
    );
}

#[test]
fn codes_count_as_failed_or_skipped_as_the_table_says() {
    let table = [
        (ErrorCode::MalformedRow, Counted::Failed),
        (ErrorCode::MissingPhone, Counted::Failed),
        (ErrorCode::InvalidPhone, Counted::Failed),
        (ErrorCode::InvalidSecondaryPhone, Counted::Failed),
        (ErrorCode::InvalidField, Counted::Failed),
        (ErrorCode::NoConsent, Counted::Skipped),
        (ErrorCode::DoNotCall, Counted::Skipped),
        (ErrorCode::DuplicateInFile, Counted::Skipped),
        (ErrorCode::DuplicateExisting, Counted::Skipped),
    ];
    for (code, counted) in table {
        assert_eq!(code.counted(), counted, "{code}");
    }
    let names: Vec<&str> = table.iter().map(|(code, _)| code.as_str()).collect();
    assert_eq!(
        names,
        [
            "malformed_row",
            "missing_phone",
            "invalid_phone",
            "invalid_secondary_phone",
            "invalid_field",
            "no_consent",
            "do_not_call",
            "duplicate_in_file",
            "duplicate_existing",
        ]
    );
}

#[test]
fn a_row_breaking_several_rules_gets_the_earliest_code() {
    let import = import_with_dnc("first_rule_wins.csv", "{}", &["+14155552673"]);
    assert_eq!(
        import.summary(),
        [
            (2, "malformed_row"),           // too few fields, and the phone is empty
            (3, "missing_phone"),           // also a bad secondary, priority and consent
            (4, "invalid_phone"),           // also a bad secondary, priority and consent
            (5, "invalid_secondary_phone"), // also a bad priority and consent
            (6, "invalid_field"),           // also no consent
            (7, "no_consent"),              // also on the do-not-call list
            (8, "do_not_call"),             // same number as row 7, which was not imported
            (9, "do_not_call"),             // same number as row 8, which was not imported
            (10, "imported"),               // the first imported row with +14155552674
            (11, "invalid_field"),          // same number as row 10, but invalid first
            (12, "no_consent"),             // same number as row 10, but no consent first
            (13, "duplicate_in_file"),      // same number as row 10
            (14, "no_consent"),             // +14155552675, not imported
            (15, "imported"),               // row 14 had this number but was not imported
        ]
    );
    assert!(
        import.rejection(13).message.contains("row 10"),
        "{}",
        import.rejection(13).message
    );
}

#[test]
fn malformed_rows_have_too_few_or_too_many_values() {
    let import = import("malformed_rows.csv", "{}");
    assert_eq!(
        import.summary(),
        [
            (2, "malformed_row"),
            (3, "malformed_row"),
            (4, "imported"),
            (5, "imported")
        ],
        "trailing empty cells are not extra values"
    );
    assert!(
        import.rejection(2).message.contains("2 values")
            && import.rejection(2).message.contains("3 columns")
    );
    assert_eq!(
        import.rejection(3).values,
        vec!["+14155552672", "Bob Stone", "Paris", "extra"],
        "the extra value is kept for the report"
    );
    assert_eq!(
        import.rejection(2).values,
        vec!["+14155552671", "Ann Lee", ""]
    );
    assert_eq!(import.contact(4).city.as_deref(), Some("Rome"));
}

#[test]
fn missing_and_invalid_phones_are_failed() {
    let import = import_with_dnc("every_outcome.csv", EVERY_OUTCOME_SPEC, DO_NOT_CALL);
    assert_eq!(import.rejection(4).code, ErrorCode::MissingPhone);
    let invalid = import.rejection(5);
    assert_eq!(invalid.code, ErrorCode::InvalidPhone);
    assert!(invalid.message.contains("`12345`"), "{}", invalid.message);
}

#[test]
fn secondary_numbers_are_invalid_when_bad_equal_to_primary_or_missing() {
    let import = import("secondary_phones.csv", "{}");
    assert_eq!(
        import.summary(),
        [
            (2, "imported"),
            (3, "invalid_secondary_phone"),
            (4, "invalid_secondary_phone"),
            (5, "invalid_secondary_phone"),
            (6, "imported"),
            (7, "invalid_secondary_phone"),
        ]
    );
    let bad = import.rejection(3);
    assert_eq!(bad.column.as_deref(), Some("secondary_phone_1"));
    assert!(bad.message.contains("`12345`"), "{}", bad.message);
    let same = import.rejection(4);
    assert_eq!(same.column.as_deref(), Some("secondary_phone_1"));
    assert!(same.message.contains("primary"), "{}", same.message);
    let orphan = import.rejection(5);
    assert_eq!(
        orphan.column.as_deref(),
        Some("secondary_1_name"),
        "the filled field without a number"
    );
    assert!(
        import.rejection(7).message.contains("another secondary"),
        "{}",
        import.rejection(7).message
    );
}

#[test]
fn invalid_fields_name_the_column_at_fault() {
    let spec = r#"{"fields":{
        "plan":{"type":"text","required":true,"max_len":6},
        "age":{"type":"number"},
        "vip":{"type":"boolean"},
        "renewal":{"type":"date"}}}"#;
    let import = import("invalid_fields.csv", spec);
    let expected = [
        (3, "plan"),          // required and empty
        (4, "age"),           // forty is not a number
        (5, "vip"),           // maybe is not a boolean
        (6, "renewal"),       // 03/01/2026 is not a year-month-day date
        (7, "plan"),          // platinum is over max_len 6
        (8, "priority"),      // 0
        (9, "priority"),      // -2
        (10, "priority"),     // 1.5
        (11, "scheduled_at"), // next tuesday
        (12, "data"),         // a JSON array
        (13, "data"),         // not JSON
        (14, "data"),         // a JSON string
    ];
    assert_eq!(import.summary()[0], (2, "imported"));
    assert_eq!(import.outcomes.len(), 1 + expected.len());
    for (row, column) in expected {
        let rejection = import.rejection(row);
        assert_eq!(rejection.code, ErrorCode::InvalidField, "row {row}");
        assert_eq!(
            rejection.column.as_deref(),
            Some(column),
            "row {row}: {}",
            rejection.message
        );
    }
    assert!(
        import.rejection(3).message.contains("required"),
        "{}",
        import.rejection(3).message
    );
    assert!(
        import.rejection(7).message.contains("at most 6"),
        "{}",
        import.rejection(7).message
    );
}

#[test]
fn consent_accepts_the_listed_values_in_any_case_and_skips_the_rest() {
    let import = import("consent_values.csv", "{}");
    let summary = import.summary();
    let imported: Vec<u64> = summary
        .iter()
        .filter(|(_, o)| *o == "imported")
        .map(|(r, _)| *r)
        .collect();
    let skipped: Vec<u64> = summary
        .iter()
        .filter(|(_, o)| *o == "no_consent")
        .map(|(r, _)| *r)
        .collect();
    // yes, TRUE, 1, Y, Consent, OPTED-IN, Opted In, opt-in, " Yes "
    assert_eq!(imported, (2..=10).collect::<Vec<_>>(), "{summary:?}");
    // no, false, 0, empty, opted out, n, yes please
    assert_eq!(skipped, (11..=17).collect::<Vec<_>>(), "{summary:?}");
    assert!(
        import.rejection(14).message.contains("nothing"),
        "{}",
        import.rejection(14).message
    );
}

#[test]
fn do_not_call_matches_the_number_in_any_format() {
    let import = import_with_dnc("duplicates.csv", "{}", &["+14155552672"]);
    assert_eq!(
        import.summary(),
        [
            (2, "imported"),
            (3, "duplicate_in_file"),
            (4, "do_not_call"),
            (5, "do_not_call"),
            (6, "duplicate_in_file")
        ]
    );
    assert!(
        import.rejection(4).message.contains("+14155552672"),
        "{}",
        import.rejection(4).message
    );
}

#[test]
fn duplicates_in_file_keep_the_first_row() {
    let import = import("duplicates.csv", "{}");
    assert_eq!(
        import.summary(),
        [
            (2, "imported"),
            (3, "duplicate_in_file"),
            (4, "imported"),
            (5, "duplicate_in_file"),
            (6, "duplicate_in_file")
        ]
    );
    assert_eq!(import.contact(2).first_name.as_deref(), Some("Ann"));
    assert_eq!(
        import.contact(2).last_name.as_deref(),
        Some("Lee"),
        "the first row's values are kept"
    );
    assert!(
        import.rejection(3).message.contains("row 2"),
        "{}",
        import.rejection(3).message
    );
    assert!(
        import.rejection(5).message.contains("row 4"),
        "{}",
        import.rejection(5).message
    );
    assert!(
        import.rejection(6).message.contains("row 2"),
        "{}",
        import.rejection(6).message
    );
}

#[test]
fn duplicates_update_still_rejects_repeats_within_the_file() {
    let import = import("duplicates.csv", r#"{"duplicates":"update"}"#);
    assert_eq!(import.rejected().len(), 3);
    assert!(import
        .rejected()
        .iter()
        .all(|r| r.code == ErrorCode::DuplicateInFile));
}

#[test]
fn duplicates_create_keeps_every_row() {
    let import = import("duplicates.csv", r#"{"duplicates":"create"}"#);
    assert_eq!(
        import.rejected(),
        Vec::<&contact_import_core::Rejection>::new()
    );
    let phones: Vec<&str> = import
        .accepted()
        .iter()
        .map(|a| a.contact.phone.as_str())
        .collect();
    assert_eq!(
        phones,
        [
            "+14155552671",
            "+14155552671",
            "+14155552672",
            "+14155552672",
            "+14155552671"
        ]
    );
}
