//! The pipeline over the in-memory adapters: a clean run against a reading of
//! the whole file, then the same import under duplicate delivery, reordered
//! chunks, a crash at every write, and chunks that never succeed.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use super::runner::{Delivery, LocalRunner, Order};
use super::*;
use crate::file::synthetic::{write_synthetic_file, SyntheticOptions};
use crate::imports::{import_id_for, keys, ImportStatus};
use crate::ports::memory::{Faults, MemoryObjects, MemoryQueue, MemoryStore};
use crate::ports::{ImportStore, StoredContact};
use crate::rules::engine::{ContactFile, RowOutcome, Screen};
use crate::rules::outcome::{ErrorCode, WriteOutcome};
use crate::rules::spec::ImportSpec;

const BUCKET: &str = "imports";
const KEY: &str = "uploads/acme/spring list.csv";

struct Harness {
    runner: LocalRunner<MemoryStore, MemoryObjects>,
    store: Arc<MemoryStore>,
    objects: Arc<MemoryObjects>,
    queue: Arc<MemoryQueue>,
    faults: Arc<Faults>,
}

fn harness(chunk_rows: u64, delivery: Delivery) -> Harness {
    let faults = Faults::new();
    let store = Arc::new(MemoryStore::new(faults.clone()));
    let objects = Arc::new(MemoryObjects::new(faults.clone()));
    let queue = Arc::new(MemoryQueue::new(faults.clone()));
    let config = PipelineConfig {
        bucket: BUCKET.to_owned(),
        chunk_rows,
    };
    let pipeline = Pipeline::new(store.clone(), objects.clone(), queue.clone(), config);
    Harness {
        runner: LocalRunner::new(pipeline, queue.clone(), delivery),
        store,
        objects,
        queue,
        faults,
    }
}

fn delivery(order: Order, copies: u32) -> Delivery {
    Delivery {
        order,
        copies,
        max_attempts: 3,
        workers: 3,
    }
}

fn synthetic(rows: u64) -> Vec<u8> {
    let mut bytes = Vec::new();
    write_synthetic_file(&mut bytes, SyntheticOptions::realistic(rows)).unwrap();
    bytes
}

fn upload() -> Upload {
    Upload {
        key: KEY.to_owned(),
        version: Some("v1".to_owned()),
    }
}

/// What an import leaves behind, timestamps aside.
#[derive(Debug, PartialEq)]
struct Snapshot {
    status: ImportStatus,
    tally: crate::rules::outcome::Tally,
    contacts: Vec<StoredContact>,
    report: Option<String>,
}

async fn snapshot(h: &Harness) -> Snapshot {
    let import_id = import_id_for(BUCKET, KEY, "v1");
    let record = h
        .store
        .get_import("acme", &import_id)
        .await
        .unwrap()
        .unwrap();
    let report = match &record.report_key {
        Some(key) => Some(String::from_utf8(h.objects.get(key).await.unwrap().unwrap()).unwrap()),
        None => None,
    };
    Snapshot {
        status: record.status,
        tally: record.tally,
        contacts: h.store.all_contacts(),
        report,
    }
}

async fn import(h: &Harness, file: &[u8]) -> SplitOutcome {
    h.objects.upload(KEY, file.to_vec(), "v1", None);
    h.runner
        .run(upload())
        .await
        .expect("the import runs to its end")
}

/// Outcome codes per row from one reading of the whole file, the store
/// starting empty: what the pipeline must reproduce however it is chunked.
fn single_pass(file: &[u8], spec: &ImportSpec) -> BTreeMap<u64, Result<WriteOutcome, ErrorCode>> {
    let mut contacts = ContactFile::open(file, spec).unwrap();
    let no_list: HashSet<String> = HashSet::new();
    let mut screen = Screen::new(spec, &no_list);
    let mut stored = HashSet::new();
    let mut outcomes = BTreeMap::new();
    while let Some(outcome) = contacts.next_outcome(&mut screen).unwrap() {
        match outcome {
            RowOutcome::Accepted(row) => {
                let fresh = stored.insert(row.contact.phone.clone());
                outcomes.insert(
                    row.row,
                    if fresh {
                        Ok(WriteOutcome::Inserted)
                    } else {
                        Err(ErrorCode::DuplicateExisting)
                    },
                );
            }
            RowOutcome::Rejected(rejection) => {
                outcomes.insert(rejection.row, Err(rejection.code));
            }
        }
    }
    outcomes
}

/// Outcome codes per row from the pipeline's contacts and report.
fn pipeline_outcomes(snapshot: &Snapshot) -> BTreeMap<u64, Result<WriteOutcome, ErrorCode>> {
    let mut outcomes: BTreeMap<u64, Result<WriteOutcome, ErrorCode>> = snapshot
        .contacts
        .iter()
        .map(|c| (c.row, Ok(WriteOutcome::Inserted)))
        .collect();
    if let Some(report) = &snapshot.report {
        for line in csv::Reader::from_reader(report.as_bytes()).records() {
            let line = line.unwrap();
            let row: u64 = line[0].parse().unwrap();
            let previous = outcomes.insert(row, Err(ErrorCode::parse(&line[1]).unwrap()));
            assert!(
                previous.is_none(),
                "row {row} is both stored and reported, or reported twice"
            );
        }
    }
    outcomes
}

#[tokio::test]
async fn chunked_import_matches_a_reading_of_the_whole_file() {
    let file = synthetic(500);
    let h = harness(37, delivery(Order::AsSent, 1));
    let outcome = import(&h, &file).await;
    assert_eq!(
        outcome,
        SplitOutcome::Split {
            import_id: import_id_for(BUCKET, KEY, "v1"),
            chunks: 14
        }
    );
    let snap = snapshot(&h).await;
    assert_eq!(
        snap.status,
        ImportStatus::CompletedWithErrors,
        "the synthetic file has invalid phones"
    );
    assert!(snap.tally.adds_up());
    assert_eq!(snap.tally.processed, 500);
    assert_eq!(snap.contacts.len() as u64, snap.tally.inserted);
    assert_eq!(
        pipeline_outcomes(&snap),
        single_pass(&file, &ImportSpec::default())
    );
    let report = snap.report.unwrap();
    assert!(
        report.starts_with("row,error_code,error_message,guidance,Phone,First Name,"),
        "{report}"
    );
    let rows: Vec<u64> = csv::Reader::from_reader(report.as_bytes())
        .records()
        .map(|r| r.unwrap()[0].parse().unwrap())
        .collect();
    assert!(
        rows.windows(2).all(|w| w[0] < w[1]),
        "report lines are in file order"
    );
    assert!(
        h.queue.take(QueueName::Chunks).is_empty() && h.queue.take(QueueName::Finalize).is_empty()
    );
    let summary: serde_json::Value = serde_json::from_slice(
        &h.objects
            .get(&keys::summary("acme", &import_id_for(BUCKET, KEY, "v1")))
            .await
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(summary["processed"], 500);
    assert_eq!(summary["status"], "COMPLETED_WITH_ERRORS");
    assert_eq!(summary["encoding"], "utf-8");
}

#[tokio::test]
async fn duplicate_delivery_and_any_chunk_order_give_the_same_import() {
    let file = synthetic(300);
    let clean = harness(23, delivery(Order::AsSent, 1));
    import(&clean, &file).await;
    let expected = snapshot(&clean).await;
    for (order, copies) in [
        (Order::AsSent, 2),
        (Order::Reversed, 1),
        (Order::Reversed, 2),
        (Order::Shuffled(7), 1),
        (Order::Shuffled(99), 3),
    ] {
        let h = harness(23, delivery(order, copies));
        import(&h, &file).await;
        assert_eq!(
            snapshot(&h).await,
            expected,
            "{order:?}, each message {copies} times"
        );
    }
}

#[tokio::test]
async fn a_crash_after_any_write_then_a_retry_gives_the_same_import() {
    let file = synthetic(90);
    let clean = harness(20, delivery(Order::AsSent, 1));
    import(&clean, &file).await;
    let expected = snapshot(&clean).await;
    let writes = clean.faults.writes();
    assert!(writes > 100, "a clean run writes {writes} times");
    for n in 1..=writes {
        let h = harness(20, delivery(Order::AsSent, 1));
        h.faults.fail_write(n);
        import(&h, &file).await;
        assert_eq!(
            snapshot(&h).await,
            expected,
            "crash at write {n} of {writes}"
        );
    }
}

#[tokio::test]
async fn an_import_whose_messages_were_lost_resumes_to_the_same_import() {
    let file = synthetic(90);
    let clean = harness(20, delivery(Order::AsSent, 1));
    import(&clean, &file).await;
    let expected = snapshot(&clean).await;
    let import_id = import_id_for(BUCKET, KEY, "v1");
    let chunks = expected_chunks(&clean).await;

    // The process died after `done` chunks: what was queued is gone.
    for done in 0..=chunks {
        let h = harness(20, delivery(Order::AsSent, 1));
        h.objects.upload(KEY, file.clone(), "v1", None);
        h.runner.pipeline().split(upload()).await.unwrap();
        let sent = h.queue.take(QueueName::Chunks);
        assert_eq!(sent.len(), chunks);
        for body in &sent[..done] {
            let chunk: ChunkMessage = parse_message(body).unwrap();
            h.runner.pipeline().import_chunk(chunk).await.unwrap();
        }
        h.queue.take(QueueName::Finalize);
        let resumed = h.runner.resume("acme", &import_id).await.unwrap();
        let sent = (chunks - done) as u32;
        assert_eq!(resumed, Resumed::Chunks { sent }, "after {done} chunks");
        assert_eq!(snapshot(&h).await, expected, "lost after {done} chunks");
    }

    // The process died during the split, at any of its writes.
    let mut during_split = 0;
    for n in 1.. {
        let h = harness(20, delivery(Order::AsSent, 1));
        h.objects.upload(KEY, file.clone(), "v1", None);
        h.faults.fail_write(n);
        if h.runner.pipeline().split(upload()).await.is_ok() {
            break;
        }
        during_split += 1;
        h.queue.take(QueueName::Chunks);
        if h.store
            .get_import("acme", &import_id)
            .await
            .unwrap()
            .is_none()
        {
            continue; // Nothing to resume: the upload event comes again.
        }
        h.runner.resume("acme", &import_id).await.unwrap();
        assert_eq!(snapshot(&h).await, expected, "died at split write {n}");
    }
    assert!(during_split >= 3, "the split writes {during_split} times");

    let done = clean.runner.resume("acme", &import_id).await.unwrap();
    assert_eq!(done, Resumed::Finished(ImportStatus::CompletedWithErrors));
    assert_eq!(snapshot(&clean).await, expected);
}

async fn expected_chunks(h: &Harness) -> usize {
    let import_id = import_id_for(BUCKET, KEY, "v1");
    let record = h
        .store
        .get_import("acme", &import_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.chunk_rows, 20);
    record.chunks_total as usize
}

#[tokio::test]
async fn a_repeated_upload_event_starts_no_second_import() {
    let file = synthetic(40);
    let h = harness(10, delivery(Order::AsSent, 1));
    import(&h, &file).await;
    let before = snapshot(&h).await;
    let again = h.runner.run(upload()).await.unwrap();
    assert!(
        matches!(again, SplitOutcome::AlreadyHandled { status, .. } if status.is_final()),
        "{again:?}"
    );
    assert_eq!(snapshot(&h).await, before);
}

#[tokio::test]
async fn a_refused_file_fails_the_import_with_its_reason_and_sends_nothing() {
    let h = harness(10, delivery(Order::AsSent, 1));
    let outcome = import(&h, b"Name,City\nAnn,Paris\n").await;
    let SplitOutcome::Failed { import_id, reason } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(reason.contains("no column holds phone numbers"), "{reason}");
    let record = h
        .store
        .get_import("acme", &import_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.status, ImportStatus::Failed);
    assert_eq!(record.failure.unwrap().code, "no_phone_column");
    assert_eq!(record.chunks_total, 0);
    let summary: serde_json::Value = serde_json::from_slice(
        &h.objects
            .get(&keys::summary("acme", &import_id))
            .await
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(summary["status"], "FAILED");
    assert!(summary["error"]
        .as_str()
        .unwrap()
        .contains("no column holds phone numbers"));
}

#[tokio::test]
async fn the_spec_comes_from_the_sidecar_and_cannot_name_another_tenant() {
    let file = b"phone,name\n+14155552671,Ann\n";
    let h = harness(10, delivery(Order::AsSent, 1));
    h.objects.upload(
        &keys::spec_sidecar(KEY),
        br#"{"destination":{"type":"campaign","id":"c9"}}"#.to_vec(),
        "s1",
        None,
    );
    import(&h, file).await;
    let contacts = h.store.all_contacts();
    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0].scope, "campaign:c9");

    let other = harness(10, delivery(Order::AsSent, 1));
    other.objects.upload(
        KEY,
        file.to_vec(),
        "v1",
        Some(r#"{"tenant":"globex"}"#.to_owned()),
    );
    let outcome = other.runner.run(upload()).await.unwrap();
    let SplitOutcome::Failed { reason, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(reason.contains("uploaded under uploads/acme/"), "{reason}");
    assert!(other.store.all_contacts().is_empty());
}

#[tokio::test]
async fn keys_outside_uploads_and_spec_sidecars_are_ignored() {
    let h = harness(10, delivery(Order::AsSent, 1));
    for key in [
        "reports/acme/x/errors.csv",
        "uploads/acme/list.csv.spec.json",
        "uploads/list.csv",
    ] {
        h.objects
            .upload(key, b"phone\n+14155552671\n".to_vec(), "v1", None);
        let outcome = h
            .runner
            .run(Upload {
                key: key.to_owned(),
                version: None,
            })
            .await
            .unwrap();
        assert!(
            matches!(outcome, SplitOutcome::Ignored(_)),
            "{key}: {outcome:?}"
        );
    }
    assert!(h.store.list_imports("acme", 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn windows_1252_and_bom_files_are_chunked_on_utf8_bytes() {
    // Windows-1252 with semicolons: read through a UTF-8 staging copy.
    let mut latin = b"phone;first_name;city\r\n".to_vec();
    for i in 0..30u32 {
        latin.extend(format!("+1415555{i:04};Jos").as_bytes());
        latin.extend(b"\xe9;M\xfcnchen\r\n");
    }
    let h = harness(7, delivery(Order::Reversed, 1));
    import(&h, &latin).await;
    let contacts = h.store.all_contacts();
    assert_eq!(contacts.len(), 30);
    assert!(contacts
        .iter()
        .all(|c| c.contact.first_name.as_deref() == Some("José")
            && c.contact.city.as_deref() == Some("München")));
    assert!(
        h.objects.keys().iter().any(|k| k.ends_with("/utf8.csv")),
        "a staging copy was made"
    );
    let record = h.store.list_imports("acme", 1).await.unwrap().remove(0);
    assert_eq!(record.facts.unwrap().encoding.label(), "windows-1252");

    // UTF-8 with a BOM: chunks read the upload itself, three bytes in.
    let mut bom = vec![0xEF, 0xBB, 0xBF];
    bom.extend(b"phone,name\n");
    for i in 0..30u32 {
        bom.extend(format!("+1415555{i:04},Zoë\n").as_bytes());
    }
    let h = harness(7, delivery(Order::AsSent, 1));
    import(&h, &bom).await;
    assert_eq!(h.store.all_contacts().len(), 30);
    assert!(!h.objects.keys().iter().any(|k| k.ends_with("/utf8.csv")));
}

#[tokio::test]
async fn a_vcard_file_is_chunked_from_its_csv_staging_copy() {
    let mut cards = Vec::new();
    for i in 0..30u32 {
        cards.extend(
            format!(
                "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Card {i}\r\nTEL;TYPE=CELL:+1415555{i:04}\r\nTEL;TYPE=WORK:+1212555{i:04}\r\nEND:VCARD\r\n"
            )
            .as_bytes(),
        );
    }
    cards.extend(b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:No Number\r\nEND:VCARD\r\n");
    let h = harness(7, delivery(Order::Reversed, 1));
    import(&h, &cards).await;
    let contacts = h.store.all_contacts();
    assert_eq!(contacts.len(), 30);
    assert!(contacts.iter().all(
        |c| c.contact.secondary.len() == 1 && c.contact.secondary[0].fields["label"] == "Work"
    ));
    assert!(
        h.objects.keys().iter().any(|k| k.ends_with("/utf8.csv")),
        "the cards were converted once, to a staging copy"
    );
    let snapshot = snapshot(&h).await;
    assert_eq!(snapshot.tally.failed, 1);
    let report = snapshot
        .report
        .expect("a report for the card without a number");
    assert!(
        report.contains("card 31, lines 181-184") && report.contains("FN:No Number"),
        "{report}"
    );
    let record = h.store.list_imports("acme", 1).await.unwrap().remove(0);
    assert_eq!(record.plan.unwrap().layout(), Some("vCard"));
}

#[tokio::test]
async fn duplicates_across_chunks_keep_the_first_row_whatever_the_order() {
    let mut file = b"phone,name\n".to_vec();
    for i in 0..40u32 {
        // Every number twice, the second time 20 rows later, in another chunk.
        file.extend(format!("+1415555{:04},Row{i}\n", i % 20).as_bytes());
    }
    let h = harness(5, delivery(Order::Reversed, 1));
    import(&h, &file).await;
    let snap = snapshot(&h).await;
    assert_eq!(snap.tally.inserted, 20);
    assert_eq!(snap.tally.reasons[&ErrorCode::DuplicateInFile], 20);
    assert!(
        snap.contacts.iter().all(|c| c.row <= 21),
        "the first of each pair is kept"
    );
}

#[tokio::test]
async fn a_chunk_that_never_succeeds_is_reported_as_internal_errors_and_the_import_ends() {
    let file = synthetic(60);
    let h = harness(20, delivery(Order::AsSent, 1));
    h.objects.upload(KEY, file, "v1", None);
    h.runner.pipeline().split(upload()).await.unwrap();
    // The data the chunks read is gone, and another process delivers them,
    // without the rows this one's splitter checked: every delivery fails
    // until the dead-letter path.
    h.objects.remove(KEY);
    let elsewhere = LocalRunner::new(
        h.runner.pipeline().clone(),
        h.queue.clone(),
        delivery(Order::AsSent, 1),
    );
    elsewhere.drain().await.unwrap();
    let snap = snapshot(&h).await;
    assert_eq!(snap.status, ImportStatus::CompletedWithErrors);
    assert_eq!((snap.tally.processed, snap.tally.failed), (60, 60));
    assert_eq!(snap.tally.reasons[&ErrorCode::InternalError], 60);
    assert!(snap.contacts.is_empty());
    let rows: Vec<u64> = csv::Reader::from_reader(snap.report.unwrap().as_bytes())
        .records()
        .map(|r| r.unwrap()[0].parse().unwrap())
        .collect();
    assert_eq!(
        rows,
        (2..62).collect::<Vec<u64>>(),
        "every row is in the report, once"
    );
}

#[tokio::test]
async fn in_one_process_the_importers_take_the_rows_the_splitter_checked() {
    let file = synthetic(60);
    let clean = harness(20, delivery(Order::AsSent, 1));
    import(&clean, &file).await;
    let expected = snapshot(&clean).await;

    // Three chunks, three places: no importer reads the data again, so
    // the import ends as the clean one did with the upload gone.
    let h = harness(20, delivery(Order::AsSent, 1));
    h.objects.upload(KEY, file, "v1", None);
    h.runner.pipeline().split(upload()).await.unwrap();
    h.objects.remove(KEY);
    h.runner.drain().await.unwrap();
    assert_eq!(snapshot(&h).await, expected);
}

/// Files as real spreadsheets and careless edits leave them: every line
/// ending, blank lines, quoted cells holding delimiters, quotes and line
/// breaks, and quotes that never close.
mod whatever_arrives {
    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Line {
        Good {
            n: u16,
            note: Note,
        },
        /// A quote opens the last cell and never closes on its line.
        RunOnQuote {
            n: u16,
        },
        TooFewFields,
        InvalidPhone,
        Blank,
    }

    #[derive(Debug, Clone)]
    enum Note {
        Plain,
        /// Quoted, with the delimiter and doubled quotes inside.
        Punctuated,
        /// Quoted, with a line break inside.
        MultiLine,
    }

    const POOL: u16 = 30;

    fn line() -> impl Strategy<Value = Line> {
        let note = prop_oneof![
            Just(Note::Plain),
            Just(Note::Punctuated),
            Just(Note::MultiLine)
        ];
        prop_oneof![
            6 => (0..POOL, note).prop_map(|(n, note)| Line::Good { n, note }),
            1 => (0..POOL).prop_map(|n| Line::RunOnQuote { n }),
            1 => Just(Line::TooFewFields),
            1 => Just(Line::InvalidPhone),
            1 => Just(Line::Blank),
        ]
    }

    /// One ending for the whole file, or each line its own.
    fn endings() -> impl Strategy<Value = Vec<&'static str>> {
        let one = prop_oneof![Just("\n"), Just("\r\n"), Just("\r")];
        prop_oneof![
            one.clone().prop_map(|eol| vec![eol]),
            prop::collection::vec(one, 2..8),
        ]
    }

    fn render(lines: &[Line], endings: &[&str], final_eol: bool) -> Vec<u8> {
        let eol = |i: usize| endings[i % endings.len()];
        let mut text = format!("Phone,Name,Note{}", eol(0));
        let mut previous = eol(0);
        for (i, line) in lines.iter().enumerate() {
            // A CR then a blank line's LF is one CR LF, in any reader's eyes.
            let eol = match (previous, line, eol(i + 1)) {
                ("\r", Line::Blank, "\n") => "\r",
                _ => eol(i + 1),
            };
            previous = eol;
            text += &match line {
                Line::Good { n, note } => {
                    let note = match note {
                        Note::Plain => "plain".to_owned(),
                        Note::Punctuated => "\"said, \"\"call me\"\"\"".to_owned(),
                        Note::MultiLine => format!("\"first line{eol}second line\""),
                    };
                    format!("+1415234{n:04},Ann Lee,{note}")
                }
                Line::RunOnQuote { n } => format!("+1415234{n:04},Bo Ray,\"open note"),
                Line::TooFewFields => "+14152340001".to_owned(),
                Line::InvalidPhone => "12345,Cy,plain".to_owned(),
                Line::Blank => String::new(),
            };
            text += eol;
        }
        if !final_eol {
            let last = eol(lines.len());
            text.truncate(text.len() - last.len());
        }
        text.into_bytes()
    }

    /// The outcome of each row, counted independently of any reader: a
    /// line is a row, a line break inside a quoted cell is not.
    fn model(lines: &[Line]) -> BTreeMap<u64, Result<WriteOutcome, ErrorCode>> {
        let mut seen = HashSet::new();
        let mut expected = BTreeMap::new();
        for (i, line) in lines.iter().enumerate() {
            let row = i as u64 + 2;
            let outcome = match line {
                Line::Blank => continue,
                Line::Good { n, .. } if seen.insert(*n) => Ok(WriteOutcome::Inserted),
                Line::Good { .. } => Err(ErrorCode::DuplicateInFile),
                Line::RunOnQuote { .. } | Line::TooFewFields => Err(ErrorCode::MalformedRow),
                Line::InvalidPhone => Err(ErrorCode::InvalidPhone),
            };
            expected.insert(row, outcome);
        }
        expected
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(150))]

        #[test]
        fn every_record_is_a_contact_or_a_report_line(
            first in (0..POOL).prop_map(|n| Line::Good { n, note: Note::Plain }),
            rest in prop::collection::vec(line(), 0..40),
            endings in endings(),
            final_eol in any::<bool>(),
            chunk_rows in 1u64..9,
            seed in any::<u64>(),
        ) {
            let lines: Vec<Line> = std::iter::once(first).chain(rest).collect();
            let file = render(&lines, &endings, final_eol);
            let expected = model(&lines);
            let snap = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    let h = harness(chunk_rows, delivery(Order::Shuffled(seed), 2));
                    import(&h, &file).await;
                    snapshot(&h).await
                });
            prop_assert!(snap.tally.adds_up(), "{:?}", snap.tally);
            prop_assert_eq!(snap.tally.processed, expected.len() as u64);
            prop_assert_eq!(snap.contacts.len() as u64, snap.tally.inserted);
            let report_lines = snap.report.as_deref().map_or(0, |r| r.lines().count() as u64);
            let rejected = snap.tally.skipped + snap.tally.failed;
            // The header, and lines of rows whose cells hold line breaks.
            prop_assert!(rejected == 0 || report_lines > rejected);
            prop_assert_eq!(pipeline_outcomes(&snap), expected);
        }
    }

    #[tokio::test]
    async fn a_chunk_whose_rows_are_not_where_the_splitter_counted_them_writes_nothing() {
        let h = harness(10, delivery(Order::AsSent, 1));
        h.objects.upload(KEY, synthetic(30), "v1", None);
        h.runner.pipeline().split(upload()).await.unwrap();
        let sent = h.queue.take(QueueName::Chunks);
        let mut chunk: ChunkMessage = parse_message(&sent[1]).unwrap();
        // Rows numbered from elsewhere would make the contact ids of other rows.
        chunk.first_row -= 10;
        let error = h.runner.pipeline().import_chunk(chunk).await.unwrap_err();
        assert!(!error.is_retryable());
        assert!(matches!(error, PipelineError::UploadChanged(_)), "{error}");
        assert!(h.store.all_contacts().is_empty());
    }

    #[tokio::test]
    async fn a_file_refused_far_down_sends_no_chunk_and_writes_no_contact() {
        let h = harness(10, delivery(Order::AsSent, 1));
        let mut file = synthetic(60);
        // Row 62, six chunks down, is longer than any contact row can be.
        file.extend_from_slice(b"+14155550100,");
        file.extend(std::iter::repeat_n(b'x', 2 << 20));
        file.push(b'\n');
        h.objects.upload(KEY, file, "v1", None);
        let outcome = h.runner.pipeline().split(upload()).await.unwrap();
        let SplitOutcome::Failed { import_id, reason } = outcome else {
            panic!("{outcome:?}")
        };
        assert!(reason.contains("row 62"), "{reason}");
        assert_eq!(h.queue.take(QueueName::Chunks), Vec::<String>::new());
        let record = h.store.get_import("acme", &import_id).await.unwrap();
        assert_eq!(record.unwrap().failure.unwrap().code, "row_too_long");
        h.runner.drain().await.unwrap();
        assert!(h.store.all_contacts().is_empty());
    }

    #[tokio::test]
    async fn an_upload_that_is_not_text_fails_as_what_it_is_before_any_staging() {
        let h = harness(10, delivery(Order::AsSent, 1));
        let outcome = import(&h, b"PK\x03\x04\x14\x00[Content_Types].xml xl/sheet1.xml").await;
        let SplitOutcome::Failed { import_id, reason } = outcome else {
            panic!("{outcome:?}")
        };
        assert!(reason.contains("Excel workbook"), "{reason}");
        let record = h
            .store
            .get_import("acme", &import_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(record.failure.unwrap().code, "not_csv");
        // Bytes that are not text are not decoded into a staging copy.
        let staging = keys::staging("acme", &import_id);
        assert!(
            !h.objects.keys().contains(&staging),
            "{:?}",
            h.objects.keys()
        );
    }

    #[tokio::test]
    async fn long_rows_make_short_chunks() {
        let note = "n".repeat(100 << 10);
        let mut file = b"phone,note\n".to_vec();
        for i in 0..200u32 {
            file.extend(format!("+1415555{i:04},{note}\n").as_bytes());
        }
        let h = harness(5_000, delivery(Order::AsSent, 1));
        h.objects.upload(KEY, file, "v1", None);
        h.runner.pipeline().split(upload()).await.unwrap();
        let chunks: Vec<ChunkMessage> = h
            .queue
            .take(QueueName::Chunks)
            .iter()
            .map(|body| parse_message(body).unwrap())
            .collect();
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks.iter().map(|c| c.rows).sum::<u64>(), 200);
        for chunk in &chunks {
            assert!(chunk.end_byte - chunk.start.byte < (16 << 20) + (101 << 10));
        }
    }

    #[tokio::test]
    async fn cr_only_endings_store_every_contact_under_its_own_row() {
        let mut file = b"phone,name\r".to_vec();
        for i in 0..1_001u32 {
            file.extend(format!("+1415555{i:04},Person {i}\r").as_bytes());
        }
        file.extend(b"bad,row\r");
        let h = harness(100, delivery(Order::AsSent, 1));
        import(&h, &file).await;
        let snap = snapshot(&h).await;
        assert_eq!(snap.tally.inserted, 1_001);
        assert_eq!(snap.contacts.len(), 1_001);
        let rows: BTreeSet<u64> = snap.contacts.iter().map(|c| c.row).collect();
        assert_eq!(rows, (2..=1_002).collect());
        let report = snap.report.unwrap();
        assert!(report.contains("\n1003,invalid_phone,"), "{report}");
    }

    #[tokio::test]
    async fn a_quote_that_never_closes_near_the_end_loses_no_row() {
        let file =
            b"phone,name\n+14155550001,Ann\n+14155550002,\"Bo\n+14155550003,Cy\n+14155550004,Di\n";
        let h = harness(2, delivery(Order::Reversed, 1));
        import(&h, file).await;
        let snap = snapshot(&h).await;
        assert_eq!(snap.tally.processed, 4);
        assert_eq!(snap.tally.inserted, 3);
        let rows: Vec<u64> = snap.contacts.iter().map(|c| c.row).collect();
        assert_eq!(rows, [2, 4, 5]);
        let report = snap.report.unwrap();
        assert!(report.contains("\n3,malformed_row,"), "{report}");
    }
}

#[tokio::test]
async fn two_overlapping_imports_with_interleaved_chunks_count_every_row_once() {
    // A holds numbers 0..60, B 30..90: 30 shared, 90 distinct.
    let file = |numbers: std::ops::Range<u32>| {
        let mut file = b"phone,name\n".to_vec();
        for i in numbers {
            file.extend(format!("+1415555{i:04},Row{i}\n").as_bytes());
        }
        file
    };
    let files = [
        ("uploads/acme/a.csv", file(0..60)),
        ("uploads/acme/b.csv", file(30..90)),
    ];
    for mode in ["skip", "update"] {
        // Each chunk delivered twice, three deliveries at a time.
        let h = harness(7, delivery(Order::AsSent, 2));
        let spec = format!(r#"{{"duplicates":"{mode}"}}"#);
        let mut import_ids = Vec::new();
        for (key, bytes) in &files {
            h.objects
                .upload(key, bytes.clone(), "v1", Some(spec.clone()));
            let upload = Upload {
                key: (*key).to_owned(),
                version: None,
            };
            let outcome = h.runner.pipeline().split(upload).await.unwrap();
            let SplitOutcome::Split { import_id, chunks } = outcome else {
                panic!("{outcome:?}")
            };
            assert_eq!(chunks, 9);
            import_ids.push(import_id);
        }
        // One batch of both imports' chunks: A's forwards and B's backwards, in turn.
        let (of_a, mut of_b): (Vec<String>, Vec<String>) = h
            .queue
            .take(QueueName::Chunks)
            .into_iter()
            .partition(|body| {
                parse_message::<ChunkMessage>(body).unwrap().import_id == import_ids[0]
            });
        of_b.reverse();
        let interleaved: Vec<String> = of_a
            .into_iter()
            .zip(of_b)
            .flat_map(|(a, b)| [a, b])
            .collect();
        assert_eq!(interleaved.len(), 18);
        h.queue.send(QueueName::Chunks, interleaved).await.unwrap();
        h.runner.drain().await.unwrap();

        let mut inserted = 0;
        let mut duplicates = 0;
        for import_id in &import_ids {
            let record = h
                .store
                .get_import("acme", import_id)
                .await
                .unwrap()
                .unwrap();
            let tally = &record.tally;
            assert!(tally.adds_up(), "{mode}: {tally:?}");
            let existing = tally
                .reasons
                .get(&ErrorCode::DuplicateExisting)
                .copied()
                .unwrap_or_default();
            let duplicate = match mode {
                "skip" => {
                    assert_eq!(tally.updated, 0, "{mode}");
                    existing
                }
                _ => {
                    assert_eq!(existing, 0, "{mode}");
                    tally.updated
                }
            };
            assert_eq!(
                (tally.processed, tally.inserted + duplicate),
                (60, 60),
                "{mode}: every row of {import_id} is inserted or a duplicate"
            );
            inserted += tally.inserted;
            duplicates += duplicate;
        }
        assert_eq!((inserted, duplicates), (90, 30), "{mode}");
        let contacts = h.store.all_contacts();
        let phones: HashSet<&str> = contacts.iter().map(|c| c.contact.phone.as_str()).collect();
        assert_eq!(
            (contacts.len(), phones.len()),
            (90, 90),
            "{mode}: one contact per distinct number"
        );
    }
}
