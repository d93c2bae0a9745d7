//! Files that cannot be imported as they are: what they are told, and that
//! the message names the problem and the fix.

use contact_import_core::file::input::Delimiter;
use contact_import_core::rules::refusal::NotText;
use contact_import_core::rules::refusal::{MAX_COLUMNS, MAX_HEADER_BYTES};
use contact_import_core::{ContactFile, ImportSpec, Refusal};

use crate::support::import_bytes;

fn refused(bytes: &[u8]) -> Refusal {
    match ContactFile::open(bytes, &ImportSpec::default()) {
        Ok(file) => panic!("opened with headers {:?}", file.facts().headers),
        Err(refusal) => refusal,
    }
}

fn zip_with(entry: &str) -> Vec<u8> {
    let mut bytes = b"PK\x03\x04\x14\x00\x06\x00\x08\x00".to_vec();
    bytes.extend(entry.as_bytes());
    bytes.extend([0x8b, 0x1f, 0x00, 0xff, 0x13]);
    bytes
}

fn utf32(text: &str, little_endian: bool, bom: bool) -> Vec<u8> {
    let bom = bom.then_some('\u{feff}');
    bom.into_iter()
        .chain(text.chars())
        .flat_map(|c| {
            let unit = c as u32;
            if little_endian {
                unit.to_le_bytes()
            } else {
                unit.to_be_bytes()
            }
        })
        .collect()
}

#[test]
fn files_that_are_not_text_are_named_for_what_they_are() {
    let mut random = Vec::new();
    let mut state: u32 = 0x9e37_79b9;
    for _ in 0..4096 {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        random.push(state as u8);
    }
    let cases: Vec<(&str, Vec<u8>, NotText, &str)> = vec![
        (
            "xlsx",
            zip_with("[Content_Types].xml xl/workbook.xml"),
            NotText::ExcelWorkbook,
            "Excel workbook",
        ),
        (
            "ods",
            zip_with("mimetypeapplication/vnd.oasis.opendocument.spreadsheet"),
            NotText::OpenDocument,
            "OpenDocument",
        ),
        (
            "zip",
            zip_with("contacts.csv"),
            NotText::ZipArchive,
            "zip archive",
        ),
        (
            "xls",
            vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0, 3],
            NotText::LegacyOffice,
            "Excel 97-2003",
        ),
        (
            "gzip",
            vec![0x1F, 0x8B, 0x08, 0x00, 0x12, 0x34],
            NotText::Gzip,
            "gzip",
        ),
        (
            "pdf",
            b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj".to_vec(),
            NotText::Pdf,
            "PDF",
        ),
        ("random", random, NotText::Binary, "binary data"),
        ("zeros", vec![0; 100_000], NotText::Binary, "binary data"),
        (
            "utf-32le",
            utf32("phone,name\n+14155552671,Ann\n", true, true),
            NotText::Utf32,
            "UTF-32",
        ),
        (
            "utf-32be",
            utf32("phone,name\n+14155552671,Ann\n", false, true),
            NotText::Utf32,
            "UTF-32",
        ),
        (
            "utf-32le without bom",
            utf32("phone,name\n+14155552671,Ann\n", true, false),
            NotText::Utf32,
            "UTF-32",
        ),
    ];
    for (name, bytes, kind, words) in cases {
        let refusal = refused(&bytes);
        assert_eq!(refusal, Refusal::NotText(kind), "{name}");
        assert_eq!(refusal.code(), "not_csv");
        let message = refusal.to_string();
        assert!(
            message.contains(words) && message.contains("not a CSV file"),
            "{name}: {message}"
        );
        assert!(
            !message.contains("PK") && !message.contains("headers found"),
            "{name}: {message}"
        );
    }
}

#[test]
fn a_blank_first_row_is_not_called_an_empty_file() {
    for file in [
        &b"  ,  \nphone,name\n+14155552671,Ann\n"[..],
        b" \t \r\nphone\r\n+14155552671\r\n",
    ] {
        let refusal = refused(file);
        assert_eq!(refusal, Refusal::BlankHeader { row: 1 });
        assert!(
            refusal.to_string().contains("has no column names"),
            "{refusal}"
        );
    }
}

#[test]
fn excel_sep_line_names_the_delimiter_and_takes_no_row() {
    for eol in ["\n", "\r\n", "\r"] {
        let file = format!("sep=;{eol}phone;name,title{eol}+14155552671;Ann, PhD{eol}");
        let import = import_bytes(file.as_bytes(), "{}", &[]);
        assert_eq!(import.facts.delimiter, Delimiter::Semicolon, "{eol:?}");
        assert_eq!(import.facts.headers, ["phone", "name,title"]);
        assert_eq!(import.summary(), [(2, "imported")]);
        assert_eq!(import.contact(2).phone, "+14155552671");
    }
    let refusal = refused(b"sep=:\nphone:name\n");
    assert!(
        matches!(refusal, Refusal::UnsupportedSeparator { .. }),
        "{refusal}"
    );
}

#[test]
fn headers_past_the_limits_are_refused_with_the_limit() {
    let wide = vec!["c"; MAX_COLUMNS + 1].join(",") + "\n1\n";
    assert_eq!(
        refused(wide.as_bytes()),
        Refusal::TooManyColumns {
            found: MAX_COLUMNS + 1
        }
    );
    let long = format!("phone,{}\n1,2\n", "n".repeat(MAX_HEADER_BYTES + 1));
    let refusal = refused(long.as_bytes());
    assert_eq!(
        refusal,
        Refusal::HeaderTooLong {
            column: 2,
            bytes: MAX_HEADER_BYTES + 1
        }
    );
    assert!(refusal.to_string().contains("1024"), "{refusal}");
}

#[test]
fn a_line_that_never_ends_is_refused_not_read_into_memory() {
    let mut file = b"phone,name\n+14155552671,".to_vec();
    file.resize(3 << 20, b'a');
    let refusal = refused(&file);
    assert_eq!(refusal, Refusal::RowTooLong { row: 2 });
    assert!(
        refusal.to_string().contains("longer than 1 MiB"),
        "{refusal}"
    );
}

#[test]
fn a_header_whose_quote_never_closes_is_refused() {
    let refusal = refused(b"phone,\"name\n+14155552671,Ann\n");
    assert_eq!(refusal.code(), "broken_quoting");
    assert!(refusal.to_string().contains("row 1"), "{refusal}");
}

#[test]
fn a_cell_past_the_limit_is_a_malformed_row() {
    let file = format!(
        "phone,note\n+14155552671,\"{}\"\n+14155552672,short\n",
        "x".repeat(200 << 10)
    );
    let import = import_bytes(file.as_bytes(), "{}", &[]);
    assert_eq!(import.summary(), [(2, "malformed_row"), (3, "imported")]);
    let rejection = import.rejection(2);
    assert!(
        rejection.message.contains("column `note` is 200 KiB"),
        "{}",
        rejection.message
    );
}
