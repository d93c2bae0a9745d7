//! Phone numbers: parsed and validated against libphonenumber's metadata,
//! written in E.164.
//!
//! rlibphonenumber is used rather than the phonenumber crate: the latter takes
//! one global lock per regex match and validated about 117k numbers/s on this
//! project's benchmark input, against about 670k/s here (see docs/decisions.md).

use std::panic::{self, AssertUnwindSafe};

use rlibphonenumber::{PhoneNumberFormat, ValidationError, PHONE_NUMBER_UTIL};

use crate::spec::Country;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedPhone {
    pub e164: String,
    pub extension: Option<String>,
}

/// Why a value is not a dialable number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneProblem {
    NotANumber,
    InvalidCountryCode,
    TooShort,
    TooLong,
    /// Right length, but no number range of the region matches.
    NotInUse,
}

impl PhoneProblem {
    pub fn describe(self) -> &'static str {
        match self {
            PhoneProblem::NotANumber => "is not a phone number",
            PhoneProblem::InvalidCountryCode => "has a country code that does not exist",
            PhoneProblem::TooShort => "has too few digits",
            PhoneProblem::TooLong => "has too many digits",
            PhoneProblem::NotInUse => "is not a valid number",
        }
    }
}

/// Parses numbers for one import; those without a country code are read as
/// numbers of `default_country`.
#[derive(Debug, Clone, Copy)]
pub struct PhoneParser {
    default_country: Country,
}

impl PhoneParser {
    pub fn new(default_country: Country) -> Self {
        PhoneParser { default_country }
    }

    pub fn default_country(&self) -> Country {
        self.default_country
    }

    /// A panic inside the phone library is reported as an invalid number:
    /// one odd cell must never take an import down.
    pub fn parse(&self, raw: &str) -> Result<ParsedPhone, PhoneProblem> {
        let region = self.default_country.region();
        panic::catch_unwind(AssertUnwindSafe(|| parse_number(raw, region)))
            .unwrap_or(Err(PhoneProblem::NotANumber))
    }

    /// A cheap yes/no for ranking columns by how phone-like they are.
    pub fn is_valid(&self, raw: &str) -> bool {
        let raw = raw.trim();
        !raw.is_empty() && raw.len() <= 64 && self.parse(raw).is_ok()
    }
}

fn parse_number(raw: &str, region: rlibphonenumber::Region) -> Result<ParsedPhone, PhoneProblem> {
    let util = &*PHONE_NUMBER_UTIL;
    let number = util.parse(raw, Some(region)).map_err(|e| match e {
        rlibphonenumber::ParseError::InvalidCountryCode => PhoneProblem::InvalidCountryCode,
        rlibphonenumber::ParseError::TooShortAfterIdd
        | rlibphonenumber::ParseError::TooShortNsn => PhoneProblem::TooShort,
        rlibphonenumber::ParseError::TooLongNsn => PhoneProblem::TooLong,
        _ => PhoneProblem::NotANumber,
    })?;
    if !util.is_valid_number(&number) {
        return Err(match util.is_possible_number_with_reason(&number) {
            Err(ValidationError::InvalidCountryCode) => PhoneProblem::InvalidCountryCode,
            Err(ValidationError::TooShort) => PhoneProblem::TooShort,
            Err(ValidationError::TooLong) => PhoneProblem::TooLong,
            _ => PhoneProblem::NotInUse,
        });
    }
    let e164 = util.format(&number, PhoneNumberFormat::E164).into_owned();
    let extension = Some(number.extension())
        .filter(|ext| !ext.is_empty())
        .map(str::to_owned);
    Ok(ParsedPhone { e164, extension })
}

/// An E.164 number as one integer: a compact key for in-file duplicates.
/// E.164 has at most 15 digits and never starts with 0 after the `+`.
pub fn e164_key(e164: &str) -> u64 {
    e164.trim_start_matches('+')
        .bytes()
        .fold(0u64, |acc, b| acc * 10 + u64::from(b - b'0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parser(country: &str) -> PhoneParser {
        PhoneParser::new(Country::try_from(country.to_owned()).unwrap())
    }

    #[test]
    fn formats_in_everyday_use_become_e164() {
        let us = parser("US");
        for raw in [
            "(415) 555-2671",
            "415.555.2671",
            "+1 415-555-2671",
            "1-415-555-2671",
            "4155552671",
            "+14155552671",
        ] {
            assert_eq!(us.parse(raw).unwrap().e164, "+14155552671", "{raw}");
        }
        assert_eq!(us.parse("+44 20 7946 0958").unwrap().e164, "+442079460958");
        assert_eq!(
            parser("GB").parse("020 7946 0958").unwrap().e164,
            "+442079460958"
        );
        assert_eq!(
            parser("DE").parse("030 901820").unwrap().e164,
            "+4930901820"
        );
    }

    #[test]
    fn extension_is_kept() {
        let parsed = parser("US").parse("+1 415 555 2671 ext. 42").unwrap();
        assert_eq!(parsed.e164, "+14155552671");
        assert_eq!(parsed.extension.as_deref(), Some("42"));
    }

    #[test]
    fn invalid_numbers_say_why() {
        let us = parser("US");
        assert_eq!(us.parse("hello"), Err(PhoneProblem::NotANumber));
        assert_eq!(us.parse("555-12"), Err(PhoneProblem::TooShort));
        assert_eq!(
            us.parse("+1 415 555 2671 99999"),
            Err(PhoneProblem::TooLong)
        );
        assert_eq!(
            us.parse("+999 1234567"),
            Err(PhoneProblem::InvalidCountryCode)
        );
        // Right length, but no US area code starts with 1.
        assert_eq!(us.parse("(123) 456-7890"), Err(PhoneProblem::NotInUse));
    }

    #[test]
    fn e164_keys_are_distinct_integers() {
        assert_eq!(e164_key("+14155552671"), 14_155_552_671);
        assert_ne!(e164_key("+390612345678"), e164_key("+39612345678"));
    }
}
