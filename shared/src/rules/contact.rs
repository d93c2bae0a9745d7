//! A contact as it is stored.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Contact {
    /// E.164, for example +14155552671.
    pub phone: String,
    /// The value as the file wrote it.
    pub phone_raw: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
    /// Called in order after the primary number.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secondary: Vec<SecondaryContact>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// None when the file gave none: the dialer's default, 1, applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u32>,
    /// UTC, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_at: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Custom fields by key; typed ones hold numbers, booleans or dates.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom: BTreeMap<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SecondaryContact {
    pub phone: String,
    pub phone_raw: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
}

pub(crate) const DEFAULT_PRIORITY: u32 = 1;

impl Contact {
    /// The first and last names, as one would say them; empty when both are.
    pub fn full_name(&self) -> String {
        [&self.first_name, &self.last_name]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn effective_priority(&self) -> u32 {
        self.priority.unwrap_or(DEFAULT_PRIORITY)
    }

    /// Refreshes a stored contact with a newer row of the same number:
    /// every value the file gave wins, tags are merged, the rest is kept.
    pub fn merge_from(&mut self, newer: Contact) {
        fn take<T>(old: &mut Option<T>, new: Option<T>) {
            if new.is_some() {
                *old = new;
            }
        }
        self.phone = newer.phone;
        self.phone_raw = newer.phone_raw;
        take(&mut self.extension, newer.extension);
        if !newer.secondary.is_empty() {
            self.secondary = newer.secondary;
        }
        take(&mut self.contact_id, newer.contact_id);
        take(&mut self.first_name, newer.first_name);
        take(&mut self.last_name, newer.last_name);
        take(&mut self.email, newer.email);
        take(&mut self.company, newer.company);
        take(&mut self.address, newer.address);
        take(&mut self.city, newer.city);
        take(&mut self.state, newer.state);
        take(&mut self.zip, newer.zip);
        take(&mut self.country, newer.country);
        take(&mut self.timezone, newer.timezone);
        take(&mut self.priority, newer.priority);
        take(&mut self.scheduled_at, newer.scheduled_at);
        for tag in newer.tags {
            if !self.tags.contains(&tag) {
                self.tags.push(tag);
            }
        }
        self.custom.extend(newer.custom);
        match (&mut self.data, newer.data) {
            (Some(old), Some(new)) => old.extend(new),
            (old, new @ Some(_)) => *old = new,
            (_, None) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_lets_file_values_win_and_merges_tags() {
        let mut stored = Contact {
            phone: "+14155552671".into(),
            first_name: Some("Ann".into()),
            company: Some("Old Co".into()),
            priority: Some(5),
            tags: vec!["vip".into(), "west".into()],
            custom: BTreeMap::from([("stage".into(), json!("lead")), ("score".into(), json!(3))]),
            data: Some(json!({"a": 1, "b": 2}).as_object().unwrap().clone()),
            ..Contact::default()
        };
        stored.merge_from(Contact {
            phone: "+14155552671".into(),
            first_name: Some("Anne".into()),
            tags: vec!["west".into(), "spring".into()],
            custom: BTreeMap::from([("stage".into(), json!("customer"))]),
            data: Some(json!({"b": 3}).as_object().unwrap().clone()),
            ..Contact::default()
        });
        assert_eq!(stored.first_name.as_deref(), Some("Anne"));
        assert_eq!(
            stored.company.as_deref(),
            Some("Old Co"),
            "absent in file: kept"
        );
        assert_eq!(stored.priority, Some(5), "no priority column: kept");
        assert_eq!(stored.tags, ["vip", "west", "spring"]);
        assert_eq!(stored.custom["stage"], json!("customer"));
        assert_eq!(stored.custom["score"], json!(3));
        assert_eq!(
            serde_json::Value::Object(stored.data.unwrap()),
            json!({"a": 1, "b": 3})
        );
    }

    #[test]
    fn empty_values_are_left_out_of_the_stored_json() {
        let contact = Contact {
            phone: "+14155552671".into(),
            phone_raw: "4155552671".into(),
            ..Contact::default()
        };
        assert_eq!(
            serde_json::to_value(&contact).unwrap(),
            json!({"phone": "+14155552671", "phone_raw": "4155552671"})
        );
        assert_eq!(contact.effective_priority(), 1);
    }
}
