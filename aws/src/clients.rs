//! The SDK clients and the settings every function reads once, at cold start.

use std::sync::Arc;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_s3::config::ProvideCredentials;
use aws_sdk_s3::error::DisplayErrorContext;
use contact_import_core::pipeline::{Pipeline, PipelineConfig};

use crate::dynamo::DynamoStore;
use crate::objects::AwsObjects;
use crate::queue::AwsQueue;

/// The three SDK clients, built once from one [`SdkConfig`] and shared
/// (each is a cheap handle to one connection pool).
#[derive(Debug, Clone)]
pub struct Clients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
}

impl Clients {
    /// Clients from a loaded configuration. Endpoints, region and
    /// credentials come only from it (so `AWS_ENDPOINT_URL` points all three
    /// at moto in tests). S3 always uses path-style addressing, which moto
    /// needs and AWS accepts.
    pub fn new(config: &SdkConfig) -> Self {
        let s3 = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build();
        Clients {
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            s3: aws_sdk_s3::Client::from_conf(s3),
            sqs: aws_sdk_sqs::Client::new(config),
        }
    }

    /// Loads the standard AWS configuration (environment, profile, IMDS)
    /// and builds the clients, for a person at a terminal: a missing region
    /// or credentials are said up front, rather than as the first request's
    /// dispatch failure.
    pub async fn connect() -> Result<Self, ConfigError> {
        let config = aws_config::load_defaults(BehaviorVersion::latest()).await;
        if config.region().is_none() {
            return Err(ConfigError::NoRegion);
        }
        let provider = config
            .credentials_provider()
            .ok_or_else(|| ConfigError::NoCredentials("no credentials provider".to_owned()))?;
        provider
            .provide_credentials()
            .await
            .map_err(|e| ConfigError::NoCredentials(DisplayErrorContext(&e).to_string()))?;
        Ok(Clients::new(&config))
    }
}

/// A setting the environment lacks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("the environment variable {0} is not set (or is empty)")]
    Missing(&'static str),
    #[error("no AWS region is configured; set AWS_REGION, or a region in your AWS profile")]
    NoRegion,
    #[error(
        "no AWS credentials were found ({0}); configure them as for the AWS CLI \
         (AWS_PROFILE, `aws configure`, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
    )]
    NoCredentials(String),
}

/// Where the pipeline's resources are, as the functions' environment names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSettings {
    /// `IMPORT_BUCKET`: uploads, staging copies, report parts, reports.
    pub bucket: String,
    /// `TABLE_NAME`: the single table of [`DynamoStore`].
    pub table: String,
    /// `CHUNK_QUEUE_URL`
    pub chunk_queue_url: String,
    /// `FINALIZE_QUEUE_URL`
    pub finalize_queue_url: String,
}

impl AwsSettings {
    /// The environment variables it reads, in the order of its fields; the
    /// template sets each on every function (a test holds it to that).
    pub const VARIABLES: [&'static str; 4] = [
        "IMPORT_BUCKET",
        "TABLE_NAME",
        "CHUNK_QUEUE_URL",
        "FINALIZE_QUEUE_URL",
    ];

    /// Reads the settings through `lookup`; an empty value counts as missing.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &'static str| {
            lookup(name)
                .filter(|v| !v.trim().is_empty())
                .ok_or(ConfigError::Missing(name))
        };
        let [bucket, table, chunk_queue_url, finalize_queue_url] = Self::VARIABLES;
        Ok(AwsSettings {
            bucket: get(bucket)?,
            table: get(table)?,
            chunk_queue_url: get(chunk_queue_url)?,
            finalize_queue_url: get(finalize_queue_url)?,
        })
    }
}

/// Every port's AWS adapter, ready for the pipeline.
#[derive(Debug, Clone)]
pub struct Adapters {
    pub store: DynamoStore,
    pub objects: AwsObjects,
    pub queue: AwsQueue,
}

impl Adapters {
    pub fn new(clients: &Clients, settings: &AwsSettings) -> Self {
        Adapters {
            store: DynamoStore::new(clients.dynamodb.clone(), &settings.table),
            objects: AwsObjects::new(clients.s3.clone(), &settings.bucket),
            queue: AwsQueue::new(
                clients.sqs.clone(),
                &settings.chunk_queue_url,
                &settings.finalize_queue_url,
            ),
        }
    }
}

/// The pipeline on AWS, from a loaded configuration: the clients are built
/// here, once, and shared by every invocation.
pub fn pipeline(
    sdk: &SdkConfig,
    settings: &AwsSettings,
    chunk_rows: u64,
) -> Pipeline<DynamoStore, AwsObjects, AwsQueue> {
    let adapters = Adapters::new(&Clients::new(sdk), settings);
    Pipeline::new(
        Arc::new(adapters.store),
        Arc::new(adapters.objects),
        Arc::new(adapters.queue),
        PipelineConfig {
            bucket: settings.bucket.clone(),
            chunk_rows,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn settings_name_the_missing_variable() {
        let mut env: HashMap<&str, &str> = HashMap::from([
            ("IMPORT_BUCKET", "b"),
            ("TABLE_NAME", "t"),
            ("CHUNK_QUEUE_URL", "http://q/chunks"),
            ("FINALIZE_QUEUE_URL", "http://q/finalize"),
        ]);
        let settings =
            AwsSettings::from_lookup(|name| env.get(name).map(|v| v.to_string())).unwrap();
        assert_eq!(
            (settings.bucket.as_str(), settings.table.as_str()),
            ("b", "t")
        );
        env.insert("TABLE_NAME", " ");
        let err = AwsSettings::from_lookup(|name| env.get(name).map(|v| v.to_string()));
        assert_eq!(err, Err(ConfigError::Missing("TABLE_NAME")));
        assert!(err.unwrap_err().to_string().contains("TABLE_NAME"));
    }
}
