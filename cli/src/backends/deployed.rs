//! The AWS backend: the commands against a deployed stack. An import
//! uploads the file and its spec sidecar to the stack's bucket and follows
//! the import record that the stack's functions keep; the other commands
//! read the stack's table and bucket.

use std::io::BufReader;
use std::sync::Arc;
use std::time::Duration;

use contact_import_aws::{AwsObjects, Clients, DynamoStore, TABLE_TAG};
use contact_import_core::imports::{import_id_for, ImportRecord};
use contact_import_core::ports::{ImportStore, ObjectStore};
use contact_import_core::rules::echo::echo;
use contact_import_core::ImportSpec;
use tokio::time::Instant;

use crate::backends::{upload_with_spec, Backend, BackendArgs};
use crate::failure::{BadInput, Failure};
use crate::files::Input;
use crate::output::progress::Progress;

/// How often an import's record is read while it runs.
const POLL_EVERY: Duration = Duration::from_secs(1);
/// How long a running import may go without any change before the
/// command stops following it: longer than a function's longest run.
const STALL_AFTER: Duration = Duration::from_secs(20 * 60);

pub struct Aws {
    tenant: String,
    bucket: String,
    table: String,
    store: DynamoStore,
    objects: Arc<AwsObjects>,
    patience: Patience,
}

/// How long to wait for a deployed stack before giving up on following an import.
#[derive(Debug, Clone, Copy)]
pub struct Patience {
    pub poll_every: Duration,
    /// Until the splitter has created the import's record.
    pub start: Duration,
    /// Without any change to a running import's record.
    pub stall: Duration,
}

impl Aws {
    /// Connects to the stack `args` names, with the standard AWS
    /// configuration. The table is `--table`, else the one the bucket's
    /// [`TABLE_TAG`] names.
    pub async fn connect(args: &BackendArgs) -> Result<Self, Failure> {
        let tenant = args.tenant()?.to_owned();
        let bucket = args.bucket.clone().ok_or_else(|| {
            BadInput::other(
                "--aws",
                "no_bucket",
                "--aws needs --bucket: the stack's ImportBucketName output",
            )
        })?;
        let clients = Clients::connect()
            .await
            .map_err(|e| BadInput::other("--aws", "aws_config", e.to_string()))?;
        let objects = AwsObjects::new(clients.s3.clone(), &bucket);
        let table = match &args.table {
            Some(table) => table.clone(),
            None => objects
                .bucket_tag(TABLE_TAG)
                .await
                .map_err(|e| {
                    BadInput::other(
                        format!("--bucket {}", echo(&bucket)),
                        "bad_bucket",
                        format!(
                            "the bucket cannot be read ({e}); pass the stack's \
                             ImportBucketName output, with credentials allowed to read it"
                        ),
                    )
                })?
                .ok_or_else(|| {
                    BadInput::other(
                        format!("--bucket {}", echo(&bucket)),
                        "no_table",
                        format!(
                            "the bucket has no `{TABLE_TAG}` tag naming the stack's table; \
                             pass --table with the stack's ImportTableName output"
                        ),
                    )
                })?,
        };
        Ok(Aws {
            tenant,
            bucket,
            store: DynamoStore::new(clients.dynamodb.clone(), &table),
            table,
            objects: Arc::new(objects),
            patience: Patience {
                poll_every: POLL_EVERY,
                start: Duration::from_secs(120),
                stall: STALL_AFTER,
            },
        })
    }

    /// How long an import waits for the stack to start it.
    pub fn with_start_timeout(mut self, start: Duration) -> Self {
        self.patience.start = start;
        self
    }
}

impl Backend for Aws {
    type Store = DynamoStore;
    type Objects = AwsObjects;

    fn tenant(&self) -> &str {
        &self.tenant
    }

    fn store(&self) -> &DynamoStore {
        &self.store
    }

    fn objects(&self) -> &AwsObjects {
        &self.objects
    }

    fn describe(&self) -> String {
        format!(
            "tenant {} in s3://{} (table {})",
            self.tenant, self.bucket, self.table
        )
    }

    fn locate(&self, key: &str) -> Result<String, Failure> {
        Ok(format!("s3://{}/{key}", self.bucket))
    }

    async fn import(
        &self,
        body: Input,
        key: &str,
        spec: &ImportSpec,
        progress: &Progress,
    ) -> Result<ImportRecord, Failure> {
        // Streamed, in parts for a large file: never held in memory.
        upload_with_spec(&self.objects, key, spec, move |objects, key| {
            objects.put_from_reader(key, Box::new(BufReader::with_capacity(1 << 16, body)))
        })
        .await?;
        let candidates: Vec<String> = self
            .objects
            .event_versions(key)
            .await?
            .iter()
            .map(|version| import_id_for(&self.bucket, key, version))
            .collect();
        progress.stage("queued");
        let upload = self.locate(key)?;
        follow(
            &self.store,
            &self.tenant,
            &candidates,
            &upload,
            self.patience,
            progress,
        )
        .await
    }

    fn resumes_imports(&self) -> bool {
        false
    }
}

/// Follows an import that a deployed stack runs, from the first of
/// `candidates` (the ids it may have) to have a record, until the record is
/// final; the bar shows its rows done.
pub async fn follow<S: ImportStore>(
    store: &S,
    tenant: &str,
    candidates: &[String],
    upload: &str,
    patience: Patience,
    progress: &Progress,
) -> Result<ImportRecord, Failure> {
    let started = Instant::now();
    let mut import_id: Option<&str> = None;
    let mut last: Option<(ImportRecord, Instant)> = None;
    loop {
        let record = match import_id {
            Some(id) => store.get_import(tenant, id).await?,
            None => first_record(store, tenant, candidates).await?,
        };
        match record {
            None if import_id.is_some() => {
                return Err(Failure::Internal(anyhow::anyhow!(
                    "the record of the import of {upload} is gone"
                )))
            }
            None if started.elapsed() >= patience.start => {
                return Err(Failure::Internal(anyhow::anyhow!(
                    "{upload} was uploaded, but the stack did not start importing it within \
                     {} s; check that the bucket is the stack's and that its splitter runs \
                     (its alarms and dead-letter queue); once it starts, \
                     `contact-import history --aws` lists the import",
                    patience.start.as_secs()
                )))
            }
            None => {}
            Some(record) => {
                import_id = candidates
                    .iter()
                    .find(|id| **id == record.import_id)
                    .map(String::as_str);
                show(&record, progress);
                if record.status.is_final() {
                    return Ok(record);
                }
                let now = Instant::now();
                let moved_at = match last.take() {
                    Some((before, at)) if same_progress(&before, &record) => at,
                    _ => now,
                };
                if now.duration_since(moved_at) >= patience.stall {
                    return Err(Failure::Internal(anyhow::anyhow!(
                        "import {} has not moved for {} minutes ({}, {} of {} chunks done); \
                         the stack may be stuck: look at its dead-letter queues and alarms; \
                         `contact-import status {} --aws` shows it later",
                        record.import_id,
                        patience.stall.as_secs() / 60,
                        record.status,
                        record.chunks_done,
                        record.chunks_total,
                        record.import_id
                    )));
                }
                last = Some((record, moved_at));
            }
        }
        tokio::time::sleep(patience.poll_every).await;
    }
}

/// The record of the first candidate that has one.
async fn first_record<S: ImportStore>(
    store: &S,
    tenant: &str,
    candidates: &[String],
) -> Result<Option<ImportRecord>, Failure> {
    for id in candidates {
        if let Some(record) = store.get_import(tenant, id).await? {
            return Ok(Some(record));
        }
    }
    Ok(None)
}

/// Whether nothing happened between two readings of a record.
fn same_progress(before: &ImportRecord, after: &ImportRecord) -> bool {
    before.status == after.status
        && before.updated_at == after.updated_at
        && before.chunks_done == after.chunks_done
        && before.tally.processed == after.tally.processed
}

/// The record on the bar: its stage, and its rows done.
fn show(record: &ImportRecord, progress: &Progress) {
    progress.show_record(record);
    progress.position(record.tally.processed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use contact_import_core::imports::{ChunkResult, ImportStatus, ImportUpdate};
    use contact_import_core::ports::memory::MemoryStore;
    use contact_import_core::rules::outcome::Tally;

    const TENANT: &str = "acme";
    const UPLOAD: &str = "s3://b/uploads/acme/list.csv";

    fn patience() -> Patience {
        Patience {
            poll_every: Duration::from_secs(1),
            start: Duration::from_secs(30),
            stall: Duration::from_secs(600),
        }
    }

    fn accepted(import_id: &str) -> ImportRecord {
        ImportRecord::accepted(
            TENANT,
            import_id,
            "uploads/acme/list.csv",
            10,
            ImportSpec::default(),
            "2026-11-22T10:00:00Z",
        )
    }

    /// Follows the test upload, whose import may be `imp-version` or `imp-etag`.
    async fn follow_upload(
        store: &MemoryStore,
        patience: Patience,
    ) -> Result<ImportRecord, Failure> {
        let candidates = ["imp-version".to_owned(), "imp-etag".to_owned()];
        follow(
            store,
            TENANT,
            &candidates,
            UPLOAD,
            patience,
            &Progress::hidden(),
        )
        .await
    }

    /// The stack's part: the record appears after a while, two chunks are
    /// committed a while apart, then it completes.
    async fn run_the_stack(store: Arc<MemoryStore>, import_id: &str) {
        tokio::time::sleep(Duration::from_secs(5)).await;
        store.create_import(&accepted(import_id)).await.unwrap();
        let mut planned = ImportUpdate::to(ImportStatus::Importing, "2026-11-22T10:00:05Z");
        planned.rows = Some(4);
        planned.chunks_total = Some(2);
        store
            .update_import(TENANT, import_id, ImportStatus::Accepted, &planned)
            .await
            .unwrap();
        for index in 0..2 {
            tokio::time::sleep(Duration::from_secs(100)).await;
            let tally = Tally {
                processed: 2,
                inserted: 2,
                ..Tally::default()
            };
            let result = ChunkResult {
                index,
                tally,
                report_part: None,
            };
            store
                .commit_chunk(TENANT, import_id, &result)
                .await
                .unwrap();
        }
        let done = ImportUpdate::to(ImportStatus::Completed, "2026-11-22T10:03:30Z");
        store
            .update_import(TENANT, import_id, ImportStatus::Importing, &done)
            .await
            .unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn follows_the_import_under_whichever_id_the_event_gave_it() {
        let store = Arc::new(MemoryStore::default());
        let stack = tokio::spawn(run_the_stack(Arc::clone(&store), "imp-etag"));
        let record = follow_upload(&store, patience()).await.unwrap();
        stack.await.unwrap();
        assert_eq!(record.import_id, "imp-etag");
        assert_eq!(record.status, ImportStatus::Completed);
        assert_eq!(record.tally.processed, 4);
    }

    #[tokio::test(start_paused = true)]
    async fn an_upload_the_stack_never_starts_is_given_up_after_the_start_timeout() {
        let store = MemoryStore::default();
        let started = Instant::now();
        let failure = follow_upload(&store, patience()).await.unwrap_err();
        assert!(started.elapsed() >= Duration::from_secs(30));
        assert!(started.elapsed() < Duration::from_secs(32));
        let Failure::Internal(error) = failure else {
            panic!("not the user's input: {failure:?}")
        };
        let message = error.to_string();
        assert!(message.contains(UPLOAD), "{message}");
        assert!(message.contains("within 30 s"), "{message}");
    }

    #[tokio::test(start_paused = true)]
    async fn an_import_that_stops_moving_is_given_up_after_the_stall_timeout() {
        let store = MemoryStore::default();
        store.create_import(&accepted("imp-version")).await.unwrap();
        let started = Instant::now();
        let patience = Patience {
            stall: Duration::from_secs(120),
            ..patience()
        };
        let failure = follow_upload(&store, patience).await.unwrap_err();
        assert!(started.elapsed() >= Duration::from_secs(120));
        assert!(started.elapsed() < Duration::from_secs(122));
        let message = format!("{failure:?}");
        assert!(
            message.contains("imp-version has not moved for 2 minutes"),
            "{message}"
        );
        assert!(message.contains("status imp-version --aws"), "{message}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_import_that_keeps_moving_is_followed_to_the_end() {
        let store = Arc::new(MemoryStore::default());
        let stack = tokio::spawn(run_the_stack(Arc::clone(&store), "imp-version"));
        // Each chunk takes 100 s; a stall is 150 s without a change.
        let patience = Patience {
            stall: Duration::from_secs(150),
            ..patience()
        };
        let record = follow_upload(&store, patience).await.unwrap();
        stack.await.unwrap();
        assert_eq!(record.status, ImportStatus::Completed);
    }
}
