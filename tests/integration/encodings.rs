//! Input formats: encodings, byte-order marks and delimiters, and what the
//! engine reports it detected.

use contact_import_core::file::input::{Delimiter, TextEncoding};

use crate::support::{fixture_bytes, import, import_bytes};

#[test]
fn utf8_without_bom_keeps_accented_names() {
    let import = import("utf8_commas.csv", "{}");
    assert_eq!(import.facts.encoding, TextEncoding::Utf8);
    assert_eq!(import.facts.delimiter, Delimiter::Comma);
    assert_eq!(
        import.facts.headers,
        ["phone", "first_name", "last_name", "city"]
    );
    let jose = import.contact(2);
    assert_eq!(jose.first_name.as_deref(), Some("José"));
    assert_eq!(jose.last_name.as_deref(), Some("Muñoz"));
    assert_eq!(jose.city.as_deref(), Some("São Paulo"));
    assert_eq!(import.contact(3).first_name.as_deref(), Some("Zoë"));
}

#[test]
fn utf8_bom_is_stripped_from_the_first_header() {
    let import = import("utf8_bom_commas.csv", "{}");
    assert_eq!(import.facts.encoding, TextEncoding::Utf8Bom);
    assert_eq!(
        import.facts.headers[0], "phone",
        "the BOM must not stay in the first header"
    );
    assert!(!import.facts.headers[0].starts_with('\u{feff}'));
    assert_eq!(import.summary(), [(2, "imported")]);
    assert_eq!(import.contact(2).phone, "+14155552671");
    assert!(
        import.contact(2).custom.is_empty(),
        "the BOM made a custom column: {:?}",
        import.contact(2).custom
    );
}

/// Excel's "Unicode text": UTF-16 with a BOM, tab-delimited, CRLF.
fn assert_unicode_text_export(name: &str, encoding: TextEncoding) {
    let import = import(name, "{}");
    assert_eq!(import.facts.encoding, encoding, "{name}");
    assert_eq!(import.facts.delimiter, Delimiter::Tab, "{name}");
    assert_eq!(
        import.facts.headers,
        ["phone", "first_name", "last_name", "city"],
        "{name}"
    );
    assert_eq!(
        import.summary(),
        [(2, "imported"), (3, "imported")],
        "{name}"
    );
    let jose = import.contact(2);
    assert_eq!(jose.phone, "+14155552671");
    assert_eq!(jose.first_name.as_deref(), Some("José"));
    assert_eq!(jose.last_name.as_deref(), Some("Muñoz"));
    assert_eq!(jose.city.as_deref(), Some("São Paulo"));
    let zoe = import.contact(3);
    assert_eq!(zoe.phone, "+442079460958");
    assert_eq!(zoe.last_name.as_deref(), Some("Brontë"));
    assert_eq!(
        zoe.city.as_deref(),
        Some("London"),
        "no stray CR at the end of the line"
    );
}

#[test]
fn utf16_le_with_bom_and_tabs_is_read() {
    assert_eq!(&fixture_bytes("utf16le_tabs.txt")[..2], [0xFF, 0xFE]);
    assert_unicode_text_export("utf16le_tabs.txt", TextEncoding::Utf16Le);
}

#[test]
fn utf16_be_with_bom_and_tabs_is_read() {
    assert_eq!(&fixture_bytes("utf16be_tabs.txt")[..2], [0xFE, 0xFF]);
    assert_unicode_text_export("utf16be_tabs.txt", TextEncoding::Utf16Be);
}

#[test]
fn windows_1252_semicolon_file_decodes_accents_and_euro() {
    let bytes = fixture_bytes("windows1252_semicolons.csv");
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "the fixture must not be UTF-8"
    );
    let import = import("windows1252_semicolons.csv", "{}");
    assert_eq!(import.facts.encoding, TextEncoding::Windows1252);
    assert_eq!(import.facts.delimiter, Delimiter::Semicolon);
    assert_eq!(import.summary(), [(2, "imported"), (3, "imported")]);
    let jose = import.contact(2);
    assert_eq!(jose.first_name.as_deref(), Some("José"));
    assert_eq!(jose.last_name.as_deref(), Some("Muñoz"));
    assert_eq!(jose.city.as_deref(), Some("München"));
    assert_eq!(
        jose.custom["notes"], "Preis 5 €, bar",
        "a comma is data in a ; file"
    );
    let francoise = import.contact(3);
    assert_eq!(francoise.first_name.as_deref(), Some("Françoise"));
    assert_eq!(francoise.last_name.as_deref(), Some("Dupré"));
    assert_eq!(francoise.phone, "+14155552672");
    assert_eq!(francoise.custom["notes"], "œuvre");
}

#[test]
fn semicolon_delimiter_is_detected_in_utf8_with_bom() {
    let import = import("utf8_bom_semicolons.csv", "{}");
    assert_eq!(import.facts.encoding, TextEncoding::Utf8Bom);
    assert_eq!(import.facts.delimiter, Delimiter::Semicolon);
    assert_eq!(import.facts.headers, ["phone", "name", "notes"]);
    assert_eq!(import.contact(2).phone, "+14155552671");
    assert_eq!(import.contact(2).custom["notes"], "a, b, c");
}

#[test]
fn tab_delimiter_is_detected_in_utf8() {
    let import = import("utf8_tabs.tsv", "{}");
    assert_eq!(import.facts.encoding, TextEncoding::Utf8);
    assert_eq!(import.facts.delimiter, Delimiter::Tab);
    assert_eq!(import.contact(2).company.as_deref(), Some("Acme, Inc."));
}

#[test]
fn pipe_delimiter_is_detected_from_the_header_not_the_data() {
    let import = import("pipes_with_commas.txt", "{}");
    assert_eq!(import.facts.delimiter, Delimiter::Pipe);
    assert_eq!(import.facts.headers, ["phone", "name", "notes"]);
    assert_eq!(import.contact(2).custom["notes"], "a,b,c,d,e");
}

#[test]
fn comma_delimiter_is_detected() {
    assert_eq!(
        import("utf8_commas.csv", "{}").facts.delimiter,
        Delimiter::Comma
    );
    assert_eq!(
        import("quoted_fields.csv", "{}").facts.delimiter,
        Delimiter::Comma
    );
}

#[test]
fn detected_facts_serialise_with_stable_labels() {
    let facts = import("utf16le_tabs.txt", "{}").facts;
    let json = serde_json::to_value(&facts).unwrap();
    assert_eq!(json["encoding"], "utf-16le");
    assert_eq!(json["delimiter"], "\t");
    assert_eq!(TextEncoding::Windows1252.label(), "windows-1252");
}

/// The fixture with `PADDING` replaced by enough text to push the next rows
/// past the 64 KiB the encoding is sniffed from.
fn late_invalid_bytes() -> Vec<u8> {
    let bytes = fixture_bytes("utf8_late_invalid_bytes.csv");
    let at = bytes
        .windows(7)
        .position(|w| w == b"PADDING")
        .expect("PADDING marker");
    let mut padded = bytes[..at].to_vec();
    padded.extend(std::iter::repeat_n(b'x', 70_000));
    padded.extend(&bytes[at + 7..]);
    padded
}

#[test]
fn file_that_is_not_utf8_from_the_start_is_read_as_windows_1252() {
    let import = import("utf8_late_invalid_bytes.csv", "{}");
    assert_eq!(import.facts.encoding, TextEncoding::Windows1252);
    assert_eq!(
        import.summary(),
        [(2, "imported"), (3, "imported"), (4, "imported")]
    );
    assert_eq!(import.contact(3).first_name.as_deref(), Some("José"));
    assert_eq!(import.contact(3).last_name.as_deref(), Some("Müller"));
}

#[test]
fn invalid_utf8_row_in_a_utf8_file_is_malformed_and_kept_as_windows_1252() {
    let import = import_bytes(&late_invalid_bytes(), "{}", &[]);
    assert_eq!(
        import.facts.encoding,
        TextEncoding::Utf8,
        "the first 64 KiB are valid UTF-8"
    );
    assert_eq!(
        import.summary(),
        [(2, "imported"), (3, "malformed_row"), (4, "imported")]
    );
    let rejection = import.rejection(3);
    assert_eq!(
        rejection.values,
        vec!["+14155552672", "José Müller", "café"]
    );
    assert!(rejection.message.contains("UTF-8"), "{}", rejection.message);
    let report = String::from_utf8(import.report()).expect("the report is UTF-8");
    assert!(report.contains("3,malformed_row,"), "{report}");
    assert!(report.contains(",José Müller,café"), "{report}");
}
