//! The whole pipeline on real S3, SQS and DynamoDB APIs served by moto:
//! a 2,500-row upload in five chunks goes through the handlers, with every
//! message taken from the real queues, and ends in stored contacts, exact
//! counters and a report checked line by line against one reading of the
//! whole file. A second test imports 4,000 rows in four chunks through
//! clients that count their requests and holds the counts to
//! docs/aws-cost.md (moto makes a few hundred conditional puts a second).
//! `scripts/test` starts moto and points AWS_ENDPOINT_URL at it.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use contact_import_aws::{Adapters, Clients};
use contact_import_core::file::synthetic::{write_synthetic_file, SyntheticOptions};
use contact_import_core::imports::{import_id_for, ImportStatus};
use contact_import_core::pipeline::{Pipeline, PipelineConfig, SplitOutcome, Upload};
use contact_import_core::ports::{ContactFilter, ContactStore, ImportStore};
use contact_import_core::rules::engine::{ContactFile, RowOutcome, Screen};
use contact_import_core::rules::outcome::ErrorCode;
use contact_import_core::rules::report::restore;
use contact_import_core::ImportSpec;
use contact_import_lambda::{
    aws_pipeline, handle_chunks, handle_finalizer, handle_uploads, AwsPipeline, Config,
};
use contact_import_testkit as kit;

use crate::common::{fixture, sqs_event};

const ROWS: u64 = 2_500;
const CHUNK_ROWS: u64 = 500;
const KEY: &str = "uploads/acme/big list.csv";
const ENCODED_KEY: &str = "uploads/acme/big+list.csv";

struct Stack {
    clients: Clients,
    config: Config,
    pipeline: AwsPipeline,
}

/// A bucket, a table and two queues of their own on moto.
async fn stack() -> Stack {
    let clients = kit::clients().await;
    let config = Config {
        resources: kit::new_resources(&clients).await,
        chunk_rows: CHUNK_ROWS,
    };
    let pipeline = aws_pipeline(&config).await;
    Stack {
        clients,
        config,
        pipeline,
    }
}

/// The S3 put event of the fixture, naming this stack's bucket and object.
fn put_event(bucket: &str, etag: &str) -> serde_json::Value {
    let mut event = fixture("s3-put.json");
    let s3 = &mut event["Records"][0]["s3"];
    s3["bucket"]["name"] = bucket.into();
    s3["bucket"]["arn"] = format!("arn:aws:s3:::{bucket}").into();
    s3["object"]["key"] = ENCODED_KEY.into();
    s3["object"]["eTag"] = etag.into();
    event
}

/// Receives every message waiting on a queue, a batch of ten at a time,
/// hands each batch to `handle`, and deletes what it handled.
async fn pump<F, Fut>(stack: &Stack, queue_url: &str, template: &str, handle: F) -> usize
where
    F: Fn(aws_lambda_events::sqs::SqsEvent) -> Fut,
    Fut: std::future::Future<Output = aws_lambda_events::sqs::SqsBatchResponse>,
{
    let mut handled = 0;
    loop {
        let received = stack
            .clients
            .sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("receiving messages");
        let messages = received.messages();
        if messages.is_empty() {
            return handled;
        }
        let batch: Vec<(String, String)> = messages
            .iter()
            .map(|m| {
                (
                    m.message_id().unwrap_or_default().to_owned(),
                    m.body().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        let response = handle(sqs_event(template, &batch)).await;
        assert!(
            response.batch_item_failures.is_empty(),
            "every message succeeds"
        );
        for message in messages {
            stack
                .clients
                .sqs
                .delete_message()
                .queue_url(queue_url)
                .receipt_handle(message.receipt_handle().unwrap_or_default())
                .send()
                .await
                .expect("deleting a message");
        }
        handled += batch.len();
    }
}

/// Uploads a generated file of `rows` rows as KEY: the file and its ETag.
async fn upload_synthetic(stack: &Stack, rows: u64) -> (Vec<u8>, String) {
    let mut file = Vec::new();
    write_synthetic_file(&mut file, SyntheticOptions::realistic(rows)).unwrap();
    let put = stack
        .clients
        .s3
        .put_object()
        .bucket(&stack.config.resources.bucket)
        .key(KEY)
        .body(ByteStream::from(file.clone()))
        .send()
        .await
        .expect("uploading the file");
    (file, put.e_tag().expect("an ETag").to_owned())
}

/// The upload's S3 event through the splitter, then every message on the
/// real queues through the importers and the finalizer: how many chunk and
/// finalize messages were handled.
async fn run_handlers(stack: &Stack, pipeline: &AwsPipeline, etag: &str) -> (usize, usize) {
    let event = put_event(&stack.config.resources.bucket, etag);
    handle_uploads(pipeline, &stack.config.resources.bucket, event)
        .await
        .expect("the split");
    let chunks = pump(
        stack,
        &stack.config.resources.chunk_queue_url,
        "sqs-chunk.json",
        |e| handle_chunks(pipeline, e),
    )
    .await;
    let finalized = pump(
        stack,
        &stack.config.resources.finalize_queue_url,
        "sqs-finalize.json",
        |e| handle_finalizer(pipeline, e),
    )
    .await;
    (chunks, finalized)
}

/// Outcome code per row from one reading of the whole file into an empty store.
fn expected_outcomes(file: &[u8]) -> BTreeMap<u64, Option<ErrorCode>> {
    let spec = ImportSpec::default();
    let mut contacts = ContactFile::open(file, &spec).unwrap();
    let no_list: HashSet<String> = HashSet::new();
    let mut screen = Screen::new(&spec, &no_list);
    let mut outcomes = BTreeMap::new();
    while let Some(outcome) = contacts.next_outcome(&mut screen).unwrap() {
        match outcome {
            RowOutcome::Accepted(row) => outcomes.insert(row.row, None),
            RowOutcome::Rejected(rejection) => outcomes.insert(rejection.row, Some(rejection.code)),
        };
    }
    outcomes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_upload_goes_through_the_real_queues_to_an_exact_summary() {
    let stack = stack().await;
    let (file, etag) = upload_synthetic(&stack, ROWS).await;
    let (chunks, finalized) = run_handlers(&stack, &stack.pipeline, &etag).await;
    assert_eq!(chunks as u64, ROWS / CHUNK_ROWS, "one message per chunk");
    assert!(finalized >= 1);

    let import_id = import_id_for(&stack.config.resources.bucket, KEY, &etag);
    let record = stack
        .pipeline
        .store()
        .get_import("acme", &import_id)
        .await
        .unwrap()
        .expect("the import record");
    let expected = expected_outcomes(&file);
    let rejected_expected = expected.values().filter(|code| code.is_some()).count() as u64;
    assert_eq!(record.status, ImportStatus::CompletedWithErrors);
    assert_eq!(record.tally.processed, ROWS);
    assert_eq!(record.tally.inserted, ROWS - rejected_expected);
    assert!(record.tally.adds_up());
    assert_eq!(record.chunks_done, record.chunks_total);

    // The contacts in the table: one per imported row.
    let mut stored_rows = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = stack
            .pipeline
            .store()
            .list_contacts("acme", &ContactFilter::default(), after.as_deref(), 1_000)
            .await
            .unwrap();
        stored_rows.extend(page.contacts.iter().map(|c| c.row));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    stored_rows.sort_unstable();
    let imported: Vec<u64> = expected
        .iter()
        .filter(|(_, code)| code.is_none())
        .map(|(row, _)| *row)
        .collect();
    assert_eq!(stored_rows, imported);

    // The report, line by line: the expected code at the expected row, with the row's values.
    let report_key = record.report_key.clone().expect("a report");
    let report = stack
        .clients
        .s3
        .get_object()
        .bucket(&stack.config.resources.bucket)
        .key(&report_key)
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    let source: Vec<csv::StringRecord> = csv::Reader::from_reader(file.as_slice())
        .records()
        .map(Result::unwrap)
        .collect();
    let mut lines = 0;
    for line in csv::Reader::from_reader(report.as_ref()).records() {
        let line = line.unwrap();
        let row: u64 = line[0].parse().unwrap();
        assert_eq!(
            Some(ErrorCode::parse(&line[1])),
            expected.get(&row).copied(),
            "row {row}"
        );
        let original = &source[(row - 2) as usize];
        let values: Vec<&str> = line.iter().skip(4).map(restore).collect();
        assert_eq!(
            values,
            original.iter().collect::<Vec<_>>(),
            "row {row} keeps its values"
        );
        lines += 1;
    }
    assert_eq!(lines, rejected_expected);

    // The same event again starts nothing.
    let again = stack
        .pipeline
        .split(Upload {
            key: KEY.to_owned(),
            version: Some(etag),
        })
        .await
        .unwrap();
    assert!(
        matches!(again, SplitOutcome::AlreadyHandled { .. }),
        "{again:?}"
    );
}

/// Request attempts by "Service Operation", counted as the SDK sends them.
#[derive(Debug, Default, Clone)]
struct Requests(Arc<Mutex<BTreeMap<String, u64>>>);

impl Requests {
    fn counts(&self) -> BTreeMap<String, u64> {
        self.0.lock().unwrap().clone()
    }
}

impl Intercept for Requests {
    fn name(&self) -> &'static str {
        "Requests"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let metadata = cfg
            .load::<Metadata>()
            .expect("every operation names itself");
        let operation = format!("{} {}", metadata.service(), metadata.name());
        *self.0.lock().unwrap().entry(operation).or_default() += 1;
        Ok(())
    }
}

/// The stack's pipeline over clients that count their requests.
async fn counted(stack: &Stack, chunk_rows: u64, requests: &Requests) -> AwsPipeline {
    let sdk = aws_config::load_from_env().await;
    let dynamodb = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .interceptor(requests.clone())
        .build();
    let s3 = aws_sdk_s3::config::Builder::from(&sdk)
        .force_path_style(true)
        .interceptor(requests.clone())
        .build();
    let sqs = aws_sdk_sqs::config::Builder::from(&sdk)
        .interceptor(requests.clone())
        .build();
    let clients = Clients {
        dynamodb: aws_sdk_dynamodb::Client::from_conf(dynamodb),
        s3: aws_sdk_s3::Client::from_conf(s3),
        sqs: aws_sdk_sqs::Client::from_conf(sqs),
    };
    let adapters = Adapters::new(&clients, &stack.config.resources);
    Pipeline::new(
        Arc::new(adapters.store),
        Arc::new(adapters.objects),
        Arc::new(adapters.queue),
        PipelineConfig {
            bucket: stack.config.resources.bucket.clone(),
            chunk_rows,
        },
    )
}

/// The requests of one import of 4,000 generated rows (skip mode, 1,000-row
/// chunks, an empty table), as docs/aws-cost.md gives them.
const MODEL_REQUESTS: [(&str, u64); 10] = [
    ("DynamoDB BatchGetItem", 40),
    ("DynamoDB GetItem", 10),
    ("DynamoDB PutItem", 3_848),
    ("DynamoDB Query", 1),
    ("DynamoDB TransactWriteItems", 4),
    ("DynamoDB UpdateItem", 5),
    ("S3 GetObject", 15),
    ("S3 HeadObject", 1),
    ("S3 PutObject", 6),
    ("SQS SendMessageBatch", 2),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_makes_the_requests_the_cost_model_gives() {
    const ROWS: u64 = 4_000;
    const CHUNK_ROWS: u64 = 1_000;
    let stack = stack().await;
    let requests = Requests::default();
    let pipeline = counted(&stack, CHUNK_ROWS, &requests).await;
    let (file, etag) = upload_synthetic(&stack, ROWS).await;
    let (chunks, _) = run_handlers(&stack, &pipeline, &etag).await;
    let chunks = chunks as u64;
    let counts = requests.counts();

    // The model's terms, from one reading of the file: rows that pass the
    // rules, per chunk (each chunk asks for their do-not-call entries, 100
    // keys per BatchGetItem), and rows written (one conditional PutItem each).
    let outcomes: Vec<Option<ErrorCode>> = expected_outcomes(&file).into_values().collect();
    let passing =
        |code: &Option<ErrorCode>| matches!(code, None | Some(ErrorCode::DuplicateInFile));
    let lookups: u64 = outcomes
        .chunks(CHUNK_ROWS as usize)
        .map(|chunk| (chunk.iter().filter(|c| passing(c)).count() as u64).div_ceil(100))
        .sum();
    let written = outcomes.iter().filter(|code| code.is_none()).count() as u64;
    assert_eq!(chunks, ROWS.div_ceil(CHUNK_ROWS));
    let model = BTreeMap::from([
        // Splitter 1 + importers 2 per chunk (the record; the commit's result) + finalizer 1.
        ("DynamoDB GetItem", 2 + 2 * chunks),
        // The scope registry and the import record, then one per written row.
        ("DynamoDB PutItem", 2 + written),
        ("DynamoDB BatchGetItem", lookups),
        // The chunk marker and the counters, one transaction per chunk.
        ("DynamoDB TransactWriteItems", chunks),
        // Three status changes in the splitter, two in the finalizer.
        ("DynamoDB UpdateItem", 5),
        // The committed chunks, one page.
        ("DynamoDB Query", 1),
        // Spec sidecar, encoding sniff, the cutting pass, one range per chunk
        // in the splitter and per importer, and every report part.
        ("S3 GetObject", 3 + 3 * chunks),
        ("S3 HeadObject", 1),
        // A report part per chunk with rejections, the report, the summary.
        ("S3 PutObject", chunks + 2),
        // The chunk messages, ten per batch, and the finalize request.
        ("SQS SendMessageBatch", chunks.div_ceil(10) + 1),
    ]);
    let counts: BTreeMap<&str, u64> = counts.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(counts, model, "the requests the formulas give");
    assert_eq!(
        counts,
        BTreeMap::from(MODEL_REQUESTS),
        "the numbers docs/aws-cost.md gives"
    );
}
