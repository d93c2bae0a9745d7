//! The splitter: from an uploaded object to an import record and chunk messages.

use std::collections::{HashSet, VecDeque};
use std::io::Read;
use std::sync::Arc;

use tokio::runtime::Handle;
use tracing::{info, info_span, warn, Instrument};

use super::handoff::Place;
use super::importer::{check_chunk, read_chunk, Checker};
use super::{to_json, ChunkMessage, Pipeline, PipelineError};
use crate::file::input::{utf8_reader, TextEncoding};
use crate::file::records::ResumePoint;
use crate::imports::{
    import_id_for, keys, ImportFailure, ImportRecord, ImportStatus, ImportUpdate,
};
use crate::ports::{MessageQueue, ObjectInfo, ObjectStore, QueueName, Store};
use crate::rules::engine::{ContactFile, FileFacts};
use crate::rules::first_occurrences::FirstOccurrences;
use crate::rules::phone::e164_key;
use crate::rules::plan::ColumnPlan;
use crate::rules::refusal::Refusal;
use crate::rules::spec::{DuplicateMode, ImportSpec, SpecError};

/// An object that appeared under the uploads prefix; the key already URL-decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub key: String,
    /// The version id or ETag from the event, when it has one.
    pub version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SplitOutcome {
    /// Not a contact file under `uploads/<tenant>/` (a spec sidecar, another folder).
    Ignored(String),
    /// A repeated event for an import that is past splitting.
    AlreadyHandled {
        import_id: String,
        status: ImportStatus,
    },
    /// The file was refused; the import is FAILED with this reason.
    Failed {
        import_id: String,
        reason: String,
    },
    Split {
        import_id: String,
        chunks: u32,
    },
}

/// What [`Pipeline::resume`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resumed {
    /// The import had finished: nothing was sent.
    Finished(ImportStatus),
    /// It stopped before its chunks were sent, and was split again.
    Split(SplitOutcome),
    /// It stopped part way: the chunks not yet committed were sent again
    /// (`sent`), or the finalize request when none was left.
    Chunks { sent: u32 },
}

/// What a scan of the file found: how to cut it, or why it is refused.
enum Scanned {
    File(Box<Scan>),
    Refused(Refusal),
}

/// What a scan of the file decided.
struct Scan {
    facts: FileFacts,
    plan: ColumnPlan,
    data_key: String,
    data_skip: u64,
    rows: u64,
    chunks: Vec<ChunkMessage>,
}

impl<S, O, Q> Pipeline<S, O, Q>
where
    S: Store + 'static,
    O: ObjectStore + 'static,
    Q: MessageQueue + 'static,
{
    /// Handles one object-created event. Safe to run again for the same event.
    pub async fn split(&self, upload: Upload) -> Result<SplitOutcome, PipelineError> {
        let tenant = match keys::upload_tenant(&upload.key) {
            Ok(tenant) => tenant.to_owned(),
            Err(e) => return Ok(SplitOutcome::Ignored(e.message)),
        };
        let Some(info) = self.objects.head(&upload.key).await? else {
            return Ok(SplitOutcome::Ignored(format!(
                "{} no longer exists",
                upload.key
            )));
        };
        let version = upload.version.clone().unwrap_or(info.version.clone());
        let import_id = import_id_for(&self.config.bucket, &upload.key, &version);
        self.split_as(&tenant, &import_id, &upload.key, info).await
    }

    /// Splits the upload `key` as import `import_id`, from wherever an
    /// earlier try stopped.
    async fn split_as(
        &self,
        tenant: &str,
        import_id: &str,
        key: &str,
        info: ObjectInfo,
    ) -> Result<SplitOutcome, PipelineError> {
        let (tenant, import_id) = (tenant.to_owned(), import_id.to_owned());
        let span = info_span!("split", %import_id, %tenant);
        async {
            let (spec, spec_problem) = self.spec_for(key, &tenant, info.import_spec).await?;
            let record = ImportRecord::accepted(
                &tenant,
                &import_id,
                key,
                info.size,
                spec.clone(),
                &super::now(),
            );
            self.store.create_import(&record).await?;
            let current = self.record(&tenant, &import_id).await?;
            match current.status {
                ImportStatus::Accepted => {
                    let update = ImportUpdate::to(ImportStatus::Splitting, &super::now());
                    self.store
                        .update_import(&tenant, &import_id, ImportStatus::Accepted, &update)
                        .await?;
                }
                // A splitter died mid-way: do it again, the same way.
                ImportStatus::Splitting => {}
                status => return Ok(SplitOutcome::AlreadyHandled { import_id, status }),
            }
            // A split done again cuts the chunks as the first one did.
            let chunk_rows = match current.chunk_rows {
                0 => self.config.chunk_rows.max(1),
                recorded => recorded,
            };
            if let Some(problem) = spec_problem {
                return self.fail(&tenant, &import_id, Refusal::Spec(problem)).await;
            }
            let scan = match self
                .scan(key, &tenant, &import_id, current.spec.clone(), chunk_rows)
                .await?
            {
                Scanned::File(scan) => *scan,
                Scanned::Refused(refusal) => return self.fail(&tenant, &import_id, refusal).await,
            };
            let chunks = u32::try_from(scan.chunks.len()).map_err(|_| {
                PipelineError::Inconsistent("more chunks than a u32 counts".to_owned())
            })?;
            let mut planned = ImportUpdate::to(ImportStatus::Splitting, &super::now());
            planned.facts = Some(scan.facts.clone());
            planned.plan = Some(scan.plan.clone());
            planned.data_key = Some(scan.data_key);
            planned.rows = Some(scan.rows);
            planned.chunks_total = Some(chunks);
            planned.chunk_rows = Some(chunk_rows);
            // The total is stored before any chunk can be committed against it.
            self.store
                .update_import(&tenant, &import_id, ImportStatus::Splitting, &planned)
                .await?;
            let checker = Checker {
                spec: current.spec,
                plan: scan.plan,
                facts: scan.facts,
            };
            self.send_chunks(checker, scan.chunks, &HashSet::new())
                .await?;
            let importing = ImportUpdate::to(ImportStatus::Importing, &super::now());
            self.store
                .update_import(&tenant, &import_id, ImportStatus::Splitting, &importing)
                .await?;
            info!(
                rows = scan.rows,
                chunks,
                data_skip = scan.data_skip,
                "split"
            );
            Ok(SplitOutcome::Split { import_id, chunks })
        }
        .instrument(span)
        .await
    }

    /// Sends again what an import whose messages were lost still needs: the
    /// in-process queue of a local import dies with its process. An import
    /// stopped before its chunks went out is split again; one stopped part
    /// way is cut again as before, and the chunks not yet committed are
    /// sent, or the finalize request when none is left. Every step it
    /// repeats is idempotent, so at worst a message is delivered twice.
    pub async fn resume(&self, tenant: &str, import_id: &str) -> Result<Resumed, PipelineError> {
        let record = self.record(tenant, import_id).await?;
        let key = &record.source_key;
        match record.status {
            status if status.is_final() => Ok(Resumed::Finished(status)),
            ImportStatus::Accepted | ImportStatus::Splitting => {
                let info = self.objects.head(key).await?.ok_or_else(|| {
                    PipelineError::UploadChanged(format!("the upload {key} of {import_id} is gone"))
                })?;
                let outcome = self.split_as(tenant, import_id, key, info).await?;
                Ok(Resumed::Split(outcome))
            }
            _ => {
                let committed: HashSet<u32> = self
                    .store
                    .chunk_results(tenant, import_id)
                    .await?
                    .iter()
                    .map(|chunk| chunk.index)
                    .collect();
                if committed.len() as u32 >= record.chunks_total {
                    self.request_finalize(tenant, import_id).await?;
                    return Ok(Resumed::Chunks { sent: 0 });
                }
                let chunks = self.cut_again(&record).await?;
                let sent = self
                    .send_chunks(Checker::of(&record)?, chunks, &committed)
                    .await?;
                info!(sent, "resumed");
                Ok(Resumed::Chunks { sent })
            }
        }
    }

    /// The chunks of an import past splitting, cut as the splitter cut them.
    async fn cut_again(&self, record: &ImportRecord) -> Result<Vec<ChunkMessage>, PipelineError> {
        let id = &record.import_id;
        if record.chunk_rows == 0 {
            return Err(PipelineError::Inconsistent(format!(
                "import {id} does not record its chunk size, so it cannot be cut again"
            )));
        }
        let scanned = self
            .scan(
                &record.source_key,
                &record.tenant,
                id,
                record.spec.clone(),
                record.chunk_rows,
            )
            .await?;
        let scan = match scanned {
            Scanned::File(scan) => *scan,
            Scanned::Refused(refusal) => {
                return Err(PipelineError::UploadChanged(format!(
                    "import {id}'s upload is now refused: {refusal}"
                )))
            }
        };
        if scan.rows != record.rows || scan.chunks.len() as u32 != record.chunks_total {
            return Err(PipelineError::UploadChanged(format!(
                "import {id}'s upload changed since it was split"
            )));
        }
        Ok(scan.chunks)
    }

    /// Sends the chunks but those in `committed`, in file order, each with
    /// the rows that repeat a number of an earlier row of the file. The
    /// rows' numbers are found a chunk per core at a time, while the chunks
    /// before them are sent and imported; which row came first is decided
    /// in file order, so that neither chunk order nor timing matters.
    async fn send_chunks(
        &self,
        checker: Checker,
        chunks: Vec<ChunkMessage>,
        committed: &HashSet<u32>,
    ) -> Result<u32, PipelineError> {
        let checker = Arc::new(checker);
        let rows = chunks.iter().map(|chunk| chunk.rows).sum();
        // Under `create` every row is a contact of its own.
        let mut first_occurrences = (checker.spec.duplicates != DuplicateMode::Create)
            .then(|| FirstOccurrences::with_capacity(rows));
        let at_once = std::thread::available_parallelism().map_or(2, |n| n.get());
        let mut chunks = chunks.into_iter().peekable();
        let mut numbering = VecDeque::new();
        let mut batch = Vec::with_capacity(SEND_BATCH);
        let mut sent = 0;
        loop {
            if first_occurrences.is_some() {
                while numbering.len() < at_once {
                    let Some(next) = chunks.peek() else { break };
                    let place = match &self.handoff {
                        // A committed chunk is not sent, so no importer takes its rows.
                        Some(_) if committed.contains(&next.index) => None,
                        Some(handoff) => match handoff.reserve(next) {
                            Some(place) => Some(place),
                            // The places free up as importers take chunks:
                            // first send what is numbered, then wait.
                            None if handoff.waits() && !numbering.is_empty() => break,
                            None if handoff.waits() => {
                                self.send_batch(&mut batch).await?;
                                handoff.place().await
                            }
                            None => None,
                        },
                        None => None,
                    };
                    let chunk = chunks.next().expect("peeked");
                    let numbers = tokio::spawn(self.clone().passing_numbers(
                        Arc::clone(&checker),
                        chunk.clone(),
                        place,
                    ));
                    numbering.push_back((chunk, Some(numbers)));
                }
            } else if let Some(chunk) = chunks.next() {
                numbering.push_back((chunk, None));
            }
            let Some((mut chunk, numbers)) = numbering.pop_front() else {
                break;
            };
            if let (Some(first), Some(numbers)) = (first_occurrences.as_mut(), numbers) {
                // Where importers take chunks as they are sent, what is
                // decided goes out before waiting on what is not, rather
                // than waiting for a full batch.
                let taken_as_sent = self.handoff.as_ref().is_some_and(|h| h.waits());
                if taken_as_sent && !numbers.is_finished() {
                    self.send_batch(&mut batch).await?;
                }
                let numbers = numbers.await.map_err(|e| PipelineError::Stopped {
                    work: "finding a chunk's numbers",
                    detail: e.to_string(),
                })??;
                for (row, key) in numbers {
                    if let Some(earlier) = first.earlier_row(key, row) {
                        chunk.duplicates.push((row, earlier));
                    }
                }
            }
            if !committed.contains(&chunk.index) {
                batch.push(to_json(&chunk));
                sent += 1;
            }
            if batch.len() == SEND_BATCH {
                self.send_batch(&mut batch).await?;
            }
        }
        self.send_batch(&mut batch).await?;
        Ok(sent)
    }

    /// Sends the chunk messages in `batch`, if any, and empties it.
    async fn send_batch(&self, batch: &mut Vec<String>) -> Result<(), PipelineError> {
        if !batch.is_empty() {
            self.queue
                .send(QueueName::Chunks, std::mem::take(batch))
                .await?;
        }
        Ok(())
    }

    /// (row, number key) for each row of the chunk that passes the rules.
    /// With a `place`, the whole check is made and its rows kept there for
    /// the chunk's importer.
    async fn passing_numbers(
        self,
        checker: Arc<Checker>,
        chunk: ChunkMessage,
        place: Option<Place>,
    ) -> Result<Vec<(u64, u64)>, PipelineError> {
        let bytes = self.chunk_bytes(&chunk).await?;
        let handoff = self.handoff.clone();
        tokio::task::spawn_blocking(move || {
            if let (Some(handoff), Some(place)) = (handoff, place) {
                let checked = check_chunk(&checker, &bytes, &chunk)?;
                let numbers = checked
                    .accepted
                    .iter()
                    .map(|row| (row.row, e164_key(&row.contact.phone)))
                    .collect();
                handoff.put(chunk, place, checked);
                return Ok(numbers);
            }
            let validator = checker.validator();
            let mut numbers = Vec::new();
            read_chunk(&bytes, checker.facts.delimiter, &chunk, |raw| {
                let row = raw.row;
                if let Some(phone) = validator.passing_number(raw) {
                    numbers.push((row, e164_key(&phone)));
                }
            })?;
            Ok(numbers)
        })
        .await
        .map_err(|e| PipelineError::Stopped {
            work: "finding a chunk's numbers",
            detail: e.to_string(),
        })?
    }

    /// The spec from the sidecar object, else the object's metadata, else the
    /// defaults; the tenant is always the key's. A spec that cannot be used
    /// is returned as a problem so that the import can fail with it.
    async fn spec_for(
        &self,
        key: &str,
        tenant: &str,
        metadata: Option<String>,
    ) -> Result<(ImportSpec, Option<SpecError>), PipelineError> {
        let sidecar = self.objects.get(&keys::spec_sidecar(key)).await?;
        let text = match (sidecar, metadata) {
            (Some(bytes), _) => Some(String::from_utf8_lossy(&bytes).into_owned()),
            (None, Some(text)) => Some(text),
            (None, None) => None,
        };
        let parsed = match text {
            None => Ok(ImportSpec::default()),
            Some(text) => ImportSpec::from_json(&text),
        };
        let (mut spec, problem) = match parsed {
            Ok(spec) => (spec, None),
            Err(e) => (ImportSpec::default(), Some(e)),
        };
        let problem = problem.or_else(|| match &spec.tenant {
            Some(named) if named != tenant => Some(SpecError {
                key: "tenant".to_owned(),
                message: format!("the spec names tenant `{named}` but the file was uploaded under uploads/{tenant}/; the tenant comes from the upload folder"),
            }),
            _ => None,
        });
        spec.tenant = Some(tenant.to_owned());
        Ok((spec, problem))
    }

    /// Ends the import as FAILED with `refusal`, and writes its summary.
    async fn fail(
        &self,
        tenant: &str,
        import_id: &str,
        refusal: Refusal,
    ) -> Result<SplitOutcome, PipelineError> {
        let (code, message) = (refusal.code(), refusal.to_string());
        warn!(code, "import refused");
        let mut failed = ImportUpdate::to(ImportStatus::Failed, &super::now());
        failed.failure = Some(ImportFailure {
            code: code.to_owned(),
            message: message.clone(),
        });
        failed.summary_key = Some(keys::summary(tenant, import_id));
        let mut record = self.record(tenant, import_id).await?;
        record.apply(&failed);
        self.objects
            .put(
                &keys::summary(tenant, import_id),
                super::finalizer::summary_json(&record),
            )
            .await?;
        self.store
            .update_import(tenant, import_id, ImportStatus::Splitting, &failed)
            .await?;
        Ok(SplitOutcome::Failed {
            import_id: import_id.to_owned(),
            reason: message,
        })
    }

    /// Reads the whole file once, on a blocking thread, holding one record
    /// at a time and the chunks cut so far. A file that is not UTF-8 is first
    /// copied as UTF-8 to a staging object, which the chunks then read.
    async fn scan(
        &self,
        key: &str,
        tenant: &str,
        import_id: &str,
        spec: ImportSpec,
        chunk_rows: u64,
    ) -> Result<Scanned, PipelineError> {
        let objects = self.objects.clone();
        let key = key.to_owned();
        let staging = keys::staging(tenant, import_id);
        let (tenant, import_id) = (tenant.to_owned(), import_id.to_owned());
        let handle = Handle::current();
        tokio::task::spawn_blocking(move || -> Result<Scanned, PipelineError> {
            let raw = handle.block_on(objects.reader(&key))?;
            let (encoding, utf8) = match utf8_reader(raw) {
                Ok(sniffed) => sniffed,
                Err(refusal) => return Ok(Scanned::Refused(refusal)),
            };
            let (data_key, data_skip) = match encoding {
                _ if utf8.is_converted() => {
                    objects.put_from_reader(&staging, Box::new(utf8))?;
                    (staging, 0)
                }
                TextEncoding::Utf8Bom => (key, 3),
                _ => (key, 0),
            };
            let data = handle.block_on(objects.reader(&data_key))?;
            let planned = plan_chunks(data, &spec, chunk_rows, |mut chunk| {
                chunk.tenant.clone_from(&tenant);
                chunk.import_id.clone_from(&import_id);
                chunk.data_key.clone_from(&data_key);
                chunk.data_skip = data_skip;
                chunk
            });
            Ok(match planned {
                Ok((mut facts, plan, rows, chunks)) => {
                    // The chunks read UTF-8 whatever the upload was; the facts tell the upload's.
                    facts.encoding = encoding;
                    Scanned::File(Box::new(Scan {
                        facts,
                        plan,
                        data_key,
                        data_skip,
                        rows,
                        chunks,
                    }))
                }
                Err(refusal) => Scanned::Refused(refusal),
            })
        })
        .await
        .map_err(|e| PipelineError::Stopped {
            work: "the scan",
            detail: e.to_string(),
        })?
    }
}

/// The most bytes of rows one chunk holds: an importer reads its chunk whole.
const MAX_CHUNK_BYTES: u64 = 16 << 20;

/// Messages per send: what one SQS batch holds.
const SEND_BATCH: usize = 10;

/// Cuts the file into chunks of `chunk_rows` records, reading every record
/// so that a file refused part way is refused before any chunk is sent.
fn plan_chunks<R: Read>(
    data: R,
    spec: &ImportSpec,
    chunk_rows: u64,
    finish: impl Fn(ChunkMessage) -> ChunkMessage,
) -> Result<(FileFacts, ColumnPlan, u64, Vec<ChunkMessage>), Refusal> {
    let mut file = ContactFile::open(data, spec)?;
    let mut chunks = Vec::new();
    let mut current: Option<ChunkMessage> = None;
    let mut start: ResumePoint = file.data_start();
    let mut rows = 0;
    while let Some(raw) = file.next_record()? {
        rows += 1;
        let chunk = current.get_or_insert_with(|| ChunkMessage {
            tenant: String::new(),
            import_id: String::new(),
            index: chunks.len() as u32,
            data_key: String::new(),
            data_skip: 0,
            start,
            end_byte: start.byte,
            first_row: raw.row,
            rows: 0,
            duplicates: Vec::new(),
        });
        chunk.rows += 1;
        chunk.end_byte = raw.end.byte;
        // Long rows make a chunk short, so that an importer's memory is bounded.
        if chunk.rows == chunk_rows || chunk.end_byte - chunk.start.byte >= MAX_CHUNK_BYTES {
            chunks.push(finish(current.take().expect("a chunk is open")));
            start = raw.end;
        }
        file.give_back(raw.record);
    }
    chunks.extend(current.map(&finish));
    Ok((file.facts().clone(), file.plan().clone(), rows, chunks))
}
