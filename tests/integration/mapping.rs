//! Headers: synonyms, folding, duplicates, spec mapping, refusals, custom
//! fields and the consent column.

use contact_import_core::rules::headers::Target;
use contact_import_core::rules::headers::{Field, PhoneKind};
use contact_import_core::rules::plan::MappingSource;
use contact_import_core::Refusal;

use crate::support::{import, import_bytes, refusal};

#[test]
fn header_synonyms_map_to_standard_fields() {
    let import = import("header_synonyms.csv", "{}");
    let expected = [
        ("Mobile Phone", Field::Phone),
        ("Given Name", Field::FirstName),
        ("Surname", Field::LastName),
        ("Email Address", Field::Email),
        ("Company", Field::Company),
        ("Address", Field::Address),
        ("City", Field::City),
        ("State", Field::State),
        ("Postal Code", Field::Zip),
        ("Country", Field::Country),
        ("Timezone", Field::Timezone),
        ("Tags", Field::Tags),
        ("External ID", Field::ContactId),
        ("Priority", Field::Priority),
        ("Scheduled At", Field::ScheduledAt),
        ("Data", Field::Data),
        ("Consent", Field::Consent),
    ];
    for (header, field) in expected {
        assert_eq!(
            import.target(header),
            (&Target::Field(field), MappingSource::Detected),
            "{header}"
        );
    }
    assert!(
        import.plan.custom_keys().is_empty(),
        "{:?}",
        import.plan.custom_keys()
    );
    let ann = import.contact(2);
    assert_eq!(ann.phone, "+14155552671");
    assert_eq!(ann.first_name.as_deref(), Some("Ann"));
    assert_eq!(ann.last_name.as_deref(), Some("Lee"));
    assert_eq!(ann.email.as_deref(), Some("ann@example.com"));
    assert_eq!(ann.zip.as_deref(), Some("94105"));
    assert_eq!(ann.contact_id.as_deref(), Some("crm-1"));
    assert_eq!(ann.priority, Some(2));
    assert_eq!(ann.scheduled_at.as_deref(), Some("2026-03-01T09:00:00Z"));
    assert_eq!(ann.data.as_ref().unwrap()["k"], 1);
}

#[test]
fn other_synonyms_map_too() {
    let import = import("header_synonyms_alt.csv", "{}");
    let expected = [
        ("Tel", Field::Phone),
        ("Firstname", Field::FirstName),
        ("Family Name", Field::LastName),
        ("E-mail", Field::Email),
        ("Zip", Field::Zip),
        ("CRM ID", Field::ContactId),
        ("scheduledAt", Field::ScheduledAt),
        ("Full Name", Field::Name),
        ("Opted In", Field::Consent),
    ];
    for (header, field) in expected {
        assert_eq!(import.target(header).0, &Target::Field(field), "{header}");
    }
    let ann = import.contact(2);
    assert_eq!(ann.phone, "+14155552671");
    assert_eq!(ann.contact_id.as_deref(), Some("crm-2"));
    assert_eq!(ann.scheduled_at.as_deref(), Some("2026-03-01T09:00:00Z"));
}

#[test]
fn case_spaces_underscores_and_hyphens_fold_alike() {
    let import = import("header_folding.csv", "{}");
    assert_eq!(
        import.facts.headers[0], "PHONE_NUMBER",
        "headers are trimmed"
    );
    let expected = [
        ("PHONE_NUMBER", Field::Phone),
        ("first-name", Field::FirstName),
        ("LAST_NAME", Field::LastName),
        ("e_mail", Field::Email),
        ("Contact-Id", Field::ContactId),
        ("SCHEDULED_AT", Field::ScheduledAt),
        ("postal_code", Field::Zip),
        ("Time-Zone", Field::Timezone),
    ];
    for (header, field) in expected {
        assert_eq!(import.target(header).0, &Target::Field(field), "{header}");
    }
    let ann = import.contact(2);
    assert_eq!(ann.email.as_deref(), Some("ann@example.com"));
    assert_eq!(ann.timezone.as_deref(), Some("Europe/London"));
    assert!(ann.custom.is_empty(), "{:?}", ann.custom);
}

#[test]
fn of_two_phone_columns_the_one_with_more_valid_numbers_wins() {
    let import = import("duplicate_phone_columns.csv", "{}");
    assert_eq!(import.target("Mobile").0, &Target::Field(Field::Phone));
    assert_eq!(
        import.target("Phone").0,
        &Target::Custom("phone".into()),
        "the loser stays a custom field"
    );
    let warnings = import.plan.warnings();
    assert!(
        warnings.iter().any(|w| w.contains(
            "`Phone` is named like a phone column but most of its values are not phone numbers"
        )),
        "a warning names the other column: {warnings:?}"
    );
    assert_eq!(
        import.summary(),
        [(2, "imported"), (3, "imported"), (4, "imported")]
    );
    assert_eq!(import.contact(2).phone, "+14155552671");
    assert_eq!(import.contact(2).custom["phone"], "n/a");
    assert_eq!(import.contact(4).phone, "+14155552673");
}

#[test]
fn spec_mapping_overrides_detection() {
    let spec =
        r#"{"mapping":{"Work Number":"phone","Lead Source":"custom:source","Notes":"ignore"}}"#;
    let import = import("spec_mapping.csv", spec);
    assert_eq!(
        import.target("Work Number"),
        (&Target::Field(Field::Phone), MappingSource::Spec)
    );
    assert_eq!(
        import.target("Lead Source"),
        (&Target::Custom("source".into()), MappingSource::Spec)
    );
    assert_eq!(
        import.target("Notes"),
        (&Target::Ignore, MappingSource::Spec)
    );
    // The other phone column still counts: its number is a secondary one.
    assert_eq!(
        import.target("Cell").0,
        &Target::AlternatePhone(PhoneKind::Mobile)
    );
    let contact = import.contact(2);
    assert_eq!(contact.phone, "+14155552671");
    assert_eq!(contact.secondary.len(), 1);
    assert_eq!(contact.secondary[0].phone, "+14155552681");
    assert_eq!(contact.secondary[0].fields["label"], "Mobile");
    assert_eq!(contact.custom["source"], "web");
    assert!(!contact.custom.contains_key("cell"), "{:?}", contact.custom);
    assert!(
        !contact.custom.contains_key("notes"),
        "{:?}",
        contact.custom
    );
}

#[test]
fn two_columns_mapped_to_one_field_are_refused_naming_both() {
    let refusal = refusal(
        "spec_mapping.csv",
        r#"{"mapping":{"Work Number":"phone","Cell":"phone"}}"#,
    );
    assert_eq!(
        refusal,
        Refusal::ConflictingMapping {
            target: "phone".into(),
            first: "Work Number".into(),
            second: "Cell".into(),
        }
    );
    let message = refusal.to_string();
    assert!(
        message.contains("`Work Number`") && message.contains("`Cell`"),
        "{message}"
    );
}

#[test]
fn mapping_a_header_that_is_not_in_the_file_is_refused() {
    let refusal = refusal("spec_mapping.csv", r#"{"mapping":{"Home":"phone"}}"#);
    assert_eq!(refusal.code(), "unknown_column");
    assert!(refusal.to_string().contains("`Home`"), "{refusal}");
}

#[test]
fn no_phone_column_is_refused_listing_headers_and_the_phone_like_column() {
    let refusal = refusal("no_phone_column.csv", "{}");
    assert!(
        matches!(refusal, Refusal::NoPhoneColumn { .. }),
        "{refusal:?}"
    );
    let message = refusal.to_string();
    assert!(
        message.contains("`Name`, `Digits`, `City`"),
        "lists the headers: {message}"
    );
    assert!(
        message.contains("column `Digits` looks like phone numbers"),
        "names the column: {message}"
    );
}

#[test]
fn no_phone_column_without_a_phone_like_column_says_to_add_one() {
    let refusal = refusal("no_phone_like_column.csv", "{}");
    assert_eq!(refusal.code(), "no_phone_column");
    let message = refusal.to_string();
    assert!(message.contains("`Name`, `City`"), "{message}");
    assert!(message.contains("add a column named phone"), "{message}");
    assert!(!message.contains("looks like phone numbers"), "{message}");
}

#[test]
fn empty_files_are_refused_as_empty() {
    for name in [
        "empty.csv",
        "whitespace_only.csv",
        "utf8_bom_only.csv",
        "utf16le_bom_only.txt",
    ] {
        let refusal = refusal(name, "{}");
        assert_eq!(refusal, Refusal::EmptyFile, "{name}");
        assert!(
            refusal.to_string().contains("the file is empty"),
            "{name}: {refusal}"
        );
    }
}

#[test]
fn header_without_data_rows_is_refused() {
    for name in ["header_only.csv", "header_then_blank_lines.csv"] {
        let refusal = refusal(name, "{}");
        assert_eq!(refusal, Refusal::NoDataRows, "{name}");
        assert!(
            refusal.to_string().contains("no data rows"),
            "{name}: {refusal}"
        );
    }
}

#[test]
fn unmapped_columns_become_snake_cased_custom_fields() {
    let import = import("unmapped_columns.csv", "{}");
    assert_eq!(
        import.plan.custom_keys(),
        ["lead_source", "insurance_type_2024", "notes"]
    );
    assert_eq!(import.target("Lead Source").1, MappingSource::Unmapped);
    let custom = &import.contact(2).custom;
    assert_eq!(custom["lead_source"], "web");
    assert_eq!(custom["insurance_type_2024"], "Gold Plus");
    assert_eq!(custom["notes"], "call after 5");
}

#[test]
fn unmapped_ignore_drops_unknown_columns() {
    let import = import("unmapped_columns.csv", r#"{"unmapped":"ignore"}"#);
    assert!(import.plan.custom_keys().is_empty());
    assert_eq!(
        import.target("Lead Source"),
        (&Target::Ignore, MappingSource::Unmapped)
    );
    assert!(
        import.contact(2).custom.is_empty(),
        "{:?}",
        import.contact(2).custom
    );
}

#[test]
fn consent_column_is_auto_detected() {
    let import = import("consent_auto.csv", "{}");
    assert_eq!(
        import.target("Opted In"),
        (&Target::Field(Field::Consent), MappingSource::Detected)
    );
    assert_eq!(import.summary(), [(2, "imported"), (3, "no_consent")]);
    assert_eq!(import.rejection(3).column.as_deref(), Some("Opted In"));
}

#[test]
fn consent_column_from_the_spec_wins_over_detection() {
    let import = import("consent_column.csv", r#"{"consent_column":"OK to call"}"#);
    assert_eq!(
        import.target("OK to call"),
        (&Target::Field(Field::Consent), MappingSource::Spec)
    );
    assert_eq!(import.target("Opt-In").0, &Target::Custom("opt_in".into()));
    assert_eq!(import.summary(), [(2, "imported"), (3, "no_consent")]);
    assert_eq!(import.rejection(3).column.as_deref(), Some("OK to call"));
    assert_eq!(import.contact(2).custom["opt_in"], "no");
}

#[test]
fn without_the_spec_key_the_detected_consent_column_is_used() {
    let import = import("consent_column.csv", "{}");
    assert_eq!(import.target("Opt-In").0, &Target::Field(Field::Consent));
    assert_eq!(import.summary(), [(2, "no_consent"), (3, "imported")]);
}

#[test]
fn every_phone_column_counts_with_the_primary_falling_back_in_order() {
    let file = "\
First Name,Mobile Phone,Business Phone,Home Phone,Other Phone
Ann,+14155552671,+1 415 555 2671,(415) 555-2672,
Bob,,,(415) 555-2673,
Cid,,,,
Dee,n/a,+14155552674,,+14155552675
Eve,+14155552676,,12345,
";
    let import = import_bytes(file.as_bytes(), "{}", &[]);
    assert_eq!(
        import.summary(),
        [
            (2, "imported"),
            (3, "imported"),
            (4, "missing_phone"),
            (5, "imported"),
            (6, "imported")
        ]
    );
    let secondary = |row: u64| -> Vec<(String, String)> {
        import
            .contact(row)
            .secondary
            .iter()
            .map(|s| (s.phone.clone(), s.fields["label"].clone()))
            .collect()
    };
    let ann = import.contact(2);
    assert_eq!(ann.phone, "+14155552671");
    // The business number repeats the mobile one: kept once.
    assert_eq!(
        secondary(2),
        [("+14155552672".to_owned(), "Home".to_owned())]
    );
    // A contact with only a home number is a contact.
    assert_eq!(import.contact(3).phone, "+14155552673");
    assert!(import.contact(3).secondary.is_empty());
    let dee = import.contact(5);
    assert_eq!(dee.phone, "+14155552674", "n/a holds no number");
    assert_eq!(
        secondary(5),
        [("+14155552675".to_owned(), "Other".to_owned())]
    );
    // A value that is no number cannot be dialled, and is kept as text.
    let eve = import.contact(6);
    assert!(eve.secondary.is_empty());
    assert_eq!(eve.custom["home_phone"], "12345");
    assert_eq!(
        import.rejection(4).message,
        "no phone column has a number (`Mobile Phone`, `Business Phone`, `Home Phone`, `Other Phone`)"
    );

    let work_first = import_bytes(file.as_bytes(), r#"{"phone_order": ["work", "home"]}"#, &[]);
    assert_eq!(work_first.contact(2).phone, "+14155552671");
    assert_eq!(
        work_first.target("Business Phone").0,
        &Target::Field(Field::Phone)
    );
    assert_eq!(work_first.contact(3).phone, "+14155552673");
}
