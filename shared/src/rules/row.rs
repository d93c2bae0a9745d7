//! The rules a single row must pass, in the order of the outcome table:
//! malformed_row, missing_phone, invalid_phone, invalid_secondary_phone,
//! invalid_field, no_consent. The first that applies decides.

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use csv::{ByteRecord, StringRecord};
use serde_json::{Map, Number, Value};

use crate::file::input::Delimiter;
use crate::file::records::RawRecord;
use crate::rules::cells::{
    first_value, has_digits, joins_values, phone_parts, values, without_text_marker,
};
use crate::rules::contact::{Contact, SecondaryContact};
use crate::rules::headers::{custom_key, phone_kind, Field, PhoneKind};
use crate::rules::outcome::{ErrorCode, Rejection};
use crate::rules::phone::{ParsedPhone, PhoneParser, PhoneProblem};
use crate::rules::plan::ColumnPlan;
use crate::rules::report::restore;
use crate::rules::spec::{FieldKind, FieldRule, ImportSpec};

/// A phone column as the row rules try it.
#[derive(Debug, Clone)]
struct PhoneColumn {
    column: usize,
    kind: PhoneKind,
    /// The column holding this column's labels (Google's `Phone 1 - Label`).
    labels: Option<usize>,
}

/// A number found in a row: which phone column, which of its values.
#[derive(Debug, Clone, Copy)]
struct Found<'r> {
    slot: usize,
    part: usize,
    raw: &'r str,
}

/// What the rules produce for a row that passes them all.
struct Passed<'r> {
    chosen: Found<'r>,
    primary: ParsedPhone,
    secondary: Vec<SecondaryContact>,
    priority: Option<u32>,
    scheduled_at: Option<String>,
    data: Option<Map<String, Value>>,
    custom: BTreeMap<String, Value>,
}

/// Google's own groups, on every contact it exports: not a tag of anyone.
fn is_google_system_group(tag: &str) -> bool {
    tag.eq_ignore_ascii_case("mycontacts") || tag.eq_ignore_ascii_case("my contacts")
}

/// The tags of a tags cell: separated by `,`, `;` or Google's `:::`, without
/// Google's `* ` system marker or the quotes Mailchimp puts around each.
fn row_tags(cell: &str) -> impl Iterator<Item = &str> {
    values(cell)
        .flat_map(|value| value.split([',', ';']))
        .map(|tag| {
            let tag = tag.trim();
            let tag = tag.strip_prefix("* ").unwrap_or(tag);
            tag.trim_matches('"').trim()
        })
        .filter(|tag| !is_google_system_group(tag))
}

/// The longest a value may be, in bytes: above Excel's 32,767 characters
/// in any script.
pub(crate) const MAX_CELL_BYTES: usize = 128 * 1024;

/// Consent values that let a row through, compared trimmed and in any case.
const CONSENT_YES: [&str; 8] = [
    "yes", "true", "1", "y", "consent", "opted-in", "opted in", "opt-in",
];

/// A rule broken by a row, before it is dressed as a report line.
struct Broken {
    code: ErrorCode,
    column: Option<usize>,
    message: String,
    guidance: Cow<'static, str>,
}

impl Broken {
    fn new(
        code: ErrorCode,
        column: Option<usize>,
        message: String,
        guidance: impl Into<Cow<'static, str>>,
    ) -> Self {
        Broken {
            code,
            column,
            message,
            guidance: guidance.into(),
        }
    }
}

/// Checks and converts rows of one file. Cheap to share across threads.
#[derive(Debug, Clone)]
pub struct RowValidator {
    plan: ColumnPlan,
    phones: PhoneParser,
    delimiter: Delimiter,
    tags: Vec<String>,
    /// The typed rule of each custom column, aligned with the plan's custom columns.
    custom_rules: Vec<Option<FieldRule>>,
    /// The primary phone column, then the others in the spec's order of preference.
    phone_columns: Vec<PhoneColumn>,
}

impl RowValidator {
    pub fn new(plan: ColumnPlan, spec: &ImportSpec, delimiter: Delimiter) -> Self {
        let custom_rules = plan
            .index()
            .custom
            .iter()
            .map(|(_, key)| spec.fields.get(key).cloned())
            .collect();
        let mut alternates = plan.index().alternates.clone();
        alternates.sort_by_key(|&(column, kind)| (spec.phone_preference(kind), column));
        let primary = plan
            .column_of(Field::Phone)
            .expect("a plan always has a phone column");
        let primary_kind = phone_kind(plan.header(primary)).unwrap_or(PhoneKind::Main);
        let labels = |column: usize| {
            plan.index()
                .labels
                .iter()
                .find(|&&(phone, _)| phone == column)
                .map(|&(_, labels)| labels)
        };
        let phone_columns = std::iter::once((primary, primary_kind))
            .chain(alternates)
            .map(|(column, kind)| PhoneColumn {
                column,
                kind,
                labels: labels(column),
            })
            .collect();
        RowValidator {
            phone_columns,
            plan,
            phones: PhoneParser::new(spec.default_country),
            delimiter,
            tags: merge_tags(Vec::new(), spec.tags.iter().map(String::as_str)),
            custom_rules,
        }
    }

    pub fn plan(&self) -> &ColumnPlan {
        &self.plan
    }

    /// Checks one record read from the file.
    pub fn check(&self, raw: RawRecord) -> Result<(Contact, StringRecord), Rejection> {
        let row = raw.row;
        if raw.quote_never_closed {
            return Err(self.quote_never_closed(row, &raw.record));
        }
        let record = match StringRecord::from_byte_record(raw.record) {
            Ok(record) => record,
            Err(e) => return Err(self.undecodable(row, &e.into_byte_record())),
        };
        match self.contact(&record) {
            Ok(contact) => Ok((contact, record)),
            Err(broken) => Err(self.reject(row, &record, broken)),
        }
    }

    /// A report line for a row rejected after validation (do-not-call, duplicates).
    pub fn rejection(
        &self,
        row: u64,
        record: &StringRecord,
        code: ErrorCode,
        message: String,
        guidance: &'static str,
    ) -> Rejection {
        let phone = self.plan.column_of(Field::Phone);
        self.reject(row, record, Broken::new(code, phone, message, guidance))
    }

    fn reject(&self, row: u64, record: &StringRecord, broken: Broken) -> Rejection {
        let columns = self.plan.columns().len();
        let source_columns = &self.plan.index().source_columns;
        let values = if !self.plan.is_report_input() && source_columns.len() == columns {
            // The row as read, padded to the header: what the loop below
            // makes of a file that is not a report, copied in one go.
            let mut values = record.clone();
            for _ in values.len()..columns {
                values.push_field("");
            }
            values
        } else {
            let mut values = StringRecord::with_capacity(record.as_slice().len(), record.len());
            for &i in source_columns {
                values.push_field(self.as_written(record, i));
            }
            // Values beyond the header are kept, so that nothing of the row is lost.
            for value in record.iter().skip(columns) {
                values.push_field(value);
            }
            values
        };
        Rejection {
            row,
            code: broken.code,
            column: broken.column.map(|i| self.plan.header(i).to_owned()),
            message: broken.message,
            guidance: broken.guidance,
            values,
        }
    }

    /// A row whose bytes are not UTF-8 in a UTF-8 file: shown as Windows-1252,
    /// which maps every byte, so the report loses nothing.
    fn undecodable(&self, row: u64, record: &ByteRecord) -> Rejection {
        let decoded: Vec<String> = record
            .iter()
            .map(|field| encoding_rs::WINDOWS_1252.decode(field).0.into_owned())
            .collect();
        let record = StringRecord::from(decoded);
        self.reject(
            row,
            &record,
            Broken::new(
                ErrorCode::MalformedRow,
                None,
                "the row has characters that are not valid UTF-8 (shown here as Windows-1252)".to_owned(),
                "Check the accented letters of this row, save the file as CSV UTF-8 and upload it again",
            ),
        )
    }

    /// A row whose quote never closes, read up to the end of its line.
    fn quote_never_closed(&self, row: u64, record: &ByteRecord) -> Rejection {
        let cells: Vec<String> = record
            .iter()
            .map(|cell| String::from_utf8_lossy(cell).into_owned())
            .collect();
        self.reject(
            row,
            &StringRecord::from(cells),
            Broken::new(
                ErrorCode::MalformedRow,
                None,
                "a quote opened in this row never closes, so the row was read up to the end of its line; the rows below it were read on their own".to_owned(),
                "Close the quote (a value that starts with \" must end with \"), or remove it; write a quote inside a value as two (\"\")",
            ),
        )
    }

    /// A cell as the file wrote it (a report's neutralising undone): what
    /// the report shows.
    fn as_written<'r>(&self, record: &'r StringRecord, column: usize) -> &'r str {
        let value = record.get(column).unwrap_or("");
        if self.plan.is_report_input() {
            restore(value)
        } else {
            value
        }
    }

    /// A cell as the rules see it: trimmed, without a spreadsheet's text marker.
    fn cell<'r>(&self, record: &'r StringRecord, column: usize) -> &'r str {
        without_text_marker(self.as_written(record, column).trim())
    }

    fn field<'r>(&self, record: &'r StringRecord, field: Field) -> Option<(usize, &'r str)> {
        let column = self.plan.column_of(field)?;
        Some((column, self.cell(record, column)))
    }

    /// A field's value; of several joined by `:::`, the first.
    fn text(&self, record: &StringRecord, field: Field) -> Option<String> {
        self.field(record, field)
            .map(|(_, value)| first_value(value))
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
    }

    /// The values after the first of fields that hold several (Google's
    /// `a@x.com ::: b@y.com`), kept as `<field>_others`.
    fn other_values(&self, record: &StringRecord, custom: &mut BTreeMap<String, Value>) {
        // One scan of the whole row: a row without a colon joins no values.
        if !record.as_slice().as_bytes().contains(&b':') {
            return;
        }
        for field in Field::ALL {
            if matches!(field, Field::Phone | Field::Tags | Field::Data) {
                continue;
            }
            let Some((_, value)) = self.field(record, field) else {
                continue;
            };
            if !joins_values(value) {
                continue;
            }
            let others: Vec<&str> = values(value)
                .skip(1)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .collect();
            if !others.is_empty() {
                custom
                    .entry(format!("{}_others", field.name()))
                    .or_insert_with(|| Value::String(others.join(", ")));
            }
        }
    }

    fn header(&self, column: usize) -> &str {
        self.plan.header(column)
    }

    /// Every rule a row must pass, in the order they report; what they
    /// produce, and the row's numbers after the primary one.
    fn verdict<'r>(
        &'r self,
        record: &'r StringRecord,
    ) -> Result<(Passed<'r>, impl Iterator<Item = Found<'r>>), Broken> {
        self.check_shape(record)?;
        let (chosen, others) = self.primary_phone(record);
        let (phone_column, raw_phone) = (self.phone_columns[chosen.slot].column, chosen.raw);
        if raw_phone.is_empty() {
            return Err(Broken::new(
                ErrorCode::MissingPhone,
                Some(phone_column),
                if self.phone_columns.len() == 1 {
                    format!("column `{}` is empty", self.header(phone_column))
                } else {
                    let columns: Vec<String> = self
                        .phone_columns
                        .iter()
                        .map(|phone| format!("`{}`", self.header(phone.column)))
                        .collect();
                    format!("no phone column has a number ({})", columns.join(", "))
                },
                "Add the contact's phone number with its country code, for example +14155552671, or delete the row",
            ));
        }
        let primary = self.phones.parse(raw_phone).map_err(|problem| {
            Broken::new(
                ErrorCode::InvalidPhone,
                Some(phone_column),
                format!(
                    "`{raw_phone}` in column `{}` {}",
                    self.header(phone_column),
                    problem.describe()
                ),
                self.phone_guidance(raw_phone, problem),
            )
        })?;
        let passed = Passed {
            chosen,
            secondary: self.secondary(record, &primary.e164)?,
            primary,
            priority: self.priority(record)?,
            scheduled_at: self.scheduled_at(record)?,
            data: self.data(record)?,
            custom: self.custom(record)?,
        };
        self.check_consent(record)?;
        Ok((passed, others))
    }

    /// The primary number of a record that passes every rule, or None:
    /// what the splitter needs to find in-file duplicates, without the
    /// contact or the report line that [`Self::check`] builds.
    pub(crate) fn passing_number(&self, raw: RawRecord) -> Option<String> {
        if raw.quote_never_closed {
            return None;
        }
        let record = StringRecord::from_byte_record(raw.record).ok()?;
        let (passed, _) = self.verdict(&record).ok()?;
        Some(passed.primary.e164)
    }

    fn contact(&self, record: &StringRecord) -> Result<Contact, Broken> {
        let (passed, others) = self.verdict(record)?;
        let Passed {
            chosen,
            primary,
            mut secondary,
            priority,
            scheduled_at,
            data,
            mut custom,
        } = passed;
        self.alternate_numbers(
            record,
            chosen,
            others,
            &primary.e164,
            &mut secondary,
            &mut custom,
        );
        self.other_values(record, &mut custom);
        let (mut first_name, mut last_name) = (
            self.text(record, Field::FirstName),
            self.text(record, Field::LastName),
        );
        if let Some(full) = self.text(record, Field::Name) {
            let (first, last) = split_full_name(&full);
            first_name = first_name.or(first);
            last_name = last_name.or(last);
        }
        let row_tags = self
            .field(record, Field::Tags)
            .map(|(_, tags)| row_tags(tags))
            .into_iter()
            .flatten();
        Ok(Contact {
            phone: primary.e164,
            phone_raw: chosen.raw.to_owned(),
            extension: primary.extension,
            secondary,
            contact_id: self.text(record, Field::ContactId),
            first_name,
            last_name,
            email: self.text(record, Field::Email),
            company: self.text(record, Field::Company),
            address: self.text(record, Field::Address),
            city: self.text(record, Field::City),
            state: self.text(record, Field::State),
            zip: self.text(record, Field::Zip),
            country: self.text(record, Field::Country),
            timezone: self.text(record, Field::Timezone),
            priority,
            scheduled_at,
            tags: merge_tags(self.tags.clone(), row_tags),
            custom,
            data,
        })
    }

    fn check_shape(&self, record: &StringRecord) -> Result<(), Broken> {
        let expected = self.plan.columns().len();
        let found = record.len();
        // Trailing empty cells, as spreadsheets leave after a stray edit, carry nothing.
        let extra_with_data = record.iter().skip(expected).any(|v| !v.trim().is_empty());
        if let Some((column, cell)) = record
            .iter()
            .enumerate()
            .find(|(_, cell)| cell.len() > MAX_CELL_BYTES)
        {
            let name = self
                .plan
                .columns()
                .get(column)
                .map_or("beyond the header", |c| c.header.as_str());
            return Err(Broken::new(
                ErrorCode::MalformedRow,
                Some(column).filter(|&c| c < expected),
                format!(
                    "the value in column `{name}` is {} KiB, more than the {} KiB a value may have",
                    cell.len() >> 10,
                    MAX_CELL_BYTES >> 10
                ),
                "Shorten the value; a value this long is often a quote that closes rows later than meant, so check this row's quotes",
            ));
        }
        if found < expected || extra_with_data {
            let delimiter = self.delimiter.as_str().escape_default();
            return Err(Broken::new(
                ErrorCode::MalformedRow,
                None,
                format!("the row has {found} values but the header has {expected} columns"),
                format!(
                    "A value probably contains the delimiter ({delimiter}) or a stray quote; wrap such values in double quotes, or make the row match the header"
                ),
            ));
        }
        Ok(())
    }

    fn phone_guidance(&self, raw: &str, problem: PhoneProblem) -> String {
        let country = self.phones.default_country();
        match problem {
            PhoneProblem::InvalidCountryCode => {
                "Check the country code after the +; for example +1 for the US and Canada, +44 for the UK".to_owned()
            }
            _ if !raw.trim_start().starts_with('+') && !raw.trim_start().starts_with("00") => format!(
                "Numbers without a country code are read as {} numbers: check the digits, or write the number with its country code, for example +442079460958",
                country.as_str()
            ),
            _ => "Check the digits; a valid number looks like +14155552671".to_owned(),
        }
    }

    fn secondary(
        &self,
        record: &StringRecord,
        primary: &str,
    ) -> Result<Vec<SecondaryContact>, Broken> {
        let mut numbers: Vec<SecondaryContact> = Vec::new();
        for columns in &self.plan.index().secondary {
            let n = columns.number;
            let fields: BTreeMap<String, String> = columns
                .fields
                .iter()
                .map(|(column, key)| (key.clone(), self.cell(record, *column).trim().to_owned()))
                .filter(|(_, value)| !value.is_empty())
                .collect();
            let raw = columns
                .phone
                .map(|c| self.cell(record, c).trim())
                .unwrap_or("");
            let broken = |column: Option<usize>, message: String, guidance: &'static str| {
                Broken::new(ErrorCode::InvalidSecondaryPhone, column, message, guidance)
            };
            if raw.is_empty() {
                if let Some((column, _)) = columns
                    .fields
                    .iter()
                    .find(|(c, _)| !self.cell(record, *c).trim().is_empty())
                {
                    return Err(broken(
                        Some(*column),
                        format!(
                            "`{}` is filled but secondary number {n} is empty",
                            self.header(*column)
                        ),
                        "Add the secondary number or clear the values that belong to it",
                    ));
                }
                continue;
            }
            let phone_column = columns.phone;
            let header = phone_column.map(|c| self.header(c)).unwrap_or_default();
            let parsed = self.phones.parse(raw).map_err(|problem| {
                broken(
                    phone_column,
                    format!("`{raw}` in column `{header}` {}", problem.describe()),
                    "Write secondary numbers like the primary one, with their country code, for example +14155552671",
                )
            })?;
            if parsed.e164 == primary {
                return Err(broken(
                    phone_column,
                    format!("column `{header}` repeats the primary number"),
                    "A secondary number must differ from the primary number: correct it or clear it",
                ));
            }
            if numbers.iter().any(|s| s.phone == parsed.e164) {
                return Err(broken(
                    phone_column,
                    format!("column `{header}` repeats another secondary number"),
                    "Each secondary number must be different: correct it or clear it",
                ));
            }
            numbers.push(SecondaryContact {
                phone: parsed.e164,
                phone_raw: raw.to_owned(),
                extension: parsed.extension,
                fields,
            });
        }
        Ok(numbers)
    }

    /// Every value with digits in the row's phone columns, in the order
    /// they are tried for the primary number.
    fn found_numbers<'r>(&'r self, record: &'r StringRecord) -> impl Iterator<Item = Found<'r>> {
        self.phone_columns
            .iter()
            .enumerate()
            .flat_map(move |(slot, phone)| {
                phone_parts(self.cell(record, phone.column))
                    .enumerate()
                    .map(move |(part, raw)| Found { slot, part, raw })
            })
            .filter(|found| has_digits(found.raw))
    }

    /// The first number of the primary column or, where it holds none, of
    /// the next phone column that does; then the row's numbers after it.
    /// With none, the primary cell as it is (empty, or text such as `n/a`).
    fn primary_phone<'r>(
        &'r self,
        record: &'r StringRecord,
    ) -> (Found<'r>, impl Iterator<Item = Found<'r>>) {
        let mut found = self.found_numbers(record);
        let chosen = found.next().unwrap_or(Found {
            slot: 0,
            part: 0,
            raw: self.cell(record, self.phone_columns[0].column),
        });
        (chosen, found)
    }

    /// The label of a found number: its label column's value (the matching
    /// one of several joined by `:::`, without Google's `* ` marker), else
    /// its column's kind.
    fn label(&self, record: &StringRecord, found: Found<'_>) -> Option<String> {
        let phone = &self.phone_columns[found.slot];
        let labels = phone.labels.map(|column| self.cell(record, column))?;
        let mut parts = values(labels).map(str::trim);
        let first = parts.next().unwrap_or("");
        let label = match found.part {
            0 => first,
            n => parts.nth(n - 1).unwrap_or(first),
        };
        let label = label.strip_prefix("* ").unwrap_or(label).trim();
        (!label.is_empty()).then(|| label.to_owned())
    }

    /// Every other number of the row, as secondary numbers labelled as the
    /// file labels them or with their column's kind; a number the row
    /// already has is kept once. A value that is not a valid number cannot
    /// be dialled but is not lost: it is kept as text under the column's
    /// custom key. The primary number's own label is kept as `phone_label`.
    fn alternate_numbers<'r>(
        &self,
        record: &StringRecord,
        chosen: Found<'r>,
        others: impl Iterator<Item = Found<'r>>,
        primary: &str,
        numbers: &mut Vec<SecondaryContact>,
        custom: &mut BTreeMap<String, Value>,
    ) {
        if let Some(label) = self.label(record, chosen) {
            custom
                .entry("phone_label".to_owned())
                .or_insert(Value::String(label));
        }
        for found in others {
            let phone = &self.phone_columns[found.slot];
            let Ok(parsed) = self.phones.parse(found.raw) else {
                let kept = custom
                    .entry(custom_key(self.header(phone.column)))
                    .or_insert_with(|| Value::String(String::new()));
                if let Value::String(text) = kept {
                    if !text.is_empty() {
                        text.push_str(" ::: ");
                    }
                    text.push_str(found.raw);
                }
                continue;
            };
            if parsed.e164 == primary || numbers.iter().any(|n| n.phone == parsed.e164) {
                continue;
            }
            let label = self
                .label(record, found)
                .unwrap_or_else(|| phone.kind.label().to_owned());
            numbers.push(SecondaryContact {
                phone: parsed.e164,
                phone_raw: found.raw.to_owned(),
                extension: parsed.extension,
                fields: BTreeMap::from([("label".to_owned(), label)]),
            });
        }
    }

    fn priority(&self, record: &StringRecord) -> Result<Option<u32>, Broken> {
        let Some((column, value)) = self
            .field(record, Field::Priority)
            .filter(|(_, v)| !v.is_empty())
        else {
            return Ok(None);
        };
        match value.parse::<u32>() {
            Ok(priority) if priority >= 1 => Ok(Some(priority)),
            _ => Err(Broken::new(
                ErrorCode::InvalidField,
                Some(column),
                format!("`{value}` in column `{}` is not a positive whole number", self.header(column)),
                "Write the priority as a whole number from 1 up (higher is called first), or leave it empty for 1",
            )),
        }
    }

    fn scheduled_at(&self, record: &StringRecord) -> Result<Option<String>, Broken> {
        let Some((column, value)) = self
            .field(record, Field::ScheduledAt)
            .filter(|(_, v)| !v.is_empty())
        else {
            return Ok(None);
        };
        parse_date_time(value).map(Some).ok_or_else(|| {
            Broken::new(
                ErrorCode::InvalidField,
                Some(column),
                format!("`{value}` in column `{}` is not a date and time", self.header(column)),
                "Write it as 2026-03-01T14:30:00Z, 2026-03-01T14:30:00-05:00 or 2026-03-01 14:30 (read as UTC)",
            )
        })
    }

    fn data(&self, record: &StringRecord) -> Result<Option<Map<String, Value>>, Broken> {
        let Some((column, value)) = self
            .field(record, Field::Data)
            .filter(|(_, v)| !v.is_empty())
        else {
            return Ok(None);
        };
        match serde_json::from_str::<Value>(value) {
            Ok(Value::Object(map)) => Ok(Some(map)),
            _ => Err(Broken::new(
                ErrorCode::InvalidField,
                Some(column),
                format!("column `{}` is not a JSON object", self.header(column)),
                r#"Write a JSON object such as {"plan": "gold", "birthDate": "1990-04-01"}, or leave it empty"#,
            )),
        }
    }

    fn custom(&self, record: &StringRecord) -> Result<BTreeMap<String, Value>, Broken> {
        let mut custom = BTreeMap::new();
        for ((column, key), rule) in self.plan.index().custom.iter().zip(&self.custom_rules) {
            let value = self.cell(record, *column).trim();
            let typed = match rule {
                None if value.is_empty() => None,
                None => Some(Value::String(value.to_owned())),
                Some(rule) => self.typed(*column, key, value, rule)?,
            };
            if let Some(typed) = typed {
                custom.insert(key.clone(), typed);
            }
        }
        Ok(custom)
    }

    fn typed(
        &self,
        column: usize,
        key: &str,
        value: &str,
        rule: &FieldRule,
    ) -> Result<Option<Value>, Broken> {
        let header = self.header(column);
        let broken = |message: String, guidance: String| {
            Broken::new(ErrorCode::InvalidField, Some(column), message, guidance)
        };
        if value.is_empty() {
            return if rule.required {
                Err(broken(
                    format!("column `{header}` is empty but custom field `{key}` is required"),
                    format!("Fill in `{header}` for this contact"),
                ))
            } else {
                Ok(None)
            };
        }
        if let Some(max) = rule.max_len {
            let length = value.chars().count();
            if length > max {
                return Err(broken(
                    format!("column `{header}` has {length} characters; custom field `{key}` allows at most {max}"),
                    format!("Shorten the value to {max} characters or fewer"),
                ));
            }
        }
        let typed = match rule.kind {
            FieldKind::Text => Some(Value::String(value.to_owned())),
            FieldKind::Number => json_number(value).map(Value::Number),
            FieldKind::Boolean => parse_boolean(value).map(Value::Bool),
            FieldKind::Date => parse_date(value).map(Value::String),
        };
        typed.map(Some).ok_or_else(|| {
            let (what, example) = match rule.kind {
                FieldKind::Text => unreachable!("text always converts"),
                FieldKind::Number => ("a number", "42 or 3.5 (no thousands separators)"),
                FieldKind::Boolean => ("true or false", "true/false, yes/no, y/n or 1/0"),
                FieldKind::Date => ("a date", "2026-03-01 (year-month-day)"),
            };
            broken(
                format!("`{value}` in column `{header}` is not {what}; custom field `{key}` is a {} field", rule.kind.name()),
                format!("Write it as {example}"),
            )
        })
    }

    fn check_consent(&self, record: &StringRecord) -> Result<(), Broken> {
        let Some((column, value)) = self.field(record, Field::Consent) else {
            return Ok(());
        };
        if CONSENT_YES
            .iter()
            .any(|yes| value.eq_ignore_ascii_case(yes))
        {
            return Ok(());
        }
        let shown = if value.is_empty() {
            "nothing".to_owned()
        } else {
            format!("`{value}`")
        };
        Err(Broken::new(
            ErrorCode::NoConsent,
            Some(column),
            format!("column `{}` says {shown}, not yes", self.header(column)),
            "Import this contact only if they agreed to be contacted; then set the value to yes",
        ))
    }
}

/// Spec tags first, then the row's, each once, empty ones dropped.
fn merge_tags<'t>(mut tags: Vec<String>, more: impl Iterator<Item = &'t str>) -> Vec<String> {
    for tag in more.map(str::trim).filter(|t| !t.is_empty()) {
        if !tags.iter().any(|t| t == tag) {
            tags.push(tag.to_owned());
        }
    }
    tags
}

/// "Ann Marie Smith" → (Ann Marie, Smith); "Smith, Ann" → (Ann, Smith).
fn split_full_name(full: &str) -> (Option<String>, Option<String>) {
    let some = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    if let Some((last, first)) = full.split_once(',') {
        return (some(first), some(last));
    }
    match full.trim().rsplit_once(char::is_whitespace) {
        Some((first, last)) => (some(first), some(last)),
        None => (some(full), None),
    }
}

/// The value of a number field as a JSON number, when it is one.
fn json_number(value: &str) -> Option<Number> {
    if let Ok(integer) = value.parse::<i64>() {
        return Some(Number::from(integer));
    }
    value.parse::<f64>().ok().and_then(Number::from_f64)
}

fn parse_boolean(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" => Some(true),
        "false" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

fn parse_date(value: &str) -> Option<String> {
    ["%Y-%m-%d", "%Y/%m/%d"]
        .iter()
        .find_map(|format| NaiveDate::parse_from_str(value, format).ok())
        .map(|date| date.format("%Y-%m-%d").to_string())
}

/// RFC 3339 with an offset, or a date and time without one (read as UTC),
/// or a date alone (midnight UTC). The result is UTC, RFC 3339.
fn parse_date_time(value: &str) -> Option<String> {
    let utc: DateTime<Utc> = if let Ok(with_offset) = DateTime::parse_from_rfc3339(value) {
        with_offset.with_timezone(&Utc)
    } else if let Some(naive) = [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|format| NaiveDateTime::parse_from_str(value, format).ok())
    {
        naive.and_utc()
    } else {
        NaiveDate::parse_from_str(value, "%Y-%m-%d")
            .ok()?
            .and_hms_opt(0, 0, 0)?
            .and_utc()
    };
    Some(utc.to_rfc3339_opts(SecondsFormat::Secs, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_names_split_into_first_and_last() {
        assert_eq!(
            split_full_name("Ann Marie Smith"),
            (Some("Ann Marie".into()), Some("Smith".into()))
        );
        assert_eq!(
            split_full_name("Smith, Ann"),
            (Some("Ann".into()), Some("Smith".into()))
        );
        assert_eq!(split_full_name("Cher"), (Some("Cher".into()), None));
    }

    #[test]
    fn dates_and_times_become_utc_rfc3339() {
        assert_eq!(
            parse_date_time("2026-03-01T14:30:00-05:00").as_deref(),
            Some("2026-03-01T19:30:00Z")
        );
        assert_eq!(
            parse_date_time("2026-03-01 14:30").as_deref(),
            Some("2026-03-01T14:30:00Z")
        );
        assert_eq!(
            parse_date_time("2026-03-01").as_deref(),
            Some("2026-03-01T00:00:00Z")
        );
        assert_eq!(parse_date_time("next tuesday"), None);
        assert_eq!(parse_date_time("2026-02-30"), None);
    }

    #[test]
    fn typed_values_convert() {
        assert_eq!(json_number("42"), Some(Number::from(42)));
        assert_eq!(json_number("3.5"), Number::from_f64(3.5));
        assert_eq!(json_number("1,000"), None);
        assert_eq!(json_number("NaN"), None);
        assert_eq!(parse_boolean("Yes"), Some(true));
        assert_eq!(parse_boolean("0"), Some(false));
        assert_eq!(parse_boolean("maybe"), None);
        assert_eq!(parse_date("2026/03/01").as_deref(), Some("2026-03-01"));
        assert_eq!(parse_date("03/01/2026"), None);
    }

    #[test]
    fn tags_merge_in_order_without_repeats() {
        assert_eq!(
            merge_tags(vec!["a".into()], " b ;a, c,,".split([',', ';'])),
            ["a", "b", "c"]
        );
    }

    #[test]
    fn tags_split_on_commas_semicolons_and_google_separators() {
        let tags: Vec<&str> =
            row_tags("* myContacts ::: VIP, \"Spring Promo\";new ::: b:c").collect();
        assert_eq!(tags, ["VIP", "Spring Promo", "new", "b:c"]);
        assert_eq!(first_value("a@x.example ::: b@y.example"), "a@x.example");
        assert_eq!(first_value("10:30"), "10:30");
    }
}
