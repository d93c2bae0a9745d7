//! The import spec: what the user asks of one import, read from JSON.
//!
//! Every key is optional; unknown keys and bad values are refused with an
//! error that names the key and, where there is a fixed set, the allowed values.

use std::collections::BTreeMap;

use rlibphonenumber::{Region, PHONE_NUMBER_UTIL};
use serde::{Deserialize, Serialize};

use crate::rules::echo::echo;
use crate::rules::headers::{custom_key, PhoneKind, Target};

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(default)]
    pub destination: Destination,
    #[serde(default)]
    pub duplicates: DuplicateMode,
    #[serde(default)]
    pub default_country: Country,
    /// Header → target, overriding auto-detection for that column.
    #[serde(default)]
    pub mapping: BTreeMap<String, Target>,
    #[serde(default)]
    pub unmapped: Unmapped,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent_column: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// The tenant's typed custom fields, by custom key.
    #[serde(default)]
    pub fields: BTreeMap<String, FieldRule>,
    /// The order in which phone columns are preferred for the primary
    /// number; kinds left out come after, in the default order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phone_order: Vec<PhoneKind>,
}

impl ImportSpec {
    /// Where a kind of phone column stands in the preference (0 first).
    pub(crate) fn phone_preference(&self, kind: PhoneKind) -> usize {
        self.phone_order
            .iter()
            .chain(
                PhoneKind::ALL
                    .iter()
                    .filter(|k| !self.phone_order.contains(k)),
            )
            .position(|k| *k == kind)
            .expect("every kind is in the default order")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", try_from = "DestinationKeys")]
pub enum Destination {
    /// An outbound campaign.
    Campaign { id: String },
    /// An inbound agent's contact lookup.
    Agent { id: String },
    /// The tenant-wide contacts.
    #[default]
    Contacts,
    /// A new dial list.
    List { name: String, dial_mode: DialMode },
}

/// The destination as written, read flat so that errors keep their key path.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DestinationKeys {
    #[serde(rename = "type")]
    kind: DestinationKind,
    id: Option<String>,
    name: Option<String>,
    dial_mode: Option<DialMode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum DestinationKind {
    Campaign,
    Agent,
    Contacts,
    List,
}

impl TryFrom<DestinationKeys> for Destination {
    type Error = String;

    fn try_from(keys: DestinationKeys) -> Result<Self, Self::Error> {
        let unexpected =
            |key: &str, kind: &str| format!("`{key}` does not apply to a {kind} destination");
        match keys {
            DestinationKeys {
                kind: DestinationKind::Campaign | DestinationKind::Agent,
                name: Some(_),
                ..
            } => Err(unexpected("name", "campaign or agent")),
            DestinationKeys {
                kind: DestinationKind::Campaign | DestinationKind::Agent,
                dial_mode: Some(_),
                ..
            } => Err(unexpected("dial_mode", "campaign or agent")),
            DestinationKeys {
                kind: DestinationKind::Campaign,
                id,
                ..
            } => id
                .map(|id| Destination::Campaign { id })
                .ok_or_else(|| "a campaign destination needs an `id`".to_owned()),
            DestinationKeys {
                kind: DestinationKind::Agent,
                id,
                ..
            } => id
                .map(|id| Destination::Agent { id })
                .ok_or_else(|| "an agent destination needs an `id`".to_owned()),
            DestinationKeys {
                kind: DestinationKind::Contacts,
                id: None,
                name: None,
                dial_mode: None,
            } => Ok(Destination::Contacts),
            DestinationKeys {
                kind: DestinationKind::Contacts,
                ..
            } => Err("a contacts destination takes no `id`, `name` or `dial_mode`".to_owned()),
            DestinationKeys {
                kind: DestinationKind::List,
                id: Some(_),
                ..
            } => Err(unexpected("id", "list")),
            DestinationKeys {
                kind: DestinationKind::List,
                name,
                dial_mode,
                ..
            } => match (name, dial_mode) {
                (Some(name), Some(dial_mode)) => Ok(Destination::List { name, dial_mode }),
                _ => Err(
                    "a list destination needs a `name` and a `dial_mode` (ai or manual)".to_owned(),
                ),
            },
        }
    }
}

impl Destination {
    /// The scope inside a tenant within which a phone number is unique.
    pub fn scope(&self) -> String {
        match self {
            Destination::Campaign { id } => format!("campaign:{id}"),
            Destination::Agent { id } => format!("agent:{id}"),
            Destination::Contacts => "contacts".to_owned(),
            Destination::List { name, .. } => format!("list:{name}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DialMode {
    Ai,
    Manual,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DuplicateMode {
    /// A number already in the destination is skipped.
    #[default]
    Skip,
    /// The existing contact is refreshed: file values win, tags are merged.
    Update,
    /// Always a new contact, as outbound campaigns allow.
    Create,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unmapped {
    /// Unmapped columns become custom fields keyed by their normalised header.
    #[default]
    Custom,
    Ignore,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldRule {
    #[serde(rename = "type")]
    pub kind: FieldKind,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_len: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldKind {
    Text,
    Number,
    Boolean,
    Date,
}

impl FieldKind {
    pub fn name(self) -> &'static str {
        match self {
            FieldKind::Text => "text",
            FieldKind::Number => "number",
            FieldKind::Boolean => "boolean",
            FieldKind::Date => "date",
        }
    }
}

/// The region used for numbers written without a country code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Country {
    code: [u8; 2],
}

impl Country {
    pub fn region(self) -> Region {
        self.as_str()
            .parse()
            .expect("a Country is only built from a supported region")
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.code).expect("country codes are ASCII")
    }
}

impl Default for Country {
    fn default() -> Self {
        Country { code: *b"US" }
    }
}

impl TryFrom<String> for Country {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        let upper = value.trim().to_ascii_uppercase();
        let supported = upper.len() == 2
            && upper
                .parse::<Region>()
                .ok()
                .and_then(|region| PHONE_NUMBER_UTIL.get_country_code_for_region(region))
                .is_some();
        if !supported {
            return Err(format!(
                "`{}` is not a supported ISO 3166 alpha-2 country code (for example US, GB, DE, FR, ES, IT, BR, IN)",
                echo(&value)
            ));
        }
        let bytes = upper.as_bytes();
        Ok(Country {
            code: [bytes[0], bytes[1]],
        })
    }
}

impl From<Country> for String {
    fn from(country: Country) -> Self {
        country.as_str().to_owned()
    }
}

/// A spec the importer cannot use, with the key at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("import spec: {key}: {message}")]
pub struct SpecError {
    pub key: String,
    pub message: String,
}

impl SpecError {
    fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        SpecError {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl ImportSpec {
    /// Reads and checks a spec: exactly one JSON object, with or without a
    /// UTF-8 byte order mark (Windows editors save one). The error names the
    /// key at fault.
    pub fn from_json(text: &str) -> Result<ImportSpec, SpecError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        // serde reads a struct from an array too, so `[]` would pass as the
        // default spec: the shape is checked first.
        if let Some(found) = not_an_object(text) {
            return Err(SpecError::new(
                TOP_LEVEL,
                format!("the spec is {found}; write one JSON object such as {{\"duplicates\": \"skip\"}}, or {{}} for the defaults"),
            ));
        }
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let spec: ImportSpec =
            serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
                let key = key_path(e.path());
                let message = bounded(&e.inner().to_string());
                // serde_json appends " at line L column C"; the key is a better pointer.
                let message = match message.rfind(" at line ") {
                    Some(cut) => message[..cut].to_owned(),
                    None => message,
                };
                SpecError::new(key, message)
            })?;
        // Without this, whatever follows the object (a second one, a stray
        // brace) would be ignored.
        deserializer.end().map_err(|_| {
            SpecError::new(
                TOP_LEVEL,
                "there is more after the spec's JSON object; a spec is exactly one object: \
                 remove what follows its closing brace",
            )
        })?;
        spec.validate()?;
        Ok(spec)
    }

    /// Checks what serde cannot: identifiers, tags and field rules.
    pub fn validate(&self) -> Result<(), SpecError> {
        if let Some(tenant) = &self.tenant {
            check_identifier("tenant", tenant)?;
        }
        match &self.destination {
            Destination::Campaign { id } | Destination::Agent { id } => {
                check_identifier("destination.id", id)?
            }
            Destination::List { name, .. } => {
                let name = name.trim();
                if name.is_empty()
                    || name.chars().count() > 200
                    || name.chars().any(char::is_control)
                {
                    return Err(SpecError::new(
                        "destination.name",
                        "a list name is 1 to 200 printable characters",
                    ));
                }
            }
            Destination::Contacts => {}
        }
        if let Some((i, kind)) = self
            .phone_order
            .iter()
            .enumerate()
            .find(|(i, kind)| self.phone_order[..*i].contains(kind))
        {
            return Err(SpecError::new(
                format!("phone_order[{i}]"),
                format!("`{}` is listed twice; list each kind once", kind.name()),
            ));
        }
        if let Some(tag) = self.tags.iter().find(|tag| tag.trim().is_empty()) {
            return Err(SpecError::new(
                "tags",
                format!(
                    "`{tag}` is empty; remove it or give it a name",
                    tag = echo(tag)
                ),
            ));
        }
        for (key, rule) in &self.fields {
            let normalised = custom_key(key);
            if normalised != *key {
                return Err(SpecError::new(
                    format!("fields.{}", echo(key)),
                    format!(
                        "custom keys are lower case letters, digits and _; write `{}`",
                        echo(&normalised)
                    ),
                ));
            }
            if rule.max_len == Some(0) {
                return Err(SpecError::new(
                    format!("fields.{}.max_len", echo(key)),
                    "max_len must be at least 1",
                ));
            }
        }
        if let Some(column) = &self.consent_column {
            if column.trim().is_empty() {
                return Err(SpecError::new(
                    "consent_column",
                    "an empty header; name the consent column or leave the key out",
                ));
            }
        }
        Ok(())
    }
}

/// How a [`SpecError`] names the spec as a whole.
const TOP_LEVEL: &str = "(top level)";

/// What a spec's text is when it is not a JSON object, in words.
fn not_an_object(text: &str) -> Option<&'static str> {
    let found = match text.trim_start().chars().next()? {
        '{' => return None,
        '[' => "a JSON array",
        '"' => "a JSON string",
        '-' | '0'..='9' => "a JSON number",
        't' | 'f' => "a JSON boolean",
        'n' => "JSON null",
        _ => "not JSON",
    };
    Some(found)
}

/// The key path of a serde error, `mapping.Mobile` or `tags[2]`, with the
/// keys a user wrote (headers, custom keys) echoed bounded.
fn key_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut key = String::new();
    for segment in path {
        if !key.is_empty() && !matches!(segment, Segment::Seq { .. }) {
            key.push('.');
        }
        match segment {
            Segment::Seq { index } => key.push_str(&format!("[{index}]")),
            Segment::Map { key: name } | Segment::Enum { variant: name } => {
                key.push_str(&echo(name))
            }
            Segment::Unknown => key.push('?'),
        }
    }
    if key.is_empty() {
        TOP_LEVEL.to_owned()
    } else {
        key
    }
}

/// serde's message with the value it repeats echoed bounded. serde repeats
/// a value whole in three shapes: ``unknown field `V`, expected …``,
/// ``unknown variant `V`, …`` and `invalid type: string "V", expected …`;
/// the value ends where serde's own words resume, found from the end, so a
/// quote inside the value cannot mislead it.
fn bounded(message: &str) -> String {
    const SHAPES: [(&str, &[&str]); 3] = [
        ("unknown field `", &["`, expected ", "`, there are no "]),
        ("unknown variant `", &["`, expected ", "`, there are no "]),
        ("string \"", &["\", expected "]),
    ];
    for (opening, closings) in SHAPES {
        let Some(start) = message.find(opening).map(|at| at + opening.len()) else {
            continue;
        };
        let end = closings
            .iter()
            .filter_map(|closing| message.rfind(closing))
            .filter(|&end| end >= start)
            .max();
        if let Some(end) = end {
            return format!(
                "{}{}{}",
                &message[..start],
                echo(&message[start..end]),
                &message[end..]
            );
        }
    }
    message.to_owned()
}

/// Tenants and destination ids end up inside storage keys and file paths,
/// so they are kept to a character set that cannot forge another key, and
/// no dot leads: `.`, `..` and hidden names are path tricks, not names.
pub fn check_identifier(key: &str, value: &str) -> Result<(), SpecError> {
    let ok = !value.is_empty()
        && value.len() <= 128
        && !value.starts_with('.')
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(SpecError::new(
            key,
            format!(
                "`{}` must be 1 to 128 characters among letters, digits, '-', '_' and '.', \
                 and not start with '.'",
                echo(value)
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::echo::ECHO_CHARS;
    use crate::rules::headers::Field;

    fn error_of(json: &str) -> SpecError {
        ImportSpec::from_json(json).expect_err("spec should be refused")
    }

    #[test]
    fn empty_spec_takes_every_default() {
        let spec = ImportSpec::from_json("{}").unwrap();
        assert_eq!(spec.destination, Destination::Contacts);
        assert_eq!(spec.duplicates, DuplicateMode::Skip);
        assert_eq!(spec.default_country.as_str(), "US");
        assert_eq!(spec.unmapped, Unmapped::Custom);
        assert!(spec.tenant.is_none() && spec.tags.is_empty() && spec.mapping.is_empty());
    }

    #[test]
    fn full_spec_reads_every_key() {
        let spec = ImportSpec::from_json(
            r#"{"tenant":"acme","destination":{"type":"list","name":"Spring leads","dial_mode":"manual"},
                "duplicates":"update","default_country":"gb","mapping":{"Mobile":"phone","Src":"cf:Lead Source","Old":"ignore","Alt":"secondary_phone_2","Alt name":"secondary_2_name"},
                "unmapped":"ignore","consent_column":"OK to call","tags":["spring"],
                "fields":{"lead_source":{"type":"text","required":true,"max_len":20}}}"#,
        )
        .unwrap();
        assert_eq!(spec.default_country.as_str(), "GB");
        assert_eq!(spec.mapping["Mobile"], Target::Field(Field::Phone));
        assert_eq!(spec.mapping["Src"], Target::Custom("lead_source".into()));
        assert_eq!(spec.mapping["Alt"], Target::SecondaryPhone(2));
        assert_eq!(
            spec.mapping["Alt name"],
            Target::SecondaryField(2, "name".into())
        );
        assert_eq!(spec.destination.scope(), "list:Spring leads");
        assert_eq!(spec.fields["lead_source"].max_len, Some(20));
    }

    #[test]
    fn unknown_top_level_key_is_named() {
        let e = error_of(r#"{"dupes":"skip"}"#);
        assert!(e.to_string().contains("`dupes`"), "{e}");
        assert!(
            e.to_string().contains("duplicates"),
            "lists allowed keys: {e}"
        );
    }

    #[test]
    fn bad_enum_value_names_key_and_allowed_values() {
        let e = error_of(r#"{"duplicates":"merge"}"#);
        assert_eq!(e.key, "duplicates");
        assert!(
            e.message.contains("skip")
                && e.message.contains("update")
                && e.message.contains("create"),
            "{e}"
        );
        let e = error_of(r#"{"destination":{"type":"list","name":"x","dial_mode":"robot"}}"#);
        assert_eq!(e.key, "destination.dial_mode");
        assert!(
            e.message.contains("ai") && e.message.contains("manual"),
            "{e}"
        );
    }

    #[test]
    fn destination_needs_the_keys_of_its_type() {
        let e = error_of(r#"{"destination":{"type":"campaign"}}"#);
        assert_eq!(e.key, "destination");
        assert!(e.message.contains("needs an `id`"), "{e}");
        let e = error_of(r#"{"destination":{"type":"list","name":"x"}}"#);
        assert!(e.message.contains("dial_mode"), "{e}");
        let e = error_of(r#"{"destination":{"type":"group","id":"x"}}"#);
        assert_eq!(e.key, "destination.type");
        assert!(
            e.message.contains("campaign") && e.message.contains("list"),
            "{e}"
        );
        let spec = ImportSpec::from_json(r#"{"destination":{"type":"agent","id":"a1"}}"#).unwrap();
        assert_eq!(
            serde_json::to_value(&spec.destination).unwrap(),
            serde_json::json!({"type":"agent","id":"a1"})
        );
    }

    #[test]
    fn unknown_key_inside_destination_is_refused() {
        let e = error_of(r#"{"destination":{"type":"campaign","id":"c1","colour":"red"}}"#);
        assert!(e.to_string().contains("colour"), "{e}");
    }

    #[test]
    fn bad_country_and_bad_target_are_explained() {
        let e = error_of(r#"{"default_country":"XX"}"#);
        assert_eq!(e.key, "default_country");
        assert!(e.message.contains("ISO 3166"), "{e}");
        let e = error_of(r#"{"mapping":{"Tel":"phon"}}"#);
        assert_eq!(e.key, "mapping.Tel");
        assert!(
            e.message.contains("first_name") && e.message.contains("custom:<key>"),
            "{e}"
        );
        let e = error_of(r#"{"mapping":{"Alt":"secondary_phone_11"}}"#);
        assert!(e.message.contains("1 to 10"), "{e}");
    }

    #[test]
    fn identifiers_cannot_forge_keys() {
        let e = error_of(r##"{"destination":{"type":"campaign","id":"c1#tenant#other"}}"##);
        assert_eq!(e.key, "destination.id");
        let e = error_of(r#"{"tenant":"../other"}"#);
        assert_eq!(e.key, "tenant");
    }

    #[test]
    fn identifiers_are_not_dot_names() {
        for bad in [".", "..", ".hidden"] {
            let e = error_of(&format!(r#"{{"tenant":"{bad}"}}"#));
            assert_eq!(e.key, "tenant");
            assert!(e.message.contains("not start with '.'"), "{e}");
            let e = error_of(&format!(
                r#"{{"destination":{{"type":"campaign","id":"{bad}"}}}}"#
            ));
            assert_eq!(e.key, "destination.id", "{bad}");
        }
        assert!(check_identifier("tenant", "acme.eu-1").is_ok());
    }

    #[test]
    fn a_byte_order_mark_is_accepted() {
        let spec = ImportSpec::from_json("\u{feff}{\"duplicates\": \"update\"}").unwrap();
        assert_eq!(spec.duplicates, DuplicateMode::Update);
    }

    #[test]
    fn a_spec_is_exactly_one_object() {
        for (text, says) in [
            ("[]", "the spec is a JSON array"),
            ("\"skip\"", "the spec is a JSON string"),
            ("42", "the spec is a JSON number"),
            ("null", "the spec is JSON null"),
            ("duplicates: skip", "the spec is not JSON"),
            (r#"{"duplicates":"skip"} trailing"#, "there is more after"),
            ("{}{}", "there is more after"),
            ("{}\n}", "there is more after"),
        ] {
            let e = error_of(text);
            assert_eq!(e.key, "(top level)", "{text}");
            assert!(e.message.starts_with(says), "{text}: {e}");
        }
        let e = error_of("");
        assert_eq!(e.key, "(top level)");
        assert!(
            ImportSpec::from_json(" {}\n\n").is_ok(),
            "white space around is fine"
        );
    }

    #[test]
    fn long_values_are_echoed_bounded() {
        let long = "x".repeat(1_000_000);
        let bounded = format!("{}… (", &long[..ECHO_CHARS]);
        let cases = [
            format!(r#"{{"destination":{{"type":"campaign","id":"{long}"}}}}"#),
            format!(r#"{{"tenant":"{long}"}}"#),
            format!(r#"{{"{long}":1}}"#),
            format!(r#"{{"duplicates":"{long}"}}"#),
            format!(r#"{{"duplicates":"{long}`, expected `x"}}"#),
            format!(r#"{{"tags":"{long}"}}"#),
            format!(r#"{{"destination":"{long}\""}}"#),
            format!(r#"{{"default_country":"{long}"}}"#),
            format!(r#"{{"mapping":{{"{long}":"nope"}}}}"#),
            format!(r#"{{"fields":{{"{long}A":{{"type":"text"}}}}}}"#),
        ];
        for json in cases {
            let e = error_of(&json);
            let shown = e.to_string();
            assert!(shown.len() < 600, "{}", &shown[..600]);
            assert!(shown.contains(&bounded), "{shown}");
        }
    }

    #[test]
    fn field_rules_are_checked() {
        let e = error_of(r#"{"fields":{"Lead Source":{"type":"text"}}}"#);
        assert!(e.message.contains("lead_source"), "{e}");
        let e = error_of(r#"{"fields":{"age":{"type":"integer"}}}"#);
        assert_eq!(e.key, "fields.age.type");
        let e = error_of(r#"{"fields":{"age":{"type":"number","max_len":0}}}"#);
        assert_eq!(e.key, "fields.age.max_len");
        let e = error_of(r#"{"tags":["vip"," "]}"#);
        assert_eq!(e.key, "tags");
    }

    #[test]
    fn targets_round_trip_through_text() {
        for text in [
            "phone",
            "custom:lead_source",
            "secondary_phone_3",
            "secondary_3_role",
            "ignore",
            "scheduled_at",
        ] {
            let target = Target::try_from(text.to_owned()).unwrap();
            assert_eq!(target.to_string(), text);
        }
    }
}
