//! The column plan: which field each column of a file feeds, and why.

use std::collections::{BTreeMap, HashSet};

use csv::StringRecord;
use serde::{Deserialize, Serialize};

use crate::rules::cells::first_number;
use crate::rules::headers::{
    custom_key, detect_target, label_stem, normalise_header, phone_stem, Field, PhoneKind, Target,
};
use crate::rules::layouts::{self, Layout, Meaning};
use crate::rules::phone::PhoneParser;
use crate::rules::refusal::{list_headers, Refusal};
use crate::rules::report::report_columns;
use crate::rules::spec::{ImportSpec, Unmapped};

/// A sampled column must hold at least this share of valid numbers to be
/// suggested as the phone column.
const PHONE_LIKE_SHARE: f64 = 0.5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MappingSource {
    /// Recognised from the header.
    Detected,
    /// Set by the spec's `mapping` or `consent_column`.
    Spec,
    /// Not recognised: kept as a custom field or ignored, as `unmapped` says.
    Unmapped,
    /// One of the four columns an error report adds; ignored on re-import.
    ReportColumn,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub header: String,
    pub target: Target,
    pub source: MappingSource,
}

/// The plan as stored and sent between functions; the row path uses the
/// index derived from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "PlanParts", into = "PlanParts")]
pub struct ColumnPlan {
    columns: Vec<Column>,
    warnings: Vec<String>,
    report_input: bool,
    layout: Option<String>,
    index: PlanIndex,
}

#[derive(Serialize, Deserialize)]
struct PlanParts {
    columns: Vec<Column>,
    warnings: Vec<String>,
    report_input: bool,
    /// The exporter whose layout the headers are, when one was recognised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    layout: Option<String>,
}

impl From<PlanParts> for ColumnPlan {
    fn from(parts: PlanParts) -> Self {
        ColumnPlan::new(
            parts.columns,
            parts.warnings,
            parts.report_input,
            parts.layout,
        )
    }
}

impl From<ColumnPlan> for PlanParts {
    fn from(plan: ColumnPlan) -> Self {
        PlanParts {
            columns: plan.columns,
            warnings: plan.warnings,
            report_input: plan.report_input,
            layout: plan.layout,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct PlanIndex {
    fields: [Option<usize>; Field::ALL.len()],
    pub custom: Vec<(usize, String)>,
    pub secondary: Vec<SecondaryColumns>,
    /// Phone columns besides the primary one, in file order.
    pub alternates: Vec<(usize, PhoneKind)>,
    /// Each phone column that has one, with the column of its labels.
    pub labels: Vec<(usize, usize)>,
    /// The columns a report echoes: all but an input report's own columns.
    pub source_columns: Vec<usize>,
}

/// Pairs each label column with the phone column it is named after
/// (`Phone 1 - Label` with `Phone 1 - Value`).
fn phone_labels(columns: &[Column]) -> Vec<(usize, usize)> {
    let is_phone = |target: &Target| {
        matches!(
            target,
            Target::Field(Field::Phone) | Target::AlternatePhone(_)
        )
    };
    columns
        .iter()
        .enumerate()
        .filter(|(_, column)| column.target == Target::PhoneLabel)
        .filter_map(|(label, column)| {
            let stem = label_stem(&column.header)?;
            let phone = columns
                .iter()
                .position(|c| is_phone(&c.target) && phone_stem(&c.header) == stem)?;
            Some((phone, label))
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SecondaryColumns {
    pub number: u8,
    pub phone: Option<usize>,
    pub fields: Vec<(usize, String)>,
}

impl SecondaryColumns {
    fn new(number: u8) -> Self {
        SecondaryColumns {
            number,
            phone: None,
            fields: Vec::new(),
        }
    }
}

impl ColumnPlan {
    fn new(
        columns: Vec<Column>,
        warnings: Vec<String>,
        report_input: bool,
        layout: Option<String>,
    ) -> Self {
        let mut index = PlanIndex::default();
        let mut secondary: BTreeMap<u8, SecondaryColumns> = BTreeMap::new();
        for (i, column) in columns.iter().enumerate() {
            if column.source != MappingSource::ReportColumn {
                index.source_columns.push(i);
            }
            match &column.target {
                Target::Field(field) => index.fields[*field as usize] = Some(i),
                Target::Custom(key) => index.custom.push((i, key.clone())),
                Target::SecondaryPhone(n) => {
                    secondary
                        .entry(*n)
                        .or_insert_with(|| SecondaryColumns::new(*n))
                        .phone = Some(i)
                }
                Target::SecondaryField(n, key) => secondary
                    .entry(*n)
                    .or_insert_with(|| SecondaryColumns::new(*n))
                    .fields
                    .push((i, key.clone())),
                Target::AlternatePhone(kind) => index.alternates.push((i, *kind)),
                Target::PhoneLabel | Target::Ignore => {}
            }
        }
        index.secondary = secondary.into_values().collect();
        index.labels = phone_labels(&columns);
        ColumnPlan {
            columns,
            warnings,
            report_input,
            layout,
            index,
        }
    }

    /// The exporter whose layout was recognised, such as "Google Contacts".
    pub fn layout(&self) -> Option<&str> {
        self.layout.as_deref()
    }

    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The file is an error report being uploaded again after fixes.
    pub fn is_report_input(&self) -> bool {
        self.report_input
    }

    pub fn column_of(&self, field: Field) -> Option<usize> {
        self.index.fields[field as usize]
    }

    pub fn header(&self, column: usize) -> &str {
        &self.columns[column].header
    }

    /// Headers of the columns a report of this file repeats.
    pub fn source_headers(&self) -> Vec<String> {
        self.index
            .source_columns
            .iter()
            .map(|&i| self.columns[i].header.clone())
            .collect()
    }

    /// Custom keys the import would create, in column order.
    pub fn custom_keys(&self) -> Vec<&str> {
        self.index
            .custom
            .iter()
            .map(|(_, key)| key.as_str())
            .collect()
    }

    pub(crate) fn index(&self) -> &PlanIndex {
        &self.index
    }

    /// Builds the plan for a file from its headers and a sample of its rows.
    pub fn build(
        headers: &[String],
        sample: &[StringRecord],
        spec: &ImportSpec,
        phones: &PhoneParser,
    ) -> Result<ColumnPlan, Refusal> {
        PlanBuilder::new(headers, sample, spec, phones).build()
    }
}

struct PlanBuilder<'a> {
    headers: &'a [String],
    sample: &'a [StringRecord],
    spec: &'a ImportSpec,
    phones: &'a PhoneParser,
    report_input: bool,
    layout: Option<&'static Layout>,
    targets: Vec<Option<(Target, MappingSource)>>,
    warnings: Vec<String>,
}

impl<'a> PlanBuilder<'a> {
    fn new(
        headers: &'a [String],
        sample: &'a [StringRecord],
        spec: &'a ImportSpec,
        phones: &'a PhoneParser,
    ) -> Self {
        let report = report_columns(headers);
        let report_input = report.is_some();
        let mut targets = vec![None; headers.len()];
        for column in report.into_iter().flatten() {
            targets[column] = Some((Target::Ignore, MappingSource::ReportColumn));
        }
        PlanBuilder {
            headers,
            sample,
            spec,
            phones,
            report_input,
            layout: layouts::recognise(headers),
            targets,
            warnings: Vec::new(),
        }
    }

    fn build(mut self) -> Result<ColumnPlan, Refusal> {
        self.apply_spec()?;
        self.detect();
        self.keep_unmapped();
        self.check_phone()?;
        self.check_required_fields()?;
        let columns = self
            .headers
            .iter()
            .zip(self.targets)
            .map(|(header, target)| {
                let (target, source) = target.expect("every column has a target by now");
                Column {
                    header: header.clone(),
                    target,
                    source,
                }
            })
            .collect();
        let layout = self.layout.map(|layout| layout.name.to_owned());
        Ok(ColumnPlan::new(
            columns,
            self.warnings,
            self.report_input,
            layout,
        ))
    }

    fn find_column(&self, key: &str, name: &str) -> Result<usize, Refusal> {
        let open = |i: &usize| self.targets[*i].is_none();
        let wanted = name.trim();
        let exact = (0..self.headers.len()).find(|i| open(i) && self.headers[*i].trim() == wanted);
        let normalised = normalise_header(wanted);
        exact
            .or_else(|| {
                (0..self.headers.len())
                    .find(|i| open(i) && normalise_header(&self.headers[*i]) == normalised)
            })
            .ok_or_else(|| Refusal::UnknownColumn {
                key: key.to_owned(),
                column: name.to_owned(),
                headers: list_headers(self.headers),
            })
    }

    fn apply_spec(&mut self) -> Result<(), Refusal> {
        let mut explicit: Vec<(String, &str, Target)> = self
            .spec
            .mapping
            .iter()
            .map(|(header, target)| (format!("mapping.{header}"), header.as_str(), target.clone()))
            .collect();
        if let Some(column) = &self.spec.consent_column {
            if !self.spec.mapping.contains_key(column) {
                explicit.push((
                    "consent_column".to_owned(),
                    column,
                    Target::Field(Field::Consent),
                ));
            }
        }
        let mut claimed: Vec<(Target, usize)> = Vec::new();
        for (key, header, target) in explicit {
            let column = self.find_column(&key, header)?;
            if target != Target::Ignore {
                if let Some((_, other)) = claimed.iter().find(|(t, _)| *t == target) {
                    return Err(self.conflict(&target, *other, column));
                }
                claimed.push((target.clone(), column));
            }
            self.targets[column] = Some((target, MappingSource::Spec));
        }
        Ok(())
    }

    fn conflict(&self, target: &Target, a: usize, b: usize) -> Refusal {
        let (first, second) = (a.min(b), a.max(b));
        Refusal::ConflictingMapping {
            target: target.to_string(),
            first: self.headers[first].clone(),
            second: self.headers[second].clone(),
        }
    }

    fn column_with(&self, target: &Target) -> Option<usize> {
        self.targets
            .iter()
            .position(|t| t.as_ref().is_some_and(|(t, _)| t == target))
    }

    /// Recognises the remaining columns from their headers; where several
    /// look like one field, the best is used and the others stay custom.
    fn detect(&mut self) {
        let mut candidates: Vec<(Target, Vec<(usize, usize)>)> = Vec::new();
        let mut phones: Vec<(usize, PhoneKind, usize)> = Vec::new();
        for column in 0..self.headers.len() {
            if self.targets[column].is_some() {
                continue;
            }
            let Some((target, rank)) = self.recognise(column) else {
                continue;
            };
            if let Target::AlternatePhone(kind) = target {
                phones.push((column, kind, rank));
                continue;
            }
            if target == Target::Field(Field::Consent) && self.spec.consent_column.is_some() {
                continue;
            }
            if let Some(owner) = self.column_with(&target) {
                self.warnings.push(format!(
                    "column `{}` looks like {target}, but the spec maps `{}` to it; `{}` is kept as an unmapped column",
                    self.headers[column], self.headers[owner], self.headers[column]
                ));
                continue;
            }
            match candidates.iter_mut().find(|(t, _)| *t == target) {
                Some((_, columns)) => columns.push((column, rank)),
                None => candidates.push((target, vec![(column, rank)])),
            }
        }
        self.choose_phones(phones);
        self.find_phone_labels();
        for (target, columns) in candidates {
            let winner = columns
                .iter()
                .min_by_key(|&&(column, rank)| (rank, column))
                .map(|&(c, _)| c)
                .expect("a candidate list is never empty");
            self.targets[winner] = Some((target.clone(), MappingSource::Detected));
            let others: Vec<String> = columns
                .iter()
                .filter(|(column, _)| *column != winner)
                .map(|(column, _)| format!("`{}`", self.headers[*column]))
                .collect();
            if !others.is_empty() {
                self.warnings.push(format!(
                    "{} also look like {target}; `{}` is used as {target} and the others are kept as unmapped columns (map them in the spec to choose otherwise)",
                    others.join(", "),
                    self.headers[winner]
                ));
            }
        }
    }

    /// What a column's header says it holds: as the recognised layout
    /// reads it, else by the generic rules on the header without the
    /// layout's prefix. None leaves it unmapped.
    fn recognise(&mut self, column: usize) -> Option<(Target, usize)> {
        let header = &self.headers[column];
        let Some(layout) = self.layout else {
            return detect_target(header);
        };
        match layout.meaning(header) {
            Some(Meaning::Field(field)) => Some((Target::Field(field), 0)),
            Some(Meaning::Phone(kind)) => Some((Target::AlternatePhone(kind), 0)),
            Some(Meaning::Unmapped) => None,
            Some(Meaning::Ignore) => {
                self.targets[column] = Some((Target::Ignore, MappingSource::Detected));
                None
            }
            None => detect_target(layout.strip_prefix(header)),
        }
    }

    /// Columns named after a phone column with `Label` or `Type` for
    /// `Value` hold the labels of its numbers.
    fn find_phone_labels(&mut self) {
        let phone_stems: Vec<Vec<String>> = (0..self.headers.len())
            .filter(|&c| {
                matches!(
                    self.targets[c],
                    Some((Target::Field(Field::Phone) | Target::AlternatePhone(_), _))
                )
            })
            .map(|c| phone_stem(&self.headers[c]))
            .collect();
        for column in 0..self.headers.len() {
            if self.targets[column].is_some() {
                continue;
            }
            if label_stem(&self.headers[column]).is_some_and(|stem| phone_stems.contains(&stem)) {
                self.targets[column] = Some((Target::PhoneLabel, MappingSource::Detected));
            }
        }
    }

    /// Every column whose header names a phone and whose values are
    /// numbers counts: the best is the primary column, by kind as the spec's
    /// `phone_order` prefers, then by its share of valid numbers; the others
    /// give secondary numbers, and the primary one when the primary is
    /// empty. A phone-named column whose values are mostly not numbers
    /// (`n/a`, counts, notes) is kept as an unmapped column.
    fn choose_phones(&mut self, phones: Vec<(usize, PhoneKind, usize)>) {
        let (numbers, not_numbers): (Vec<_>, Vec<_>) =
            phones.into_iter().partition(|&(column, _, _)| {
                self.number_share(column)
                    .is_none_or(|share| share >= PHONE_LIKE_SHARE)
            });
        let primary_mapped = self.column_with(&Target::Field(Field::Phone)).is_some();
        // With no column of numbers, the best guess is still a phone column,
        // so that the plan can say how few of its values are valid.
        let pool = if numbers.is_empty() {
            &not_numbers
        } else {
            &numbers
        };
        let better = |a: &&(usize, PhoneKind, usize), b: &&(usize, PhoneKind, usize)| {
            let preference = |kind| self.spec.phone_preference(kind);
            preference(a.1)
                .cmp(&preference(b.1))
                .then(self.phone_share(b.0).total_cmp(&self.phone_share(a.0)))
                .then((a.2, a.0).cmp(&(b.2, b.0)))
        };
        let primary = if primary_mapped {
            None
        } else {
            pool.iter().min_by(better).map(|&(column, _, _)| column)
        };
        let mut alternates = Vec::new();
        for &(column, kind, _) in &numbers {
            if Some(column) == primary {
                continue;
            }
            self.targets[column] = Some((Target::AlternatePhone(kind), MappingSource::Detected));
            alternates.push(format!("`{}`", self.headers[column]));
        }
        if let Some(primary) = primary {
            self.targets[primary] = Some((Target::Field(Field::Phone), MappingSource::Detected));
            if !alternates.is_empty() {
                self.warnings.push(format!(
                    "`{}` gives the primary number; {} give secondary numbers, and the primary one where `{}` is empty (set phone_order in the spec to prefer another kind)",
                    self.headers[primary],
                    alternates.join(", "),
                    self.headers[primary]
                ));
            }
        }
        for &(column, _, _) in &not_numbers {
            if Some(column) != primary {
                self.warnings.push(format!(
                    "column `{}` is named like a phone column but most of its values are not phone numbers; it is kept as an unmapped column",
                    self.headers[column]
                ));
            }
        }
    }

    fn keep_unmapped(&mut self) {
        let mut used: HashSet<String> = self
            .targets
            .iter()
            .flatten()
            .filter_map(|(target, _)| match target {
                Target::Custom(key) => Some(key.clone()),
                _ => None,
            })
            .collect();
        for column in 0..self.headers.len() {
            if self.targets[column].is_some() {
                continue;
            }
            let target = match self.spec.unmapped {
                Unmapped::Ignore => Target::Ignore,
                Unmapped::Custom => {
                    let base = match custom_key(&self.headers[column]) {
                        key if key.is_empty() => format!("column_{}", column + 1),
                        key => key,
                    };
                    let mut key = base.clone();
                    let mut n = 2;
                    while used.contains(&key) {
                        key = format!("{base}_{n}");
                        n += 1;
                    }
                    used.insert(key.clone());
                    Target::Custom(key)
                }
            };
            self.targets[column] = Some((target, MappingSource::Unmapped));
        }
    }

    /// Share of sampled rows whose value in `column` is a valid number.
    fn phone_share(&self, column: usize) -> f64 {
        if self.sample.is_empty() {
            return 0.0;
        }
        let valid = self
            .sample
            .iter()
            .filter(|record| {
                record
                    .get(column)
                    .is_some_and(|v| self.phones.is_valid(first_number(v)))
            })
            .count();
        valid as f64 / self.sample.len() as f64
    }

    /// Share of a column's filled sampled values that are valid numbers;
    /// None when the sample leaves it empty.
    fn number_share(&self, column: usize) -> Option<f64> {
        let values: Vec<&str> = self
            .sample
            .iter()
            .filter_map(|record| record.get(column))
            .filter(|value| !value.trim().is_empty())
            .collect();
        if values.is_empty() {
            return None;
        }
        let valid = values
            .iter()
            .filter(|v| self.phones.is_valid(first_number(v)))
            .count();
        Some(valid as f64 / values.len() as f64)
    }

    /// The data column other than `except` that looks most like phone numbers.
    fn most_phone_like(&self, except: Option<usize>) -> Option<(usize, f64)> {
        (0..self.headers.len())
            .filter(|&c| Some(c) != except)
            .filter(|&c| !matches!(self.targets[c], Some((_, MappingSource::ReportColumn))))
            .map(|c| (c, self.phone_share(c)))
            .filter(|&(_, share)| share >= PHONE_LIKE_SHARE)
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
    }

    fn check_phone(&mut self) -> Result<(), Refusal> {
        let Some(phone) = self.column_with(&Target::Field(Field::Phone)) else {
            let hint = match self.most_phone_like(None) {
                Some((column, share)) => format!(
                    "column `{}` looks like phone numbers ({:.0}% of sampled values are valid): rename it to phone or map it with {{\"mapping\": {{\"{}\": \"phone\"}}}}",
                    self.headers[column],
                    share * 100.0,
                    self.headers[column]
                ),
                None => "add a column named phone holding each contact's number, for example +14155552671".to_owned(),
            };
            return Err(Refusal::NoPhoneColumn {
                headers: list_headers(self.headers),
                hint,
            });
        };
        let share = self.phone_share(phone);
        if !self.sample.is_empty() && share < PHONE_LIKE_SHARE {
            let mut warning = format!(
                "phone column `{}`: only {:.0}% of sampled values are valid phone numbers",
                self.headers[phone],
                share * 100.0
            );
            if let Some((better, better_share)) = self.most_phone_like(Some(phone)) {
                if better_share > share {
                    warning.push_str(&format!(
                        "; column `{}` looks better ({:.0}% valid): map it with {{\"mapping\": {{\"{}\": \"phone\"}}}}",
                        self.headers[better],
                        better_share * 100.0,
                        self.headers[better]
                    ));
                }
            }
            self.warnings.push(warning);
        }
        Ok(())
    }

    fn check_required_fields(&mut self) -> Result<(), Refusal> {
        for (key, rule) in &self.spec.fields {
            if self.column_with(&Target::Custom(key.clone())).is_some() {
                continue;
            }
            if rule.required {
                return Err(Refusal::RequiredFieldWithoutColumn { key: key.clone() });
            }
            self.warnings
                .push(format!("field rule `{key}` matches no column of this file"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::spec::Country;

    fn plan(headers: &[&str], rows: &[&[&str]], spec: &str) -> Result<ColumnPlan, Refusal> {
        let headers: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
        let sample: Vec<StringRecord> = rows
            .iter()
            .map(|r| StringRecord::from(r.to_vec()))
            .collect();
        let spec = ImportSpec::from_json(spec).unwrap();
        ColumnPlan::build(
            &headers,
            &sample,
            &spec,
            &PhoneParser::new(Country::default()),
        )
    }

    fn target_of<'p>(plan: &'p ColumnPlan, header: &str) -> (&'p Target, MappingSource) {
        let column = plan.columns().iter().find(|c| c.header == header).unwrap();
        (&column.target, column.source)
    }

    #[test]
    fn headers_are_detected_and_the_rest_kept_as_custom() {
        let plan = plan(
            &["Phone Number", "First Name", "Lead Source", ""],
            &[&["4155552671", "Ann", "web", ""]],
            "{}",
        )
        .unwrap();
        assert_eq!(
            target_of(&plan, "Phone Number"),
            (&Target::Field(Field::Phone), MappingSource::Detected)
        );
        assert_eq!(
            target_of(&plan, "Lead Source"),
            (
                &Target::Custom("lead_source".into()),
                MappingSource::Unmapped
            )
        );
        assert_eq!(
            target_of(&plan, ""),
            (&Target::Custom("column_4".into()), MappingSource::Unmapped)
        );
        assert_eq!(plan.custom_keys(), ["lead_source", "column_4"]);
        assert!(plan.warnings().is_empty(), "{:?}", plan.warnings());
    }

    #[test]
    fn unmapped_ignore_drops_unknown_columns() {
        let plan = plan(&["phone", "Notes"], &[], r#"{"unmapped":"ignore"}"#).unwrap();
        assert_eq!(target_of(&plan, "Notes").0, &Target::Ignore);
        assert!(plan.custom_keys().is_empty());
    }

    #[test]
    fn a_phone_named_column_without_numbers_is_not_a_phone_column() {
        let rows: &[&[&str]] = &[
            &["n/a", "4155552671"],
            &["", "(415) 555-2672"],
            &["x", "415.555.2673"],
        ];
        let plan = plan(&["Phone", "Mobile"], rows, "{}").unwrap();
        assert_eq!(target_of(&plan, "Mobile").0, &Target::Field(Field::Phone));
        assert_eq!(target_of(&plan, "Phone").0, &Target::Custom("phone".into()));
        assert_eq!(plan.warnings().len(), 1);
        assert!(
            plan.warnings()[0].contains(
                "`Phone` is named like a phone column but most of its values are not phone numbers"
            ),
            "{:?}",
            plan.warnings()
        );
    }

    #[test]
    fn every_phone_column_counts_and_the_kind_order_picks_the_primary() {
        let rows: &[&[&str]] = &[&["4155552671", "4155552672", "4155552673", "ann"]];
        let headers = ["Home Phone", "Mobile Phone", "Work Direct Phone", "Name"];
        let default = plan(&headers, rows, "{}").unwrap();
        assert_eq!(
            target_of(&default, "Mobile Phone").0,
            &Target::Field(Field::Phone)
        );
        assert_eq!(
            target_of(&default, "Home Phone").0,
            &Target::AlternatePhone(PhoneKind::Home)
        );
        assert_eq!(
            target_of(&default, "Work Direct Phone").0,
            &Target::AlternatePhone(PhoneKind::Direct)
        );
        assert!(
            default.warnings()[0].contains("`Mobile Phone` gives the primary number"),
            "{:?}",
            default.warnings()
        );
        let home_first = plan(&headers, rows, r#"{"phone_order": ["home"]}"#).unwrap();
        assert_eq!(
            target_of(&home_first, "Home Phone").0,
            &Target::Field(Field::Phone)
        );
    }

    #[test]
    fn equal_phone_columns_fall_back_to_synonym_rank() {
        let rows: &[&[&str]] = &[&["4155552671", "4155552672"]];
        let plan = plan(&["Cell", "Phone"], rows, "{}").unwrap();
        assert_eq!(target_of(&plan, "Phone").0, &Target::Field(Field::Phone));
    }

    #[test]
    fn non_phone_duplicates_use_the_plainer_header() {
        let plan = plan(&["phone", "E-mail", "Email"], &[], "{}").unwrap();
        assert_eq!(target_of(&plan, "Email").0, &Target::Field(Field::Email));
        assert_eq!(
            target_of(&plan, "E-mail").0,
            &Target::Custom("e_mail".into())
        );
        assert!(plan.warnings()[0].contains("`E-mail`"));
    }

    #[test]
    fn spec_mapping_overrides_detection_and_other_phone_columns_stay_phones() {
        let plan = plan(&["Phone", "Work"], &[], r#"{"mapping":{"Work":"phone"}}"#).unwrap();
        assert_eq!(
            target_of(&plan, "Work"),
            (&Target::Field(Field::Phone), MappingSource::Spec)
        );
        // The other phone column still counts, for secondary numbers.
        assert_eq!(
            target_of(&plan, "Phone"),
            (
                &Target::AlternatePhone(PhoneKind::Main),
                MappingSource::Detected
            )
        );
    }

    #[test]
    fn two_columns_mapped_to_one_field_is_refused_naming_both() {
        let e = plan(&["A", "B"], &[], r#"{"mapping":{"A":"phone","B":"phone"}}"#).unwrap_err();
        assert_eq!(
            e,
            Refusal::ConflictingMapping {
                target: "phone".into(),
                first: "A".into(),
                second: "B".into()
            }
        );
        assert!(e.to_string().contains("`A` and `B`"));
    }

    #[test]
    fn mapping_a_missing_column_is_refused() {
        let e = plan(&["phone"], &[], r#"{"mapping":{"Cell":"phone"}}"#).unwrap_err();
        assert!(
            matches!(&e, Refusal::UnknownColumn { key, .. } if key == "mapping.Cell"),
            "{e}"
        );
        let e = plan(&["phone"], &[], r#"{"consent_column":"OK"}"#).unwrap_err();
        assert!(
            matches!(&e, Refusal::UnknownColumn { key, .. } if key == "consent_column"),
            "{e}"
        );
    }

    #[test]
    fn no_phone_column_names_the_phone_like_column() {
        let rows: &[&[&str]] = &[&["Ann", "+14155552671"], &["Bob", "+14155552672"]];
        let e = plan(&["Name", "Digits"], rows, "{}").unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("`Name`, `Digits`")
                && text.contains("column `Digits` looks like phone numbers"),
            "{text}"
        );
        let e = plan(&["Name"], &[&["Ann"]], "{}").unwrap_err();
        assert!(e.to_string().contains("add a column named phone"), "{e}");
    }

    #[test]
    fn mostly_invalid_phone_column_is_warned_with_a_better_one() {
        let rows: &[&[&str]] = &[&["x", "4155552671"], &["", "4155552672"]];
        let plan = plan(&["Phone", "Other"], rows, "{}").unwrap();
        assert!(
            plan.warnings()
                .iter()
                .any(|w| w.contains("0% of sampled") && w.contains("`Other` looks better")),
            "{:?}",
            plan.warnings()
        );
    }

    #[test]
    fn consent_column_from_spec_and_auto() {
        let plan1 = plan(&["phone", "Opt-In"], &[], "{}").unwrap();
        assert_eq!(
            target_of(&plan1, "Opt-In").0,
            &Target::Field(Field::Consent)
        );
        let plan2 = plan(
            &["phone", "Opt-In", "OK to call"],
            &[],
            r#"{"consent_column":"OK to call"}"#,
        )
        .unwrap();
        assert_eq!(
            target_of(&plan2, "OK to call"),
            (&Target::Field(Field::Consent), MappingSource::Spec)
        );
        assert_eq!(
            target_of(&plan2, "Opt-In").0,
            &Target::Custom("opt_in".into())
        );
    }

    #[test]
    fn required_field_without_column_is_refused() {
        let e = plan(
            &["phone"],
            &[],
            r#"{"fields":{"plan":{"type":"text","required":true}}}"#,
        )
        .unwrap_err();
        assert_eq!(
            e,
            Refusal::RequiredFieldWithoutColumn { key: "plan".into() }
        );
    }

    #[test]
    fn report_columns_are_recognised_and_ignored() {
        let plan = plan(
            &[
                "row",
                "error_code",
                "error_message",
                "guidance",
                "phone",
                "name",
            ],
            &[],
            "{}",
        )
        .unwrap();
        assert!(plan.is_report_input());
        assert_eq!(
            target_of(&plan, "error_code"),
            (&Target::Ignore, MappingSource::ReportColumn)
        );
        assert_eq!(plan.source_headers(), ["phone", "name"]);
    }

    #[test]
    fn plan_survives_serialisation() {
        let plan = plan(
            &["phone", "secondary_phone_1", "secondary_1_name", "x"],
            &[],
            "{}",
        )
        .unwrap();
        let back: ColumnPlan =
            serde_json::from_str(&serde_json::to_string(&plan).unwrap()).unwrap();
        assert_eq!(back, plan);
        assert_eq!(back.index().secondary[0].phone, Some(1));
        assert_eq!(back.index().secondary[0].fields, [(2, "name".to_string())]);
    }
}
