//! Local adapters of the store and object ports: one redb file for every
//! store port and a directory for objects, so the whole pipeline runs on one
//! machine with no AWS account.

mod objects;
mod store;

pub use objects::DirObjects;
pub use store::RedbStore;

use contact_import_core::ports::{PortError, PortResult};

/// Runs file and database work on tokio's blocking pool, so that a writer
/// waiting for redb's write lock or an fsync never stalls a runtime thread.
/// Outside a runtime there is no thread to protect, and it runs inline.
async fn blocking<T, F>(work: F) -> PortResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> PortResult<T> + Send + 'static,
{
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return work();
    };
    match runtime.spawn_blocking(work).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(PortError::Transient(format!(
            "local storage work was cancelled, the runtime is shutting down: {e}"
        ))),
    }
}

/// Names a failed file operation. Trying again cannot bring back a missing
/// file or grant a refused permission, but it can outlast an interrupted call
/// or a disk that is briefly full.
fn io_error(what: &str, e: &std::io::Error) -> PortError {
    use std::io::ErrorKind as Kind;
    let message = format!("{what}: {e}");
    match e.kind() {
        Kind::NotFound
        | Kind::PermissionDenied
        | Kind::AlreadyExists
        | Kind::InvalidInput
        | Kind::InvalidData
        | Kind::InvalidFilename
        | Kind::IsADirectory
        | Kind::NotADirectory
        | Kind::DirectoryNotEmpty
        | Kind::ReadOnlyFilesystem
        | Kind::Unsupported => PortError::Permanent(message),
        _ => PortError::Transient(message),
    }
}
