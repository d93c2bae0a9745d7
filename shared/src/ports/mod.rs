//! Ports: what the pipeline needs from storage, queues and objects.
//!
//! Each trait has an AWS adapter (DynamoDB, SQS, S3), a local adapter (redb,
//! in-process queues, a directory) and an in-memory one for tests; the
//! contract suite in `ports::contract` holds all of them to the semantics
//! written here. No AWS type appears in these signatures.

#[cfg(any(test, feature = "contract"))]
pub mod contract;
pub mod memory;

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::io::{self, Cursor, Read};
use std::sync::Arc;

use tokio::runtime::Handle;

use serde::{Deserialize, Serialize};

use crate::imports::{ChunkResult, ImportRecord, ImportStatus, ImportUpdate};
use crate::rules::contact::Contact;
use crate::rules::outcome::WriteOutcome;
use crate::rules::spec::DuplicateMode;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// Throttling, a timeout, a 5xx, a lost connection: trying again can help.
    #[error("{0} (temporary; retrying can help)")]
    Transient(String),
    /// A missing object, a refused request, bad data: trying again cannot help.
    #[error("{0}")]
    Permanent(String),
}

impl PortError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, PortError::Transient(_))
    }
}

pub type PortResult<T> = Result<T, PortError>;

/// An object's facts, read without its body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectInfo {
    pub size: u64,
    /// The version id where versioning is on, else the ETag: what makes an
    /// upload distinct from a later upload under the same key.
    pub version: String,
    /// `x-amz-meta-import-spec`, when the uploader set it.
    pub import_spec: Option<String>,
}

pub trait ObjectStore: Send + Sync {
    /// Facts of an object; `Ok(None)` when there is no such object.
    fn head(&self, key: &str) -> impl Future<Output = PortResult<Option<ObjectInfo>>> + Send;

    /// A whole small object (a spec sidecar, a report part); `Ok(None)` when absent.
    fn get(&self, key: &str) -> impl Future<Output = PortResult<Option<Vec<u8>>>> + Send;

    /// Bytes `start..end` of an object.
    fn get_range(
        &self,
        key: &str,
        start: u64,
        end: u64,
    ) -> impl Future<Output = PortResult<Vec<u8>>> + Send;

    /// A blocking reader of a whole object, however large, for a blocking thread.
    fn reader(&self, key: &str) -> impl Future<Output = PortResult<Box<dyn Read + Send>>> + Send;

    fn put(&self, key: &str, body: Vec<u8>) -> impl Future<Output = PortResult<()>> + Send;

    /// Writes an object from a blocking reader of unknown length, in parts
    /// when it is large; returns its size. Call from a blocking thread.
    fn put_from_reader(&self, key: &str, body: Box<dyn Read + Send>) -> PortResult<u64>;

    /// Writes an object of `head` followed by the objects `parts` in order,
    /// as one report is made of its chunks' parts; returns its size. Call
    /// from a blocking thread. By default the parts are read and written
    /// again; a store that can join them itself does so.
    fn put_joined(self: Arc<Self>, key: &str, head: Vec<u8>, parts: Vec<String>) -> PortResult<u64>
    where
        Self: Sized + 'static,
    {
        let handle = Handle::try_current().map_err(|_| {
            PortError::Permanent(format!(
                "writing {key} needs a tokio runtime: call put_joined from spawn_blocking"
            ))
        })?;
        let body = Cursor::new(head).chain(Parts {
            objects: Arc::clone(&self),
            keys: parts.into(),
            current: None,
            handle,
        });
        self.put_from_reader(key, Box::new(body))
    }
}

/// Reads objects one after another, opening each only when needed.
struct Parts<O> {
    objects: Arc<O>,
    keys: VecDeque<String>,
    current: Option<Box<dyn Read + Send>>,
    handle: Handle,
}

impl<O: ObjectStore> Read for Parts<O> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(part) = self.current.as_mut() {
                let n = part.read(buf)?;
                if n > 0 {
                    return Ok(n);
                }
                self.current = None;
            }
            let Some(key) = self.keys.pop_front() else {
                return Ok(0);
            };
            let part = self
                .handle
                .block_on(self.objects.reader(&key))
                .map_err(io::Error::other)?;
            self.current = Some(part);
        }
    }
}

/// The two queues of the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueueName {
    /// One message per chunk of rows, for the importers.
    Chunks,
    /// One message per import whose chunks are all done, for the finalizer.
    Finalize,
}

impl QueueName {
    pub const ALL: [QueueName; 2] = [QueueName::Chunks, QueueName::Finalize];
}

pub trait MessageQueue: Send + Sync {
    /// Sends messages, batched as the queue allows. Delivery is at least once.
    fn send(
        &self,
        queue: QueueName,
        bodies: Vec<String>,
    ) -> impl Future<Output = PortResult<()>> + Send;
}

/// One accepted row for the store to decide about. Its contact's phone is
/// E.164, as the rules make it; a store may refuse a batch with another.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactWrite {
    pub row: u64,
    pub contact: Contact,
}

/// Where a batch of contacts goes, and under which rules.
#[derive(Debug, Clone, Copy)]
pub struct WriteTarget<'a> {
    pub tenant: &'a str,
    pub import_id: &'a str,
    /// `Destination::scope()`: a number is unique within it.
    pub scope: &'a str,
    pub mode: DuplicateMode,
}

/// A contact as stored, with where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredContact {
    pub contact_id: String,
    pub scope: String,
    /// The import (and its row) that last wrote the contact.
    pub import_id: String,
    pub row: u64,
    pub contact: Contact,
}

/// The contact id a row gets when it creates a contact: the same on every
/// retry, so that a repeated write overwrites instead of adding.
pub fn contact_id_for(import_id: &str, row: u64) -> String {
    format!("{import_id}-{row}")
}

/// The import id and row that [`contact_id_for`] made `contact_id` of; None
/// for any other string.
pub fn contact_id_parts(contact_id: &str) -> Option<(&str, u64)> {
    let (import_id, row) = contact_id.rsplit_once('-')?;
    // Writing the parts again rejects what parses but was not written so
    // (`007`, `+7`).
    let row = row.parse().ok()?;
    (contact_id_for(import_id, row) == contact_id).then_some((import_id, row))
}

/// The import id and row of the contact a page ended at, which the next
/// page starts after.
pub fn contact_cursor(after: &str) -> PortResult<(&str, u64)> {
    contact_id_parts(after).ok_or_else(|| {
        PortError::Permanent(format!(
            "`{}` is not a contact id, so no page of contacts follows it",
            crate::rules::echo::echo(after)
        ))
    })
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactFilter {
    pub scope: Option<String>,
    pub import_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ContactPage {
    pub contacts: Vec<StoredContact>,
    /// Pass back to get the next page; None on the last one.
    pub next: Option<String>,
}

pub trait ContactStore: Send + Sync {
    /// Decides about each row and writes it. One outcome per row, in order.
    ///
    /// Per (tenant, scope, E.164) there is one dedupe key, naming the contact
    /// it points to and the (import, row) that claimed it. A row's own
    /// contact is [`contact_id_for`] its import and row.
    /// - A row whose own contact exists already was written by an earlier
    ///   delivery: `Inserted`, and nothing is rewritten (so a late retry
    ///   cannot undo what a later import merged into it).
    /// - `Skip`: an unclaimed key is claimed and the row's own contact
    ///   written: `Inserted`. Otherwise nothing is written: `Existing`.
    /// - `Update`: as `Skip`, but the contact of a key claimed by another row
    ///   is refreshed with [`Contact::merge_from`]: `Updated`.
    /// - `Create`: the row's own contact is written and the key points at
    ///   the latest: `Inserted`.
    ///
    /// Writing the same batch again gives the same outcomes and the same
    /// stored state: a retried chunk neither doubles nor loses a contact.
    fn write_contacts(
        &self,
        target: WriteTarget<'_>,
        rows: &[ContactWrite],
    ) -> impl Future<Output = PortResult<Vec<WriteOutcome>>> + Send;

    /// A tenant's contacts, optionally only one scope's or one import's,
    /// each once across the pages, in an order the store keeps: the local
    /// and in-memory stores list imports by id and each import's contacts
    /// by row, DynamoDB lists them by contact id.
    fn list_contacts(
        &self,
        tenant: &str,
        filter: &ContactFilter,
        after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = PortResult<ContactPage>> + Send;
}

pub trait DoNotCallStore: Send + Sync {
    /// Which of `numbers` (E.164) are on the tenant's do-not-call list.
    fn do_not_call(
        &self,
        tenant: &str,
        numbers: &[String],
    ) -> impl Future<Output = PortResult<HashSet<String>>> + Send;

    /// Adds numbers; adding one twice is harmless. Returns how many were new.
    fn add_do_not_call(
        &self,
        tenant: &str,
        numbers: &[String],
    ) -> impl Future<Output = PortResult<usize>> + Send;
}

/// What committing a chunk did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkCommit {
    /// False when this chunk had been committed before: nothing was added.
    pub newly_committed: bool,
    pub chunks_done: u32,
    pub chunks_total: u32,
}

pub trait ImportStore: Send + Sync {
    /// Creates the record unless one with its id exists; false when it did.
    fn create_import(&self, record: &ImportRecord)
        -> impl Future<Output = PortResult<bool>> + Send;

    fn get_import(
        &self,
        tenant: &str,
        import_id: &str,
    ) -> impl Future<Output = PortResult<Option<ImportRecord>>> + Send;

    /// Applies `update` if the import's status is still `from`; false otherwise.
    fn update_import(
        &self,
        tenant: &str,
        import_id: &str,
        from: ImportStatus,
        update: &ImportUpdate,
    ) -> impl Future<Output = PortResult<bool>> + Send;

    /// Records a chunk's result and adds its counters to the import's, once:
    /// both happen or neither does, and a second commit of the same chunk
    /// changes nothing.
    fn commit_chunk(
        &self,
        tenant: &str,
        import_id: &str,
        result: &ChunkResult,
    ) -> impl Future<Output = PortResult<ChunkCommit>> + Send;

    /// The committed chunks of an import, by chunk index.
    fn chunk_results(
        &self,
        tenant: &str,
        import_id: &str,
    ) -> impl Future<Output = PortResult<Vec<ChunkResult>>> + Send;

    /// A tenant's imports, newest first.
    fn list_imports(
        &self,
        tenant: &str,
        limit: usize,
    ) -> impl Future<Output = PortResult<Vec<ImportRecord>>> + Send;
}

/// Everything the pipeline stores, as one bound.
pub trait Store: ImportStore + ContactStore + DoNotCallStore {}

impl<T: ImportStore + ContactStore + DoNotCallStore> Store for T {}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default join, which the in-memory store keeps.
    #[tokio::test(flavor = "multi_thread")]
    async fn the_default_join_writes_the_head_and_then_each_part() {
        let objects = Arc::new(crate::ports::memory::MemoryObjects::default());
        crate::ports::contract::objects_join_parts_in_order(objects).await;
    }

    #[test]
    fn a_contact_id_gives_back_its_import_and_row() {
        for (import_id, row) in [("imp-0a1b", 2), ("imp-x-y", 10), ("", 0)] {
            let id = contact_id_for(import_id, row);
            assert_eq!(contact_id_parts(&id), Some((import_id, row)), "{id}");
        }
        for other in [
            "imp",
            "imp-",
            "imp-x-007",
            "imp-x-+7",
            "imp-x-7a",
            "imp-x-99999999999999999999",
        ] {
            assert_eq!(contact_id_parts(other), None, "{other}");
            assert!(matches!(
                contact_cursor(other),
                Err(PortError::Permanent(_))
            ));
        }
    }
}
