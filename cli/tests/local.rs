//! The local commands run as a user runs them: `import`, `status`,
//! `resume`, `history`, `report`, `contacts`, `dnc` and `generate`, each test in its
//! own folder with its own `--data`.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::common::{
    keys, line, parts_written, phones, wait_for_parts_beyond, words, Dir, SUMMARY_FIELDS,
};

/// Five rows: three import, one has an invalid phone, one repeats Ann.
const SMALL: &str = "\
phone,first_name,last_name,email,plan
+14155552671,Ann,Smith,ann@example.com,gold
(415) 555-2672,Bob,Jones,bob@example.com,silver
12,Short,Number,short@example.com,gold
415.555.2673,Cara,Diaz,,bronze
+14155552671,Ann,Again,ann2@example.com,gold
";

/// The numbers SMALL stores.
const SMALL_PHONES: [&str; 3] = ["+14155552671", "+14155552672", "+14155552673"];

/// Every row imports.
const CLEAN: &str = "\
Phone Number,Name
+12125550101,Dee
+12125550102,Eli
";

#[test]
fn import_prints_the_summary_and_stores_the_contacts() {
    let dir = Dir::new();
    dir.write("small.csv", SMALL);
    let out = dir.ok(&["import", "small.csv"]);

    assert!(out.starts_with("Imported small.csv\n"), "{out}");
    assert_eq!(
        words(line(&out, "status")),
        ["status", "COMPLETED_WITH_ERRORS"]
    );
    assert_eq!(
        words(line(&out, "rows")),
        [
            "rows",
            "5",
            "processed:",
            "3",
            "inserted,",
            "0",
            "updated,",
            "1",
            "skipped,",
            "1",
            "failed"
        ]
    );
    assert_eq!(
        words(line(&out, "invalid_phone")),
        ["invalid_phone", "1", "failed"]
    );
    assert_eq!(
        words(line(&out, "duplicate_in_file")),
        ["duplicate_in_file", "1", "skipped"]
    );
    assert_eq!(
        words(line(&out, "destination")),
        ["destination", "contacts"]
    );
    assert_eq!(words(line(&out, "encoding")), ["encoding", "utf-8"]);
    assert_eq!(words(line(&out, "delimiter")), ["delimiter", "comma"]);
    assert!(line(&out, "duration").ends_with(" ms") || line(&out, "duration").ends_with(" s"));
    let report = PathBuf::from(words(line(&out, "report"))[1]);
    assert!(
        report.is_absolute() && report.ends_with("errors.csv"),
        "{report:?}"
    );
    assert!(report.starts_with(dir.data().canonicalize().unwrap()));
    let text = fs::read_to_string(&report).unwrap();
    assert!(
        text.starts_with("row,error_code,error_message,guidance,phone,"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 3, "a header and two rejected rows");

    let import_id = words(line(&out, "import"))[1].to_owned();
    let contacts = dir.contacts(&[]);
    assert_eq!(phones(&contacts), SMALL_PHONES.map(String::from).into());
    for contact in &contacts {
        assert_eq!(contact["import_id"], json!(import_id));
        assert_eq!(contact["scope"], json!("contacts"));
    }
    let cara = contacts
        .iter()
        .find(|c| c["contact"]["first_name"] == json!("Cara"))
        .expect("Cara is stored");
    assert_eq!(cara["row"], json!(5));
    assert_eq!(cara["contact"]["phone_raw"], json!("415.555.2673"));
    assert_eq!(cara["contact"]["custom"], json!({"plan": "bronze"}));
}

#[test]
fn import_json_has_exactly_the_summary_fields() {
    let dir = Dir::new();
    let summary = dir.import("small.csv", SMALL);
    assert_eq!(keys(&summary), SUMMARY_FIELDS.into());
    let import_id = summary["import_id"].as_str().unwrap();
    assert!(import_id.starts_with("imp-"), "{import_id}");
    assert_eq!(summary["status"], json!("COMPLETED_WITH_ERRORS"));
    for (field, n) in [
        ("processed", 5),
        ("inserted", 3),
        ("updated", 0),
        ("skipped", 1),
        ("failed", 1),
    ] {
        assert_eq!(summary[field], json!(n), "{field}");
    }
    assert_eq!(
        summary["reasons"],
        json!({"invalid_phone": 1, "duplicate_in_file": 1})
    );
    assert_eq!(summary["encoding"], json!("utf-8"));
    assert_eq!(summary["delimiter"], json!("comma"));
    assert!(summary["duration_ms"].as_i64().is_some_and(|ms| ms >= 0));
    let report = Path::new(summary["report"].as_str().unwrap());
    assert!(report.is_absolute() && report.is_file(), "{report:?}");

    let clean = dir.import("clean.csv", CLEAN);
    assert_eq!(keys(&clean), SUMMARY_FIELDS.into());
    assert_eq!(clean["status"], json!("COMPLETED"));
    assert_eq!(clean["report"], Value::Null, "no rejected row, no report");
    assert_eq!(clean["reasons"], json!({}));
    assert_eq!(clean["inserted"], json!(2));
}

#[test]
fn importing_the_same_file_twice_finds_every_valid_row_existing() {
    let dir = Dir::new();
    let first = dir.import("small.csv", SMALL);
    let second = dir.json(&["import", "small.csv"]);
    assert_ne!(
        first["import_id"], second["import_id"],
        "each run is an import"
    );
    assert_eq!(second["status"], json!("COMPLETED_WITH_ERRORS"));
    assert_eq!(
        (second["inserted"].clone(), second["processed"].clone()),
        (json!(0), json!(5))
    );
    assert_eq!(
        second["reasons"],
        json!({"duplicate_existing": 3, "invalid_phone": 1, "duplicate_in_file": 1})
    );
    assert_eq!(
        (second["skipped"].clone(), second["failed"].clone()),
        (json!(4), json!(1))
    );
    let contacts = dir.contacts(&[]);
    assert_eq!(contacts.len(), 3, "nothing was added");
    assert!(contacts
        .iter()
        .all(|c| c["import_id"] == first["import_id"]));
    let report = fs::read_to_string(second["report"].as_str().unwrap()).unwrap();
    assert_eq!(
        report.matches(",duplicate_existing,").count(),
        3,
        "{report}"
    );
}

#[test]
fn the_corrected_error_report_imports_the_fixed_rows() {
    let dir = Dir::new();
    let first = dir.import("small.csv", SMALL);
    let report = fs::read_to_string(first["report"].as_str().unwrap()).unwrap();
    // The user fixes the invalid number in a spreadsheet and saves the report.
    let bad = report
        .lines()
        .find(|l| l.starts_with("4,invalid_phone,"))
        .unwrap_or_else(|| panic!("row 4 is reported: {report}"));
    let fixed_line = bad.replace(",12,Short,", ",+14155552674,Short,");
    assert_ne!(fixed_line, bad);
    dir.write("errors.csv", report.replace(bad, &fixed_line));

    let again = dir.json(&["import", "errors.csv"]);
    assert_eq!(again["processed"], json!(2), "the report's two rows");
    assert_eq!(again["inserted"], json!(1), "{again}");
    assert_eq!(
        again["reasons"],
        json!({"duplicate_existing": 1}),
        "Ann's repeat is now found in the store"
    );
    assert_eq!(again["status"], json!("COMPLETED"));
    let contacts = dir.contacts(&[]);
    let short = contacts
        .iter()
        .find(|c| c["contact"]["phone"] == json!("+14155552674"))
        .expect("the fixed row is stored");
    assert_eq!(short["contact"]["first_name"], json!("Short"));
    assert_eq!(
        short["contact"]["custom"],
        json!({"plan": "gold"}),
        "report columns are not custom fields"
    );
    assert_eq!(short["import_id"], again["import_id"]);
    assert_eq!(contacts.len(), 4);
}

#[test]
fn status_shows_the_latest_import_or_the_one_asked_for() {
    let dir = Dir::new();
    let first = dir.import("small.csv", SMALL);
    let second = dir.import("clean.csv", CLEAN);
    assert_eq!(
        dir.json(&["status"]),
        second,
        "the latest, as import printed it"
    );
    let first_id = first["import_id"].as_str().unwrap();
    assert_eq!(dir.json(&["status", first_id]), first);

    let out = dir.ok(&["status", first_id]);
    assert!(
        out.starts_with(&format!("Status of import {first_id}\n")),
        "{out}"
    );
    assert_eq!(words(line(&out, "file")), ["file", "small.csv"]);
    assert_eq!(
        words(line(&out, "status")),
        ["status", "COMPLETED_WITH_ERRORS"]
    );
    assert_eq!(
        words(line(&out, "report"))[1],
        first["report"].as_str().unwrap()
    );
    let out = dir.ok(&["status"]);
    assert_eq!(words(line(&out, "report")), ["report", "none"]);
    assert_eq!(
        words(line(&out, "import")),
        ["import", second["import_id"].as_str().unwrap()]
    );
}

#[test]
fn history_lists_the_imports_newest_first() {
    let dir = Dir::new();
    assert!(dir
        .ok(&["history"])
        .starts_with("No imports yet for tenant local in "));
    let first = dir.import("small.csv", SMALL);
    let second = dir.import("clean.csv", CLEAN);
    assert_eq!(
        dir.import_ids(),
        [&second["import_id"], &first["import_id"]].map(|v| v.as_str().unwrap().to_owned())
    );
    let history = dir.json(&["history"]);
    let newest = &history["imports"][0];
    assert_eq!(newest["file"], json!("clean.csv"));
    assert_eq!(newest["status"], json!("COMPLETED"));
    assert_eq!(
        (newest["processed"].clone(), newest["inserted"].clone()),
        (json!(2), json!(2))
    );

    let out = dir.ok(&["history"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "a header and one line per import: {out}");
    assert_eq!(
        words(lines[0]),
        [
            "import",
            "status",
            "created",
            "(UTC)",
            "processed",
            "inserted",
            "failed",
            "file"
        ]
    );
    let older = words(lines[2]);
    assert_eq!(older[0], first["import_id"].as_str().unwrap());
    assert_eq!(older[1], "COMPLETED_WITH_ERRORS");
    assert_eq!(&older[4..], ["5", "3", "1", "small.csv"]);

    let limited = dir.json(&["history", "--limit", "1"]);
    assert_eq!(limited["imports"].as_array().unwrap().len(), 1);
    assert_eq!(limited["imports"][0]["import_id"], second["import_id"]);
}

#[test]
fn report_prints_or_saves_the_error_report() {
    let dir = Dir::new();
    let summary = dir.import("small.csv", SMALL);
    let id = summary["import_id"].as_str().unwrap();
    let stored = fs::read_to_string(summary["report"].as_str().unwrap()).unwrap();
    assert_eq!(dir.ok(&["report", id]), stored);

    let out = dir.ok(&["report", id, "--output", "saved.csv"]);
    assert_eq!(
        out,
        format!("Saved the error report of {id} (2 rejected rows) to saved.csv\n")
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("saved.csv")).unwrap(),
        stored
    );
    let json = dir.json(&["report", id]);
    assert_eq!(json["report"], summary["report"]);
    assert_eq!(json["rejected"], json!(2));

    let clean = dir.import("clean.csv", CLEAN);
    let run = dir.run(&["report", clean["import_id"].as_str().unwrap()]);
    assert_eq!(run.code, Some(0));
    assert_eq!(run.stdout, "", "no CSV to print");
    assert!(
        run.stderr.contains("has no rejected rows"),
        "{}",
        run.stderr
    );
    let json = dir.json(&["report", clean["import_id"].as_str().unwrap()]);
    assert_eq!(json["report"], Value::Null);
}

#[test]
fn contacts_are_listed_and_exported_by_destination_and_import() {
    let dir = Dir::new();
    dir.write(
        "campaign.json",
        r#"{"destination": {"type": "campaign", "id": "c-1"}}"#,
    );
    dir.write("clean.csv", CLEAN);
    let campaign = dir.json(&["import", "clean.csv", "--spec", "campaign.json"]);
    let small = dir.import("small.csv", SMALL);

    let all = dir.contacts(&[]);
    assert_eq!(all.len(), 5);
    let in_campaign = dir.contacts(&["--destination", "campaign:c-1"]);
    assert_eq!(
        phones(&in_campaign),
        ["+12125550101", "+12125550102"].map(String::from).into()
    );
    assert!(in_campaign
        .iter()
        .all(|c| c["scope"] == json!("campaign:c-1")));
    let by_import = dir.contacts(&["--import", small["import_id"].as_str().unwrap()]);
    assert_eq!(phones(&by_import), SMALL_PHONES.map(String::from).into());
    assert!(dir.contacts(&["--destination", "list:nothing"]).is_empty());
    assert_eq!(dir.contacts(&["--destination", "contacts"]).len(), 3);

    let table = dir.ok(&["contacts", "list", "--destination", "campaign:c-1"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        words(lines[0]),
        ["phone", "name", "email", "scope", "import", "row"]
    );
    assert_eq!(lines.len(), 4, "{table}");
    assert_eq!(
        words(line(&table, "+12125550101")),
        [
            "+12125550101",
            "Dee",
            "campaign:c-1",
            campaign["import_id"].as_str().unwrap(),
            "2"
        ]
    );
    assert_eq!(lines[3], "2 contacts");

    let csv = dir.ok(&[
        "contacts",
        "export",
        "--import",
        small["import_id"].as_str().unwrap(),
    ]);
    let mut rows = csv.lines();
    let header: Vec<&str> = rows.next().unwrap().split(',').collect();
    assert_eq!(
        &header[..6],
        [
            "contact_id",
            "scope",
            "import_id",
            "row",
            "phone",
            "phone_raw"
        ]
    );
    assert_eq!(header.last(), Some(&"custom:plan"));
    let bob = rows.find(|r| r.contains(",Bob,")).expect("Bob is exported");
    let bob: Vec<&str> = bob.split(',').collect();
    let at = |name: &str| header.iter().position(|h| *h == name).unwrap();
    assert_eq!(bob[at("phone")], "+14155552672");
    assert_eq!(bob[at("phone_raw")], "(415) 555-2672");
    assert_eq!(bob[at("email")], "bob@example.com");
    assert_eq!(bob[at("custom:plan")], "silver");
    assert_eq!(csv.lines().count(), 4);

    let out = dir.ok(&["contacts", "export", "--output", "all.csv"]);
    assert_eq!(out, "");
    let saved = fs::read_to_string(dir.path().join("all.csv")).unwrap();
    assert_eq!(saved.lines().count(), 6, "a header and five contacts");

    // Another tenant sees none of them.
    let other = dir
        .run(&["contacts", "export", "--json", "--tenant", "other"])
        .ok();
    assert_eq!(other, "");
}

#[test]
fn numbers_on_the_do_not_call_list_are_skipped() {
    let dir = Dir::new();
    let out = dir.ok(&["dnc", "add", "(415) 555-2671"]);
    assert!(
        out.starts_with("Added 1 new number to the do-not-call list of tenant local"),
        "{out}"
    );
    let again = dir.json(&["dnc", "add", "+14155552671", "4155552671", "+442079460958"]);
    assert_eq!(
        again,
        json!({"added": 1, "already_listed": 1, "numbers": 2})
    );

    let summary = dir.import("small.csv", SMALL);
    assert_eq!(
        summary["reasons"],
        json!({"do_not_call": 2, "invalid_phone": 1}),
        "Ann's two rows"
    );
    assert_eq!(summary["inserted"], json!(2));
    assert!(!phones(&dir.contacts(&[])).contains("+14155552671"));
}

#[test]
fn dnc_import_reads_a_phone_column_or_bare_numbers() {
    let dir = Dir::new();
    dir.write(
        "dnc.csv",
        "name,Phone Number\nBob,(415) 555-2672\nNobody,\n",
    );
    let out = dir.ok(&["dnc", "import", "dnc.csv"]);
    assert!(
        out.starts_with("Added 1 new number to the do-not-call list"),
        "{out}"
    );
    assert!(line(&out, "Read").contains("2 rows"), "{out}");
    dir.write("bare.txt", "415.555.2673\n+14155552672\n");
    let bare = dir.json(&["dnc", "import", "bare.txt"]);
    assert_eq!(
        bare,
        json!({"added": 1, "already_listed": 1, "numbers": 2, "rows": 2, "blank": 0})
    );

    // A spreadsheet's `sep=` line comes before the header, as in an import.
    dir.write("excel.csv", "sep=;\nwho;col2\nBea;(415) 555-2674\n");
    let excel = dir.json(&["dnc", "import", "excel.csv"]);
    assert_eq!(excel["added"], json!(1), "{excel}");

    let summary = dir.import("small.csv", SMALL);
    assert_eq!(
        summary["reasons"],
        json!({"do_not_call": 2, "invalid_phone": 1, "duplicate_in_file": 1})
    );
    assert_eq!(
        phones(&dir.contacts(&[])),
        ["+14155552671".to_owned()].into()
    );
}

#[test]
fn bad_input_gives_one_error_line_and_writes_nothing() {
    let dir = Dir::new();
    dir.write("small.csv", SMALL);
    dir.write("small.xlsx", SMALL);
    dir.write("no_phone.csv", "name,city\nAnn,Paris\n");
    dir.write("header_only.csv", "phone,name\n");
    dir.write("empty.csv", "");
    dir.write("bad.json", r#"{"destination": {"type": "campaign"}}"#);
    dir.write("unknown_key.json", r#"{"duplicate": "skip"}"#);
    dir.write("not_json.json", "{");
    dir.write("acme.json", r#"{"tenant": "acme"}"#);
    fs::create_dir(dir.path().join("folder.csv")).unwrap();

    let cases: [(&[&str], &str); 14] = [
        (
            &["import", "missing.csv"],
            "missing.csv: the file could not be read: no such file",
        ),
        (&["import", "folder.csv"], "it is a directory"),
        (
            &["import", "small.csv", "--spec", "bad.json"],
            "bad.json: import spec: destination",
        ),
        (
            &["import", "small.csv", "--spec", "unknown_key.json"],
            "unknown field `duplicate`",
        ),
        (
            &["import", "small.csv", "--spec", "not_json.json"],
            "not_json.json: import spec",
        ),
        (
            &["import", "small.csv", "--spec", "missing.json"],
            "missing.json: the file could not be read",
        ),
        (
            &["import", "small.csv", "--spec", "acme.json"],
            "pass --tenant acme",
        ),
        (
            &["import", "small.xlsx"],
            "only .csv, .tsv, .txt and .vcf files can be imported",
        ),
        (&["import", "no_phone.csv"], "no column holds phone numbers"),
        (&["import", "header_only.csv"], "no data rows"),
        (&["import", "empty.csv"], "the file is empty"),
        (
            &["import", "small.csv", "--tenant", "a/b"],
            "--tenant: `a/b` must be",
        ),
        (
            &["dnc", "add", "+14155552672", "12"],
            "`12` has too few digits",
        ),
        (
            &["dnc", "add", "4155552672", "--country", "ZZ"],
            "`ZZ` is not a supported",
        ),
    ];
    for (args, message) in cases {
        let run = dir.run(args);
        let error = run.refused();
        assert!(error.contains(message), "{args:?}: {error}");
        assert_eq!(run.stdout, "", "{args:?}");
    }
    for args in [
        &["status", "imp-0000"][..],
        &["report", "imp-0000"],
        &["contacts", "list", "--import", "imp-0000"],
        &["contacts", "export", "--destination", "team:x"],
        &["status"],
    ] {
        let run = dir.run(args);
        run.refused();
    }
    assert!(dir
        .run(&["status", "imp-0000"])
        .refused()
        .contains("imp-0000: no such import for tenant local in "));
    let run = dir.run_exactly(&["status", "--data", "small.csv"]);
    assert!(run
        .refused()
        .contains("small.csv: the data folder cannot be used: it is a file"));

    // Nothing reached the store: no import, no upload, no do-not-call number.
    assert!(dir.import_ids().is_empty());
    assert!(!dir.data().join("objects").join("uploads").exists());
    let summary = dir.import("small.csv", SMALL);
    assert_eq!(
        summary["inserted"],
        json!(3),
        "no number was added to the list"
    );
}

#[test]
fn a_refused_file_with_json_prints_a_failed_object() {
    let dir = Dir::new();
    dir.write("no_phone.csv", "name,city\nAnn,Paris\n");
    let run = dir.run(&["import", "no_phone.csv", "--json"]);
    run.refused();
    let object: Value = serde_json::from_str(&run.stdout).expect("one JSON object");
    assert_eq!(object["status"], json!("FAILED"));
    assert_eq!(object["code"], json!("no_phone_column"));
    assert!(object["error"]
        .as_str()
        .unwrap()
        .contains("no column holds phone numbers"));
    assert!(dir.import_ids().is_empty());

    let unknown = dir.run(&["status", "imp-0000", "--json"]);
    unknown.refused();
    let object: Value = serde_json::from_str(&unknown.stdout).expect("one JSON object");
    assert_eq!(object["code"], json!("unknown_import"));
    assert_eq!(
        object.get("status"),
        None,
        "not to be read as the import's status"
    );
}

#[test]
fn imports_in_small_chunks_count_the_same() {
    let dir = Dir::new();
    let out = dir
        .run_exactly(&["generate", "--rows", "800", "big.csv"])
        .ok();
    assert!(out.starts_with("Wrote 800 data rows ("), "{out}");
    let sizes = ["--chunk-rows", "37"];
    let chunked = {
        let mut args = vec!["import", "big.csv", "--json"];
        args.extend(sizes);
        serde_json::from_str::<Value>(&dir.ok(&args)).unwrap()
    };
    let other = Dir::new();
    fs::copy(dir.path().join("big.csv"), other.path().join("big.csv")).unwrap();
    let whole = other.json(&["import", "big.csv"]);
    assert_eq!(chunked["processed"], json!(800));
    for field in ["inserted", "skipped", "failed", "reasons", "status"] {
        assert_eq!(chunked[field], whole[field], "{field}");
    }
    assert_eq!(
        fs::read_to_string(chunked["report"].as_str().unwrap()).unwrap(),
        fs::read_to_string(whole["report"].as_str().unwrap()).unwrap(),
        "the same report whatever the chunks"
    );
    assert_eq!(
        dir.contacts(&[]).len() as u64,
        chunked["inserted"].as_u64().unwrap()
    );
}

#[test]
fn a_generated_google_contacts_file_imports_every_number() {
    let import = |layout: &str| {
        let dir = Dir::new();
        dir.run_exactly(&["generate", "--rows", "300", "--layout", layout, "f.csv"])
            .ok();
        let summary = dir.json(&["import", "f.csv"]);
        (summary, dir.contacts(&[]))
    };
    let (plain, _) = import("plain");
    let (google, contacts) = import("google-contacts");
    assert_eq!(plain["layout"], Value::Null);
    assert_eq!(google["layout"], json!("Google Contacts"));
    for field in ["processed", "inserted", "skipped", "failed", "reasons"] {
        assert_eq!(plain[field], google[field], "{field}");
    }
    let with_others = contacts
        .iter()
        .filter(|c| {
            c["contact"]["secondary"]
                .as_array()
                .is_some_and(|s| !s.is_empty())
        })
        .count();
    assert!(
        with_others * 2 > contacts.len(),
        "{with_others} of {} contacts have secondary numbers",
        contacts.len()
    );
}

#[test]
fn generate_refuses_to_overwrite() {
    let dir = Dir::new();
    dir.write("taken.csv", "x");
    let run = dir.run_exactly(&["generate", "--rows", "5", "taken.csv"]);
    assert!(run.refused().contains("taken.csv: it already exists"));
    assert_eq!(
        fs::read_to_string(dir.path().join("taken.csv")).unwrap(),
        "x"
    );
}

#[test]
fn the_example_imports() {
    let dir = Dir::new();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let file = examples.join("contacts.csv");
    let spec = examples.join("spec.json");
    let summary = dir.json(&[
        "import",
        file.to_str().unwrap(),
        "--spec",
        spec.to_str().unwrap(),
    ]);
    assert_eq!(summary["status"], json!("COMPLETED_WITH_ERRORS"));
    assert!(summary["inserted"].as_u64().unwrap() > 0, "{summary}");
    let stored = dir.contacts(&["--destination", "list:Spring outreach"]);
    assert_eq!(stored.len() as u64, summary["inserted"].as_u64().unwrap());
    assert!(stored.iter().all(|c| c["contact"]["tags"]
        .as_array()
        .unwrap()
        .contains(&json!("spring-2026"))));
}

/// Starts the binary in `dir` with `args`, output discarded.
fn spawn(dir: &Dir, args: &[&str]) -> std::process::Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin!("contact-import"))
        .current_dir(dir.path())
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the command starts")
}

/// The latest import stopped part way, as `status` tells it.
fn assert_stopped(dir: &Dir) {
    let status = dir.ok(&["status"]);
    assert!(
        status.contains("stopped before it finished") && status.contains("contact-import resume"),
        "the import was meant to stop part way; a faster machine needs a larger file: {status}"
    );
}

#[cfg(unix)]
#[test]
fn an_import_stopped_part_way_resumes_to_what_an_uninterrupted_one_gives() {
    use std::io::Read;

    let dir = Dir::new();
    dir.run_exactly(&["generate", "--rows", "30000", "big.csv"])
        .ok();

    // Ctrl-C: the command says what it left and what to run.
    let mut import = spawn(
        &dir,
        &[
            "import",
            "big.csv",
            "--chunk-rows",
            "1000",
            "--data",
            "data",
        ],
    );
    wait_for_parts_beyond(&dir, &mut import, 0);
    let sigint = std::process::Command::new("kill")
        .args(["-INT", &import.id().to_string()])
        .status()
        .unwrap();
    assert!(sigint.success());
    let code = import.wait().unwrap().code();
    let mut stderr = String::new();
    import
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(code, Some(130), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        "interrupted: the import stopped part way; `contact-import resume` finishes it"
    );
    assert_stopped(&dir);
    let import_id = dir.import_ids()[0].clone();
    let report = dir.run(&["report", &import_id]);
    assert!(
        report.stderr.contains("stopped before it finished"),
        "{}",
        report.stderr
    );

    // The resume itself killed outright: nothing is lost either.
    let parts = parts_written(&dir);
    let mut resume = spawn(&dir, &["resume", "--data", "data"]);
    wait_for_parts_beyond(&dir, &mut resume, parts);
    resume.kill().unwrap();
    resume.wait().unwrap();
    assert_stopped(&dir);

    let resumed = dir.json(&["resume"]);
    assert_eq!(resumed["import_id"], json!(import_id));
    let clean = Dir::new();
    clean.write("big.csv", fs::read(dir.path().join("big.csv")).unwrap());
    let expected = clean.json(&["import", "big.csv", "--chunk-rows", "1000"]);
    for field in [
        "status",
        "processed",
        "inserted",
        "updated",
        "skipped",
        "failed",
        "reasons",
    ] {
        assert_eq!(resumed[field], expected[field], "{field}");
    }
    assert_eq!(
        dir.ok(&["report", &import_id]),
        clean.ok(&["report", expected["import_id"].as_str().unwrap()])
    );
    assert_eq!(phones(&dir.contacts(&[])), phones(&clean.contacts(&[])));

    let again = dir.ok(&["resume", &import_id]);
    assert!(
        again.contains("had finished; there is nothing to resume"),
        "{again}"
    );
}
