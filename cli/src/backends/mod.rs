//! Where the commands find imports, contacts and objects.
//!
//! Every command but `preview` and `generate` talks to a [`Backend`]: the
//! store and object ports of one tenant, where a user opens an object, and
//! how an upload becomes a finished import. [`crate::backends::embedded::Local`] runs the
//! pipeline in this process over a redb file and a folder;
//! [`crate::backends::deployed::Aws`] uploads to a deployed stack's bucket and follows the
//! import record its functions keep. The commands are the same for both.

pub mod deployed;
pub mod embedded;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use contact_import_core::imports::{keys, ImportRecord};
use contact_import_core::ports::{ImportStore, ObjectStore, PortResult, Store};
use contact_import_core::rules::echo::echo;
use contact_import_core::rules::spec::check_identifier;
use contact_import_core::ImportSpec;

use crate::failure::{BadInput, Failure};
use crate::files::Input;
use crate::output::progress::Progress;

/// Where a command's data lives: shared by every command that reads or writes it.
#[derive(Debug, Clone, clap::Args)]
pub struct BackendArgs {
    /// The folder holding the local store (store.redb) and objects
    /// (objects/), created if missing [default: the per-user data folder,
    /// e.g. ~/.local/share/contact-import]
    #[arg(long, value_name = "DIR", conflicts_with = "aws")]
    pub data: Option<PathBuf>,
    /// The tenant whose imports, contacts and do-not-call list are used
    /// [default: local; required with --aws]
    #[arg(long, value_name = "T", required_if_eq("aws", "true"))]
    pub tenant: Option<String>,
    /// Work against a deployed stack instead of this machine. Region,
    /// credentials and endpoint come from the standard AWS configuration
    /// (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, ...).
    #[arg(long)]
    pub aws: bool,
    /// With --aws: the stack's bucket (its ImportBucketName output).
    #[arg(
        long,
        value_name = "B",
        requires = "aws",
        required_if_eq("aws", "true")
    )]
    pub bucket: Option<String>,
    /// With --aws: the stack's table [default: the table named by the
    /// bucket's `contact-import:table` tag, which the template sets]
    #[arg(long, value_name = "TABLE", requires = "aws")]
    pub table: Option<String>,
}

/// The tenant of local commands when none is named.
const LOCAL_TENANT: &str = "local";

impl BackendArgs {
    /// The tenant, checked: it ends up in keys and paths, so a bad one is
    /// refused before anything is written.
    pub fn tenant(&self) -> Result<&str, BadInput> {
        // With --aws, clap has made sure there is one.
        let tenant = self.tenant.as_deref().unwrap_or(LOCAL_TENANT);
        check_identifier("tenant", tenant)
            .map_err(|e| BadInput::other("--tenant", "bad_tenant", e.message))?;
        Ok(tenant)
    }
}

pub trait Backend {
    type Store: Store + 'static;
    type Objects: ObjectStore + 'static;

    fn tenant(&self) -> &str;

    fn store(&self) -> &Self::Store;

    fn objects(&self) -> &Self::Objects;

    /// Where the data is, for messages: `tenant local in /path`.
    fn describe(&self) -> String;

    /// Where a user opens an object: a file path, or an s3:// URI.
    fn locate(&self, key: &str) -> Result<String, Failure>;

    /// Stores `file` under the upload `key` with `spec` as its sidecar, then
    /// runs or follows the import until its record is final, showing the
    /// rows done on `progress`. The file has passed the pre-check and is
    /// open at its start.
    fn import(
        &self,
        file: Input,
        key: &str,
        spec: &ImportSpec,
        progress: &Progress,
    ) -> impl Future<Output = Result<ImportRecord, Failure>>;

    /// Whether imports run in this process. Then an unfinished import in
    /// the store has stopped with the process that ran it (no other
    /// process can hold the store meanwhile), and `contact-import resume`
    /// finishes it. A deployed stack's queues keep its messages instead.
    fn resumes_imports(&self) -> bool;
}

/// Puts `spec` as the sidecar of the upload `key`, then the file itself
/// with `upload`, on a blocking thread: the sidecar first, as the file's
/// arrival is what starts the import.
pub async fn upload_with_spec<O, T>(
    objects: &Arc<O>,
    key: &str,
    spec: &ImportSpec,
    upload: impl FnOnce(&O, &str) -> PortResult<T> + Send + 'static,
) -> Result<T, Failure>
where
    O: ObjectStore + 'static,
    T: Send + 'static,
{
    let sidecar = serde_json::to_vec_pretty(spec)?;
    objects.put(&keys::spec_sidecar(key), sidecar).await?;
    let (objects, key) = (Arc::clone(objects), key.to_owned());
    let uploaded = tokio::task::spawn_blocking(move || upload(&objects, &key))
        .await
        .map_err(|e| Failure::Internal(e.into()))??;
    Ok(uploaded)
}

/// The import `import_id`; an unknown id is the user's to fix.
pub async fn find_import<B: Backend>(
    backend: &B,
    import_id: &str,
) -> Result<ImportRecord, Failure> {
    backend
        .store()
        .get_import(backend.tenant(), import_id)
        .await?
        .ok_or_else(|| {
            BadInput::other(
                echo(import_id),
                "unknown_import",
                format!(
                    "no such import for {}; `contact-import history` lists the imports",
                    backend.describe()
                ),
            )
            .into()
        })
}

/// The newest import; none at all is the user's to fix.
pub async fn latest_import<B: Backend>(backend: &B) -> Result<ImportRecord, Failure> {
    let mut latest = backend.store().list_imports(backend.tenant(), 1).await?;
    latest.pop().ok_or_else(|| {
        BadInput::other(
            backend.describe(),
            "no_imports",
            "there is no import yet; run `contact-import import FILE` first",
        )
        .into()
    })
}

/// Why an unfinished import is not going on, and what finishes it; `None`
/// when it may be running.
///
/// A local import runs in the command that opened the store, and redb locks
/// the store file to one process (an flock, which ends with the process
/// however it ends: Ctrl-C, a crash, a full disk). So a command that could
/// open the store knows that no import in it is running, whatever its
/// record's status and counters say.
pub fn stopped_note<B: Backend>(backend: &B, record: &ImportRecord) -> Option<String> {
    (backend.resumes_imports() && !record.status.is_final()).then(|| {
        format!(
            "Import {id} stopped before it finished: the command that ran it ended. \
             `contact-import resume {id}` finishes it",
            id = record.import_id
        )
    })
}

/// Where the import's error report is, when it has one.
pub fn report_location<B: Backend>(
    backend: &B,
    record: &ImportRecord,
) -> Result<Option<String>, Failure> {
    record
        .report_key
        .as_deref()
        .map(|key| backend.locate(key))
        .transpose()
}

/// The file name an upload key ends with.
pub fn file_name(record: &ImportRecord) -> &str {
    record
        .source_key
        .rsplit('/')
        .next()
        .unwrap_or(&record.source_key)
}
