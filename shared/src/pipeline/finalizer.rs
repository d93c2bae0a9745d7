//! The finalizer: the report and summary of an import, and its final status.
//! Also the end of the road for chunks that kept failing.

use std::sync::Arc;

use serde::Serialize;
use tracing::{info, info_span, warn, Instrument};

use super::importer::report_lines;
use super::{ChunkMessage, FinalizeMessage, Pipeline, PipelineError};
use crate::file::records::RecordReader;
use crate::imports::{keys, ChunkResult, ImportRecord, ImportStatus, ImportUpdate};
use crate::ports::{MessageQueue, ObjectStore, Store};
use crate::rules::outcome::{ErrorCode, Rejection, Tally};
use crate::rules::report::REPORT_COLUMNS;
use crate::rules::row::RowValidator;
use csv::StringRecord;

impl<S, O, Q> Pipeline<S, O, Q>
where
    S: Store + 'static,
    O: ObjectStore + 'static,
    Q: MessageQueue + 'static,
{
    /// Joins the report parts, writes the summary and sets the final status.
    /// Running it again after it finished, or after it died part way, is safe.
    pub async fn finalize(&self, message: FinalizeMessage) -> Result<(), PipelineError> {
        let (tenant, import_id) = (message.tenant.as_str(), message.import_id.as_str());
        let span = info_span!("finalize", %import_id);
        async {
            let record = self.record(tenant, import_id).await?;
            if record.status.is_final() || record.chunks_done < record.chunks_total {
                return Ok(());
            }
            if matches!(
                record.status,
                ImportStatus::Splitting | ImportStatus::Importing
            ) {
                let finalizing = ImportUpdate::to(ImportStatus::Finalizing, &super::now());
                self.store
                    .update_import(tenant, import_id, record.status, &finalizing)
                    .await?;
            }
            let chunks = self.store.chunk_results(tenant, import_id).await?;
            let mut from_chunks = Tally::default();
            for chunk in &chunks {
                from_chunks.add(&chunk.tally);
            }
            if from_chunks != record.tally || chunks.len() as u32 != record.chunks_total {
                return Err(PipelineError::Inconsistent(format!(
                    "import {import_id}: the chunks' counters do not add up to the import's"
                )));
            }
            let report_key = self.join_report(&record, &chunks).await?;
            let status = if record.tally.failed > 0 {
                ImportStatus::CompletedWithErrors
            } else {
                ImportStatus::Completed
            };
            let mut done = ImportUpdate::to(status, &super::now());
            done.report_key = report_key;
            done.summary_key = Some(keys::summary(tenant, import_id));
            let mut finished = record.clone();
            finished.apply(&done);
            self.objects
                .put(&keys::summary(tenant, import_id), summary_json(&finished))
                .await?;
            self.store
                .update_import(tenant, import_id, ImportStatus::Finalizing, &done)
                .await?;
            info!(%status, processed = record.tally.processed, "import finished");
            Ok(())
        }
        .instrument(span)
        .await
    }

    /// `errors.csv`: the header, then each chunk's part in chunk order, so in
    /// file order. None when no row was rejected.
    async fn join_report(
        &self,
        record: &ImportRecord,
        chunks: &[ChunkResult],
    ) -> Result<Option<String>, PipelineError> {
        let parts: Vec<String> = chunks
            .iter()
            .filter_map(|c| c.report_part.clone())
            .collect();
        if parts.is_empty() {
            return Ok(None);
        }
        let headers = record
            .plan
            .as_ref()
            .map(|plan| plan.source_headers())
            .unwrap_or_default();
        let mut header = csv::Writer::from_writer(Vec::new());
        header
            .write_record(
                REPORT_COLUMNS.iter().map(|c| c.to_string()).chain(
                    headers
                        .iter()
                        .map(|h| crate::rules::report::neutralise(h).into_owned()),
                ),
            )
            .map_err(|e| PipelineError::Report(format!("writing the report header: {e}")))?;
        let header = header
            .into_inner()
            .map_err(|e| PipelineError::Report(format!("writing the report header: {e}")))?;
        let key = keys::report(&record.tenant, &record.import_id);
        let objects = Arc::clone(&self.objects);
        let target = key.clone();
        tokio::task::spawn_blocking(move || objects.put_joined(&target, header, parts))
            .await
            .map_err(|e| PipelineError::Stopped {
                work: "joining the report",
                detail: e.to_string(),
            })??;
        Ok(Some(key))
    }

    /// A chunk that kept failing: its rows go to the report as internal
    /// errors and are counted failed, so the import still finishes and every
    /// row is accounted for.
    pub async fn bury_chunk(&self, chunk: ChunkMessage) -> Result<(), PipelineError> {
        let span = info_span!("bury_chunk", import_id = %chunk.import_id, chunk = chunk.index);
        async {
            warn!(
                rows = chunk.rows,
                "a chunk kept failing; its rows are reported as internal errors"
            );
            let record = self.record(&chunk.tenant, &chunk.import_id).await?;
            if record.status.is_final() {
                return Ok(());
            }
            let committed = self
                .store
                .chunk_results(&chunk.tenant, &chunk.import_id)
                .await?;
            if committed.iter().any(|c| c.index == chunk.index) {
                // It was imported after all; only its finalize request was lost.
                if record.chunks_done == record.chunks_total {
                    self.request_finalize(&chunk.tenant, &chunk.import_id)
                        .await?;
                }
                return Ok(());
            }
            let rejected = self.internal_errors(&record, &chunk).await;
            let mut tally = Tally::default();
            for rejection in &rejected {
                tally.record_rejection(rejection.code);
            }
            let key = keys::report_part(&chunk.tenant, &chunk.import_id, chunk.index);
            self.objects.put(&key, report_lines(&rejected)?).await?;
            let result = ChunkResult {
                index: chunk.index,
                tally,
                report_part: Some(key),
            };
            let commit = self
                .store
                .commit_chunk(&chunk.tenant, &chunk.import_id, &result)
                .await?;
            if commit.chunks_done == commit.chunks_total {
                self.request_finalize(&chunk.tenant, &chunk.import_id)
                    .await?;
            }
            Ok(())
        }
        .instrument(span)
        .await
    }

    /// A report line per row of a chunk. The rows are read again for their
    /// values if the data can be read; otherwise the lines carry the row
    /// numbers alone (the first row and the count).
    async fn internal_errors(&self, record: &ImportRecord, chunk: &ChunkMessage) -> Vec<Rejection> {
        const MESSAGE: &str = "the platform could not import this row";
        const GUIDANCE: &str = "Nothing is wrong with the row as far as we know: upload this report again to import it";
        let width = record
            .plan
            .as_ref()
            .map_or(0, |plan| plan.source_headers().len());
        let numbered = || {
            (0..chunk.rows)
                .map(|i| Rejection {
                    row: chunk.first_row + i,
                    code: ErrorCode::InternalError,
                    column: None,
                    message: MESSAGE.to_owned(),
                    guidance: GUIDANCE.into(),
                    values: StringRecord::from(vec![""; width]),
                })
                .collect()
        };
        let (Some(facts), Some(plan)) = (&record.facts, &record.plan) else {
            return numbered();
        };
        let Ok(bytes) = self.chunk_bytes(chunk).await else {
            return numbered();
        };
        let validator = RowValidator::new(plan.clone(), &record.spec, facts.delimiter);
        let mut reader = RecordReader::new(bytes.as_slice(), facts.delimiter, chunk.start);
        let mut rejected = Vec::new();
        while let Ok(Some(raw)) = reader.next_record() {
            let values: Vec<String> = raw
                .record
                .iter()
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .collect();
            let record = StringRecord::from(values);
            rejected.push(validator.rejection(
                raw.row,
                &record,
                ErrorCode::InternalError,
                MESSAGE.to_owned(),
                GUIDANCE,
            ));
        }
        if rejected.len() as u64 == chunk.rows {
            rejected
        } else {
            numbered()
        }
    }
}

/// What `summary.json` holds; also what the CLI prints with `--json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportSummary<'a> {
    pub import_id: &'a str,
    pub tenant: &'a str,
    pub status: ImportStatus,
    pub source: &'a str,
    pub processed: u64,
    pub inserted: u64,
    pub updated: u64,
    pub skipped: u64,
    pub failed: u64,
    pub reasons: &'a std::collections::BTreeMap<ErrorCode, u64>,
    pub report: Option<&'a str>,
    pub encoding: Option<&'static str>,
    /// The exporter whose column layout the file has, when recognised.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layout: Option<&'a str>,
    pub delimiter: Option<&'static str>,
    pub rows: u64,
    pub bytes: u64,
    pub chunks: u32,
    pub created_at: &'a str,
    pub finished_at: Option<&'a str>,
    pub duration_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
}

impl<'a> ImportSummary<'a> {
    pub fn of(record: &'a ImportRecord) -> Self {
        let duration_ms = record.finished_at.as_deref().and_then(|finished| {
            let start = chrono::DateTime::parse_from_rfc3339(&record.created_at).ok()?;
            let end = chrono::DateTime::parse_from_rfc3339(finished).ok()?;
            Some((end - start).num_milliseconds())
        });
        ImportSummary {
            import_id: &record.import_id,
            tenant: &record.tenant,
            status: record.status,
            source: &record.source_key,
            processed: record.tally.processed,
            inserted: record.tally.inserted,
            updated: record.tally.updated,
            skipped: record.tally.skipped,
            failed: record.tally.failed,
            reasons: &record.tally.reasons,
            report: record.report_key.as_deref(),
            encoding: record.facts.as_ref().map(|f| f.encoding.label()),
            layout: record.plan.as_ref().and_then(|plan| plan.layout()),
            delimiter: record.facts.as_ref().map(|f| f.delimiter.name()),
            rows: record.rows,
            bytes: record.bytes,
            chunks: record.chunks_total,
            created_at: &record.created_at,
            finished_at: record.finished_at.as_deref(),
            duration_ms,
            error: record.failure.as_ref().map(|f| f.message.as_str()),
        }
    }
}

pub(super) fn summary_json(record: &ImportRecord) -> Vec<u8> {
    serde_json::to_vec_pretty(&ImportSummary::of(record)).expect("a summary always serialises")
}
