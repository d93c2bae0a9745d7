//! The importer: one chunk of rows, written once however often it runs.

use std::collections::HashMap;

use tracing::{info, info_span, Instrument};

use super::{ChunkMessage, Pipeline, PipelineError, DEFAULT_CHUNK_ROWS};
use crate::file::input::Delimiter;
use crate::file::records::{RawRecord, RecordReader};
use crate::imports::{keys, ChunkResult, ImportRecord};
use crate::ports::{ContactWrite, MessageQueue, ObjectStore, Store, WriteTarget};
use crate::rules::engine::{duplicate_existing, AcceptedRow, FileFacts, RowOutcome, Screen};
use crate::rules::outcome::{ErrorCode, Rejection, Tally, WriteOutcome};
use crate::rules::plan::ColumnPlan;
use crate::rules::report::ReportWriter;
use crate::rules::row::RowValidator;
use crate::rules::spec::ImportSpec;

/// The rows of a chunk, checked by the rules the file alone decides.
pub(super) struct CheckedChunk {
    pub(super) validator: RowValidator,
    pub(super) accepted: Vec<AcceptedRow>,
    pub(super) rejected: Vec<Rejection>,
}

impl<S, O, Q> Pipeline<S, O, Q>
where
    S: Store + 'static,
    O: ObjectStore + 'static,
    Q: MessageQueue + 'static,
{
    /// Imports one chunk. Running it again, whole or after a crash at any
    /// point, ends in the same contacts, report part and counters.
    pub async fn import_chunk(&self, chunk: ChunkMessage) -> Result<(), PipelineError> {
        let span = info_span!("import_chunk", import_id = %chunk.import_id, chunk = chunk.index);
        async {
            let record = self.record(&chunk.tenant, &chunk.import_id).await?;
            if record.status.is_final() {
                return Ok(());
            }
            let kept = self.handoff.as_ref().and_then(|h| h.take(&chunk));
            let checked = match kept {
                Some(checked) => checked,
                None => {
                    let bytes = self.chunk_bytes(&chunk).await?;
                    check_rows(&record, &chunk, bytes).await?
                }
            };
            let result = self.write_rows(&record, &chunk, checked).await?;
            let commit = self
                .store
                .commit_chunk(&chunk.tenant, &chunk.import_id, &result)
                .await?;
            info!(
                rows = result.tally.processed,
                inserted = result.tally.inserted,
                rejected = result.tally.skipped + result.tally.failed,
                newly_committed = commit.newly_committed,
                "chunk done"
            );
            // Whoever sees the last chunk done asks for the finalizer, also on a retry.
            if commit.chunks_done == commit.chunks_total {
                self.request_finalize(&chunk.tenant, &chunk.import_id)
                    .await?;
            }
            Ok(())
        }
        .instrument(span)
        .await
    }

    /// Applies do-not-call and in-file duplicates, writes the contacts, and
    /// stores the chunk's report part.
    async fn write_rows(
        &self,
        record: &ImportRecord,
        chunk: &ChunkMessage,
        checked: CheckedChunk,
    ) -> Result<ChunkResult, PipelineError> {
        let CheckedChunk {
            validator,
            accepted,
            mut rejected,
        } = checked;
        let numbers: Vec<String> = accepted.iter().map(|a| a.contact.phone.clone()).collect();
        let do_not_call = self.store.do_not_call(&chunk.tenant, &numbers).await?;
        let duplicates: HashMap<u64, u64> = chunk.duplicates.iter().copied().collect();
        let to_write = {
            let mut screen = Screen::decided(&do_not_call, &duplicates);
            let mut to_write = Vec::with_capacity(accepted.len());
            for row in accepted {
                match screen.screen_accepted(&validator, row) {
                    RowOutcome::Accepted(row) => to_write.push(row),
                    RowOutcome::Rejected(rejection) => rejected.push(rejection),
                }
            }
            to_write
        };
        // The contacts move to the store; the records stay for report lines.
        let (writes, records): (Vec<ContactWrite>, Vec<_>) = to_write
            .into_iter()
            .map(|row| {
                let write = ContactWrite {
                    row: row.row,
                    contact: row.contact,
                };
                (write, row.record)
            })
            .unzip();
        let scope = record.spec.destination.scope();
        let target = WriteTarget {
            tenant: &chunk.tenant,
            import_id: &chunk.import_id,
            scope: &scope,
            mode: record.spec.duplicates,
        };
        let outcomes = if writes.is_empty() {
            Vec::new()
        } else {
            self.store.write_contacts(target, &writes).await?
        };
        if outcomes.len() != writes.len() {
            return Err(PipelineError::Inconsistent(format!(
                "the store answered {} outcomes for {} contacts",
                outcomes.len(),
                writes.len()
            )));
        }
        let mut tally = Tally::default();
        for ((write, record), outcome) in writes.iter().zip(&records).zip(&outcomes) {
            tally.record_write(*outcome);
            if *outcome == WriteOutcome::Existing {
                let phone = &write.contact.phone;
                rejected.push(duplicate_existing(
                    &validator, write.row, record, phone, &scope,
                ));
            }
        }
        for rejection in &rejected {
            if rejection.code != ErrorCode::DuplicateExisting {
                tally.record_rejection(rejection.code);
            }
        }
        let report_part = if rejected.is_empty() {
            None
        } else {
            rejected.sort_by_key(|r| r.row);
            let key = keys::report_part(&chunk.tenant, &chunk.import_id, chunk.index);
            self.objects.put(&key, report_lines(&rejected)?).await?;
            Some(key)
        };
        Ok(ChunkResult {
            index: chunk.index,
            tally,
            report_part,
        })
    }
}

/// Report lines without a header: the finalizer adds one when it joins parts.
pub(super) fn report_lines(rejected: &[Rejection]) -> Result<Vec<u8>, PipelineError> {
    let mut part = ReportWriter::without_header(Vec::new());
    for rejection in rejected {
        part.write(rejection)
            .map_err(|e| PipelineError::Report(format!("writing a report line: {e}")))?;
    }
    part.finish()
        .map_err(|e| PipelineError::Report(format!("writing a report part: {e}")))
}

/// Runs the row rules over a chunk on a blocking thread: they are CPU work.
async fn check_rows(
    record: &ImportRecord,
    chunk: &ChunkMessage,
    bytes: Vec<u8>,
) -> Result<CheckedChunk, PipelineError> {
    let checker = Checker::of(record)?;
    let chunk = chunk.clone();
    tokio::task::spawn_blocking(move || check_chunk(&checker, &bytes, &chunk))
        .await
        .map_err(|e| PipelineError::Stopped {
            work: "the chunk check",
            detail: e.to_string(),
        })?
}

/// What the rules of an import need to check its rows.
pub(super) struct Checker {
    pub(super) spec: ImportSpec,
    pub(super) plan: ColumnPlan,
    pub(super) facts: FileFacts,
}

impl Checker {
    /// From an import past its column plan.
    pub(super) fn of(record: &ImportRecord) -> Result<Self, PipelineError> {
        match (&record.plan, &record.facts) {
            (Some(plan), Some(facts)) => Ok(Checker {
                spec: record.spec.clone(),
                plan: plan.clone(),
                facts: facts.clone(),
            }),
            _ => Err(PipelineError::Inconsistent(format!(
                "import {} has no column plan yet",
                record.import_id
            ))),
        }
    }

    pub(super) fn validator(&self) -> RowValidator {
        RowValidator::new(self.plan.clone(), &self.spec, self.facts.delimiter)
    }
}

/// The rows of a chunk's bytes, checked by the import's rules.
pub(super) fn check_chunk(
    checker: &Checker,
    bytes: &[u8],
    chunk: &ChunkMessage,
) -> Result<CheckedChunk, PipelineError> {
    let validator = checker.validator();
    // Room for a chunk's rows at once, but no more than a default chunk's
    // on the word of a message alone.
    let room = chunk.rows.min(DEFAULT_CHUNK_ROWS);
    let mut accepted = Vec::with_capacity(usize::try_from(room).unwrap_or(0));
    let mut rejected = Vec::new();
    read_chunk(bytes, checker.facts.delimiter, chunk, |raw| {
        let row = raw.row;
        match validator.check(raw) {
            Ok((contact, record)) => accepted.push(AcceptedRow {
                row,
                contact,
                record,
            }),
            Err(rejection) => rejected.push(rejection),
        }
    })?;
    Ok(CheckedChunk {
        validator,
        accepted,
        rejected,
    })
}

/// Hands each record of a chunk's bytes to `each`, proving on the way that
/// they are the rows the splitter counted.
pub(super) fn read_chunk(
    bytes: &[u8],
    delimiter: Delimiter,
    chunk: &ChunkMessage,
    mut each: impl FnMut(RawRecord),
) -> Result<(), PipelineError> {
    let mut reader = RecordReader::new(bytes, delimiter, chunk.start);
    let mut rows = 0;
    while let Some(raw) = reader
        .next_record()
        .map_err(|e| PipelineError::UploadChanged(format!("reading the chunk: {e}")))?
    {
        // Contact ids are made of row numbers: a row read where the
        // splitter did not count it would overwrite another's contact.
        let row = raw.row;
        if rows == 0 && row != chunk.first_row {
            return Err(PipelineError::UploadChanged(format!(
                "the chunk starts at row {row} where the splitter counted row {}; the file changed after it was split",
                chunk.first_row
            )));
        }
        rows += 1;
        each(raw);
    }
    if rows != chunk.rows {
        return Err(PipelineError::UploadChanged(format!(
            "the chunk holds {rows} rows where the splitter counted {}; the file changed after it was split",
            chunk.rows
        )));
    }
    Ok(())
}
