//! The pipeline over the in-memory adapters: a clean run against a reading of
//! the whole file, then the same import under duplicate delivery, reordered
//! chunks, a crash at every write, and chunks that never succeed.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use super::runner::{Delivery, LocalRunner, Order};
use super::*;
use crate::engine::{ContactFile, RowOutcome, Screen};
use crate::imports::{import_id_for, keys, ImportStatus};
use crate::memory::{Faults, MemoryObjects, MemoryQueue, MemoryStore};
use crate::outcome::{ErrorCode, WriteOutcome};
use crate::ports::{ImportStore, StoredContact};
use crate::spec::ImportSpec;
use crate::synthetic::{write_synthetic_file, SyntheticOptions};

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
    tally: crate::outcome::Tally,
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
    // The data the chunks read is gone: every delivery fails until the dead-letter path.
    h.objects.remove(KEY);
    h.runner.drain().await.unwrap();
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
