//! The handlers in-process, fed the event fixtures in events/ (shaped as
//! `sam local generate-event` writes them) over the in-memory adapters.

use std::sync::Arc;

use contact_import_core::imports::ImportStatus;
use contact_import_core::pipeline::{Pipeline, PipelineConfig, Upload};
use contact_import_core::ports::memory::{Faults, MemoryObjects, MemoryQueue, MemoryStore};
use contact_import_core::ports::{ImportStore, QueueName};
use contact_import_lambda::{handle_chunks, handle_finalizer, handle_uploads, uploads_of};

use crate::common::{fixture, numbered, sqs_event};

const BUCKET: &str = "contact-imports-local";
const DECODED_KEY: &str = "uploads/acme/spring list(2026).csv";

type MemoryPipeline = Pipeline<MemoryStore, MemoryObjects, MemoryQueue>;

fn memory_pipeline() -> (
    MemoryPipeline,
    Arc<MemoryStore>,
    Arc<MemoryObjects>,
    Arc<MemoryQueue>,
) {
    let faults = Faults::new();
    let store = Arc::new(MemoryStore::new(faults.clone()));
    let objects = Arc::new(MemoryObjects::new(faults.clone()));
    let queue = Arc::new(MemoryQueue::new(faults));
    let config = PipelineConfig {
        bucket: BUCKET.to_owned(),
        chunk_rows: 2,
    };
    (
        Pipeline::new(store.clone(), objects.clone(), queue.clone(), config),
        store,
        objects,
        queue,
    )
}

#[test]
fn the_put_event_names_the_decoded_key_and_its_etag() {
    let uploads = uploads_of(fixture("s3-put.json"), BUCKET).unwrap();
    assert_eq!(
        uploads,
        [Upload {
            key: DECODED_KEY.to_owned(),
            version: Some("0123456789abcdef0123456789abcdef".to_owned()),
        }]
    );
    assert!(uploads_of(fixture("s3-put.json"), "another-bucket")
        .unwrap()
        .is_empty());
    assert!(uploads_of(fixture("s3-test-event.json"), BUCKET)
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn an_upload_event_then_its_queue_messages_complete_the_import() {
    let (pipeline, store, objects, queue) = memory_pipeline();
    let file = b"phone,name\n+14155552671,Ann\n+14155552672,Bob\nnot a number,Cy\n+14155552671,Ann again\n+14155552673,Di\n";
    objects.upload(DECODED_KEY, file.to_vec(), "e1", None);
    handle_uploads(&pipeline, BUCKET, fixture("s3-put.json"))
        .await
        .unwrap();

    let chunks = queue.take(QueueName::Chunks);
    assert_eq!(chunks.len(), 3, "five rows in chunks of two");
    let response = handle_chunks(&pipeline, sqs_event("sqs-chunk.json", &numbered(&chunks))).await;
    assert!(response.batch_item_failures.is_empty());
    let finalize = queue.take(QueueName::Finalize);
    assert_eq!(finalize.len(), 1);
    let response = handle_finalizer(
        &pipeline,
        sqs_event("sqs-finalize.json", &numbered(&finalize)),
    )
    .await;
    assert!(response.batch_item_failures.is_empty());

    let record = store.list_imports("acme", 1).await.unwrap().remove(0);
    assert_eq!(record.status, ImportStatus::CompletedWithErrors);
    assert_eq!(
        (
            record.tally.processed,
            record.tally.inserted,
            record.tally.failed,
            record.tally.skipped
        ),
        (5, 3, 1, 1)
    );
}

#[tokio::test]
async fn a_message_that_cannot_succeed_is_reported_by_its_id() {
    let (pipeline, _, _, _) = memory_pipeline();
    // The fixtures name an import this store has never seen.
    let chunk = fixture("sqs-chunk.json")["Records"][0]["body"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = handle_chunks(
        &pipeline,
        sqs_event(
            "sqs-chunk.json",
            &numbered(&[chunk.clone(), "not json".to_owned()]),
        ),
    )
    .await;
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["message-0", "message-1"]);
    let response = handle_finalizer(
        &pipeline,
        sqs_event("sqs-dead-chunk.json", &numbered(&[chunk])),
    )
    .await;
    assert_eq!(
        response.batch_item_failures.len(),
        1,
        "a dead chunk of an unknown import"
    );
}
