//! Input that is wrong in ways no contact file is (special files, huge or
//! odd values, long names) and a data folder in a bad way (damaged, busy,
//! an import whose command died): never a panic or a hang, one `error:`
//! line, nothing written, and with `--json` one object with `error` and
//! `code`.

use std::fs;
use std::path::Path;

use serde_json::{json, Value};

use crate::common::{wait_for_parts_beyond, Dir, Run};

const SMALL: &str = "\
phone,first_name
+14155552671,Ann
+14155552672,Bob
12,Short
";

/// `run` refused as bad input with one line containing every part; with
/// `--json`, its object says the same.
fn refused_with(run: &Run, parts: &[&str]) -> Value {
    let json = run.args.contains("--json");
    let line = if json {
        run.json_failure(2)["error"].as_str().unwrap().to_owned()
    } else {
        run.refused().to_owned()
    };
    for part in parts {
        assert!(line.contains(part), "{}: {part:?} in {line}", run.args);
    }
    if json {
        serde_json::from_str(&run.stdout).unwrap()
    } else {
        assert_eq!(run.stdout, "", "{}", run.args);
        Value::Null
    }
}

/// No import, no upload: nothing was written.
fn assert_nothing_imported(dir: &Dir) {
    assert!(dir.import_ids().is_empty());
    assert!(!dir.data().join("objects").join("uploads").exists());
}

#[cfg(unix)]
#[test]
fn only_regular_files_are_read_and_nothing_waits_on_a_pipe() {
    let dir = Dir::new();
    dir.write("small.csv", SMALL);
    dir.write("spec.json", "{}");
    let fifo = dir.path().join("pipe.csv");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    fs::create_dir(dir.path().join("folder.csv")).unwrap();

    let pipe = "it is a named pipe (FIFO), not a regular file";
    let device = "it is a device, not a regular file";
    let cases: [(&[&str], &[&str]); 8] = [
        (&["import", "pipe.csv"], &["pipe.csv: ", pipe]),
        (&["import", "pipe.csv", "--json"], &["pipe.csv: ", pipe]),
        (
            &["import", "small.csv", "--spec", "pipe.csv"],
            &["pipe.csv: ", pipe],
        ),
        (&["dnc", "import", "pipe.csv"], &["pipe.csv: ", pipe]),
        (&["import", "/dev/zero"], &["/dev/zero: ", device]),
        (
            &["import", "small.csv", "--spec", "/dev/zero"],
            &["/dev/zero: ", device],
        ),
        (&["dnc", "import", "/dev/zero"], &["/dev/zero: ", device]),
        (
            &["import", "folder.csv"],
            &["folder.csv: ", "it is a directory"],
        ),
    ];
    for (args, parts) in cases {
        refused_with(&dir.run(args), parts);
    }
    for args in [
        &["preview", "pipe.csv"][..],
        &["preview", "/dev/zero"],
        &["preview", "small.csv", "--spec", "pipe.csv"],
    ] {
        refused_with(&dir.run_exactly(args), &["not a regular file"]);
    }
    assert_nothing_imported(&dir);
}

#[test]
fn a_spec_is_one_small_json_object_with_or_without_a_bom() {
    let dir = Dir::new();
    dir.write("small.csv", SMALL);
    dir.write(
        "bom.json",
        "\u{feff}{\"destination\": {\"type\": \"campaign\", \"id\": \"c1\"}}",
    );
    dir.write("array.json", "[]");
    dir.write("two.json", "{}\n{\"duplicates\": \"update\"}");
    dir.write("trailing.json", "{\"duplicates\": \"skip\"} }");
    let mut huge = String::from("{\"tags\": [");
    huge.push_str(&"\"vip\", ".repeat(200_000));
    huge.push_str("\"end\"]}");
    dir.write("huge.json", huge);

    let cases: [(&str, &str); 4] = [
        (
            "array.json",
            "import spec: (top level): the spec is a JSON array",
        ),
        ("two.json", "there is more after the spec's JSON object"),
        (
            "trailing.json",
            "there is more after the spec's JSON object",
        ),
        ("huge.json", "the spec is larger than 1024 KiB"),
    ];
    for (spec, says) in cases {
        let run = dir.run(&["import", "small.csv", "--spec", spec, "--json"]);
        let object = refused_with(&run, &[spec, says]);
        assert_eq!(object["code"], json!("invalid_spec"), "{spec}");
    }
    assert_nothing_imported(&dir);

    let summary = dir.json(&["import", "small.csv", "--spec", "bom.json"]);
    assert_eq!(summary["inserted"], json!(2), "{summary}");
    let stored = dir.contacts(&["--destination", "campaign:c1"]);
    assert_eq!(stored.len(), 2);
}

#[test]
fn long_values_are_echoed_as_a_short_marked_prefix() {
    let dir = Dir::new();
    dir.write("small.csv", SMALL);
    let million = "c".repeat(1_000_000);
    dir.write(
        "campaign.json",
        format!(r#"{{"destination": {{"type": "campaign", "id": "{million}"}}}}"#),
    );
    dir.write("variant.json", format!(r#"{{"duplicates": "{million}"}}"#));
    dir.write("key.json", format!(r#"{{"{million}": true}}"#));
    let run = |args: &[&str]| {
        let run = dir.run(args);
        let line = run.refused().to_owned();
        assert!(line.len() < 1_000, "{}: {} bytes", run.args, line.len());
        line
    };
    for spec in ["campaign.json", "variant.json", "key.json"] {
        let line = run(&["import", "small.csv", "--spec", spec]);
        assert!(
            line.contains(&format!("{}… (1000000 characters)", &million[..40])),
            "{line}"
        );
    }
    // A command line holds at most 128 KiB per argument.
    let long = "t".repeat(100_000);
    let marked = format!("{}… (100000 characters)", &long[..40]);
    let destination = format!("campaign:{long}");
    let list = format!("list:{long}");
    for args in [
        &["import", "small.csv", "--tenant", &long][..],
        &["status", &long],
        &["dnc", "add", &long],
        &["dnc", "add", "4155552671", "--country", &long],
        &["contacts", "list", "--destination", &destination],
        &["history", "--limit", &long],
    ] {
        let line = run(args);
        assert!(line.contains(&marked), "{line}");
    }
    // A long list name is a name, not an error: it is listed.
    dir.ok(&["contacts", "list", "--destination", &list]);
    assert_nothing_imported(&dir);
}

#[test]
fn dot_names_are_refused_naming_the_flag_or_key() {
    let dir = Dir::new();
    dir.write("small.csv", SMALL);
    for name in [".", "..", ".hidden"] {
        for args in [
            &["import", "small.csv", "--tenant", name][..],
            &["status", "--tenant", name],
            &["contacts", "export", "--tenant", name],
        ] {
            refused_with(
                &dir.run(args),
                &[&format!("--tenant: `{name}` must be"), "not start with '.'"],
            );
        }
        dir.write(
            "spec.json",
            format!(r#"{{"destination": {{"type": "agent", "id": "{name}"}}}}"#),
        );
        let run = dir.run(&["import", "small.csv", "--spec", "spec.json", "--json"]);
        let object = refused_with(
            &run,
            &[
                "spec.json: import spec: destination.id",
                "not start with '.'",
            ],
        );
        assert_eq!(object["code"], json!("invalid_spec"));
        let destination = format!("campaign:{name}");
        refused_with(
            &dir.run(&["contacts", "list", "--destination", &destination]),
            &["--destination campaign:", "not start with '.'"],
        );
    }
    assert_nothing_imported(&dir);
    // A dot inside a name is fine.
    let summary = dir.json(&["import", "small.csv", "--tenant", "acme.eu"]);
    assert_eq!(summary["inserted"], json!(2));
}

#[test]
fn long_and_wide_file_names_import() {
    let dir = Dir::new();
    let long = format!("{}.csv", "l".repeat(250));
    let twin = format!("{}x.csv", "l".repeat(249));
    // 83 three-byte characters: 253 bytes with the extension.
    let wide = format!("{}.csv", "日".repeat(83));
    assert_eq!((long.len(), twin.len(), wide.len()), (254, 254, 253));
    let mut imported = Vec::new();
    for name in [&long, &twin, &wide] {
        let summary = dir.import(name, SMALL);
        assert_eq!(summary["processed"], json!(3), "{summary}");
        let report = dir.ok(&["report", summary["import_id"].as_str().unwrap()]);
        assert!(report.contains("Short"), "{report}");
        imported.push(summary["import_id"].as_str().unwrap().to_owned());
    }
    let history = dir.json(&["history"]);
    let files: Vec<&str> = history["imports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["file"].as_str().unwrap())
        .collect();
    assert_eq!(files.len(), 3);
    for file in &files {
        assert!(file.len() <= 200 && file.ends_with(".csv"), "{file}");
    }
    assert!(files[0].starts_with("日日日"), "{files:?}");
    assert_ne!(files[1], files[2], "two long names that start alike");
}

#[test]
fn output_files_that_cannot_be_written_are_named() {
    let dir = Dir::new();
    let summary = dir.import("small.csv", SMALL);
    let id = summary["import_id"].as_str().unwrap();
    let cases: [(&[&str], &[&str]); 4] = [
        (
            &["report", id, "-o", "missing/errors.csv"],
            &[
                "missing/errors.csv: the report cannot be created there",
                "no such file",
            ],
        ),
        (
            &["report", id, "-o", "data", "--json"],
            &[
                "data: the report cannot be created there",
                "it is a directory",
            ],
        ),
        (
            &["contacts", "export", "-o", "missing/all.csv"],
            &["missing/all.csv: the contacts cannot be created there"],
        ),
        (
            &["contacts", "export", "-o", "missing/all.csv", "--json"],
            &["missing/all.csv: the contacts cannot be created there"],
        ),
    ];
    for (args, parts) in cases {
        let object = refused_with(&dir.run(args), parts);
        if !object.is_null() {
            assert_eq!(object["code"], json!("unwritable_output"));
        }
    }
    let generate = dir.run_exactly(&["generate", "--rows", "5", "missing/big.csv", "--json"]);
    refused_with(
        &generate,
        &["missing/big.csv: the file cannot be created there"],
    );
    // A file that opens but fails on writing, as /proc/version does.
    if Path::new("/proc/version").exists() {
        for args in [
            &["report", id, "-o", "/proc/version"][..],
            &["contacts", "export", "-o", "/proc/version"],
        ] {
            refused_with(&dir.run(args), &["/proc/version: the ", "cannot be"]);
        }
    }
}

#[test]
fn usage_errors_are_one_line_and_one_object_with_json() {
    let dir = Dir::new();
    let run = dir.run_exactly(&["preview", "a.csv", "--data", "d", "--json"]);
    let object = run.json_failure(2);
    assert_eq!(object["code"], json!("bad_arguments"));
    assert!(
        run.stderr
            .contains("unexpected argument '--data' found; usage: contact-import preview <FILE>"),
        "{}",
        run.stderr
    );
    let run = dir.run_exactly(&["import"]);
    assert!(run.refused().contains("<FILE>"), "{}", run.stderr);
}

/// A store with a real import in it, in a folder of its own.
fn imported_store() -> Dir {
    let dir = Dir::new();
    dir.run_exactly(&["generate", "--rows", "3000", "big.csv"])
        .ok();
    dir.json(&["import", "big.csv"]);
    dir
}

/// Every command on a damaged store says so, where the store is and what
/// to do; none says it is temporary.
fn assert_damaged(dir: &Dir) {
    let store = fs::canonicalize(dir.data())
        .unwrap()
        .join("store.redb")
        .display()
        .to_string();
    for args in [
        &["status"][..],
        &["history"],
        &["contacts", "export"],
        &["import", "big.csv"],
    ] {
        let run = dir.run(args);
        let line = run.failed_with(1);
        for part in [
            store.as_str(),
            "the store is damaged",
            "restore it from a backup, or move it aside",
        ] {
            assert!(line.contains(part), "{args:?}: {part:?} in {line}");
        }
        assert!(!line.contains("temporary"), "{line}");
        let mut json = args.to_vec();
        json.push("--json");
        let object = dir.run(&json).json_failure(1);
        assert_eq!(object["code"], json!("internal"), "{object}");
        assert!(object["error"].as_str().unwrap().contains("damaged"));
    }
}

#[test]
fn a_damaged_store_is_named_with_what_to_do() {
    let dir = imported_store();
    let path = dir.data().join("store.redb");
    let mut bytes = fs::read(&path).unwrap();
    let middle = bytes.len() / 2 / 4096 * 4096;
    bytes[middle..middle + 8192].fill(0xa5);
    fs::write(&path, &bytes).unwrap();
    assert_damaged(&dir);

    let cut = imported_store();
    let path = cut.data().join("store.redb");
    for length in [100, 64 * 1024] {
        let file = fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(length).unwrap();
        drop(file);
        assert_damaged(&cut);
    }
}

/// Starts an import of `big.csv` in `dir` that runs for a while.
fn spawn_import(dir: &Dir) -> std::process::Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin!("contact-import"))
        .current_dir(dir.path())
        .args(["import", "big.csv", "--chunk-rows", "500", "--data", "data"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the command starts")
}

#[test]
fn an_import_whose_command_was_killed_is_stopped_in_status_and_history() {
    let dir = Dir::new();
    dir.run_exactly(&["generate", "--rows", "30000", "big.csv"])
        .ok();
    let mut import = spawn_import(&dir);
    wait_for_parts_beyond(&dir, &mut import, 0);
    // The running import holds the store: another command says so, and
    // that trying again helps.
    let busy = dir.run(&["status", "--json"]);
    let object = busy.json_failure(1);
    assert_eq!(object["code"], json!("temporary"), "{object}");
    assert!(busy.stderr.contains("already open"), "{}", busy.stderr);
    import.kill().unwrap();
    import.wait().unwrap();

    let id = dir.import_ids()[0].clone();
    let resume = format!("`contact-import resume {id}` finishes it");
    let status = dir.ok(&["status"]);
    assert!(
        status.contains("(stopped)") && status.contains(&resume),
        "the import was meant to stop part way; a faster machine needs a larger file: {status}"
    );
    let status = dir.json(&["status"]);
    assert!(status["stopped"].as_str().unwrap().contains(&resume));
    let history = dir.ok(&["history"]);
    assert!(history.contains(&format!("{id} ")) && history.contains("(stopped)"));
    assert!(history.contains("`contact-import resume IMPORT_ID` finishes it"));
    let history = dir.json(&["history"]);
    assert!(history["imports"][0]["stopped"]
        .as_str()
        .unwrap()
        .contains(&resume));

    let resumed = dir.json(&["resume"]);
    assert_eq!(resumed["processed"], json!(30000));
    assert_eq!(dir.json(&["status"]).get("stopped"), None);
    assert!(!dir.ok(&["history"]).contains("stopped"));
}

#[test]
fn files_that_are_not_csv_are_named_and_nothing_is_imported() {
    let dir = Dir::new();
    dir.write(
        "book.csv",
        b"PK\x03\x04\x14\x00\x06\x00[Content_Types].xml xl/workbook.xml",
    );
    dir.write("archive.csv", b"PK\x03\x04\x14\x00\x06\x00contacts.csv");
    dir.write("packed.csv", [0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00]);
    dir.write("doc.csv", b"%PDF-1.7\n1 0 obj\n");
    let utf32: Vec<u8> = "phone,name\n+14155552671,Ann\n"
        .chars()
        .flat_map(|c| (c as u32).to_le_bytes())
        .collect();
    dir.write("wide.csv", utf32);
    let cases: [(&str, &str); 5] = [
        (
            "book.csv",
            "this is an Excel workbook (.xlsx), not a CSV file",
        ),
        ("archive.csv", "this is a zip archive, not a CSV file"),
        (
            "packed.csv",
            "this is a gzip-compressed file, not a CSV file",
        ),
        ("doc.csv", "this is a PDF document, not a CSV file"),
        ("wide.csv", "this is text in UTF-32, not a CSV file"),
    ];
    for (file, says) in cases {
        refused_with(&dir.run(&["import", file]), &[file, says]);
        let object = refused_with(&dir.run(&["import", file, "--json"]), &[file, says]);
        assert_eq!(object["code"], json!("not_csv"), "{file}");
    }
    assert_nothing_imported(&dir);
}

#[test]
fn every_line_ending_and_a_quote_left_open_store_each_row_once() {
    let dir = Dir::new();
    let mut mac = String::from("phone,name\r");
    for i in 0..1_001 {
        mac += &format!("+1415555{i:04},Person {i}\r");
    }
    let summary = dir.import("mac.csv", &mac);
    assert_eq!(summary["inserted"], json!(1_001), "{summary}");
    assert_eq!(dir.contacts(&[]).len(), 1_001);

    let mixed = "phone,name\n+14155559001,A\r\n+14155559002,B\r+14155559003,C\n+14155559004,D";
    assert_eq!(dir.import("mixed.csv", mixed)["inserted"], json!(4));
    let open = "phone,name\n+14155559101,A\n+14155559102,\"B\n+14155559103,C\n+14155559104,D\n";
    let summary = dir.import("open.csv", open);
    assert_eq!(summary["processed"], json!(4), "{summary}");
    assert_eq!(summary["inserted"], json!(3), "{summary}");
    assert_eq!(summary["reasons"]["malformed_row"], json!(1), "{summary}");
    assert_eq!(dir.contacts(&[]).len(), 1_001 + 4 + 3);
}
