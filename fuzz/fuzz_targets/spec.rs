//! The spec parser on any text: it answers Ok or an error, and a spec it
//! accepts serialises to JSON that parses back to the same spec.

#![no_main]

use contact_import_core::ImportSpec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Invalid UTF-8 reaches the parser as replacement characters.
    let text = String::from_utf8_lossy(data);
    let Ok(spec) = ImportSpec::from_json(&text) else {
        return;
    };
    let json = serde_json::to_string(&spec).expect("a parsed spec serialises");
    let again =
        ImportSpec::from_json(&json).unwrap_or_else(|e| panic!("{json} does not parse back: {e}"));
    assert_eq!(again, spec, "{json}");
});
