//! The import pipeline: a splitter that plans the chunks of an uploaded file,
//! importers that write one chunk each, and a finalizer that joins the
//! report. The same code runs in the Lambdas and in the local CLI; only the
//! adapters behind the ports differ.
//!
//! Every step may be delivered more than once and may die between any two
//! writes: each write is idempotent, and counters move only in
//! [`ImportStore::commit_chunk`], once per chunk.

mod finalizer;
mod handoff;
mod importer;
pub mod runner;
mod splitter;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::file::records::ResumePoint;
use crate::imports::ImportRecord;
use crate::ports::{MessageQueue, ObjectStore, PortError, QueueName, Store};
use handoff::Handoff;

pub use finalizer::ImportSummary;
pub use splitter::{Resumed, SplitOutcome, Upload};

/// Rows per chunk when the configuration does not say.
pub const DEFAULT_CHUNK_ROWS: u64 = 5_000;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Port(#[from] PortError),
    /// A queue message that does not parse.
    #[error("unreadable message: {0}")]
    BadMessage(String),
    /// A message or a resume names an import the store does not have.
    #[error("no import {import_id} for tenant {tenant}")]
    NoImport { tenant: String, import_id: String },
    /// The upload is gone, or no longer what the splitter read and counted.
    #[error("{0}")]
    UploadChanged(String),
    /// An import record or the store contradicts itself (a record past
    /// splitting with no plan, counters that do not add up, an answer for
    /// the wrong number of rows).
    #[error("{0}")]
    Inconsistent(String),
    /// A report part or a report could not be written.
    #[error("{0}")]
    Report(String),
    /// Work handed to another thread or task ended without an answer (a
    /// panic, or a runtime shutting down).
    #[error("{work} stopped: {detail}")]
    Stopped { work: &'static str, detail: String },
}

impl PipelineError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, PipelineError::Port(e) if e.is_retryable())
    }
}

/// One chunk of rows for an importer: a byte range of the UTF-8 data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkMessage {
    pub tenant: String,
    pub import_id: String,
    pub index: u32,
    /// The object holding the file as UTF-8.
    pub data_key: String,
    /// Bytes of the object before the UTF-8 stream starts (a BOM).
    pub data_skip: u64,
    /// Where the chunk's first record starts.
    pub start: ResumePoint,
    /// Where its last record ends.
    pub end_byte: u64,
    pub first_row: u64,
    /// Data records in the chunk.
    pub rows: u64,
    /// (row, earlier row) for each row repeating a number an earlier row of
    /// the file holds, decided by the splitter so that chunk order cannot matter.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub duplicates: Vec<(u64, u64)>,
}

/// An import whose chunks are all committed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinalizeMessage {
    pub tenant: String,
    pub import_id: String,
}

#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// The bucket name, part of every import id.
    pub bucket: String,
    pub chunk_rows: u64,
}

/// The pipeline over one set of adapters.
pub struct Pipeline<S, O, Q> {
    store: Arc<S>,
    objects: Arc<O>,
    queue: Arc<Q>,
    config: PipelineConfig,
    handoff: Option<Arc<Handoff>>,
}

impl<S, O, Q> Clone for Pipeline<S, O, Q> {
    fn clone(&self) -> Self {
        Pipeline {
            store: Arc::clone(&self.store),
            objects: Arc::clone(&self.objects),
            queue: Arc::clone(&self.queue),
            config: self.config.clone(),
            handoff: self.handoff.clone(),
        }
    }
}

impl<S, O, Q> Pipeline<S, O, Q>
where
    S: Store + 'static,
    O: ObjectStore + 'static,
    Q: MessageQueue + 'static,
{
    pub fn new(store: Arc<S>, objects: Arc<O>, queue: Arc<Q>, config: PipelineConfig) -> Self {
        Pipeline {
            store,
            objects,
            queue,
            config,
            handoff: None,
        }
    }

    /// For a pipeline whose splitter and importers share this process: the
    /// splitter keeps the rows it checks, up to `places` chunks at a time,
    /// for the importers, so that the rules run once per row (see
    /// [`handoff`]).
    pub(crate) fn sharing_checks(mut self, places: usize) -> Self {
        self.handoff = Some(Arc::new(Handoff::new(places)));
        self
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn objects(&self) -> &O {
        &self.objects
    }

    /// The record a message refers to; a message about an unknown import
    /// cannot succeed on a retry.
    async fn record(&self, tenant: &str, import_id: &str) -> Result<ImportRecord, PipelineError> {
        self.store
            .get_import(tenant, import_id)
            .await?
            .ok_or_else(|| PipelineError::NoImport {
                tenant: tenant.to_owned(),
                import_id: import_id.to_owned(),
            })
    }

    /// The UTF-8 bytes of a chunk's records.
    async fn chunk_bytes(&self, chunk: &ChunkMessage) -> Result<Vec<u8>, PortError> {
        let skip = chunk.data_skip;
        self.objects
            .get_range(
                &chunk.data_key,
                skip + chunk.start.byte,
                skip + chunk.end_byte,
            )
            .await
    }

    async fn request_finalize(&self, tenant: &str, import_id: &str) -> Result<(), PipelineError> {
        let message = FinalizeMessage {
            tenant: tenant.to_owned(),
            import_id: import_id.to_owned(),
        };
        self.queue
            .send(QueueName::Finalize, vec![to_json(&message)])
            .await?;
        Ok(())
    }
}

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("pipeline messages always serialise")
}

/// Parses a message body; a body that does not parse is permanently invalid.
pub fn parse_message<T: for<'de> Deserialize<'de>>(body: &str) -> Result<T, PipelineError> {
    serde_json::from_str(body).map_err(|e| PipelineError::BadMessage(e.to_string()))
}

/// Now, as the records store it: RFC 3339 UTC with milliseconds.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests;
