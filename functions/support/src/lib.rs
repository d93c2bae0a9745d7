//! What the three Lambdas share: configuration read once from the
//! environment, tracing set up as Lambda asks, and the step from an S3 or
//! SQS event to a pipeline call. The import rules are in contact-import-core;
//! each function's main.rs only wires this together.

use std::future::Future;

use aws_lambda_events::s3::S3Event;
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use contact_import_aws::{AwsObjects, AwsQueue, AwsSettings, DynamoStore};
use contact_import_core::pipeline::{
    parse_message, ChunkMessage, FinalizeMessage, Pipeline, PipelineError, Upload,
    DEFAULT_CHUNK_ROWS,
};
use contact_import_core::ports::{MessageQueue, ObjectStore, Store};
use percent_encoding::percent_decode_str;
use serde::Deserialize;
use tracing::{error, info, info_span, warn, Instrument};

/// The configuration every function reads, once, at cold start: where the
/// resources are, and how many rows a chunk holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub resources: AwsSettings,
    pub chunk_rows: u64,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FunctionConfigError {
    #[error("{0}; the template sets it for every function")]
    Missing(#[from] contact_import_aws::ConfigError),
    #[error("{name} is `{value}`; it must be a whole number of rows from 1")]
    BadNumber { name: &'static str, value: String },
}

/// The variable that sets the rows of a chunk.
const CHUNK_ROWS: &str = "CHUNK_ROWS";

/// Every environment variable a function reads from the template.
pub const VARIABLES: [&str; 5] = {
    let [bucket, table, chunk_queue, finalize_queue] = AwsSettings::VARIABLES;
    [CHUNK_ROWS, bucket, table, chunk_queue, finalize_queue]
};

impl Config {
    pub fn from_env() -> Result<Config, FunctionConfigError> {
        Config::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads the variables through `var`, so that tests need not touch the environment.
    pub(crate) fn from_vars(
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, FunctionConfigError> {
        let chunk_rows = match var(CHUNK_ROWS).filter(|v| !v.is_empty()) {
            None => DEFAULT_CHUNK_ROWS,
            Some(value) => match value.parse::<u64>() {
                Ok(rows) if rows >= 1 => rows,
                _ => {
                    return Err(FunctionConfigError::BadNumber {
                        name: CHUNK_ROWS,
                        value,
                    })
                }
            },
        };
        Ok(Config {
            resources: AwsSettings::from_lookup(var)?,
            chunk_rows,
        })
    }

    pub fn bucket(&self) -> &str {
        &self.resources.bucket
    }
}

/// What S3 sends the splitter: a notification, or S3's test event.
pub type S3Notification = serde_json::Value;

/// The pipeline on AWS: the clients are built once and shared by every invocation.
pub type AwsPipeline = Pipeline<DynamoStore, AwsObjects, AwsQueue>;

/// Builds the clients from the standard AWS configuration (region,
/// credentials, `AWS_ENDPOINT_URL`), then the pipeline over them.
pub async fn aws_pipeline(config: &Config) -> AwsPipeline {
    let sdk = aws_config::load_from_env().await;
    contact_import_aws::pipeline(&sdk, &config.resources, config.chunk_rows)
}

/// JSON logs when Lambda's log format is JSON, text otherwise; the level
/// from `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG`, info by default.
pub fn init_tracing() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_owned())
        .to_lowercase();
    let filter = tracing_subscriber::EnvFilter::try_new(&level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .without_time();
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    // A second call (tests) finds a subscriber already set; that is fine.
    let _ = if json {
        builder.json().with_current_span(true).try_init()
    } else {
        builder.try_init()
    };
}

/// Object keys in S3 events are URL-encoded, with `+` for a space.
pub(crate) fn decode_key(key: &str) -> String {
    percent_decode_str(&key.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// The uploads an S3 notification announces, keys decoded. Records from
/// another bucket and other event kinds are left out, as is S3's test event.
pub fn uploads_of(
    event: serde_json::Value,
    bucket: &str,
) -> Result<Vec<Upload>, serde_json::Error> {
    if event.get("Event").and_then(|e| e.as_str()) == Some("s3:TestEvent") {
        return Ok(Vec::new());
    }
    let event = S3Event::deserialize(event)?;
    Ok(event
        .records
        .into_iter()
        .filter(|r| {
            r.event_name
                .as_deref()
                .is_some_and(|name| name.starts_with("ObjectCreated:"))
        })
        .filter(|r| {
            let same = r.s3.bucket.name.as_deref() == Some(bucket);
            if !same {
                warn!(bucket = ?r.s3.bucket.name, "an event from another bucket is ignored");
            }
            same
        })
        .filter_map(|r| {
            let key = decode_key(r.s3.object.key.as_deref()?);
            let version =
                r.s3.object
                    .version_id
                    .clone()
                    .or_else(|| r.s3.object.e_tag.clone());
            Some(Upload { key, version })
        })
        .collect())
}

/// The splitter's handler. An error makes Lambda retry the event, which is safe.
pub async fn handle_uploads<S, O, Q>(
    pipeline: &Pipeline<S, O, Q>,
    bucket: &str,
    event: serde_json::Value,
) -> Result<(), lambda_runtime::Error>
where
    S: Store + 'static,
    O: ObjectStore + 'static,
    Q: MessageQueue + 'static,
{
    for upload in uploads_of(event, bucket)? {
        let outcome = pipeline.split(upload).await?;
        info!(?outcome, "upload handled");
    }
    Ok(())
}

/// Runs `handle` on each message of a batch, one at a time, each in a span
/// naming its message id, and reports the failed ones so that SQS retries
/// only those.
pub(crate) async fn each_message<F, Fut>(event: SqsEvent, handle: F) -> SqsBatchResponse
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<(), PipelineError>>,
{
    let mut response = SqsBatchResponse::default();
    for message in event.records {
        let id = message.message_id.unwrap_or_default();
        let body = message.body.unwrap_or_default();
        let result = handle(body)
            .instrument(info_span!("message", message_id = %id))
            .await;
        if let Err(e) = result {
            if e.is_retryable() {
                warn!(message_id = %id, error = %e, "message failed; SQS will deliver it again");
            } else {
                error!(message_id = %id, error = %e, "message cannot succeed; it will reach the dead-letter queue");
            }
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

/// The importer's handler: one chunk per message.
pub async fn handle_chunks<S, O, Q>(
    pipeline: &Pipeline<S, O, Q>,
    event: SqsEvent,
) -> SqsBatchResponse
where
    S: Store + 'static,
    O: ObjectStore + 'static,
    Q: MessageQueue + 'static,
{
    each_message(event, |body| async move {
        let chunk: ChunkMessage = parse_message(&body)?;
        pipeline.import_chunk(chunk).await
    })
    .await
}

/// What reaches the finalizer: a finalize request, or a chunk from the
/// chunk queue's dead-letter queue.
#[derive(Deserialize)]
#[serde(untagged)]
enum FinalizerMessage {
    DeadChunk(ChunkMessage),
    Finalize(FinalizeMessage),
}

/// The finalizer's handler, for its two queues.
pub async fn handle_finalizer<S, O, Q>(
    pipeline: &Pipeline<S, O, Q>,
    event: SqsEvent,
) -> SqsBatchResponse
where
    S: Store + 'static,
    O: ObjectStore + 'static,
    Q: MessageQueue + 'static,
{
    each_message(event, |body| async move {
        match parse_message::<FinalizerMessage>(&body)? {
            FinalizerMessage::DeadChunk(chunk) => pipeline.bury_chunk(chunk).await,
            FinalizerMessage::Finalize(message) => pipeline.finalize(message).await,
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn config_names_the_missing_variable() {
        let vars: HashMap<&str, &str> = HashMap::from([
            ("IMPORT_BUCKET", "b"),
            ("TABLE_NAME", "t"),
            ("CHUNK_QUEUE_URL", "http://q/chunks"),
        ]);
        let read = |vars: &HashMap<&str, &str>| {
            let vars = vars.clone();
            Config::from_vars(move |name| vars.get(name).map(|v| v.to_string()))
        };
        let missing = read(&vars).unwrap_err();
        assert!(
            missing.to_string().contains("FINALIZE_QUEUE_URL"),
            "{missing}"
        );
        let mut vars = vars;
        vars.insert("FINALIZE_QUEUE_URL", "http://q/finalize");
        assert_eq!(read(&vars).unwrap().chunk_rows, DEFAULT_CHUNK_ROWS);
        vars.insert("CHUNK_ROWS", "0");
        assert!(matches!(
            read(&vars),
            Err(FunctionConfigError::BadNumber { .. })
        ));
        vars.insert("CHUNK_ROWS", "250");
        assert_eq!(read(&vars).unwrap().chunk_rows, 250);
    }

    #[test]
    fn keys_are_url_decoded() {
        assert_eq!(
            decode_key("uploads/acme/spring+list%282026%29.csv"),
            "uploads/acme/spring list(2026).csv"
        );
        assert_eq!(decode_key("uploads/acme/a%2Bb.csv"), "uploads/acme/a+b.csv");
        assert_eq!(
            decode_key("uploads/acme/Jos%C3%A9.csv"),
            "uploads/acme/José.csv"
        );
    }
}
