//! The local backend: the whole pipeline in this process, over a redb file
//! and a folder of objects under the `--data` folder.

use std::fs;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use contact_import_core::imports::{import_id_for, ImportRecord};
use contact_import_core::pipeline::runner::{Delivery, LocalRunner};
use contact_import_core::pipeline::{
    Pipeline, PipelineConfig, PipelineError, SplitOutcome, Upload, DEFAULT_CHUNK_ROWS,
};
use contact_import_core::ports::memory::MemoryQueue;
use contact_import_core::ports::ImportStore;
use contact_import_core::ImportSpec;
use contact_import_local::{DirObjects, RedbStore};

use crate::backends::{upload_with_spec, Backend, BackendArgs};
use crate::failure::{describe_io, BadInput, Failure};
use crate::files::Input;
use crate::output::progress::Progress;

/// The bucket name of local imports, part of every import id.
const BUCKET: &str = "local";
/// The store file inside the data folder.
const STORE_FILE: &str = "store.redb";
/// The objects folder inside the data folder.
const OBJECTS_DIR: &str = "objects";
/// How often the progress bar looks at the import record.
const WATCH_EVERY: Duration = Duration::from_millis(200);

pub struct Local {
    tenant: String,
    /// Absolute, so that the paths shown to the user are.
    data: PathBuf,
    store: Arc<RedbStore>,
    objects: Arc<DirObjects>,
    chunk_rows: u64,
}

impl Local {
    /// Opens (creating if needed) the data folder of `args` for its tenant.
    pub fn open(args: &BackendArgs) -> Result<Self, Failure> {
        let tenant = args.tenant()?.to_owned();
        let data = match &args.data {
            Some(dir) => dir.clone(),
            None => dirs::data_dir()
                .ok_or_else(|| {
                    BadInput::other(
                        "--data",
                        "no_data_dir",
                        "this system has no per-user data folder; pass --data DIR",
                    )
                })?
                .join("contact-import"),
        };
        let unusable = |e: std::io::Error| {
            let why = if data.exists() && !data.is_dir() {
                "it is a file, not a folder".to_owned()
            } else {
                describe_io(&e)
            };
            BadInput::other(
                data.display(),
                "bad_data_dir",
                format!(
                    "the data folder cannot be used: {why}; pass --data with a folder you can write to"
                ),
            )
        };
        fs::create_dir_all(&data).map_err(unusable)?;
        let data = fs::canonicalize(&data).map_err(unusable)?;
        let store = RedbStore::open(data.join(STORE_FILE))?;
        let objects = DirObjects::open(data.join(OBJECTS_DIR))?;
        Ok(Local {
            tenant,
            data,
            store: Arc::new(store),
            objects: Arc::new(objects),
            chunk_rows: DEFAULT_CHUNK_ROWS,
        })
    }

    /// Rows per chunk of the imports this backend runs.
    pub fn with_chunk_rows(mut self, chunk_rows: u64) -> Self {
        self.chunk_rows = chunk_rows.max(1);
        self
    }
}

impl Backend for Local {
    type Store = RedbStore;
    type Objects = DirObjects;

    fn tenant(&self) -> &str {
        &self.tenant
    }

    fn store(&self) -> &RedbStore {
        &self.store
    }

    fn objects(&self) -> &DirObjects {
        &self.objects
    }

    fn describe(&self) -> String {
        format!("tenant {} in {}", self.tenant, self.data.display())
    }

    fn locate(&self, key: &str) -> Result<String, Failure> {
        Ok(self.objects.path(key)?.display().to_string())
    }

    async fn import(
        &self,
        body: Input,
        key: &str,
        spec: &ImportSpec,
        progress: &Progress,
    ) -> Result<ImportRecord, Failure> {
        // A copy, file to file, which the kernel makes without the bytes
        // passing through this process (docs/decisions.md).
        let info = upload_with_spec(&self.objects, key, spec, move |objects, key| {
            objects.upload(key, body.as_file(), None)
        })
        .await?;
        let import_id = import_id_for(BUCKET, key, &info.version);
        progress.stage("scanning");
        let upload = Upload {
            key: key.to_owned(),
            version: Some(info.version),
        };
        let outcome = self
            .watched(&import_id, progress, |runner| async move {
                runner.run(upload).await
            })
            .await;
        let import_id = match outcome.map_err(stopped_part_way)? {
            SplitOutcome::Ignored(reason) => {
                return Err(Failure::Internal(anyhow::anyhow!(
                    "the pipeline ignored the upload {key}: {reason}"
                )))
            }
            SplitOutcome::AlreadyHandled { import_id, .. }
            | SplitOutcome::Failed { import_id, .. }
            | SplitOutcome::Split { import_id, .. } => import_id,
        };
        self.final_record(&import_id).await
    }

    fn resumes_imports(&self) -> bool {
        true
    }
}

impl Local {
    /// Finishes an unfinished import whose process stopped: the chunks it
    /// had not committed run, then the finalizer, as if it had not stopped.
    pub async fn resume(
        &self,
        record: &ImportRecord,
        progress: &Progress,
    ) -> Result<ImportRecord, Failure> {
        let import_id = &record.import_id;
        if record.chunks_total > 0 {
            progress.total(record.rows);
            progress.position(record.tally.processed);
        }
        progress.stage("resuming");
        let tenant = self.tenant.clone();
        let id = import_id.clone();
        self.watched(import_id, progress, |runner| async move {
            runner.resume(&tenant, &id).await
        })
        .await
        .map_err(stopped_part_way)?;
        self.final_record(import_id).await
    }

    /// Runs `work` on a runner of this store's pipeline, with the bar fed
    /// by the chunks as they finish and by the import record.
    async fn watched<T, F, Fut>(
        &self,
        import_id: &str,
        progress: &Progress,
        work: F,
    ) -> Result<T, PipelineError>
    where
        F: FnOnce(LocalRunner<RedbStore, DirObjects>) -> Fut,
        Fut: Future<Output = Result<T, PipelineError>>,
    {
        let queue = Arc::new(MemoryQueue::default());
        let pipeline = Pipeline::new(
            Arc::clone(&self.store),
            Arc::clone(&self.objects),
            Arc::clone(&queue),
            PipelineConfig {
                bucket: BUCKET.to_owned(),
                chunk_rows: self.chunk_rows,
            },
        );
        let runner = LocalRunner::new(pipeline, queue, Delivery::default())
            .with_progress(progress.rows_done());
        let watcher = progress.is_visible().then(|| {
            tokio::spawn(watch(
                Arc::clone(&self.store),
                self.tenant.clone(),
                import_id.to_owned(),
                progress.clone(),
            ))
        });
        let outcome = work(runner).await;
        if let Some(watcher) = watcher {
            watcher.abort();
        }
        outcome
    }

    async fn final_record(&self, import_id: &str) -> Result<ImportRecord, Failure> {
        self.store
            .get_import(&self.tenant, import_id)
            .await?
            .ok_or_else(|| {
                Failure::Internal(anyhow::anyhow!(
                    "import {import_id} finished but its record is gone"
                ))
            })
    }
}

/// A pipeline failure once the import is under way: its record stays
/// unfinished, and `resume` takes it from there once the cause is fixed.
fn stopped_part_way(error: PipelineError) -> Failure {
    Failure::Internal(anyhow::Error::new(error).context(
        "the import stopped part way; once what follows is fixed, `contact-import resume` \
         finishes it",
    ))
}

/// Follows the import record for the bar: its row count once the splitter
/// has it, and the stage.
async fn watch(store: Arc<RedbStore>, tenant: String, import_id: String, progress: Progress) {
    loop {
        tokio::time::sleep(WATCH_EVERY).await;
        let Ok(Some(record)) = store.get_import(&tenant, &import_id).await else {
            continue;
        };
        progress.show_record(&record);
    }
}
