//! Synthetic contact files: realistic phone formats, a known share of bad
//! rows, any size. For benchmarks, examples and trying the importer at scale.
//! Deterministic: the same options always give the same bytes.

use std::io::{self, Write};

/// Real US area codes, so that generated numbers are valid for libphonenumber.
const AREA_CODES: [u16; 10] = [212, 310, 415, 646, 702, 718, 312, 617, 206, 305];
const FIRST_NAMES: [&str; 12] = [
    "Ann", "Bob", "Chloé", "Dmitri", "Emma", "Farid", "Grace", "Hiro", "Inés", "Jamal", "Kofi",
    "Lena",
];
const LAST_NAMES: [&str; 10] = [
    "Smith", "García", "Nguyen", "Okafor", "Müller", "Rossi", "Kim", "O'Brien", "Silva", "Cohen",
];
const COMPANIES: [&str; 6] = [
    "Acme Dental",
    "Blue Harbor Law",
    "Cedar Realty",
    "Delta Auto, Inc.",
    "Evergreen Clinic",
    "",
];
const SOURCES: [&str; 4] = ["web", "referral", "trade show", "cold list"];

/// The columns of a generated file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyntheticLayout {
    /// One phone column and plain headers, as a hand-made list has.
    Plain,
    /// Google Contacts' layout: two labelled phone columns, a second
    /// number in every other row, two numbers joined by ` ::: ` in every
    /// fifth, and labels joined the same way.
    GoogleContacts,
}

/// What a generated file holds. Every `n`th row breaks a rule; 0 turns it off.
#[derive(Debug, Clone, Copy)]
pub struct SyntheticOptions {
    pub rows: u64,
    pub layout: SyntheticLayout,
    pub invalid_phone_every: u64,
    pub missing_phone_every: u64,
    pub duplicate_every: u64,
    pub no_consent_every: u64,
}

impl SyntheticOptions {
    /// A file like a real CRM export: about 96% of rows import.
    pub fn realistic(rows: u64) -> Self {
        SyntheticOptions {
            rows,
            layout: SyntheticLayout::Plain,
            invalid_phone_every: 53,
            missing_phone_every: 97,
            duplicate_every: 101,
            no_consent_every: 211,
        }
    }

    /// Every row imports.
    pub fn clean(rows: u64) -> Self {
        SyntheticOptions {
            rows,
            layout: SyntheticLayout::Plain,
            invalid_phone_every: 0,
            missing_phone_every: 0,
            duplicate_every: 0,
            no_consent_every: 0,
        }
    }

    pub fn in_layout(self, layout: SyntheticLayout) -> Self {
        SyntheticOptions { layout, ..self }
    }
}

fn every(n: u64, i: u64) -> bool {
    n != 0 && i % n == n - 1
}

/// The i-th distinct valid US number as (area, exchange, line); distinct for
/// the first 64 million values of `i`. Exchanges avoid N11 service codes.
fn us_number(i: u64) -> (u16, u16, u16) {
    let area = AREA_CODES[(i % 10) as usize];
    let rest = i / 10;
    let line = (rest % 10_000) as u16;
    let e = ((rest / 10_000) % 640) as u16;
    let exchange = (2 + e / 80) * 100 + (2 + (e / 10) % 8) * 10 + e % 10;
    (area, exchange, line)
}

/// The i-th number in one of the formats people type.
fn formatted_phone(i: u64) -> String {
    let (area, exchange, line) = us_number(i);
    match i % 6 {
        0 => format!("({area}) {exchange}-{line:04}"),
        1 => format!("+1 {area}-{exchange}-{line:04}"),
        2 => format!("{area}.{exchange}.{line:04}"),
        3 => format!("+1{area}{exchange}{line:04}"),
        4 => format!("1-{area}-{exchange}-{line:04}"),
        _ => format!("{area} {exchange} {line:04}"),
    }
}

/// Writes a CSV with a header and `options.rows` data rows.
pub fn write_synthetic_file<W: Write>(sink: W, options: SyntheticOptions) -> io::Result<()> {
    let mut csv = csv::Writer::from_writer(io::BufWriter::new(sink));
    match options.layout {
        SyntheticLayout::Plain => csv.write_record(PLAIN_HEADER)?,
        SyntheticLayout::GoogleContacts => csv.write_record(GOOGLE_HEADER)?,
    }
    for i in 0..options.rows {
        let row = SyntheticRow::new(&options, i);
        match options.layout {
            SyntheticLayout::Plain => csv.write_record(row.plain())?,
            SyntheticLayout::GoogleContacts => csv.write_record(row.google_contacts())?,
        }
    }
    csv.flush()
}

const PLAIN_HEADER: [&str; 11] = [
    "Phone",
    "First Name",
    "Last Name",
    "Email",
    "Company",
    "City",
    "State",
    "Zip",
    "Tags",
    "Lead Source",
    "Consent",
];

const GOOGLE_HEADER: [&str; 14] = [
    "First Name",
    "Last Name",
    "E-mail 1 - Value",
    "Organization Name",
    "Address 1 - City",
    "Address 1 - Region",
    "Address 1 - Postal Code",
    "Labels",
    "Lead Source",
    "Consent",
    "Phone 1 - Label",
    "Phone 1 - Value",
    "Phone 2 - Label",
    "Phone 2 - Value",
];

/// Offsets into the distinct numbers of [`us_number`] for a row's other
/// numbers, so that they repeat no primary number of a 10-million-row file.
const SECOND_IN_CELL: u64 = 20_000_000;
const SECOND_COLUMN: u64 = 40_000_000;

/// The values of the i-th data row, whatever the layout.
struct SyntheticRow {
    i: u64,
    phone: String,
    first: &'static str,
    last: &'static str,
    email: String,
    consent: &'static str,
    zip: String,
}

impl SyntheticRow {
    fn new(options: &SyntheticOptions, i: u64) -> Self {
        let phone = if every(options.missing_phone_every, i) {
            String::new()
        } else if every(options.invalid_phone_every, i) {
            format!("555-{:03}", i % 1000)
        } else if every(options.duplicate_every, i) {
            formatted_phone(i / 2)
        } else {
            formatted_phone(i)
        };
        let first = FIRST_NAMES[(i % 12) as usize];
        let email = format!(
            "{}.{}{}@example.com",
            first.to_lowercase(),
            (i / 12 % 10),
            i
        );
        let consent = if every(options.no_consent_every, i) {
            "no"
        } else {
            "yes"
        };
        SyntheticRow {
            i,
            phone,
            first,
            last: LAST_NAMES[(i / 12 % 10) as usize],
            email,
            consent,
            zip: format!("{:05}", 10_000 + i % 89_999),
        }
    }

    /// The values both layouts have, in their order: names, email,
    /// company, city, state, zip, tags, source and consent.
    fn shared_values(&self, tags: &str) -> Vec<String> {
        vec![
            self.first.to_owned(),
            self.last.to_owned(),
            self.email.clone(),
            COMPANIES[(self.i % 6) as usize].to_owned(),
            "Springfield".to_owned(),
            "IL".to_owned(),
            self.zip.clone(),
            tags.to_owned(),
            SOURCES[(self.i % 4) as usize].to_owned(),
            self.consent.to_owned(),
        ]
    }

    fn plain(&self) -> Vec<String> {
        let tags = if self.i.is_multiple_of(3) {
            "new; priority"
        } else {
            "new"
        };
        let mut row = vec![self.phone.clone()];
        row.extend(self.shared_values(tags));
        row
    }

    /// A row without a phone has none in either column, so that the file
    /// breaks the same rules as the plain one.
    fn google_contacts(&self) -> Vec<String> {
        let i = self.i;
        let labels = if i.is_multiple_of(3) {
            "* myContacts ::: new ::: priority"
        } else {
            "* myContacts ::: new"
        };
        let (label_1, value_1) = if !self.phone.is_empty() && i.is_multiple_of(5) {
            let second = formatted_phone(i + SECOND_IN_CELL);
            ("Mobile ::: Work", format!("{} ::: {second}", self.phone))
        } else {
            ("Mobile", self.phone.clone())
        };
        let (label_2, value_2) = if !self.phone.is_empty() && i.is_multiple_of(2) {
            ("Home", formatted_phone(i + SECOND_COLUMN))
        } else {
            ("", String::new())
        };
        let mut row = self.shared_values(labels);
        row.extend([label_1.to_owned(), value_1, label_2.to_owned(), value_2]);
        row
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::phone::PhoneParser;
    use crate::rules::spec::Country;
    use crate::{ContactFile, ImportSpec, RowOutcome, Screen};
    use std::collections::HashSet;

    #[test]
    fn generated_numbers_are_valid_and_distinct() {
        let phones = PhoneParser::new(Country::default());
        let mut seen = HashSet::new();
        for i in (0..2_000).chain((99_991..64_000_000).step_by(99_991)) {
            let parsed = phones
                .parse(&formatted_phone(i))
                .unwrap_or_else(|e| panic!("{}: {e:?}", formatted_phone(i)));
            assert!(seen.insert(parsed.e164), "number {i} repeats");
        }
    }

    #[test]
    fn same_options_give_the_same_bytes() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        write_synthetic_file(&mut a, SyntheticOptions::realistic(500)).unwrap();
        write_synthetic_file(&mut b, SyntheticOptions::realistic(500)).unwrap();
        assert_eq!(a, b);
        assert_eq!(
            csv::Reader::from_reader(a.as_slice()).records().count(),
            500
        );
    }

    /// The file's layout, and each row's number, primary phone (or error code)
    /// and count of secondary numbers.
    fn outcomes(options: SyntheticOptions) -> (Option<String>, Vec<(u64, String, usize)>) {
        let mut file = Vec::new();
        write_synthetic_file(&mut file, options).unwrap();
        let spec = ImportSpec::default();
        let mut contacts = ContactFile::open(file.as_slice(), &spec).unwrap();
        let layout = contacts.plan().layout().map(str::to_owned);
        let no_dnc = HashSet::new();
        let mut screen = Screen::new(&spec, &no_dnc);
        let mut seen = Vec::new();
        while let Some(outcome) = contacts.next_outcome(&mut screen).unwrap() {
            seen.push(match outcome {
                RowOutcome::Accepted(a) => (a.row, a.contact.phone, a.contact.secondary.len()),
                RowOutcome::Rejected(r) => (r.row, r.code.as_str().to_owned(), 0),
            });
        }
        (layout, seen)
    }

    #[test]
    fn the_google_layout_breaks_the_same_rows_and_adds_numbers() {
        let plain = outcomes(SyntheticOptions::realistic(2_000));
        let google =
            outcomes(SyntheticOptions::realistic(2_000).in_layout(SyntheticLayout::GoogleContacts));
        assert_eq!(plain.0, None);
        assert_eq!(google.0.as_deref(), Some("Google Contacts"));
        assert_eq!(plain.1.len(), 2_000);
        let primaries = |o: &[(u64, String, usize)]| -> Vec<(u64, String)> {
            o.iter()
                .map(|(row, phone, _)| (*row, phone.clone()))
                .collect()
        };
        assert_eq!(primaries(&plain.1), primaries(&google.1));
        assert!(plain.1.iter().all(|&(_, _, secondary)| secondary == 0));
        // Row i + 2 holds one more number in every 5th row and in every 2nd.
        for &(row, ref phone, secondary) in &google.1 {
            if phone.starts_with('+') {
                let i = row - 2;
                let expected = usize::from(i.is_multiple_of(5)) + usize::from(i.is_multiple_of(2));
                assert_eq!(secondary, expected, "row {row}");
            }
        }
    }
}
