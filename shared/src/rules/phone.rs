//! Phone numbers: parsed and validated against libphonenumber's metadata,
//! written in E.164.
//!
//! rlibphonenumber is used rather than the phonenumber crate: the latter takes
//! one global lock per regex match and validated about 117k numbers/s on this
//! project's benchmark input, against about 670k/s here (see docs/decisions.md).

use std::panic::{self, AssertUnwindSafe};

use rlibphonenumber::{PhoneNumber, PhoneNumberFormat, ValidationError, PHONE_NUMBER_UTIL};

use crate::rules::spec::Country;

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
    region: rlibphonenumber::Region,
    /// The default country shares the North American country code 1.
    north_american: bool,
}

impl PhoneParser {
    pub fn new(default_country: Country) -> Self {
        let region = default_country.region();
        let north_american = PHONE_NUMBER_UTIL.get_country_code_for_region(region) == Some(1);
        PhoneParser {
            default_country,
            region,
            north_american,
        }
    }

    pub fn default_country(&self) -> Country {
        self.default_country
    }

    /// A panic inside the phone library is reported as an invalid number:
    /// one odd cell must never take an import down.
    pub fn parse(&self, raw: &str) -> Result<ParsedPhone, PhoneProblem> {
        let parse = || {
            if self.north_american {
                if let Some(parsed) = plain_north_american(raw, self.region) {
                    return Ok(parsed);
                }
            }
            parse_number(raw, self.region)
        };
        panic::catch_unwind(AssertUnwindSafe(parse)).unwrap_or(Err(PhoneProblem::NotANumber))
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
    if !is_valid(&number, region) {
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

/// A valid number of the North American plan in its everyday forms, such
/// as `(415) 555-2671`, `415.555.2671`, `1-415-555-2671` or `+1 415 555
/// 2671`, read without the library's parse, which costs several times the
/// validity check; None for anything else, which the library then parses.
/// Only digits, spaces, `-`, `.`, `(` and `)`, after at most a leading `+`:
/// ten digits, or ten after a 1. For such values the library ignores the
/// punctuation and strips the 1 as the country code (the number is too long
/// with it), so a valid number is this one; a test compares the two for
/// every region that shares the code.
/// An invalid one goes to the library too, which names its problem.
fn plain_north_american(raw: &str, default: rlibphonenumber::Region) -> Option<ParsedPhone> {
    let (plus, rest) = match raw.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, raw),
    };
    let mut digits = [0u8; 11];
    let mut count = 0;
    for byte in rest.bytes() {
        match byte {
            b'0'..=b'9' if count < digits.len() => {
                digits[count] = byte;
                count += 1;
            }
            b' ' | b'-' | b'.' | b'(' | b')' => {}
            _ => return None,
        }
    }
    let national = match (plus, count) {
        (false, 10) => &digits[..10],
        (_, 11) if digits[0] == b'1' => &digits[1..],
        _ => return None,
    };
    let number = PhoneNumber {
        country_code: 1,
        national_number: national
            .iter()
            .fold(0, |value, digit| value * 10 + u64::from(digit - b'0')),
        ..PhoneNumber::default()
    };
    if !is_valid(&number, default) {
        return None;
    }
    let mut e164 = String::with_capacity(12);
    e164.push_str("+1");
    e164.extend(national.iter().map(|&digit| char::from(digit)));
    Some(ParsedPhone {
        e164,
        extension: None,
    })
}

/// Whether a parsed number is valid. Most numbers are of the default
/// region: its patterns are tried first, which spares the library's search
/// over every region of a shared country code (25 for +1, about a quarter
/// of a parse). The country code is compared here because the library's
/// check for one region does not. Where the patterns do not match, the
/// library decides as it always does.
fn is_valid(number: &PhoneNumber, default: rlibphonenumber::Region) -> bool {
    let util = &*PHONE_NUMBER_UTIL;
    let own_code = util.get_country_code_for_region(default) == Some(number.country_code);
    (own_code && util.is_valid_number_for_region(number, default)) || util.is_valid_number(number)
}

/// An E.164 number as one integer: a compact key for in-file duplicates.
/// E.164 has at most 15 digits and never starts with 0 after the `+`.
pub(crate) fn e164_key(e164: &str) -> u64 {
    e164.trim_start_matches('+')
        .bytes()
        .fold(0u64, |acc, b| acc * 10 + u64::from(b - b'0'))
}

/// [`e164_key`] of a value that may not be E.164: none unless it is a `+`
/// and 1 to 15 digits, the first not 0, so that no two values share a key.
pub fn checked_e164_key(value: &str) -> Option<u64> {
    let digits = value.strip_prefix('+')?;
    let well_formed = (1..=15).contains(&digits.len())
        && !digits.starts_with('0')
        && digits.bytes().all(|b| b.is_ascii_digit());
    well_formed.then(|| e164_key(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parser(country: &str) -> PhoneParser {
        PhoneParser::new(Country::try_from(country.to_owned()).unwrap())
    }

    /// Random digits, the same on every run (xorshift).
    struct Digits(u64);

    impl Digits {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }

        fn string(&mut self, len: usize) -> String {
            (0..len)
                .map(|_| char::from(b'0' + self.below(10) as u8))
                .collect()
        }
    }

    /// National numbers near the fixed-line, mobile and toll-free example
    /// numbers of `regions`, of country code `code`: each example `per_kind`
    /// times with its last four digits drawn at random, and as it is.
    fn near_examples(
        code: i32,
        regions: &[rlibphonenumber::Region],
        per_kind: usize,
        digits: &mut Digits,
    ) -> Vec<String> {
        use rlibphonenumber::PhoneNumberType;
        let util = &*PHONE_NUMBER_UTIL;
        let mut national = Vec::new();
        for &region in regions {
            for kind in [
                PhoneNumberType::FixedLine,
                PhoneNumberType::Mobile,
                PhoneNumberType::TollFree,
            ] {
                let Ok(example) = util.get_example_number_for_type_and_region(region, kind) else {
                    continue;
                };
                let e164 = util.format(&example, PhoneNumberFormat::E164).into_owned();
                let nsn = e164.trim_start_matches(&format!("+{code}")).to_owned();
                let keep = nsn.len().saturating_sub(4);
                for _ in 0..per_kind {
                    national.push(format!(
                        "{}{}",
                        &nsn[..keep],
                        digits.string(nsn.len() - keep)
                    ));
                }
                national.push(nsn);
            }
        }
        national
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

    #[test]
    fn only_e164_numbers_have_a_checked_key() {
        assert_eq!(checked_e164_key("+14155552671"), Some(14_155_552_671));
        assert_eq!(
            checked_e164_key("+999999999999999"),
            Some(999_999_999_999_999)
        );
        for not_e164 in [
            "14155552671",
            "+",
            "+0412345678",
            "+1 415 555 2671",
            "+1415555267a",
            "+1234567890123456",
            "++14155552671",
        ] {
            assert_eq!(checked_e164_key(not_e164), None, "{not_e164}");
        }
    }

    /// For every region of the North American plan as the default, the
    /// everyday forms read without the library give what the library gives:
    /// over numbers near each region's example numbers and random ones,
    /// each written with random punctuation and prefixes.
    #[test]
    fn plain_north_american_numbers_read_as_the_library_reads_them() {
        use rlibphonenumber::Region;
        let util = &*PHONE_NUMBER_UTIL;
        let regions: Vec<Region> = util
            .get_regions_for_country_calling_code(1)
            .expect("the plan has regions")
            .collect();
        let mut digits = Digits(0x2545_f491_4f6c_dd1d);
        let mut national = near_examples(1, &regions, 6, &mut digits);
        national.extend((0..400).map(|_| digits.string(10)));
        // Too few or too many digits, and a 1 or 0 where an area code starts.
        national.extend((0..40).map(|_| digits.string(9)));
        national.extend((0..40).map(|_| digits.string(11)));
        let marks = [" ", "-", ".", "(", ")", "", "", "", "+", "x", "/"];
        let (mut compared, mut plain) = (0, 0);
        for &default in &regions {
            for number in &national {
                for _ in 0..3 {
                    let mut raw = match digits.below(4) {
                        0 => "+1".to_owned(),
                        1 => "1".to_owned(),
                        2 => "+".to_owned(),
                        _ => String::new(),
                    };
                    for digit in number.chars() {
                        if digits.below(3) == 0 {
                            raw.push_str(marks[digits.below(marks.len() as u64) as usize]);
                        }
                        raw.push(digit);
                    }
                    compared += 1;
                    if let Some(parsed) = plain_north_american(&raw, default) {
                        plain += 1;
                        assert_eq!(
                            Ok(parsed),
                            parse_number(&raw, default),
                            "{raw} in {default:?}"
                        );
                    }
                }
            }
        }
        assert!(
            compared > 30_000 && plain > 5_000,
            "{compared} compared, {plain} read without the library"
        );
    }

    /// Trying the default region's patterns first gives the library's own
    /// verdict, for every region that shares a country code as the default,
    /// over numbers near each of those regions' example numbers and over
    /// random ones.
    #[test]
    fn trying_the_default_region_first_changes_no_verdict() {
        use rlibphonenumber::Region;
        let util = &*PHONE_NUMBER_UTIL;
        let mut codes: Vec<i32> = util
            .get_supported_regions()
            .filter_map(|region| util.get_country_code_for_region(region))
            .collect();
        codes.sort_unstable();
        codes.dedup();
        let mut digits = Digits(0x9e37_79b9_7f4a_7c15);
        let (mut checked, mut valid) = (0, 0);
        for code in codes {
            let Some(regions) = util.get_regions_for_country_calling_code(code) else {
                continue;
            };
            let mut regions: Vec<Region> = regions.collect();
            if regions.len() < 2 {
                continue;
            }
            let example_regions = regions.clone();
            // A default of another country code must not lend its patterns.
            regions.extend(
                util.get_supported_regions()
                    .find(|&r| util.get_country_code_for_region(r) != Some(code)),
            );
            let mut national = near_examples(code, &example_regions, 8, &mut digits);
            for length in 6..=12 {
                for _ in 0..20 {
                    national.push(digits.string(length));
                }
            }
            for nsn in national {
                let Ok(number) = util.parse(format!("+{code}{nsn}"), Some(regions[0])) else {
                    continue;
                };
                let expected = util.is_valid_number(&number);
                valid += usize::from(expected);
                for &default in &regions {
                    checked += 1;
                    assert_eq!(
                        is_valid(&number, default),
                        expected,
                        "+{code}{nsn} with {default:?}"
                    );
                }
            }
        }
        assert!(
            checked > 10_000 && valid > 1_000,
            "{checked} checked, {valid} valid"
        );
    }
}
