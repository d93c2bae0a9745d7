//! Over generated files: every record gets exactly one outcome, the one a
//! simple model of the rules predicts, at the row a spreadsheet shows; the
//! counters add up; the report holds exactly the rejected rows.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use contact_import_core::file::input::Delimiter;
use contact_import_core::file::records::{RecordReader, ResumePoint};
use contact_import_core::rules::engine::duplicate_existing;
use contact_import_core::rules::report::ReportWriter;
use contact_import_core::rules::spec::DuplicateMode;
use contact_import_core::{
    ContactFile, ErrorCode, ImportSpec, RowOutcome, Screen, Tally, WriteOutcome,
};
use proptest::prelude::*;

/// One line (or blank line) of a generated file.
#[derive(Debug, Clone)]
enum Line {
    /// A good row for number `n`, written in format `style`, with a note that
    /// may hold a line break inside quotes.
    Good {
        n: u16,
        style: u8,
        multi_line_note: bool,
    },
    MissingPhone,
    InvalidPhone,
    BadPriority {
        n: u16,
    },
    NoConsent {
        n: u16,
    },
    TooFewFields,
    Blank,
}

const POOL: u16 = 40;

fn phone(n: u16, style: u8) -> String {
    match style % 4 {
        0 => format!("+1 (415) 234-{n:04}"),
        1 => format!("415234{n:04}"),
        2 => format!("415.234.{n:04}"),
        _ => format!("1-415-234-{n:04}"),
    }
}

fn e164(n: u16) -> String {
    format!("+1415234{n:04}")
}

fn line_strategy() -> impl Strategy<Value = Line> {
    prop_oneof![
        6 => (0..POOL, any::<u8>(), any::<bool>()).prop_map(|(n, style, multi_line_note)| Line::Good { n, style, multi_line_note }),
        1 => Just(Line::MissingPhone),
        1 => Just(Line::InvalidPhone),
        1 => (0..POOL).prop_map(|n| Line::BadPriority { n }),
        1 => (0..POOL).prop_map(|n| Line::NoConsent { n }),
        1 => Just(Line::TooFewFields),
        1 => Just(Line::Blank),
    ]
}

/// The file as a spreadsheet would save it, with `eol` ending each line.
fn render(lines: &[Line], eol: &str, final_eol: bool) -> String {
    let mut text = format!("Phone,Name,Priority,Consent,Note{eol}");
    for line in lines {
        let row = match line {
            Line::Good {
                n,
                style,
                multi_line_note,
            } => {
                let note = if *multi_line_note {
                    format!("\"line one{eol}line two\"")
                } else {
                    "plain".to_owned()
                };
                format!("{},Ann Lee,2,yes,{note}", phone(*n, *style))
            }
            Line::MissingPhone => ",Bob,,yes,".to_owned(),
            Line::InvalidPhone => "12345,Cy,,yes,".to_owned(),
            Line::BadPriority { n } => format!("{},Di,high,yes,", phone(*n, 0)),
            Line::NoConsent { n } => format!("{},Ed,,no,", phone(*n, 1)),
            Line::TooFewFields => "+14152340001,Fay".to_owned(),
            Line::Blank => String::new(),
        };
        text.push_str(&row);
        text.push_str(eol);
    }
    if !final_eol {
        text.truncate(text.len() - eol.len());
    }
    text
}

/// What the rules say about each record, by the row a spreadsheet shows.
fn model(
    lines: &[Line],
    mode: DuplicateMode,
    do_not_call: &HashSet<String>,
    stored: &HashSet<String>,
) -> BTreeMap<u64, Result<WriteOutcome, ErrorCode>> {
    let mut expected = BTreeMap::new();
    let mut seen = HashSet::new();
    let mut row = 1;
    for line in lines {
        row += 1;
        let outcome = match line {
            Line::Blank => continue,
            Line::MissingPhone => Err(ErrorCode::MissingPhone),
            Line::InvalidPhone => Err(ErrorCode::InvalidPhone),
            Line::BadPriority { .. } => Err(ErrorCode::InvalidField),
            Line::NoConsent { .. } => Err(ErrorCode::NoConsent),
            Line::TooFewFields => Err(ErrorCode::MalformedRow),
            Line::Good { n, .. } => {
                let number = e164(*n);
                if do_not_call.contains(&number) {
                    Err(ErrorCode::DoNotCall)
                } else if mode == DuplicateMode::Create {
                    Ok(WriteOutcome::Inserted)
                } else if !seen.insert(number.clone()) {
                    Err(ErrorCode::DuplicateInFile)
                } else if !stored.contains(&number) {
                    Ok(WriteOutcome::Inserted)
                } else if mode == DuplicateMode::Update {
                    Ok(WriteOutcome::Updated)
                } else {
                    Err(ErrorCode::DuplicateExisting)
                }
            }
        };
        expected.insert(row, outcome);
    }
    expected
}

fn mode_strategy() -> impl Strategy<Value = DuplicateMode> {
    prop_oneof![
        Just(DuplicateMode::Skip),
        Just(DuplicateMode::Update),
        Just(DuplicateMode::Create)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_record_has_one_predicted_outcome_and_the_counters_add_up(
        // A good first row, so the phone column is recognised from the sample.
        first in (0..POOL).prop_map(|n| Line::Good { n, style: 0, multi_line_note: false }),
        rest in prop::collection::vec(line_strategy(), 0..60),
        mode in mode_strategy(),
        do_not_call in prop::collection::hash_set((0..POOL).prop_map(e164), 0..5),
        stored in prop::collection::hash_set((0..POOL).prop_map(e164), 0..10),
        eol in prop_oneof![Just("\n"), Just("\r\n"), Just("\r")],
        final_eol in any::<bool>(),
    ) {
        let lines: Vec<Line> = std::iter::once(first).chain(rest).collect();
        let text = render(&lines, eol, final_eol);
        let spec = ImportSpec { duplicates: mode, ..ImportSpec::default() };
        let expected = model(&lines, mode, &do_not_call, &stored);

        let mut file = ContactFile::open(text.as_bytes(), &spec).expect("the file opens");
        let mut screen = Screen::new(&spec, &do_not_call);
        let mut store = stored.clone();
        let mut tally = Tally::default();
        let mut report = ReportWriter::new(Vec::new(), &file.plan().source_headers()).unwrap();
        let mut actual = BTreeMap::new();
        let mut contacts_rows = BTreeSet::new();
        let mut report_rows = BTreeSet::new();
        while let Some(outcome) = file.next_outcome(&mut screen).unwrap() {
            let (row, result) = match outcome {
                RowOutcome::Accepted(accepted) => {
                    // The in-memory store stands in for the destination.
                    let write = if mode == DuplicateMode::Create || store.insert(accepted.contact.phone.clone()) {
                        WriteOutcome::Inserted
                    } else if mode == DuplicateMode::Update {
                        WriteOutcome::Updated
                    } else {
                        WriteOutcome::Existing
                    };
                    tally.record_write(write);
                    if write == WriteOutcome::Existing {
                        let rejection = duplicate_existing(
                            file.validator(),
                            accepted.row,
                            &accepted.record,
                            &accepted.contact.phone,
                            "contacts",
                        );
                        report.write(&rejection).unwrap();
                        prop_assert!(report_rows.insert(accepted.row));
                        (accepted.row, Err(ErrorCode::DuplicateExisting))
                    } else {
                        prop_assert!(contacts_rows.insert(accepted.row));
                        (accepted.row, Ok(write))
                    }
                }
                RowOutcome::Rejected(rejection) => {
                    tally.record_rejection(rejection.code);
                    report.write(&rejection).unwrap();
                    prop_assert!(report_rows.insert(rejection.row));
                    (rejection.row, Err(rejection.code))
                }
            };
            prop_assert!(actual.insert(row, result).is_none(), "row {} has two outcomes", row);
        }

        prop_assert_eq!(&actual, &expected);
        prop_assert!(tally.adds_up(), "{:?}", tally);
        prop_assert_eq!(tally.processed, expected.len() as u64);
        prop_assert!(contacts_rows.is_disjoint(&report_rows));
        let all: BTreeSet<u64> = contacts_rows.union(&report_rows).copied().collect();
        prop_assert_eq!(all, expected.keys().copied().collect::<BTreeSet<_>>());

        let report = report.finish().unwrap();
        let rows_in_report: Vec<u64> = csv::Reader::from_reader(report.as_slice())
            .records()
            .map(|r| r.unwrap()[0].parse().unwrap())
            .collect();
        prop_assert_eq!(rows_in_report.len() as u64, tally.skipped + tally.failed);
        prop_assert_eq!(rows_in_report.into_iter().collect::<BTreeSet<_>>(), report_rows);
    }
}

/// Every record's row and bytes, read from the start.
fn read_all(text: &str, from: ResumePoint) -> Vec<(u64, Vec<u8>, ResumePoint)> {
    let start = usize::try_from(from.byte).unwrap();
    let mut reader = RecordReader::new(&text.as_bytes()[start..], Delimiter::Comma, from);
    let mut records = Vec::new();
    while let Some(raw) = reader.next_record().unwrap() {
        records.push((
            raw.row,
            raw.record.as_slice().to_vec(),
            reader.resume_point(),
        ));
    }
    records
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// A chunk read from any resume point numbers its rows as the whole file does.
    #[test]
    fn reading_resumed_mid_file_numbers_rows_as_the_whole_file(
        lines in prop::collection::vec(line_strategy(), 1..40),
        eol in prop_oneof![Just("\n"), Just("\r\n"), Just("\r")],
        final_eol in any::<bool>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let text = render(&lines, eol, final_eol);
        let whole = read_all(&text, ResumePoint::START);
        let at = cut.index(whole.len());
        let resumed = read_all(&text, whole[at].2);
        let expected: Vec<_> = whole[at + 1..].iter().map(|(row, bytes, _)| (*row, bytes.clone())).collect();
        let actual: Vec<_> = resumed.iter().map(|(row, bytes, _)| (*row, bytes.clone())).collect();
        prop_assert_eq!(actual, expected);
    }
}

/// A phone cell of a generated row: the numbers it holds (each row has its
/// own pool, so that rows never repeat one another), how they are written,
/// and what joins them.
#[derive(Debug, Clone)]
struct PhoneCell {
    numbers: Vec<u16>,
    style: u8,
    join: &'static str,
}

fn phone_cell_strategy() -> impl Strategy<Value = PhoneCell> {
    let join = prop_oneof![Just(" ::: "), Just(" / "), Just("; "), Just(" or ")];
    (prop::collection::vec(0..4u16, 0..3), any::<u8>(), join).prop_map(|(numbers, style, join)| {
        PhoneCell {
            numbers,
            style,
            join,
        }
    })
}

/// The headers in the default order of their kinds: mobile, work, home.
const PHONE_HEADERS: [(&str, &str); 3] = [
    ("Mobile Phone", "Mobile"),
    ("Work Phone", "Work"),
    ("Home Phone", "Home"),
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// With several phone columns and cells of several numbers, the primary
    /// number is the first one in column order, the others follow as
    /// secondary numbers in that order, labelled by the column where each
    /// first appears, each number once; a row is missing_phone only when no
    /// column has a number.
    #[test]
    fn every_number_of_every_phone_column_counts_once_in_order(
        rows in prop::collection::vec(prop::collection::vec(phone_cell_strategy(), 3), 1..30),
    ) {
        // A first row with a number in each column, so that all three are
        // recognised as phone columns from the sample.
        let mut text = format!("First Name,{}\n", PHONE_HEADERS.map(|(h, _)| h).join(","));
        text.push_str("Head,4155550001,4155550002,4155550003\n");
        for (r, cells) in rows.iter().enumerate() {
            let written: Vec<String> = cells
                .iter()
                .map(|cell| {
                    let parts: Vec<String> = cell
                        .numbers
                        .iter()
                        .map(|&k| phone(10 + r as u16 * 4 + k, cell.style))
                        .collect();
                    parts.join(cell.join)
                })
                .collect();
            text.push_str(&format!("Row{r},{}\n", written.join(",")));
        }
        let spec = ImportSpec::default();
        let no_dnc = HashSet::new();
        let mut file = ContactFile::open(text.as_bytes(), &spec).expect("the file opens");
        let mut screen = Screen::new(&spec, &no_dnc);
        file.next_outcome(&mut screen).unwrap().expect("the first row");
        for (r, cells) in rows.iter().enumerate() {
            let mut expected: Vec<(String, &str)> = Vec::new();
            for (cell, (_, label)) in cells.iter().zip(PHONE_HEADERS) {
                for &k in &cell.numbers {
                    let number = e164(10 + r as u16 * 4 + k);
                    if !expected.iter().any(|(n, _)| *n == number) {
                        expected.push((number, label));
                    }
                }
            }
            let outcome = file.next_outcome(&mut screen).unwrap().expect("a row per line");
            match (outcome, expected.split_first()) {
                (RowOutcome::Accepted(accepted), Some(((primary, _), others))) => {
                    prop_assert_eq!(accepted.row, r as u64 + 3);
                    prop_assert_eq!(&accepted.contact.phone, primary);
                    let secondary: Vec<(String, &str)> = accepted
                        .contact
                        .secondary
                        .iter()
                        .map(|s| (s.phone.clone(), s.fields["label"].as_str()))
                        .collect();
                    prop_assert_eq!(secondary.as_slice(), others, "{}", text);
                }
                (RowOutcome::Rejected(rejection), None) => {
                    prop_assert_eq!(rejection.row, r as u64 + 3);
                    prop_assert_eq!(rejection.code, ErrorCode::MissingPhone);
                }
                (outcome, expected) => {
                    prop_assert!(false, "row {}: {:?}, expected {:?}\n{}", r + 3, outcome, expected, text);
                }
            }
        }
        prop_assert!(file.next_outcome(&mut screen).unwrap().is_none());
    }
}
