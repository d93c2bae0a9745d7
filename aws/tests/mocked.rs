//! What moto cannot show, with the SDK's responses mocked: throttling,
//! transaction conflicts, unprocessed batch parts, failed SQS entries, and
//! how many requests a write takes. The SDK's own retries are off here, so
//! every retry counted is the adapters' own.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::error::ErrorMetadata;
use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemOutput};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsOutput;
use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
use aws_sdk_dynamodb::types::error::ConditionalCheckFailedException;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use aws_sdk_sqs::operation::send_message_batch::SendMessageBatchOutput;
use aws_sdk_sqs::types::{BatchResultErrorEntry, SendMessageBatchResultEntry};
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use contact_import_aws::dynamo::{import_item, Item};
use contact_import_aws::{AwsQueue, DynamoStore, RetryPolicy};
use contact_import_core::imports::{ChunkResult, ImportRecord};
use contact_import_core::ports::{
    ContactStore, ContactWrite, DoNotCallStore, ImportStore, MessageQueue, PortError, QueueName,
    StoredContact, WriteTarget,
};
use contact_import_core::rules::outcome::{Tally, WriteOutcome};
use contact_import_core::rules::spec::{DuplicateMode, ImportSpec};
use contact_import_core::Contact;

const TABLE: &str = "contacts";
const ATTEMPTS: u32 = 4;

fn store(rules: &[&Rule]) -> DynamoStore {
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, rules, |config| {
        config.retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
    });
    DynamoStore::new(client, TABLE).with_retry(RetryPolicy::immediate(ATTEMPTS))
}

/// A DynamoDB error response as the service sends it.
fn dynamo_error(code: &str, extra: &str) -> Option<String> {
    Some(format!(
        r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{code}","message":"mocked {code}"{extra}}}"#
    ))
}

fn throttled() -> Option<String> {
    dynamo_error("ProvisionedThroughputExceededException", "")
}

/// A TransactionCanceledException with one reason code per item.
fn cancelled(codes: &[&str]) -> Option<String> {
    let reasons: Vec<String> = codes
        .iter()
        .map(|code| format!(r#"{{"Code":"{code}"}}"#))
        .collect();
    dynamo_error(
        "TransactionCanceledException",
        &format!(r#","CancellationReasons":[{}]"#, reasons.join(",")),
    )
}

fn contact(phone: &str) -> Contact {
    Contact {
        phone: phone.to_owned(),
        phone_raw: phone.to_owned(),
        first_name: Some("Ann".into()),
        ..Contact::default()
    }
}

fn rows(phones: &[&str]) -> Vec<ContactWrite> {
    phones
        .iter()
        .enumerate()
        .map(|(i, phone)| ContactWrite {
            row: 2 + i as u64,
            contact: contact(phone),
        })
        .collect()
}

fn target(mode: DuplicateMode) -> WriteTarget<'static> {
    WriteTarget {
        tenant: "acme",
        import_id: "imp-a",
        scope: "contacts",
        mode,
    }
}

fn is_registry(item: Option<&HashMap<String, AttributeValue>>) -> bool {
    item.is_some_and(|item| item.contains_key("scope"))
}

/// The scope registry's put, always fine.
fn registry_rule() -> Rule {
    mock!(aws_sdk_dynamodb::Client::put_item)
        .match_requests(|req| is_registry(req.item()))
        .then_output(|| PutItemOutput::builder().build())
}

#[tokio::test]
async fn a_throttled_claim_is_retried_until_it_lands() {
    let registry = registry_rule();
    let claim = mock!(aws_sdk_dynamodb::Client::put_item)
        .match_requests(|req| !is_registry(req.item()))
        .sequence()
        .http_status(400, throttled())
        .times(2)
        .output(|| PutItemOutput::builder().build())
        .build();
    let store = store(&[&registry, &claim]);
    let outcomes = store
        .write_contacts(target(DuplicateMode::Skip), &rows(&["+14155552671"]))
        .await
        .unwrap();
    assert_eq!(outcomes, [WriteOutcome::Inserted]);
    assert_eq!(claim.num_calls(), 3, "two throttled tries, then the write");
}

#[tokio::test]
async fn throttling_that_does_not_stop_is_a_transient_error_naming_the_call() {
    let registry = registry_rule();
    let claim = mock!(aws_sdk_dynamodb::Client::put_item)
        .match_requests(|req| !is_registry(req.item()))
        .sequence()
        .http_status(400, throttled())
        .repeatedly()
        .build();
    let store = store(&[&registry, &claim]);
    let err = store
        .write_contacts(target(DuplicateMode::Skip), &rows(&["+14155552671"]))
        .await
        .unwrap_err();
    match &err {
        PortError::Transient(message) => {
            assert!(message.contains("PutItem"), "{message}");
            assert!(message.contains(TABLE), "{message}");
        }
        other => panic!("not transient: {other:?}"),
    }
    assert!(err.is_retryable());
    assert_eq!(claim.num_calls(), ATTEMPTS as usize);
}

#[tokio::test]
async fn a_refused_request_is_permanent_and_not_retried() {
    let registry = registry_rule();
    let claim = mock!(aws_sdk_dynamodb::Client::put_item)
        .match_requests(|req| !is_registry(req.item()))
        .sequence()
        .http_status(400, dynamo_error("ValidationException", ""))
        .repeatedly()
        .build();
    let store = store(&[&registry, &claim]);
    let err = store
        .write_contacts(target(DuplicateMode::Skip), &rows(&["+14155552671"]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PortError::Permanent(m) if m.contains("ValidationException")),
        "{err}"
    );
    assert_eq!(claim.num_calls(), 1);

    let server = mock!(aws_sdk_dynamodb::Client::put_item)
        .match_requests(|req| !is_registry(req.item()))
        .sequence()
        .http_status(500, dynamo_error("InternalServerError", ""))
        .repeatedly()
        .build();
    let store = self::store(&[&registry, &server]);
    let err = store
        .write_contacts(target(DuplicateMode::Skip), &rows(&["+14155552671"]))
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "a 5xx is transient: {err}");
}

#[tokio::test]
async fn an_insert_is_one_request_and_an_update_needs_no_extra_read() {
    let registry = registry_rule();
    let claims = mock!(aws_sdk_dynamodb::Client::put_item)
        .match_requests(|req| !is_registry(req.item()))
        .then_output(|| PutItemOutput::builder().build());
    let updates = mock!(aws_sdk_dynamodb::Client::update_item)
        .then_output(|| UpdateItemOutput::builder().build());
    let reads =
        mock!(aws_sdk_dynamodb::Client::get_item).then_output(|| GetItemOutput::builder().build());
    let store = store(&[&registry, &claims, &updates, &reads]);
    let phones: Vec<String> = (0..40).map(|i| format!("+1415555{i:04}")).collect();
    let phones: Vec<&str> = phones.iter().map(String::as_str).collect();
    let outcomes = store
        .write_contacts(target(DuplicateMode::Skip), &rows(&phones))
        .await
        .unwrap();
    assert_eq!(outcomes, vec![WriteOutcome::Inserted; 40]);
    assert_eq!(
        claims.num_calls(),
        40,
        "one conditional put per new contact"
    );
    assert_eq!(registry.num_calls(), 1, "the scope is registered once");
    assert_eq!((updates.num_calls(), reads.num_calls()), (0, 0));
    store
        .write_contacts(target(DuplicateMode::Skip), &rows(&phones[..1]))
        .await
        .unwrap();
    assert_eq!(registry.num_calls(), 1, "and not again by the next batch");

    // Update mode on a number another import holds: the failed put returns
    // the key as it was, so the merge follows without a read.
    let stored = StoredContact {
        contact_id: "imp-old-7".into(),
        scope: "contacts".into(),
        import_id: "imp-old".into(),
        row: 7,
        contact: Contact {
            company: Some("Old Co".into()),
            ..contact("+14155552671")
        },
    };
    let old_key: Item = HashMap::from([
        (
            "pk".into(),
            AttributeValue::S("T#acme#N#contacts#+14155552671".into()),
        ),
        ("sk".into(), AttributeValue::S("#KEY".into())),
        ("contact_id".into(), AttributeValue::S("imp-old-7".into())),
        ("import_id".into(), AttributeValue::S("imp-old".into())),
        ("row".into(), AttributeValue::N("7".into())),
        ("gsi1sk".into(), AttributeValue::S("imp-old-7".into())),
        ("ver".into(), AttributeValue::S("v1".into())),
        (
            "body".into(),
            AttributeValue::S(serde_json::to_string(&stored).unwrap()),
        ),
    ]);
    let held = mock!(aws_sdk_dynamodb::Client::put_item)
        .match_requests(|req| !is_registry(req.item()))
        .then_error(move || {
            PutItemError::ConditionalCheckFailedException(
                ConditionalCheckFailedException::builder()
                    .message("The conditional request failed")
                    .set_item(Some(old_key.clone()))
                    .meta(
                        ErrorMetadata::builder()
                            .code("ConditionalCheckFailedException")
                            .build(),
                    )
                    .build(),
            )
        });
    let merged_body = Arc::new(Mutex::new(None::<String>));
    let seen = merged_body.clone();
    let merge = mock!(aws_sdk_dynamodb::Client::update_item)
        .match_requests(move |req| {
            let values = req.expression_attribute_values().unwrap();
            *seen.lock().unwrap() = values[":body"].as_s().ok().cloned();
            values[":old"].as_s().ok().map(String::as_str) == Some("v1")
        })
        .then_output(|| UpdateItemOutput::builder().build());
    let reads =
        mock!(aws_sdk_dynamodb::Client::get_item).then_output(|| GetItemOutput::builder().build());
    let store = self::store(&[&registry, &held, &merge, &reads]);
    let outcomes = store
        .write_contacts(target(DuplicateMode::Update), &rows(&["+14155552671"]))
        .await
        .unwrap();
    assert_eq!(outcomes, [WriteOutcome::Updated]);
    assert_eq!(
        (held.num_calls(), merge.num_calls(), reads.num_calls()),
        (1, 1, 0)
    );
    let merged: StoredContact =
        serde_json::from_str(merged_body.lock().unwrap().as_deref().unwrap()).unwrap();
    assert_eq!(merged.contact_id, "imp-old-7");
    assert_eq!(merged.contact.company.as_deref(), Some("Old Co"));
    assert_eq!((merged.import_id.as_str(), merged.row), ("imp-a", 2));
}

fn import(chunks_done: u32) -> Item {
    let mut record = ImportRecord::accepted(
        "acme",
        "imp-a",
        "uploads/acme/a.csv",
        10,
        ImportSpec::default(),
        "2026-01-01T00:00:00Z",
    );
    record.chunks_total = 2;
    let mut item = import_item(&record).unwrap();
    item.insert(
        "chunks_done".into(),
        AttributeValue::N(chunks_done.to_string()),
    );
    item
}

fn chunk() -> ChunkResult {
    let mut tally = Tally::default();
    tally.record_write(WriteOutcome::Inserted);
    ChunkResult {
        index: 1,
        tally,
        report_part: None,
    }
}

/// A transact_write_items rule that records each try's client request token.
fn transact(
    tokens: &Arc<Mutex<Vec<String>>>,
) -> aws_smithy_mocks::RuleBuilder<
    aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput,
    TransactWriteItemsOutput,
    aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
> {
    let tokens = tokens.clone();
    mock!(aws_sdk_dynamodb::Client::transact_write_items).match_requests(move |req| {
        tokens
            .lock()
            .unwrap()
            .push(req.client_request_token().unwrap_or_default().to_owned());
        true
    })
}

#[tokio::test]
async fn a_conflicting_commit_is_retried_then_counted_once() {
    let tokens = Arc::new(Mutex::new(Vec::new()));
    let commit = transact(&tokens)
        .sequence()
        .http_status(400, cancelled(&["None", "TransactionConflict"]))
        .times(2)
        .output(|| TransactWriteItemsOutput::builder().build())
        .build();
    let read = mock!(aws_sdk_dynamodb::Client::get_item)
        .then_output(|| GetItemOutput::builder().set_item(Some(import(1))).build());
    let store = store(&[&commit, &read]);
    let done = store.commit_chunk("acme", "imp-a", &chunk()).await.unwrap();
    assert_eq!(
        (done.newly_committed, done.chunks_done, done.chunks_total),
        (true, 1, 2)
    );
    assert_eq!(commit.num_calls(), 3);
    let tokens = tokens.lock().unwrap();
    assert!(
        tokens[0] != tokens[1] && tokens[1] != tokens[2],
        "a cancelled transaction changed nothing: the next try is a new request: {tokens:?}"
    );
}

#[tokio::test]
async fn a_commit_whose_outcome_is_unknown_is_retried_as_the_same_request() {
    let tokens = Arc::new(Mutex::new(Vec::new()));
    let commit = transact(&tokens)
        .sequence()
        .http_status(500, dynamo_error("InternalServerError", ""))
        .output(|| TransactWriteItemsOutput::builder().build())
        .build();
    let read = mock!(aws_sdk_dynamodb::Client::get_item)
        .then_output(|| GetItemOutput::builder().set_item(Some(import(1))).build());
    let store = store(&[&commit, &read]);
    let done = store.commit_chunk("acme", "imp-a", &chunk()).await.unwrap();
    assert!(done.newly_committed);
    let tokens = tokens.lock().unwrap();
    assert_eq!(tokens.len(), 2);
    assert!(
        !tokens[0].is_empty() && tokens[0] == tokens[1],
        "DynamoDB must recognise the retry of a commit that may have landed: {tokens:?}"
    );
}

#[tokio::test]
async fn a_commit_whose_marker_exists_adds_nothing() {
    let tokens = Arc::new(Mutex::new(Vec::new()));
    let commit = transact(&tokens)
        .sequence()
        .http_status(400, cancelled(&["ConditionalCheckFailed", "None"]))
        .repeatedly()
        .build();
    let read = mock!(aws_sdk_dynamodb::Client::get_item)
        .then_output(|| GetItemOutput::builder().set_item(Some(import(2))).build());
    let store = store(&[&commit, &read]);
    let done = store.commit_chunk("acme", "imp-a", &chunk()).await.unwrap();
    assert_eq!(
        (done.newly_committed, done.chunks_done, done.chunks_total),
        (false, 2, 2)
    );
    assert_eq!(commit.num_calls(), 1, "not retried");
}

#[tokio::test]
async fn commits_fail_permanently_without_an_import_and_transiently_under_conflict() {
    let tokens = Arc::new(Mutex::new(Vec::new()));
    let missing = transact(&tokens)
        .sequence()
        .http_status(400, cancelled(&["None", "ConditionalCheckFailed"]))
        .repeatedly()
        .build();
    let store = store(&[&missing]);
    let err = store
        .commit_chunk("acme", "imp-a", &chunk())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PortError::Permanent(m) if m.contains("no import imp-a")),
        "{err}"
    );

    let busy = transact(&tokens)
        .sequence()
        .http_status(400, cancelled(&["TransactionConflict", "None"]))
        .repeatedly()
        .build();
    let store = self::store(&[&busy]);
    let err = store
        .commit_chunk("acme", "imp-a", &chunk())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PortError::Transient(m) if m.contains("TransactionConflict")),
        "{err}"
    );
    assert_eq!(busy.num_calls(), ATTEMPTS as usize);
}

#[tokio::test]
async fn unprocessed_do_not_call_keys_are_read_again() {
    let calls = Arc::new(AtomicUsize::new(0));
    let asked = Arc::new(Mutex::new(Vec::<usize>::new()));
    let (counter, seen) = (calls.clone(), asked.clone());
    let batch = mock!(aws_sdk_dynamodb::Client::batch_get_item).then_compute_output(move |req| {
        let keys = req.request_items().unwrap()[TABLE].keys().to_vec();
        seen.lock().unwrap().push(keys.len());
        // The first try reads one key and leaves the rest unprocessed.
        let (read, left) = if counter.fetch_add(1, Ordering::SeqCst) == 0 {
            keys.split_at(1)
        } else {
            keys.split_at(keys.len())
        };
        let mut output = BatchGetItemOutput::builder().responses(TABLE, read.to_vec());
        if !left.is_empty() {
            output = output.unprocessed_keys(
                TABLE,
                KeysAndAttributes::builder()
                    .set_keys(Some(left.to_vec()))
                    .build()
                    .unwrap(),
            );
        }
        output.build()
    });
    let store = store(&[&batch]);
    let numbers: Vec<String> = [
        "+14155550001",
        "+14155550002",
        "+14155550003",
        "+14155550001",
    ]
    .map(String::from)
    .to_vec();
    let listed = store.do_not_call("acme", &numbers).await.unwrap();
    assert_eq!(listed.len(), 3, "every number read, the repeated one once");
    assert!(numbers.iter().all(|n| listed.contains(n)));
    assert_eq!(*asked.lock().unwrap(), [3, 2]);
}

fn sqs_ok(id: &str) -> SendMessageBatchResultEntry {
    SendMessageBatchResultEntry::builder()
        .id(id)
        .message_id(format!("m-{id}"))
        .md5_of_message_body("0")
        .build()
        .unwrap()
}

fn sqs_failed(id: &str, sender_fault: bool, code: &str) -> BatchResultErrorEntry {
    BatchResultErrorEntry::builder()
        .id(id)
        .sender_fault(sender_fault)
        .code(code)
        .message("mocked")
        .build()
        .unwrap()
}

/// A queue whose SendMessageBatch fails the entries `fail` picks, per call.
fn queue(
    fail: impl Fn(usize, &str) -> Option<BatchResultErrorEntry> + Send + Sync + 'static,
) -> (AwsQueue, Rule, Arc<Mutex<Vec<Vec<String>>>>) {
    let sent = Arc::new(Mutex::new(Vec::<Vec<String>>::new()));
    let seen = sent.clone();
    let rule = mock!(aws_sdk_sqs::Client::send_message_batch).then_compute_output(move |req| {
        let ids: Vec<String> = req.entries().iter().map(|e| e.id().to_owned()).collect();
        let call = {
            let mut seen = seen.lock().unwrap();
            seen.push(ids.clone());
            seen.len() - 1
        };
        let (mut ok, mut failed) = (Vec::new(), Vec::new());
        for id in &ids {
            match fail(call, id) {
                Some(entry) => failed.push(entry),
                None => ok.push(sqs_ok(id)),
            }
        }
        SendMessageBatchOutput::builder()
            .set_successful(Some(ok))
            .set_failed(Some(failed))
            .build()
            .unwrap()
    });
    let client = mock_client!(aws_sdk_sqs, RuleMode::MatchAny, [&rule], |config| {
        config.retry_config(aws_sdk_sqs::config::retry::RetryConfig::disabled())
    });
    let queue = AwsQueue::new(client, "https://sqs/chunks", "https://sqs/finalize")
        .with_retry(RetryPolicy::immediate(ATTEMPTS));
    (queue, rule, sent)
}

fn messages(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("message {i}")).collect()
}

#[tokio::test]
async fn only_the_failed_entries_of_a_batch_are_sent_again() {
    let (queue, rule, sent) = queue(|call, id| {
        (call == 0 && (id == "3" || id == "7")).then(|| sqs_failed(id, false, "InternalError"))
    });
    queue.send(QueueName::Chunks, messages(12)).await.unwrap();
    let ids = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        *sent.lock().unwrap(),
        [
            ids(&["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]),
            ids(&["3", "7"]),
            ids(&["0", "1"]),
        ]
    );
    assert_eq!(rule.num_calls(), 3);
}

#[tokio::test]
async fn failed_entries_become_errors_of_the_right_kind() {
    let (queue, rule, _) =
        queue(|_, id| (id == "1").then(|| sqs_failed(id, true, "InvalidParameterValue")));
    let err = queue
        .send(QueueName::Finalize, messages(3))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PortError::Permanent(m) if m.contains("InvalidParameterValue")),
        "{err}"
    );
    assert_eq!(rule.num_calls(), 1, "a refused message is not sent again");

    let (queue, rule, _) =
        self::queue(|_, id| (id == "0").then(|| sqs_failed(id, false, "ServiceUnavailable")));
    let err = queue
        .send(QueueName::Chunks, messages(2))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PortError::Transient(m) if m.contains("sqs/chunks")),
        "{err}"
    );
    assert_eq!(rule.num_calls(), ATTEMPTS as usize);
}

/// Create mode when the contact is there already: with this call's own
/// version (an earlier try landed, its answer was lost) the key is pointed
/// at it; with another version (an earlier delivery) only an unclaimed key is.
#[tokio::test]
async fn a_created_contact_is_recognised_by_its_version() {
    for (ours, conditional) in [(true, false), (false, true)] {
        let registry = registry_rule();
        let put = mock!(aws_sdk_dynamodb::Client::put_item)
            .match_requests(|req| !is_registry(req.item()))
            .then_compute_response(move |req| {
                let mut old = req.item().cloned().unwrap();
                if !ours {
                    old.insert("ver".into(), AttributeValue::S("an earlier one".into()));
                }
                aws_smithy_mocks::MockResponse::Error(
                    PutItemError::ConditionalCheckFailedException(
                        ConditionalCheckFailedException::builder()
                            .set_item(Some(old))
                            .meta(
                                ErrorMetadata::builder()
                                    .code("ConditionalCheckFailedException")
                                    .build(),
                            )
                            .build(),
                    ),
                )
            });
        let conditions = Arc::new(Mutex::new(Vec::new()));
        let seen = conditions.clone();
        let point = mock!(aws_sdk_dynamodb::Client::update_item)
            .match_requests(move |req| {
                seen.lock()
                    .unwrap()
                    .push(req.condition_expression().map(str::to_owned));
                true
            })
            .then_output(|| UpdateItemOutput::builder().build());
        let store = store(&[&registry, &put, &point]);
        let outcomes = store
            .write_contacts(target(DuplicateMode::Create), &rows(&["+14155552671"]))
            .await
            .unwrap();
        assert_eq!(outcomes, [WriteOutcome::Inserted]);
        let conditions = conditions.lock().unwrap();
        assert_eq!(conditions.len(), 1);
        assert_eq!(conditions[0].is_some(), conditional, "ours: {ours}");
    }
}

/// A listing page merges the 16 shards of a scope reading each a little at a
/// time: about the page's size in all, not sixteen pages.
#[tokio::test]
async fn a_listing_page_reads_about_its_own_size() {
    use aws_sdk_dynamodb::operation::query::QueryOutput;
    use contact_import_core::ports::{ContactFilter, ContactStore};

    // 1,600 contacts, `imp-a-<row>` with rows 10000.., spread over 16 shards.
    let shards: Vec<Vec<String>> = (0..16)
        .map(|s| {
            (0..100)
                .map(|i| format!("imp-a-{}", 10_000 + i * 16 + s))
                .collect()
        })
        .collect();
    let mut expected: Vec<String> = shards.concat();
    expected.sort();
    let returned = Arc::new(AtomicUsize::new(0));
    let counted = returned.clone();
    let query = mock!(aws_sdk_dynamodb::Client::query).then_compute_output(move |req| {
        let values = req.expression_attribute_values().unwrap();
        let pk = values[":pk"].as_s().unwrap();
        let shard: usize = pk.rsplit('#').next().unwrap().parse().unwrap();
        let after = req
            .exclusive_start_key()
            .map(|k| k["gsi1sk"].as_s().unwrap().clone())
            .or_else(|| values.get(":after").map(|v| v.as_s().unwrap().clone()));
        let limit = req.limit().unwrap() as usize;
        let ids: Vec<&String> = shards[shard]
            .iter()
            .filter(|id| after.as_ref().is_none_or(|a| *id > a))
            .take(limit)
            .collect();
        counted.fetch_add(ids.len(), Ordering::SeqCst);
        let item = |id: &String| -> Item {
            let stored = StoredContact {
                contact_id: id.clone(),
                scope: "contacts".into(),
                import_id: "imp-a".into(),
                row: id[6..].parse().unwrap(),
                contact: contact("+14155552671"),
            };
            HashMap::from([
                ("gsi1pk".into(), AttributeValue::S(pk.clone())),
                ("gsi1sk".into(), AttributeValue::S(id.clone())),
                (
                    "body".into(),
                    AttributeValue::S(serde_json::to_string(&stored).unwrap()),
                ),
            ])
        };
        let more = ids.len() == limit;
        QueryOutput::builder()
            .set_items(Some(ids.iter().map(|id| item(id)).collect()))
            .set_last_evaluated_key(more.then(|| item(ids[ids.len() - 1])))
            .build()
    });
    let store = store(&[&query]);
    let filter = ContactFilter {
        scope: Some("contacts".into()),
        import_id: None,
    };
    let mut all: Vec<String> = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let before = returned.load(Ordering::SeqCst);
        let page = store
            .list_contacts("acme", &filter, after.as_deref(), 100)
            .await
            .unwrap();
        let read = returned.load(Ordering::SeqCst) - before;
        assert!(read <= 300, "a page of 100 read {read} items");
        all.extend(page.contacts.into_iter().map(|c| c.contact_id));
        pages += 1;
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(all, expected, "every contact once, by contact id");
    assert_eq!(pages, 16);
}

/// An import's chunk markers over several pages of a query are all read,
/// in chunk order, however the pages hold them.
#[tokio::test]
async fn chunk_markers_on_several_pages_are_all_read() {
    use aws_sdk_dynamodb::operation::query::QueryOutput;

    let marker = |index: u32| -> Item {
        let result = ChunkResult {
            index,
            tally: Tally::default(),
            report_part: None,
        };
        HashMap::from([
            ("pk".into(), AttributeValue::S("T#acme#I#imp-a".into())),
            ("sk".into(), AttributeValue::S(format!("CHUNK#{index:06}"))),
            (
                "body".into(),
                AttributeValue::S(serde_json::to_string(&result).unwrap()),
            ),
        ])
    };
    let pages = Arc::new(AtomicUsize::new(0));
    let counted = pages.clone();
    let query = mock!(aws_sdk_dynamodb::Client::query).then_compute_output(move |req| {
        counted.fetch_add(1, Ordering::SeqCst);
        match req.exclusive_start_key() {
            None => QueryOutput::builder()
                .set_items(Some(vec![marker(2), marker(0)]))
                .set_last_evaluated_key(Some(marker(0)))
                .build(),
            Some(_) => QueryOutput::builder()
                .set_items(Some(vec![marker(1)]))
                .build(),
        }
    });
    let store = store(&[&query]);
    let results = store.chunk_results("acme", "imp-a").await.unwrap();
    let indexes: Vec<u32> = results.iter().map(|r| r.index).collect();
    assert_eq!(indexes, [0, 1, 2]);
    assert_eq!(pages.load(Ordering::SeqCst), 2, "one query a page");
}
