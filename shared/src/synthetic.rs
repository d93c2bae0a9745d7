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

/// What a generated file holds. Every `n`th row breaks a rule; 0 turns it off.
#[derive(Debug, Clone, Copy)]
pub struct SyntheticOptions {
    pub rows: u64,
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
            invalid_phone_every: 0,
            missing_phone_every: 0,
            duplicate_every: 0,
            no_consent_every: 0,
        }
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
    let header = [
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
    csv.write_record(header)?;
    for i in 0..options.rows {
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
        let last = LAST_NAMES[(i / 12 % 10) as usize];
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
        let zip = format!("{:05}", 10_000 + i % 89_999);
        let tags = if i % 3 == 0 { "new; priority" } else { "new" };
        let row = [
            phone.as_str(),
            first,
            last,
            email.as_str(),
            COMPANIES[(i % 6) as usize],
            "Springfield",
            "IL",
            zip.as_str(),
            tags,
            SOURCES[(i % 4) as usize],
            consent,
        ];
        csv.write_record(row)?;
    }
    csv.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phone::PhoneParser;
    use crate::spec::Country;
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
}
