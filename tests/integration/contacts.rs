//! What an imported contact carries.

use serde_json::json;

use crate::support::import;

const CONTACT_SPEC: &str = r#"{
    "tags": ["spring", "vip"],
    "fields": {
        "age": {"type": "number"},
        "score": {"type": "number"},
        "vip": {"type": "boolean"},
        "renewal": {"type": "date"}
    }
}"#;

#[test]
fn phone_is_e164_with_raw_value_and_extension_kept() {
    let import = import("contact_fields.csv", CONTACT_SPEC);
    let ann = import.contact(2);
    assert_eq!(ann.phone, "+14155552671");
    assert_eq!(ann.phone_raw, "+1 (415) 555-2671 ext. 42");
    assert_eq!(ann.extension.as_deref(), Some("42"));
    let national = import.contact(3);
    assert_eq!(
        national.phone, "+14155552672",
        "read as a US number by default"
    );
    assert_eq!(national.phone_raw, "4155552672");
    assert_eq!(national.extension, None);
}

#[test]
fn standard_fields_are_filled_from_their_columns() {
    let import = import("contact_fields.csv", CONTACT_SPEC);
    let ann = import.contact(2);
    assert_eq!(ann.contact_id.as_deref(), Some("crm-001"));
    assert_eq!(ann.first_name.as_deref(), Some("Ann"));
    assert_eq!(ann.last_name.as_deref(), Some("Lee"));
    assert_eq!(ann.email.as_deref(), Some("ann@example.com"));
    assert_eq!(ann.company.as_deref(), Some("Acme Inc"));
    assert_eq!(ann.address.as_deref(), Some("1 Market St"));
    assert_eq!(ann.city.as_deref(), Some("San Francisco"));
    assert_eq!(ann.state.as_deref(), Some("CA"));
    assert_eq!(ann.zip.as_deref(), Some("94105"));
    assert_eq!(ann.country.as_deref(), Some("US"));
    assert_eq!(ann.timezone.as_deref(), Some("America/Los_Angeles"));
    assert_eq!(ann.priority, Some(3));
}

#[test]
fn empty_optional_fields_stay_absent_and_priority_defaults_to_one() {
    let import = import("contact_fields.csv", CONTACT_SPEC);
    let row = import.contact(3);
    assert_eq!(row.priority, None);
    assert_eq!(row.effective_priority(), 1);
    assert_eq!(row.contact_id, None);
    assert_eq!(row.email, None);
    assert_eq!(row.scheduled_at, None);
    assert_eq!(row.data, None);
    assert!(row.secondary.is_empty());
    assert!(
        row.custom.is_empty(),
        "empty cells make no custom values: {:?}",
        row.custom
    );
}

#[test]
fn full_name_is_split_when_first_and_last_are_empty() {
    let import = import("contact_fields.csv", CONTACT_SPEC);
    let split = import.contact(3);
    assert_eq!(split.first_name.as_deref(), Some("Ann Marie"));
    assert_eq!(split.last_name.as_deref(), Some("Smith"));
    let kept = import.contact(4);
    assert_eq!(
        kept.first_name.as_deref(),
        Some("Bob"),
        "a filled first_name is kept"
    );
    assert_eq!(
        kept.last_name.as_deref(),
        Some("Jones"),
        "the empty last_name comes from the full name"
    );
}

#[test]
fn scheduled_at_becomes_utc_rfc3339() {
    let import = import("contact_fields.csv", CONTACT_SPEC);
    assert_eq!(
        import.contact(2).scheduled_at.as_deref(),
        Some("2026-03-01T14:30:00Z"),
        "no offset: read as UTC"
    );
    assert_eq!(
        import.contact(4).scheduled_at.as_deref(),
        Some("2026-03-01T19:30:00Z"),
        "-05:00 converted"
    );
}

#[test]
fn tags_merge_spec_tags_with_the_tags_column_without_repeats() {
    let import = import("contact_fields.csv", CONTACT_SPEC);
    // spec ["spring","vip"] + column "vip; west, vip,,spring"
    assert_eq!(import.contact(2).tags, ["spring", "vip", "west"]);
    assert_eq!(
        import.contact(3).tags,
        ["spring", "vip"],
        "an empty tags cell leaves the spec tags"
    );
}

#[test]
fn typed_custom_fields_hold_json_types() {
    let import = import("contact_fields.csv", CONTACT_SPEC);
    let custom = &import.contact(2).custom;
    assert_eq!(custom["age"], json!(42));
    assert!(custom["age"].is_number());
    assert_eq!(custom["score"], json!(3.5));
    assert_eq!(custom["vip"], json!(true));
    assert_eq!(
        custom["renewal"],
        json!("2026-04-01"),
        "dates are written YYYY-MM-DD"
    );
    assert_eq!(
        custom["lead_source"],
        json!("web"),
        "untyped custom fields are text"
    );
    assert_eq!(import.contact(4).custom["vip"], json!(false));
}

#[test]
fn data_column_is_a_json_object() {
    let import = import("contact_fields.csv", CONTACT_SPEC);
    let data = import.contact(2).data.clone().expect("data");
    assert_eq!(
        serde_json::Value::Object(data),
        json!({"plan": "gold", "seats": 3})
    );
}

#[test]
fn secondary_numbers_carry_their_fields() {
    let import = import("contact_fields.csv", CONTACT_SPEC);
    let secondary = &import.contact(2).secondary;
    assert_eq!(secondary.len(), 1);
    assert_eq!(secondary[0].phone, "+442079460958");
    assert_eq!(
        secondary[0].fields.get("relation").map(String::as_str),
        Some("office")
    );

    let import = crate::support::import("secondary_phones.csv", "{}");
    let ann = import.contact(2);
    assert_eq!(ann.secondary.len(), 2);
    assert_eq!(ann.secondary[0].phone, "+442079460958");
    assert_eq!(
        ann.secondary[0].fields.get("name").map(String::as_str),
        Some("Office")
    );
    assert_eq!(ann.secondary[1].phone, "+14155552681");
    assert_eq!(ann.secondary[1].phone_raw, "(415) 555-2681 ext. 12");
    assert_eq!(ann.secondary[1].extension.as_deref(), Some("12"));
    assert_eq!(
        ann.secondary[1].fields.get("name").map(String::as_str),
        Some("Mum")
    );
    let only_second = import.contact(6);
    assert_eq!(only_second.secondary.len(), 1);
    assert_eq!(only_second.secondary[0].phone, "+14155552685");
    assert!(only_second.secondary[0].fields.is_empty());
}

#[test]
fn contact_serialises_without_empty_values() {
    let import = import("contact_fields.csv", CONTACT_SPEC);
    let json = serde_json::to_value(import.contact(3)).unwrap();
    assert_eq!(
        json,
        json!({
            "phone": "+14155552672",
            "phone_raw": "4155552672",
            "first_name": "Ann Marie",
            "last_name": "Smith",
            "tags": ["spring", "vip"]
        })
    );
}
