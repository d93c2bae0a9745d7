//! The column layouts of the tools people export contacts from: address
//! books, CRMs, lead databases and mailing lists. A layout is recognised
//! by headers that only its tool writes together; it then says what the
//! columns mean where the generic header rules would read them wrong
//! (Outlook's `Priority` is "Normal", not a number) or not at all
//! (Google's `Phone 1 - Value`).

use crate::rules::headers::{normalise_header, Field, PhoneKind};

/// What a column of a recognised layout holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Meaning {
    Field(Field),
    Phone(PhoneKind),
    /// Kept as the spec's `unmapped` says, whatever its header looks like.
    Unmapped,
    /// Left out of contacts; still shown in the report.
    Ignore,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Layout {
    pub name: &'static str,
    /// Normalised headers that appear together in this tool's exports only.
    signature: &'static [&'static str],
    /// What the tool writes before its column names (`Person - `), in any case.
    prefixes: &'static [&'static str],
    /// Normalised headers, after the prefix, whose meaning the generic rules
    /// miss; `#` stands for any number.
    columns: &'static [(&'static str, Meaning)],
}

use Meaning::{Field as F, Phone as P};

/// Google's numbered columns, in both of its export formats and in the
/// CSV a vCard file becomes.
const GOOGLE_COLUMNS: &[(&str, Meaning)] = &[
    ("phone 1 value", P(PhoneKind::Main)),
    ("phone # value", P(PhoneKind::Other)),
    ("e mail 1 value", F(Field::Email)),
    ("organization 1 name", F(Field::Company)),
    ("address 1 street", F(Field::Address)),
    ("address 1 city", F(Field::City)),
    ("address 1 region", F(Field::State)),
    ("address 1 postal code", F(Field::Zip)),
    ("address 1 country", F(Field::Country)),
    ("group membership", F(Field::Tags)),
    ("priority", Meaning::Unmapped),
];

/// Every layout, most specific first where their signatures overlap.
pub(crate) const LAYOUTS: &[Layout] = &[
    Layout {
        name: "vCard",
        signature: &["card", "vcard", "phone 1 label", "phone 1 value"],
        prefixes: &[],
        columns: &[
            ("card", Meaning::Ignore),
            ("vcard", Meaning::Ignore),
            ("phone 1 value", P(PhoneKind::Main)),
            ("phone # value", P(PhoneKind::Other)),
            ("e mail 1 value", F(Field::Email)),
            ("address 1 street", F(Field::Address)),
            ("address 1 city", F(Field::City)),
            ("address 1 region", F(Field::State)),
            ("address 1 postal code", F(Field::Zip)),
            ("address 1 country", F(Field::Country)),
        ],
    },
    Layout {
        name: "Google Contacts",
        signature: &["phone 1 label", "phone 1 value"],
        prefixes: &[],
        columns: GOOGLE_COLUMNS,
    },
    Layout {
        name: "Google Contacts (old format)",
        signature: &["group membership", "phone 1 type", "phone 1 value"],
        prefixes: &[],
        columns: GOOGLE_COLUMNS,
    },
    Layout {
        name: "Outlook",
        signature: &[
            "e mail address",
            "business phone",
            "home phone",
            "mobile phone",
        ],
        prefixes: &[],
        columns: &[
            ("priority", Meaning::Unmapped),
            ("business street", F(Field::Address)),
            ("business city", F(Field::City)),
            ("business state", F(Field::State)),
            ("business postal code", F(Field::Zip)),
            ("business country/region", F(Field::Country)),
        ],
    },
    Layout {
        name: "Apple Contacts",
        signature: &["iphone", "home email"],
        prefixes: &[],
        columns: &[
            ("main", P(PhoneKind::Main)),
            ("work", P(PhoneKind::Work)),
            ("home", P(PhoneKind::Home)),
            ("other", P(PhoneKind::Other)),
            ("home email", F(Field::Email)),
            ("home street", F(Field::Address)),
            ("home city", F(Field::City)),
            ("home state", F(Field::State)),
            ("home zip", F(Field::Zip)),
            ("home country", F(Field::Country)),
            ("group", F(Field::Tags)),
        ],
    },
    Layout {
        name: "HubSpot",
        signature: &["record id", "lifecycle stage"],
        prefixes: &[],
        columns: &[],
    },
    Layout {
        name: "Salesforce (Data Loader)",
        signature: &["accountid", "mailingpostalcode"],
        prefixes: &[],
        columns: &[
            ("id", F(Field::ContactId)),
            ("accountid", Meaning::Unmapped),
            ("mailingstreet", F(Field::Address)),
            ("mailingcity", F(Field::City)),
            ("mailingstate", F(Field::State)),
            ("mailingpostalcode", F(Field::Zip)),
            ("mailingcountry", F(Field::Country)),
        ],
    },
    Layout {
        name: "Salesforce",
        signature: &["account name", "mailing zip/postal code"],
        prefixes: &[],
        columns: &[],
    },
    Layout {
        name: "Zoho CRM",
        signature: &["record id", "account name", "mailing zip"],
        prefixes: &[],
        columns: &[],
    },
    Layout {
        name: "Pipedrive",
        signature: &["person name", "person organization"],
        prefixes: &["Person - "],
        columns: &[("email work", F(Field::Email)), ("id", F(Field::ContactId))],
    },
    Layout {
        name: "Close",
        signature: &["lead id", "primary phone type"],
        prefixes: &[],
        columns: &[
            ("id", F(Field::ContactId)),
            ("lead display name", F(Field::Company)),
            ("lead id", Meaning::Unmapped),
        ],
    },
    Layout {
        name: "Apollo",
        signature: &["work direct phone", "corporate phone"],
        prefixes: &[],
        columns: &[
            ("first phone", P(PhoneKind::Main)),
            ("apollo contact id", F(Field::ContactId)),
            ("lists", F(Field::Tags)),
        ],
    },
    Layout {
        name: "ZoomInfo",
        signature: &["zoominfo contact id"],
        prefixes: &["Person "],
        columns: &[("zoominfo contact id", F(Field::ContactId))],
    },
    Layout {
        name: "LinkedIn Sales Navigator",
        signature: &["sales navigator url"],
        prefixes: &[],
        columns: &[],
    },
    Layout {
        name: "Mailchimp",
        signature: &["member rating", "leid"],
        prefixes: &[],
        columns: &[
            ("cc", F(Field::Country)),
            ("region", F(Field::State)),
            ("leid", Meaning::Unmapped),
        ],
    },
];

impl Layout {
    /// The header without the tool's prefix, as written.
    pub fn strip_prefix<'h>(&self, header: &'h str) -> &'h str {
        let trimmed = header.trim();
        self.prefixes
            .iter()
            .find_map(|prefix| {
                let head = trimmed.get(..prefix.len())?;
                head.eq_ignore_ascii_case(prefix)
                    .then(|| &trimmed[prefix.len()..])
            })
            .unwrap_or(trimmed)
    }

    /// What the column means in this layout, where the generic rules miss it.
    pub(crate) fn meaning(&self, header: &str) -> Option<Meaning> {
        let normalised = normalise_header(self.strip_prefix(header));
        let numbered = numbers_as_hash(&normalised);
        self.columns
            .iter()
            .find(|(name, _)| *name == normalised)
            .or_else(|| self.columns.iter().find(|(name, _)| *name == numbered))
            .map(|&(_, meaning)| meaning)
    }
}

/// `phone 2 value` → `phone # value`.
fn numbers_as_hash(normalised: &str) -> String {
    let mut out = String::with_capacity(normalised.len());
    for c in normalised.chars() {
        if !c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('#') {
            out.push('#');
        }
    }
    out
}

/// The layout whose signature the headers hold; the most specific one
/// when several do.
pub fn recognise(headers: &[String]) -> Option<&'static Layout> {
    let present: Vec<String> = headers.iter().map(|h| normalise_header(h)).collect();
    LAYOUTS
        .iter()
        .filter(|layout| {
            layout
                .signature
                .iter()
                .all(|name| present.iter().any(|h| h == name))
        })
        .min_by_key(|layout| std::cmp::Reverse(layout.signature.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(names: &[&str]) -> Vec<String> {
        names.iter().map(|&n| n.to_owned()).collect()
    }

    #[test]
    fn each_layout_is_recognised_by_its_own_signature_only() {
        for layout in LAYOUTS {
            let names: Vec<String> = layout.signature.iter().map(|&n| n.to_owned()).collect();
            assert_eq!(recognise(&names).map(|l| l.name), Some(layout.name));
        }
        assert_eq!(recognise(&headers(&["phone", "first_name", "email"])), None);
    }

    #[test]
    fn numbered_and_prefixed_columns_take_their_layout_meaning() {
        let google = recognise(&headers(&["Phone 1 - Label", "Phone 1 - Value"])).unwrap();
        assert_eq!(google.meaning("Phone 1 - Value"), Some(P(PhoneKind::Main)));
        assert_eq!(
            google.meaning("Phone 12 - Value"),
            Some(P(PhoneKind::Other))
        );
        assert_eq!(google.meaning("Phone 1 - Label"), None);
        let pipedrive = recognise(&headers(&["Person - Name", "Person - Organization"])).unwrap();
        assert_eq!(
            pipedrive.strip_prefix("person - Email - Work"),
            "Email - Work"
        );
        assert_eq!(
            pipedrive.meaning("Person - Email - Work"),
            Some(F(Field::Email))
        );
        assert_eq!(pipedrive.strip_prefix("Deal - Title"), "Deal - Title");
    }
}
