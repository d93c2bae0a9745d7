//! The exports people actually have: each exporter's column layout is
//! recognised with no spec, its names, emails, companies, addresses and
//! tags land in our fields, and every number of every phone column counts.
//! The fixtures in `tests/data/exporters/` follow each tool's documented
//! column list, with rows of our own.

use contact_import_core::Contact;
use serde_json::{json, Value};

use crate::support::{import, Import};

/// Every key of `expected` has that value in the stored contact.
fn assert_fields(contact: &Contact, expected: Value) {
    let stored = serde_json::to_value(contact).expect("a contact serialises");
    for (key, value) in expected.as_object().expect("an object of fields") {
        assert_eq!(&stored[key], value, "{key} of {stored}");
    }
}

/// The contact's numbers are these: the primary, then each secondary with its label.
#[track_caller]
fn assert_numbers(contact: &Contact, expected: &[(&str, &str)]) {
    assert_eq!(numbers(contact), pairs(expected));
}

/// The contact's numbers: the primary, then each secondary with its label.
fn numbers(contact: &Contact) -> Vec<(String, String)> {
    std::iter::once((contact.phone.clone(), "primary".to_owned()))
        .chain(contact.secondary.iter().map(|s| {
            let label = s.fields.get("label").cloned().unwrap_or_default();
            (s.phone.clone(), label)
        }))
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|&(phone, label)| (phone.to_owned(), label.to_owned()))
        .collect()
}

fn exporter(name: &str, layout: &str) -> Import {
    let import = import(&format!("exporters/{name}"), "{}");
    assert_eq!(import.plan.layout(), Some(layout), "{name}");
    import
}

#[test]
fn google_contacts_splits_its_cells_and_labels_each_number() {
    let import = exporter("google_contacts.csv", "Google Contacts");
    assert_eq!(
        import.summary(),
        [(2, "imported"), (3, "imported"), (4, "missing_phone")]
    );
    let ann = import.contact(2);
    assert_numbers(
        ann,
        &[
            ("+14155550101", "primary"),
            ("+14155550102", "Mobile"),
            ("+14155550103", "Work"),
        ],
    );
    assert_fields(
        ann,
        json!({
            "first_name": "Ann", "last_name": "Lee", "email": "ann@acme.example",
            "company": "Acme Corp", "address": "1 Market St", "city": "San Francisco",
            "state": "CA", "zip": "94105", "country": "United States",
            "tags": ["Customers"],
        }),
    );
    assert_eq!(ann.custom["email_others"], "ann.lee@home.example");
    assert_eq!(ann.custom["phone_label"], "Mobile");
    // Phone 1 is empty: Phone 2 is primary, and Phone 3 repeats it.
    let bob = import.contact(3);
    assert_numbers(bob, &[("+442079460958", "primary")]);
    assert_eq!(bob.custom["phone_label"], "Home");
    assert_eq!(bob.tags, ["starred"]);
    let cid = import.rejection(4);
    assert!(
        cid.message.contains("no phone column has a number"),
        "{}",
        cid.message
    );
}

#[test]
fn google_contacts_old_format_keeps_its_priority_words_as_text() {
    let import = exporter("google_contacts_old.csv", "Google Contacts (old format)");
    assert_eq!(
        import.summary(),
        [(2, "imported"), (3, "imported"), (4, "imported")]
    );
    let dana = import.contact(2);
    assert_numbers(
        dana,
        &[("+12127365000", "primary"), ("+19175550144", "Mobile")],
    );
    assert_fields(
        dana,
        json!({
            "first_name": "Dana", "last_name": "Reyes", "email": "dana@example.net",
            "company": "Reyes & Co", "city": "New York", "state": "NY", "zip": "10001",
            "tags": ["Leads"], "priority": null,
        }),
    );
    assert_eq!(dana.custom["priority"], "Normal");
    assert_eq!(dana.custom["phone_label"], "Work");
    assert_numbers(import.contact(3), &[("+13125550188", "primary")]);
    assert_numbers(
        import.contact(4),
        &[("+16505550111", "primary"), ("+16505550112", "Mobile")],
    );
}

#[test]
fn outlook_contact_with_only_a_home_phone_is_imported() {
    let import = exporter("outlook.csv", "Outlook");
    assert_eq!(
        import.summary(),
        [(2, "imported"), (3, "imported"), (4, "imported")]
    );
    let gus = import.contact(2);
    assert_eq!(
        numbers(gus),
        pairs(&[("+12065550124", "primary"), ("+12065550123", "Work")]),
        "mobile first; the fax is not a number to dial"
    );
    assert_fields(
        gus,
        json!({
            "first_name": "Gus", "last_name": "Hale", "email": "gus@hale.example",
            "company": "Hale Logistics", "address": "500 Pine St", "city": "Seattle",
            "state": "WA", "zip": "98101", "country": "United States",
            "tags": ["Clients", "VIP"], "priority": null,
        }),
    );
    assert_numbers(import.contact(3), &[("+15035550150", "primary")]);
    let jon = import.contact(4);
    assert_eq!(
        numbers(jon),
        pairs(&[("+17025550160", "primary")]),
        "the same number in two columns is kept once"
    );
    assert_eq!(jon.custom.get("home_phone"), None, "`n/a` is no number");
}

#[test]
fn apple_contacts_reads_its_one_word_phone_columns() {
    let import = exporter("apple_contacts.csv", "Apple Contacts");
    assert_eq!(
        import.summary(),
        [(2, "imported"), (3, "imported"), (4, "imported")]
    );
    let kim = import.contact(2);
    assert_numbers(
        kim,
        &[("+14155550171", "primary"), ("+14155550172", "Work")],
    );
    assert_fields(
        kim,
        json!({
            "company": "Nash Design", "email": "kim@nash.example", "address": "9 Elm St",
            "city": "Oakland", "state": "CA", "zip": "94607", "tags": ["Friends"],
        }),
    );
    assert_numbers(import.contact(3), &[("+14155550173", "primary")]);
    assert_numbers(
        import.contact(4),
        &[("+14155550175", "primary"), ("+14155550176", "Mobile")],
    );
}

#[test]
fn hubspot_record_ids_and_regions_map() {
    let import = exporter("hubspot.csv", "HubSpot");
    assert_eq!(
        import.summary(),
        [(2, "imported"), (3, "imported"), (4, "missing_phone")]
    );
    let ned = import.contact(2);
    assert_numbers(
        ned,
        &[("+16175550101", "primary"), ("+16175550102", "Mobile")],
    );
    assert_fields(
        ned,
        json!({
            "contact_id": "51", "email": "ned@quinn.example", "company": "Quinn Labs",
            "address": "77 Mass Ave", "city": "Boston", "state": "MA", "zip": "02139",
            "country": "United States",
        }),
    );
    assert_eq!(ned.custom["lifecycle_stage"], "lead");
    assert_numbers(import.contact(3), &[("+16175550103", "primary")]);
}

#[test]
fn salesforce_reports_and_data_loader_files_map() {
    let report = exporter("salesforce_report.csv", "Salesforce");
    assert_eq!(
        report.summary(),
        [(2, "imported"), (3, "imported"), (4, "missing_phone")]
    );
    let sam = report.contact(2);
    assert_numbers(
        sam,
        &[("+13125550120", "primary"), ("+13125550121", "Mobile")],
    );
    assert_fields(
        sam,
        json!({
            "contact_id": "0035e00000AbCdE", "company": "Ueda Foods", "address": "1 Wacker Dr",
            "city": "Chicago", "state": "IL", "zip": "60601", "country": "USA",
        }),
    );
    assert_numbers(report.contact(3), &[("+13125550122", "primary")]);

    let loader = exporter("salesforce_data_loader.csv", "Salesforce (Data Loader)");
    assert_eq!(
        loader.summary(),
        [(2, "imported"), (3, "imported"), (4, "imported")]
    );
    let vic = loader.contact(2);
    assert_numbers(
        vic,
        &[("+14045550130", "primary"), ("+14045550131", "Mobile")],
    );
    assert_fields(
        vic,
        json!({
            "contact_id": "0035e00000XyZ01", "first_name": "Vic", "last_name": "Yates",
            "email": "vic@yates.example", "address": "10 Peachtree St", "city": "Atlanta",
            "state": "GA", "zip": "30303", "country": "US",
        }),
    );
    assert_eq!(vic.custom["accountid"], "0015e00000Acc01");
    assert_numbers(loader.contact(3), &[("+14045550132", "primary")]);
    assert_numbers(loader.contact(4), &[("+14045550133", "primary")]);
}

#[test]
fn zoho_crm_maps_accounts_mailing_addresses_and_tags() {
    let import = exporter("zoho_crm.csv", "Zoho CRM");
    assert_eq!(
        import.summary(),
        [(2, "imported"), (3, "imported"), (4, "imported")]
    );
    let zed = import.contact(2);
    assert_numbers(
        zed,
        &[("+442079460100", "primary"), ("+447911123401", "Mobile")],
    );
    assert_fields(
        zed,
        json!({
            "contact_id": "zcrm_4876000000401", "company": "Cole Media", "email": "zed@cole.example",
            "address": "2 Strand", "city": "London", "zip": "WC2N 5HR",
            "country": "United Kingdom", "tags": ["Press", "Partner"],
        }),
    );
    assert_numbers(import.contact(3), &[("+447911123402", "primary")]);
    assert_numbers(import.contact(4), &[("+442079460103", "primary")]);
}

#[test]
fn pipedrive_columns_are_read_without_their_person_prefix() {
    let import = exporter("pipedrive.csv", "Pipedrive");
    assert_eq!(
        import.summary(),
        [(2, "imported"), (3, "imported"), (4, "missing_phone")]
    );
    let cal = import.contact(2);
    assert_numbers(
        cal,
        &[("+4915123456789", "primary"), ("+493012345678", "Work")],
    );
    assert_fields(
        cal,
        json!({
            "contact_id": "101", "first_name": "Cal", "last_name": "Frey",
            "company": "Frey GmbH", "email": "cal@frey.example", "tags": ["Hot lead"],
        }),
    );
    let dot = import.contact(3);
    assert_numbers(dot, &[("+49891234567", "primary")]);
    assert_fields(dot, json!({"first_name": "Dot", "last_name": "Gale"}));
}

#[test]
fn close_primary_and_other_phones_all_count() {
    let import = exporter("close.csv", "Close");
    assert_eq!(
        import.summary(),
        [(2, "imported"), (3, "imported"), (4, "missing_phone")]
    );
    let fin = import.contact(2);
    assert_numbers(
        fin,
        &[
            ("+17205550140", "primary"),
            ("+17205550141", "Other"),
            ("+17205550142", "Other"),
        ],
    );
    assert_fields(
        fin,
        json!({
            "contact_id": "cont_1a", "first_name": "Fin", "last_name": "Holt",
            "company": "Holt Roofing", "email": "fin@holt.example",
        }),
    );
    assert_eq!(fin.custom["phone_label"], "office");
    assert_numbers(import.contact(3), &[("+17205550143", "primary")]);
}

#[test]
fn apollo_text_markers_are_removed_from_every_phone() {
    let import = exporter("apollo.csv", "Apollo");
    assert_eq!(
        import.summary(),
        [(2, "imported"), (3, "imported"), (4, "imported")]
    );
    let ivy = import.contact(2);
    assert_numbers(
        ivy,
        &[
            ("+12127365000", "primary"),
            ("+19175550150", "Mobile"),
            ("+12127365001", "Direct"),
        ],
    );
    assert_eq!(ivy.phone_raw, "+1 212-736-5000");
    assert!(ivy
        .custom
        .values()
        .all(|v| !v.as_str().unwrap_or("").starts_with('\'')));
    assert_fields(
        ivy,
        json!({
            "contact_id": "64f0c0ffee01", "company": "Kahn Systems", "email": "ivy@kahn.example",
            "city": "New York", "tags": ["Q3 Outbound"],
        }),
    );
    assert_numbers(import.contact(3), &[("+16465550151", "primary")]);
    assert_numbers(import.contact(4), &[("+493012345678", "primary")]);
    let report = import.rejected();
    assert!(report.is_empty());
}

#[test]
fn zoominfo_prefers_the_mobile_then_the_direct_line() {
    let import = exporter("zoominfo.csv", "ZoomInfo");
    assert_eq!(
        import.summary(),
        [(2, "imported"), (3, "imported"), (4, "missing_phone")]
    );
    let lea = import.contact(2);
    assert_numbers(
        lea,
        &[
            ("+16175550161", "primary"),
            ("+16175550160", "Direct"),
            ("+16175550100", "Work"),
        ],
    );
    assert_fields(
        lea,
        json!({
            "contact_id": "1234567001", "email": "lea@nye.example", "company": "Nye Robotics",
            "address": "1 Main St", "city": "Cambridge", "state": "Massachusetts", "zip": "02142",
        }),
    );
    assert_numbers(import.contact(3), &[("+16175550101", "primary")]);
}

#[test]
fn linkedin_phone_numbers_cell_holds_two_numbers() {
    let import = exporter("linkedin_sales_navigator.csv", "LinkedIn Sales Navigator");
    assert_eq!(
        import.summary(),
        [(2, "imported"), (3, "imported"), (4, "missing_phone")]
    );
    let oda = import.contact(2);
    assert_numbers(
        oda,
        &[("+14085550170", "primary"), ("+14085550171", "Other")],
    );
    assert_fields(
        oda,
        json!({"company": "Quist AB", "email": "oda@quist.example", "first_name": "Oda"}),
    );
}

#[test]
fn mailchimp_tags_regions_and_time_zones_map() {
    let import = exporter("mailchimp.csv", "Mailchimp");
    assert_eq!(
        import.summary(),
        [(2, "imported"), (3, "imported"), (4, "missing_phone")]
    );
    let rex = import.contact(2);
    assert_numbers(rex, &[("+15125550180", "primary")]);
    assert_fields(
        rex,
        json!({
            "email": "rex@example.com", "address": "12 Oak Ave  Austin  TX  78701  US",
            "state": "TX", "country": "US", "timezone": "America/Chicago",
            "tags": ["Spring Promo", "VIP"],
        }),
    );
}

#[test]
fn a_plain_file_has_no_layout() {
    let import = import("utf8_commas.csv", "{}");
    assert_eq!(import.plan.layout(), None);
}

#[test]
fn vcards_of_each_version_import_with_every_number_and_the_card_in_the_report() {
    let v21 = exporter("../vcard_21.vcf", "vCard");
    assert_eq!(
        v21.summary(),
        [(2, "imported"), (3, "imported"), (4, "missing_phone")]
    );
    let jurgen = v21.contact(2);
    assert_numbers(
        jurgen,
        &[
            ("+14155550100", "primary"),
            ("+14155550101", "Work"),
            ("+14155550102", "Home"),
        ],
    );
    assert_fields(
        jurgen,
        json!({"first_name": "Jürgen", "last_name": "Müller", "email": "juergen.mueller@example.com"}),
    );
    assert_fields(
        v21.contact(3),
        json!({"first_name": "María", "company": "Example Tiles Ltd", "city": "Sevilla"}),
    );
    // The report line of a card without a number says where the card is
    // and shows it, so that the user can find and fix it.
    let nobody = v21.rejection(4);
    let shown = nobody.values.iter().collect::<Vec<_>>().join("\n");
    assert!(shown.contains("card 3, lines 25-"), "{shown}");
    assert!(shown.contains("FN:Nora Nobody"), "{shown}");
    assert!(
        v21.accepted()
            .iter()
            .all(|a| !a.contact.custom.contains_key("vcard")
                && !a.contact.custom.contains_key("card")),
        "the card's text is for the report, not a field"
    );

    let v30 = exporter("../vcard_30.vcf", "vCard");
    let johnny = v30.contact(2);
    assert_numbers(
        johnny,
        &[
            ("+14155550111", "primary"),
            ("+14155550110", "Mobile"),
            ("+14155550112", "Assistant"),
            ("+14155550113", "Main"),
        ],
    );
    assert_fields(
        johnny,
        json!({"company": "Example Orchard, Inc.", "city": "Cupertino", "tags": ["Customers", "VIP"]}),
    );

    let v40 = exporter("../vcard_40.vcf", "vCard");
    let amara = v40.contact(2);
    assert_eq!(amara.extension.as_deref(), Some("12"));
    assert_numbers(
        amara,
        &[
            ("+14155550121", "primary"),
            ("+14155550120", "Mobile"),
            ("+442079460960", "Home"),
        ],
    );
    assert_fields(amara, json!({"tags": ["Starred"], "zip": "94105"}));
}
