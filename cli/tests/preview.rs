//! `contact-import preview` run as a user runs it, on files written here.

use std::fs;

use assert_cmd::cargo::cargo_bin_cmd;
use predicates::prelude::*;
use serde_json::Value;

use crate::common::{line, words, Dir};

const CLEAN: &str = "\
Phone Number,First Name,Last Name,Email,Lead Source,Plan
+14155552671,Ann,Smith,ann@example.com,web,gold
(415) 555-2672,Bob,Jones,bob@example.com,referral,silver
415.555.2673,Cara,Diaz,,web,
+1 415 555 2674,Dan,Evans,dan@example.com,fair,gold
4155552675,Eve,Fox,eve@example.com,web,bronze
4155552676,Finn,Gray,finn@example.com,web,gold
";

/// Seven rows: two clean, then one of each code in between.
const BAD: &str = "\
phone,name,email,consent
+14155552671,Ann Smith,ann@example.com,yes
,No Phone,np@example.com,yes
12,Short,s@example.com,yes
+14155552672,Bob Jones,bob@example.com,no
+14155552671,Ann Again,ann2@example.com,yes
+14155552673,Cara,\"extra,comma\",yes,oops
+14155552674,Dan,dan@example.com,yes
";

#[test]
fn clean_file_shows_mapping_counts_sample_and_custom_fields() {
    let dir = Dir::new();
    dir.write("contacts.csv", CLEAN);
    let run = dir.run_exactly(&["preview", "contacts.csv"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.stderr, "");
    let out = &run.stdout;

    assert!(
        out.starts_with("Preview of contacts.csv (nothing is written)\n"),
        "{out}"
    );
    assert_eq!(words(line(out, "encoding")), ["encoding", "utf-8"]);
    assert_eq!(words(line(out, "delimiter")), ["delimiter", "comma"]);
    assert_eq!(words(line(out, "data rows")), ["data", "rows", "6"]);

    assert_eq!(
        words(line(out, "Phone Number")),
        ["Phone", "Number", "→", "phone", "auto"]
    );
    assert_eq!(
        words(line(out, "First Name")),
        ["First", "Name", "→", "first_name", "auto"]
    );
    assert_eq!(words(line(out, "Email")), ["Email", "→", "email", "auto"]);
    assert_eq!(
        words(line(out, "Lead Source")),
        [
            "Lead",
            "Source",
            "→",
            "custom:lead_source",
            "unmapped",
            "→",
            "custom",
            "field"
        ]
    );
    assert_eq!(
        words(line(out, "Plan")),
        [
            "Plan",
            "→",
            "custom:plan",
            "unmapped",
            "→",
            "custom",
            "field"
        ]
    );
    assert!(!out.contains("Warnings"), "{out}");

    assert_eq!(words(line(out, "would import")), ["would", "import", "6"]);
    assert_eq!(
        line(out, "0 failed").trim(),
        "0 failed, 0 skipped of 6 rows"
    );
    assert!(out.contains("only known at import time"), "{out}");

    assert!(out.contains("Sample: the first 5 clean contacts as they would be stored"));
    assert_eq!(
        words(line(out, "row 2 ")),
        [
            "row",
            "2",
            "+14155552671",
            "Ann",
            "Smith",
            "ann@example.com"
        ]
    );
    // Normalised to E.164, whatever the file wrote.
    assert_eq!(
        words(line(out, "row 3 ")),
        [
            "row",
            "3",
            "+14155552672",
            "Bob",
            "Jones",
            "bob@example.com"
        ]
    );
    assert_eq!(
        words(line(out, "row 4 ")),
        ["row", "4", "+14155552673", "Cara", "Diaz"]
    );
    assert!(out.contains("    lead_source: web · plan: gold\n"), "{out}");
    assert!(
        out.contains("row 6 ") && !out.contains("row 7 ") && !out.contains("Finn"),
        "five only: {out}"
    );

    let custom = out
        .split("Custom fields to be created\n")
        .nth(1)
        .expect("custom fields section");
    assert_eq!(custom.trim(), "lead_source, plan");
    assert!(
        out.lines().all(|l| l.chars().count() <= 80),
        "80 columns: {out}"
    );
}

#[test]
fn bad_rows_are_counted_per_code() {
    let dir = Dir::new();
    dir.write("bad.csv", BAD);
    let run = dir.run_exactly(&["preview", "bad.csv"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.stderr, "", "no phone number or anything else on stderr");
    let out = &run.stdout;

    assert_eq!(words(line(out, "data rows")), ["data", "rows", "7"]);
    assert_eq!(words(line(out, "would import")), ["would", "import", "2"]);
    assert_eq!(
        words(line(out, "malformed_row")),
        ["malformed_row", "1", "failed"]
    );
    assert_eq!(
        words(line(out, "missing_phone")),
        ["missing_phone", "1", "failed"]
    );
    assert_eq!(
        words(line(out, "invalid_phone")),
        ["invalid_phone", "1", "failed"]
    );
    assert_eq!(
        words(line(out, "no_consent")),
        ["no_consent", "1", "skipped"]
    );
    assert_eq!(
        words(line(out, "duplicate_in_file")),
        ["duplicate_in_file", "1", "skipped"]
    );
    assert_eq!(
        line(out, "3 failed").trim(),
        "3 failed, 2 skipped of 7 rows"
    );
    // Codes with no row are left out; do-not-call and stored duplicates need the store.
    assert!(
        !out.contains("invalid_field") && !out.contains("  do_not_call "),
        "{out}"
    );

    assert!(out.contains("Sample: the first 2 clean contacts"), "{out}");
    assert_eq!(
        words(line(out, "row 2 ")),
        [
            "row",
            "2",
            "+14155552671",
            "Ann",
            "Smith",
            "ann@example.com"
        ]
    );
    assert_eq!(
        words(line(out, "row 8 ")),
        ["row", "8", "+14155552674", "Dan", "dan@example.com"]
    );
    assert!(
        out.trim_end()
            .ends_with("Custom fields to be created: none"),
        "{out}"
    );
}

#[test]
fn json_output_is_one_object_with_every_key() {
    let dir = Dir::new();
    dir.write(
        "leads.csv",
        "phone,name,email,consent,Notes\n\
         +14155552671,Ann Smith,ann@example.com,yes,\n\
         ,No Phone,np@example.com,yes,\n\
         12,Short,s@example.com,yes,\n\
         +14155552672,Bob Jones,bob@example.com,no,\n\
         +14155552671,Ann Again,ann2@example.com,yes,\n\
         +14155552673,Cara,extra,comma,yes,oops\n\
         +14155552674,Dan,dan@example.com,yes,call back\n",
    );
    // A spec that maps one column and leaves another to auto-detection.
    dir.write(
        "spec.json",
        r#"{"mapping": {"email": "custom:contact_email"}}"#,
    );
    let run = dir.run_exactly(&["preview", "leads.csv", "--spec", "spec.json", "--json"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.stderr, "");
    assert_eq!(
        run.stdout.lines().count(),
        1,
        "one JSON object: {}",
        run.stdout
    );
    let value: Value = serde_json::from_str(&run.stdout).expect("valid JSON");
    let object = value.as_object().expect("an object");

    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "columns",
            "counts",
            "custom_fields",
            "delimiter",
            "encoding",
            "failed",
            "file",
            "layout",
            "rows",
            "sample",
            "skipped",
            "warnings"
        ]
    );
    assert_eq!(value["file"], "leads.csv");
    assert_eq!(value["encoding"], "utf-8");
    assert_eq!(value["delimiter"], "comma");
    assert_eq!(value["rows"], 7);
    assert_eq!(value["failed"], 3);
    assert_eq!(value["skipped"], 2);
    assert_eq!(
        value["counts"],
        serde_json::json!({
            "accepted": 2,
            "malformed_row": 1,
            "missing_phone": 1,
            "invalid_phone": 1,
            "no_consent": 1,
            "duplicate_in_file": 1,
        })
    );
    assert_eq!(
        value["columns"],
        serde_json::json!([
            {"header": "phone", "target": "phone", "source": "detected"},
            {"header": "name", "target": "name", "source": "detected"},
            {"header": "email", "target": "custom:contact_email", "source": "spec"},
            {"header": "consent", "target": "consent", "source": "detected"},
            {"header": "Notes", "target": "custom:notes", "source": "unmapped"},
        ])
    );
    assert_eq!(value["warnings"], serde_json::json!([]));
    assert_eq!(
        value["custom_fields"],
        serde_json::json!(["contact_email", "notes"])
    );

    let sample = value["sample"].as_array().expect("sample is an array");
    assert_eq!(sample.len(), 2);
    assert_eq!(
        sample[0],
        serde_json::json!({
            "phone": "+14155552671",
            "phone_raw": "+14155552671",
            "first_name": "Ann",
            "last_name": "Smith",
            "custom": {"contact_email": "ann@example.com"},
        })
    );
    assert_eq!(sample[1]["phone"], "+14155552674");
    assert_eq!(sample[1]["custom"]["notes"], "call back");
}

#[test]
fn spec_mapping_ignored_columns_and_warnings_are_explained() {
    let dir = Dir::new();
    dir.write(
        "people.csv",
        "Phone,Work,Name,Notes\nx,4155552690,Ann Smith,call after 5\n,4155552691,Bob,\n",
    );
    dir.write(
        "spec.json",
        r#"{"mapping": {"Work": "phone"}, "unmapped": "ignore"}"#,
    );
    let run = dir.run_exactly(&["preview", "people.csv", "--spec", "spec.json"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let out = &run.stdout;
    assert_eq!(words(line(out, "Work")), ["Work", "→", "phone", "spec"]);
    assert_eq!(words(line(out, "Name")), ["Name", "→", "name", "auto"]);
    assert_eq!(
        words(line(out, "Phone ")),
        ["Phone", "→", "ignore", "ignored"]
    );
    assert_eq!(
        words(line(out, "Notes")),
        ["Notes", "→", "ignore", "ignored"]
    );
    let warnings = out.split("Warnings\n").nth(1).expect("a warnings section");
    let warning = warnings.split("\n\n").next().unwrap();
    assert!(
        warning.starts_with(
            "  - column `Phone` is named like a phone column but most of its values are not"
        ),
        "{warning}"
    );
    assert_eq!(words(line(out, "would import")), ["would", "import", "2"]);
    assert!(
        out.trim_end()
            .ends_with("Custom fields to be created: none"),
        "{out}"
    );
}

#[test]
fn encoding_and_delimiter_are_detected() {
    let dir = Dir::new();
    // "José" in Windows-1252, as Excel saves a CSV on Windows.
    dir.write("excel.csv", b"phone,name\n4155552671,Jos\xe9 Lee\n");
    dir.write("semi.csv", "phone;name;city\n4155552671;Ann;Lyon\n");
    let excel = dir.run_exactly(&["preview", "excel.csv"]);
    assert_eq!(excel.code, Some(0), "{}", excel.stderr);
    assert_eq!(
        words(line(&excel.stdout, "encoding")),
        ["encoding", "windows-1252"]
    );
    assert_eq!(
        words(line(&excel.stdout, "row 2 ")),
        ["row", "2", "+14155552671", "José", "Lee"]
    );
    let semi = dir.run_exactly(&["preview", "semi.csv"]);
    assert_eq!(semi.code, Some(0), "{}", semi.stderr);
    assert_eq!(
        words(line(&semi.stdout, "delimiter")),
        ["delimiter", "semicolon"]
    );
    assert_eq!(
        words(line(&semi.stdout, "city")),
        ["city", "→", "city", "auto"]
    );
}

#[test]
fn preview_writes_nothing() {
    let dir = Dir::new();
    dir.write("bad.csv", BAD);
    let before = dir.entries();
    for args in [
        &["preview", "bad.csv"][..],
        &["preview", "bad.csv", "--json"],
    ] {
        assert_eq!(dir.run_exactly(args).code, Some(0));
    }
    assert_eq!(dir.entries(), before);
}

#[test]
fn bad_spec_names_the_key() {
    let dir = Dir::new();
    dir.write("contacts.csv", CLEAN);
    dir.write("country.json", r#"{"default_country": "XX"}"#);
    dir.write("typo.json", r#"{"mappings": {}}"#);
    dir.write("column.json", r#"{"mapping": {"Cell": "phone"}}"#);

    let country = dir.run_exactly(&["preview", "contacts.csv", "--spec", "country.json"]);
    let message = country.refused();
    assert!(
        message.starts_with("error: country.json: import spec: default_country: `XX`"),
        "{message}"
    );
    assert_eq!(country.stdout, "", "nothing on stdout");

    let typo = dir.run_exactly(&["preview", "contacts.csv", "--spec", "typo.json"]);
    let message = typo.refused();
    assert!(
        message.contains("typo.json: import spec: mappings: unknown field `mappings`"),
        "{message}"
    );

    // The spec reads fine but names a column the file does not have.
    let column = dir.run_exactly(&["preview", "contacts.csv", "--spec", "column.json", "--json"]);
    let message = column.refused();
    assert!(
        message.contains("mapping.Cell names the column `Cell`"),
        "{message}"
    );
    let value: Value = serde_json::from_str(&column.stdout).expect("one JSON object");
    assert_eq!(value["status"], "FAILED");
    assert_eq!(value["code"], "unknown_column");

    let missing = dir.run_exactly(&["preview", "contacts.csv", "--spec", "nope.json"]);
    assert_eq!(
        missing.refused(),
        "error: nope.json: the file could not be read: no such file; check the path"
    );
}

#[test]
fn missing_file_is_one_line_and_exit_2() {
    let dir = Dir::new();
    let text = dir.run_exactly(&["preview", "nowhere.csv"]);
    assert_eq!(
        text.refused(),
        "error: nowhere.csv: the file could not be read: no such file; check the path"
    );
    assert_eq!(text.stdout, "");

    let json = dir.run_exactly(&["preview", "nowhere.csv", "--json"]);
    json.refused();
    let value: Value = serde_json::from_str(&json.stdout).expect("one JSON object");
    assert_eq!(value["status"], "FAILED");
    assert_eq!(value["code"], "unreadable");
    assert!(value["error"].as_str().unwrap().contains("nowhere.csv"));

    fs::create_dir(dir.path().join("folder.csv")).unwrap();
    let folder = dir.run_exactly(&["preview", "folder.csv"]);
    assert!(folder
        .refused()
        .contains("folder.csv: the file could not be read: it is a directory"));
}

#[test]
fn empty_file_is_refused() {
    let dir = Dir::new();
    dir.write("empty.csv", "");
    dir.write("blank.csv", "\n  \r\n");
    for name in ["empty.csv", "blank.csv"] {
        let run = dir.run_exactly(&["preview", name]);
        assert_eq!(
            run.refused(),
            format!("error: {name}: the file is empty; upload a CSV whose first row is a header such as phone,first_name,last_name")
        );
        assert_eq!(run.stdout, "");
    }
    let json = dir.run_exactly(&["preview", "--json", "empty.csv"]);
    json.refused();
    let value: Value = serde_json::from_str(&json.stdout).expect("one JSON object");
    assert_eq!(value["code"], "empty_file");
}

#[test]
fn header_only_file_is_refused() {
    let dir = Dir::new();
    dir.write("header.csv", "phone,first_name\n");
    let text = dir.run_exactly(&["preview", "header.csv"]);
    assert_eq!(
        text.refused(),
        "error: header.csv: the file has a header row but no data rows; add at least one contact below the header"
    );
    let json = dir.run_exactly(&["preview", "header.csv", "--json"]);
    json.refused();
    assert_eq!(json.stdout.lines().count(), 1);
    let value: Value = serde_json::from_str(&json.stdout).expect("one JSON object");
    assert_eq!(
        value,
        serde_json::json!({
            "status": "FAILED",
            "error": "header.csv: the file has a header row but no data rows; add at least one contact below the header",
            "code": "no_data_rows",
        })
    );
}

#[test]
fn file_without_phone_column_lists_headers_but_no_numbers() {
    let dir = Dir::new();
    dir.write(
        "names.csv",
        "Name,Digits,City\nAnn,+14155552671,Paris\nBob,+14155552672,Rome\n",
    );
    let run = dir.run_exactly(&["preview", "names.csv"]);
    let message = run.refused();
    assert!(
        message.starts_with("error: names.csv: no column holds phone numbers"),
        "{message}"
    );
    assert!(
        message.contains("(headers found: `Name`, `Digits`, `City`)"),
        "{message}"
    );
    assert!(
        message.contains("column `Digits` looks like phone numbers"),
        "{message}"
    );
    assert!(
        !message.contains("555"),
        "no phone number on stderr: {message}"
    );
    assert_eq!(run.stdout, "");
}

#[test]
fn usage_errors_exit_2_without_running() {
    let dir = Dir::new();
    cargo_bin_cmd!("contact-import")
        .current_dir(dir.path())
        .arg("preview")
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("<FILE>"));
    let help = dir.run_exactly(&["--help"]);
    assert_eq!(help.code, Some(0));
    let commands: Vec<&str> = help
        .stdout
        .split("Commands:\n")
        .nth(1)
        .expect("a commands section")
        .lines()
        .take_while(|l| !l.is_empty())
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(
        commands,
        [
            "preview", "import", "status", "resume", "history", "report", "contacts", "dnc",
            "generate", "help"
        ]
    );
}
