//! Standard contact fields and how spreadsheet headers are recognised as them.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::rules::echo::echo;

/// Secondary numbers per contact, as the leads importers in the field allow.
pub(crate) const MAX_SECONDARY_PHONES: u8 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Phone,
    FirstName,
    LastName,
    /// A full name, split into first and last where those are empty.
    Name,
    Email,
    Company,
    Address,
    City,
    State,
    Zip,
    Country,
    Timezone,
    Tags,
    ContactId,
    Priority,
    ScheduledAt,
    /// A JSON object of free custom values.
    Data,
    Consent,
}

impl Field {
    pub const ALL: [Field; 18] = [
        Field::Phone,
        Field::FirstName,
        Field::LastName,
        Field::Name,
        Field::Email,
        Field::Company,
        Field::Address,
        Field::City,
        Field::State,
        Field::Zip,
        Field::Country,
        Field::Timezone,
        Field::Tags,
        Field::ContactId,
        Field::Priority,
        Field::ScheduledAt,
        Field::Data,
        Field::Consent,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Field::Phone => "phone",
            Field::FirstName => "first_name",
            Field::LastName => "last_name",
            Field::Name => "name",
            Field::Email => "email",
            Field::Company => "company",
            Field::Address => "address",
            Field::City => "city",
            Field::State => "state",
            Field::Zip => "zip",
            Field::Country => "country",
            Field::Timezone => "timezone",
            Field::Tags => "tags",
            Field::ContactId => "contact_id",
            Field::Priority => "priority",
            Field::ScheduledAt => "scheduled_at",
            Field::Data => "data",
            Field::Consent => "consent",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|field| field.name() == name)
    }

    /// Header spellings that mean this field, in normalised form, best first.
    fn synonyms(self) -> &'static [&'static str] {
        match self {
            Field::Phone => &[
                "phone",
                "phone number",
                "mobile",
                "cell",
                "mobile phone",
                "telephone",
                "tel",
                "phonenumber",
                "mobile number",
                "cell phone",
                "telephone number",
                "primary phone",
                "contact number",
            ],
            Field::FirstName => &["first name", "firstname", "first", "given name", "forename"],
            Field::LastName => &["last name", "lastname", "surname", "family name", "last"],
            Field::Name => &["name", "full name", "fullname", "contact name"],
            Field::Email => &[
                "email",
                "email address",
                "e mail",
                "e mail address",
                "primary email",
            ],
            Field::Company => &[
                "company",
                "company name",
                "organization",
                "organisation",
                "organization name",
                "account name",
            ],
            Field::Address => &[
                "address",
                "street",
                "street address",
                "address line 1",
                "mailing street",
            ],
            Field::City => &["city", "town", "mailing city"],
            Field::State => &[
                "state",
                "province",
                "state province",
                "state/province",
                "state/region",
                "mailing state",
                "mailing state/province",
            ],
            Field::Zip => &[
                "zip",
                "postal code",
                "postcode",
                "zip code",
                "zipcode",
                "post code",
                "zip/postal code",
                "mailing zip",
                "mailing postal code",
                "mailing zip/postal code",
            ],
            Field::Country => &["country", "country/region", "mailing country"],
            Field::Timezone => &["timezone", "time zone", "tz"],
            Field::Tags => &["tags", "tag", "labels", "categories"],
            Field::ContactId => &[
                "contactid",
                "contact id",
                "external id",
                "crm id",
                "externalid",
                "record id",
            ],
            Field::Priority => &["priority"],
            Field::ScheduledAt => &["scheduledat", "scheduled at", "scheduled time"],
            Field::Data => &["data"],
            Field::Consent => &["consent", "opted in", "opt in", "optin", "consent given"],
        }
    }
}

/// Trims, folds case and treats space, `_` and `-` alike, so that
/// "First_Name", "first-name" and " FIRST NAME " compare equal.
pub(crate) fn normalise_header(header: &str) -> String {
    let mut out = String::with_capacity(header.len());
    for word in header
        .trim()
        .split(|c: char| c.is_whitespace() || c == '_' || c == '-')
        .filter(|word| !word.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    out
}

/// The custom-field key for a header: lower case, words joined by `_`.
pub(crate) fn custom_key(header: &str) -> String {
    let mut key = String::with_capacity(header.len());
    for c in header.trim().chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            key.push(c);
        } else if !key.is_empty() && !key.ends_with('_') {
            key.push('_');
        }
    }
    while key.ends_with('_') {
        key.pop();
    }
    key
}

/// What a phone column holds, as exports name it; the plan prefers some
/// kinds to others for the primary number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhoneKind {
    /// The file's own "phone" or "primary phone".
    Main,
    Mobile,
    Direct,
    Work,
    Home,
    Other,
}

impl PhoneKind {
    /// Every kind, in the order preferred for the primary number when the
    /// spec does not say: the file's own phone column, then the numbers
    /// that reach the person.
    pub const ALL: [PhoneKind; 6] = [
        PhoneKind::Main,
        PhoneKind::Mobile,
        PhoneKind::Direct,
        PhoneKind::Work,
        PhoneKind::Home,
        PhoneKind::Other,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PhoneKind::Main => "main",
            PhoneKind::Mobile => "mobile",
            PhoneKind::Direct => "direct",
            PhoneKind::Work => "work",
            PhoneKind::Home => "home",
            PhoneKind::Other => "other",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<PhoneKind> {
        PhoneKind::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// The label a secondary number of this kind carries.
    pub fn label(self) -> &'static str {
        match self {
            PhoneKind::Main => "Main",
            PhoneKind::Mobile => "Mobile",
            PhoneKind::Direct => "Direct",
            PhoneKind::Work => "Work",
            PhoneKind::Home => "Home",
            PhoneKind::Other => "Other",
        }
    }
}

/// Words that make a header a phone column.
const PHONE_WORDS: [&str; 8] = [
    "phone",
    "phones",
    "telephone",
    "tel",
    "mobile",
    "cell",
    "cellphone",
    "cellular",
];

/// Words that make a phone-ish header something else: a fax or pager
/// (never dialled), or a fact about the number rather than the number.
const NOT_A_NUMBER: [&str; 17] = [
    "fax",
    "pager",
    "ext",
    "extension",
    "type",
    "label",
    "code",
    "status",
    "opt",
    "optout",
    "consent",
    "dnc",
    "verified",
    "valid",
    "carrier",
    "country",
    "source",
];

/// The kind of phone number a header names, or None when it names none.
/// Words come apart at spaces, punctuation and camelCase, so that
/// `MobilePhone`, `Mobile Phone` and `Person - Phone - Mobile` read alike.
pub(crate) fn phone_kind(header: &str) -> Option<PhoneKind> {
    let words = header_words(header);
    let has = |candidates: &[&str]| words.iter().any(|w| candidates.contains(&w.as_str()));
    let named_phone = has(&PHONE_WORDS)
        || Field::Phone
            .synonyms()
            .contains(&normalise_header(header).as_str());
    if !named_phone || has(&NOT_A_NUMBER) {
        return None;
    }
    // "iPhone" comes apart at its camel case, so it is looked for whole.
    let iphone = normalise_header(header).contains("iphone");
    let kind = if iphone || has(&["mobile", "cell", "cellphone", "cellular"]) {
        PhoneKind::Mobile
    } else if has(&["direct"]) {
        PhoneKind::Direct
    } else if has(&["work", "business", "office", "corporate", "company", "hq"]) {
        PhoneKind::Work
    } else if has(&["home", "personal", "private"]) {
        PhoneKind::Home
    } else if words.iter().all(|w| {
        matches!(
            w.as_str(),
            "phone" | "telephone" | "tel" | "number" | "main" | "primary" | "contact"
        ) || w.bytes().all(|b| b.is_ascii_digit())
    }) {
        PhoneKind::Main
    } else {
        PhoneKind::Other
    };
    Some(kind)
}

/// A phone column's header without a last word that names the value
/// itself: `Phone 1 - Value` → `phone 1`, `primary_phone` → `primary phone`.
pub(crate) fn phone_stem(header: &str) -> Vec<String> {
    let mut words = header_words(header);
    if words.len() > 1 && matches!(words.last().map(String::as_str), Some("value" | "number")) {
        words.pop();
    }
    words
}

/// The stem of a label column's header (`Phone 1 - Label`, `Phone 1 - Type`,
/// `primary_phone_type`), or None when the header names no label.
pub(crate) fn label_stem(header: &str) -> Option<Vec<String>> {
    let mut words = header_words(header);
    match words.last().map(String::as_str) {
        Some("label" | "type") if words.len() > 1 => {
            words.pop();
            Some(words)
        }
        _ => None,
    }
}

/// A header's words, lower case: split at anything not a letter or digit,
/// and where a lower-case letter meets an upper-case one.
pub(crate) fn header_words(header: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut previous_lower = false;
    for c in header.chars() {
        if !c.is_alphanumeric() {
            previous_lower = false;
            if words.last().is_some_and(|w| !w.is_empty()) {
                words.push(String::new());
            }
            continue;
        }
        if (c.is_uppercase() && previous_lower) || words.is_empty() {
            words.push(String::new());
        }
        previous_lower = c.is_lowercase();
        words
            .last_mut()
            .expect("a word is open")
            .extend(c.to_lowercase());
    }
    words.retain(|w| !w.is_empty());
    words
}

/// What auto-detection makes of a header, with its rank among the synonyms
/// (0 is the plainest spelling), or None for a column it does not recognise.
/// Every phone column is found, with its kind; the plan chooses the primary.
pub(crate) fn detect_target(header: &str) -> Option<(Target, usize)> {
    let normalised = normalise_header(header);
    if let Some(target) = detect_secondary(&normalised) {
        return Some((target, 0));
    }
    if let Some(kind) = phone_kind(header) {
        let synonyms = Field::Phone.synonyms();
        let rank = synonyms
            .iter()
            .position(|s| *s == normalised)
            .unwrap_or(synonyms.len());
        return Some((Target::AlternatePhone(kind), rank));
    }
    Field::ALL
        .into_iter()
        .filter(|field| *field != Field::Phone)
        .find_map(|field| {
            let rank = field.synonyms().iter().position(|s| *s == normalised)?;
            Some((Target::Field(field), rank))
        })
}

/// `secondary_phone_N` and `secondary_N_<field>` columns: the names a spec
/// maps to, written with any separators, read by the spec's own grammar.
fn detect_secondary(normalised: &str) -> Option<Target> {
    secondary_target(&normalised.replace(' ', "_"))?.ok()
}

/// Where a column's values go.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Target {
    Field(Field),
    Custom(String),
    SecondaryPhone(u8),
    SecondaryField(u8, String),
    /// One more phone column: its number is the primary one when the
    /// primary column is empty, and a secondary number otherwise.
    AlternatePhone(PhoneKind),
    /// The label of the phone column named like it with `Value` for
    /// `Label` or `Type` (Google's `Phone 1 - Label`): the row's label for
    /// that column's numbers.
    PhoneLabel,
    Ignore,
}

impl TryFrom<String> for Target {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        let text = value.trim();
        match text {
            "ignore" => return Ok(Target::Ignore),
            "phone_label" => return Ok(Target::PhoneLabel),
            _ => {}
        }
        if let Some(key) = text
            .strip_prefix("custom:")
            .or_else(|| text.strip_prefix("cf:"))
        {
            let key = custom_key(key);
            return if key.is_empty() {
                Err(format!("`{}` has an empty custom key; write custom:<key>, for example custom:lead_source", echo(&value)))
            } else {
                Ok(Target::Custom(key))
            };
        }
        if let Some(field) = Field::from_name(text) {
            return Ok(Target::Field(field));
        }
        if let Some(kind) = text.strip_prefix("phone:") {
            return PhoneKind::from_name(kind)
                .map(Target::AlternatePhone)
                .ok_or_else(|| {
                    format!(
                        "`{}`: a phone column's kind is one of {}",
                        echo(&value),
                        phone_kinds()
                    )
                });
        }
        if let Some(target) = secondary_target(text) {
            return target;
        }
        Err(format!(
            "`{}` is not a field; expected one of {}, phone:<kind>, phone_label, secondary_phone_<n>, secondary_<n>_<key>, custom:<key> or ignore",
            echo(&value),
            Field::ALL.map(Field::name).join(", ")
        ))
    }
}

fn secondary_target(text: &str) -> Option<Result<Target, String>> {
    let rest = text.strip_prefix("secondary_")?;
    let check = |digits: &str| -> Result<u8, String> {
        match digits.parse::<u8>() {
            Ok(n) if (1..=MAX_SECONDARY_PHONES).contains(&n) => Ok(n),
            _ => Err(format!(
                "`{}`: secondary numbers go from 1 to {MAX_SECONDARY_PHONES}",
                echo(text)
            )),
        }
    };
    if let Some(digits) = rest.strip_prefix("phone_") {
        return Some(check(digits).map(Target::SecondaryPhone));
    }
    let (digits, key) = rest.split_once('_')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let key = custom_key(key);
    Some(check(digits).and_then(|n| {
        if key.is_empty() {
            Err(format!("`{}` has an empty field name", echo(text)))
        } else {
            Ok(Target::SecondaryField(n, key))
        }
    }))
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Field(field) => f.write_str(field.name()),
            Target::Custom(key) => write!(f, "custom:{key}"),
            Target::SecondaryPhone(n) => write!(f, "secondary_phone_{n}"),
            Target::SecondaryField(n, key) => write!(f, "secondary_{n}_{key}"),
            Target::AlternatePhone(kind) => write!(f, "phone:{}", kind.name()),
            Target::PhoneLabel => f.write_str("phone_label"),
            Target::Ignore => f.write_str("ignore"),
        }
    }
}

impl From<Target> for String {
    fn from(target: Target) -> Self {
        target.to_string()
    }
}

fn phone_kinds() -> String {
    PhoneKind::ALL.map(PhoneKind::name).join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalising_treats_separators_and_case_alike() {
        for header in ["First_Name", "first-name", "  FIRST   NAME ", "first name"] {
            assert_eq!(normalise_header(header), "first name");
        }
        assert_eq!(normalise_header("contactId"), "contactid");
    }

    #[test]
    fn synonyms_from_the_issue_are_detected() {
        let cases = [
            ("Given Name", Field::FirstName),
            ("Surname", Field::LastName),
            ("Family-Name", Field::LastName),
            ("Full Name", Field::Name),
            ("E-mail", Field::Email),
            ("Postal Code", Field::Zip),
            ("contactId", Field::ContactId),
            ("CRM ID", Field::ContactId),
            ("scheduledAt", Field::ScheduledAt),
            ("Opt-In", Field::Consent),
            ("Opted In", Field::Consent),
            ("Time Zone", Field::Timezone),
        ];
        for (header, field) in cases {
            assert_eq!(
                detect_target(header).map(|(t, _)| t),
                Some(Target::Field(field)),
                "{header}"
            );
        }
        assert_eq!(detect_target("Lead Source"), None);
    }

    #[test]
    fn plain_spelling_ranks_first() {
        assert_eq!(detect_target("phone").unwrap().1, 0);
        assert!(detect_target("cell").unwrap().1 > 0);
    }

    #[test]
    fn secondary_columns_are_detected() {
        assert_eq!(
            detect_target("secondary_phone_2").unwrap().0,
            Target::SecondaryPhone(2)
        );
        assert_eq!(
            detect_target("Secondary 1 Role").unwrap().0,
            Target::SecondaryField(1, "role".into())
        );
        // Past the numbered secondaries, still a phone column.
        assert_eq!(
            detect_target("secondary_phone_11").unwrap().0,
            Target::AlternatePhone(PhoneKind::Other)
        );
    }

    #[test]
    fn phone_columns_of_every_exporter_are_found_with_their_kind() {
        use PhoneKind::*;
        let cases = [
            ("phone", Some(Main)),
            ("Phone Number", Some(Main)),
            ("TEL", Some(Main)),
            ("Primary Phone", Some(Main)),
            ("Contact Number", Some(Main)),
            ("Mobile Phone", Some(Mobile)),
            ("iPhone", Some(Mobile)),
            ("MobilePhone", Some(Mobile)),
            ("Mobile Phone Number", Some(Mobile)),
            ("cell", Some(Mobile)),
            ("Person - Phone - Mobile", Some(Mobile)),
            ("Work Direct Phone", Some(Direct)),
            ("Direct Phone Number", Some(Direct)),
            ("Business Phone", Some(Work)),
            ("Business Phone 2", Some(Work)),
            ("Corporate Phone", Some(Work)),
            ("Company HQ Phone", Some(Work)),
            ("Person - Phone - Work", Some(Work)),
            ("Home Phone", Some(Home)),
            ("HomePhone", Some(Home)),
            ("Other Phone", Some(Other)),
            ("Assistant's Phone", Some(Other)),
            ("Business Fax", None),
            ("Pager", None),
            ("Phone Extension", None),
            ("Phone 1 - Type", None),
            ("Phone Opt-Out", None),
            ("Telegram", None),
            ("Hotel", None),
            ("Account Number", None),
        ];
        for (header, kind) in cases {
            assert_eq!(phone_kind(header), kind, "{header}");
        }
        assert_eq!(
            header_words("MobilePhone2 - Work"),
            ["mobile", "phone2", "work"]
        );
    }

    #[test]
    fn custom_keys_are_snake_case() {
        assert_eq!(custom_key("Lead Source"), "lead_source");
        assert_eq!(
            custom_key("  Insurance-Type (2024) "),
            "insurance_type_2024"
        );
        assert_eq!(custom_key("Código Postal"), "código_postal");
        assert_eq!(custom_key("***"), "");
    }
}
