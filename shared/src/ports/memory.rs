//! In-memory adapters of every port: the reference for the contract suite,
//! and the doubles the pipeline's fault tests use. [`Faults`] makes any one
//! write fail, which is how a test kills a function between two writes.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::io::{Cursor, Read};
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::imports::{ChunkResult, ImportRecord, ImportStatus, ImportUpdate};
use crate::ports::{
    contact_cursor, contact_id_for, ChunkCommit, ContactFilter, ContactPage, ContactStore,
    ContactWrite, DoNotCallStore, ImportStore, MessageQueue, ObjectInfo, ObjectStore, PortError,
    PortResult, QueueName, StoredContact, WriteTarget,
};
use crate::rules::outcome::WriteOutcome;
use crate::rules::spec::DuplicateMode;

/// Counts writes across the doubles that share it, and fails the chosen one.
#[derive(Debug, Default)]
pub struct Faults {
    writes: AtomicU64,
    fail_at: AtomicU64,
}

impl Faults {
    pub fn new() -> Arc<Self> {
        Arc::new(Faults::default())
    }

    /// The `n`th write from now on fails (1 is the next one); 0 disarms.
    #[cfg(test)]
    pub(crate) fn fail_write(&self, n: u64) {
        let base = self.writes.load(Ordering::SeqCst);
        self.fail_at
            .store(if n == 0 { 0 } else { base + n }, Ordering::SeqCst);
    }

    /// Writes attempted so far.
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::SeqCst)
    }

    fn write(&self, what: &str) -> PortResult<()> {
        let n = self.writes.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.fail_at.load(Ordering::SeqCst) {
            self.fail_at.store(0, Ordering::SeqCst);
            return Err(PortError::Transient(format!(
                "injected fault at write {n} ({what})"
            )));
        }
        Ok(())
    }
}

/// The contact a dedupe key points to: the import and row that created it.
type Claim = (String, u64);

/// (tenant, import id, row) of a contact: an import's contacts list in row
/// order, as the local store keeps them.
type ContactKey = (String, String, u64);

fn contact_key(tenant: &str, import_id: &str, row: u64) -> ContactKey {
    (tenant.to_owned(), import_id.to_owned(), row)
}

#[derive(Default)]
struct StoreState {
    imports: BTreeMap<(String, String), ImportRecord>,
    chunks: BTreeMap<(String, String, u32), ChunkResult>,
    claims: HashMap<(String, String, String), Claim>,
    contacts: BTreeMap<ContactKey, StoredContact>,
    do_not_call: HashSet<(String, String)>,
}

/// Every store port in memory.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<StoreState>,
    faults: Arc<Faults>,
}

impl MemoryStore {
    pub fn new(faults: Arc<Faults>) -> Self {
        MemoryStore {
            state: Mutex::default(),
            faults,
        }
    }

    fn state(&self) -> MutexGuard<'_, StoreState> {
        self.state
            .lock()
            .expect("a test panicked while holding the store")
    }

    /// Every stored contact of every tenant, for assertions.
    #[cfg(test)]
    pub(crate) fn all_contacts(&self) -> Vec<StoredContact> {
        self.state().contacts.values().cloned().collect()
    }
}

fn key(a: &str, b: &str) -> (String, String) {
    (a.to_owned(), b.to_owned())
}

impl ContactStore for MemoryStore {
    async fn write_contacts(
        &self,
        target: WriteTarget<'_>,
        rows: &[ContactWrite],
    ) -> PortResult<Vec<WriteOutcome>> {
        let mut outcomes = Vec::with_capacity(rows.len());
        for write in rows {
            self.faults.write("write contact")?;
            let mut state = self.state();
            let claim_key = (
                target.tenant.to_owned(),
                target.scope.to_owned(),
                write.contact.phone.clone(),
            );
            let own: Claim = (target.import_id.to_owned(), write.row);
            let own_key = contact_key(target.tenant, target.import_id, write.row);
            let written_before = state.contacts.contains_key(&own_key);
            let existing = state.claims.get(&claim_key).cloned();
            let outcome = match (target.mode, existing) {
                _ if written_before => {
                    outcomes.push(WriteOutcome::Inserted);
                    continue;
                }
                (DuplicateMode::Create, _) | (_, None) => WriteOutcome::Inserted,
                (DuplicateMode::Skip, Some(_)) => WriteOutcome::Existing,
                (DuplicateMode::Update, Some((import_id, row))) => {
                    let stored = state
                        .contacts
                        .entry(contact_key(target.tenant, &import_id, row))
                        .or_insert_with(|| StoredContact {
                            contact_id: contact_id_for(&import_id, row),
                            scope: target.scope.to_owned(),
                            import_id: target.import_id.to_owned(),
                            row: write.row,
                            contact: write.contact.clone(),
                        });
                    stored.contact.merge_from(write.contact.clone());
                    stored.import_id = target.import_id.to_owned();
                    stored.row = write.row;
                    WriteOutcome::Updated
                }
            };
            if outcome == WriteOutcome::Inserted {
                state.contacts.insert(
                    own_key,
                    StoredContact {
                        contact_id: contact_id_for(target.import_id, write.row),
                        scope: target.scope.to_owned(),
                        import_id: target.import_id.to_owned(),
                        row: write.row,
                        contact: write.contact.clone(),
                    },
                );
                state.claims.insert(claim_key, own);
            }
            outcomes.push(outcome);
        }
        Ok(outcomes)
    }

    async fn list_contacts(
        &self,
        tenant: &str,
        filter: &ContactFilter,
        after: Option<&str>,
        limit: usize,
    ) -> PortResult<ContactPage> {
        let start = match after {
            None => Bound::Included(contact_key(tenant, "", 0)),
            Some(id) => {
                let (import_id, row) = contact_cursor(id)?;
                Bound::Excluded(contact_key(tenant, import_id, row))
            }
        };
        let state = self.state();
        let matching = state
            .contacts
            .range((start, Bound::Unbounded))
            .take_while(|((t, _, _), _)| t == tenant)
            .map(|(_, stored)| stored)
            .filter(|s| filter.scope.as_ref().is_none_or(|scope| &s.scope == scope))
            .filter(|s| {
                filter
                    .import_id
                    .as_ref()
                    .is_none_or(|id| &s.import_id == id)
            });
        let mut contacts: Vec<StoredContact> = matching.take(limit + 1).cloned().collect();
        let next = if contacts.len() > limit {
            contacts.truncate(limit);
            contacts.last().map(|c| c.contact_id.clone())
        } else {
            None
        };
        Ok(ContactPage { contacts, next })
    }
}

impl DoNotCallStore for MemoryStore {
    async fn do_not_call(&self, tenant: &str, numbers: &[String]) -> PortResult<HashSet<String>> {
        let state = self.state();
        Ok(numbers
            .iter()
            .filter(|n| state.do_not_call.contains(&key(tenant, n)))
            .cloned()
            .collect())
    }

    async fn add_do_not_call(&self, tenant: &str, numbers: &[String]) -> PortResult<usize> {
        self.faults.write("add do-not-call")?;
        let mut state = self.state();
        Ok(numbers
            .iter()
            .filter(|n| state.do_not_call.insert(key(tenant, n)))
            .count())
    }
}

impl ImportStore for MemoryStore {
    async fn create_import(&self, record: &ImportRecord) -> PortResult<bool> {
        self.faults.write("create import")?;
        let mut state = self.state();
        let id = key(&record.tenant, &record.import_id);
        if state.imports.contains_key(&id) {
            return Ok(false);
        }
        state.imports.insert(id, record.clone());
        Ok(true)
    }

    async fn get_import(&self, tenant: &str, import_id: &str) -> PortResult<Option<ImportRecord>> {
        Ok(self.state().imports.get(&key(tenant, import_id)).cloned())
    }

    async fn update_import(
        &self,
        tenant: &str,
        import_id: &str,
        from: ImportStatus,
        update: &ImportUpdate,
    ) -> PortResult<bool> {
        self.faults.write("update import")?;
        let mut state = self.state();
        match state.imports.get_mut(&key(tenant, import_id)) {
            Some(record) if record.status == from => {
                record.apply(update);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn commit_chunk(
        &self,
        tenant: &str,
        import_id: &str,
        result: &ChunkResult,
    ) -> PortResult<ChunkCommit> {
        self.faults.write("commit chunk")?;
        let mut state = self.state();
        let chunk_key = (tenant.to_owned(), import_id.to_owned(), result.index);
        let newly_committed = !state.chunks.contains_key(&chunk_key);
        let record = state
            .imports
            .get_mut(&key(tenant, import_id))
            .ok_or_else(|| {
                PortError::Permanent(format!("no import {import_id} for tenant {tenant}"))
            })?;
        if newly_committed {
            record.tally.add(&result.tally);
            record.chunks_done += 1;
        }
        let commit = ChunkCommit {
            newly_committed,
            chunks_done: record.chunks_done,
            chunks_total: record.chunks_total,
        };
        if newly_committed {
            state.chunks.insert(chunk_key, result.clone());
        }
        Ok(commit)
    }

    async fn chunk_results(&self, tenant: &str, import_id: &str) -> PortResult<Vec<ChunkResult>> {
        let state = self.state();
        Ok(state
            .chunks
            .iter()
            .filter(|((t, id, _), _)| t == tenant && id == import_id)
            .map(|(_, result)| result.clone())
            .collect())
    }

    async fn list_imports(&self, tenant: &str, limit: usize) -> PortResult<Vec<ImportRecord>> {
        let mut imports: Vec<ImportRecord> = self
            .state()
            .imports
            .values()
            .filter(|r| r.tenant == tenant)
            .cloned()
            .collect();
        imports.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then(b.import_id.cmp(&a.import_id))
        });
        imports.truncate(limit);
        Ok(imports)
    }
}

/// Objects in memory.
#[derive(Default)]
pub struct MemoryObjects {
    objects: Mutex<BTreeMap<String, (Vec<u8>, ObjectInfo)>>,
    faults: Arc<Faults>,
}

impl MemoryObjects {
    pub fn new(faults: Arc<Faults>) -> Self {
        MemoryObjects {
            objects: Mutex::default(),
            faults,
        }
    }

    /// Stores an object as an uploader would, with optional spec metadata.
    pub fn upload(&self, key: &str, body: Vec<u8>, version: &str, import_spec: Option<String>) {
        let info = ObjectInfo {
            size: body.len() as u64,
            version: version.to_owned(),
            import_spec,
        };
        self.objects().insert(key.to_owned(), (body, info));
    }

    pub fn remove(&self, key: &str) {
        self.objects().remove(key);
    }

    pub fn keys(&self) -> Vec<String> {
        self.objects().keys().cloned().collect()
    }

    fn objects(&self) -> MutexGuard<'_, BTreeMap<String, (Vec<u8>, ObjectInfo)>> {
        self.objects
            .lock()
            .expect("a test panicked while holding the objects")
    }

    fn body(&self, key: &str) -> PortResult<Vec<u8>> {
        self.objects()
            .get(key)
            .map(|(body, _)| body.clone())
            .ok_or_else(|| PortError::Permanent(format!("no object {key}")))
    }

    fn store(&self, key: &str, body: Vec<u8>) {
        let version = format!("{}", body.len());
        self.upload(key, body, &version, None);
    }
}

impl ObjectStore for MemoryObjects {
    async fn head(&self, key: &str) -> PortResult<Option<ObjectInfo>> {
        Ok(self.objects().get(key).map(|(_, info)| info.clone()))
    }

    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>> {
        Ok(self.objects().get(key).map(|(body, _)| body.clone()))
    }

    async fn get_range(&self, key: &str, start: u64, end: u64) -> PortResult<Vec<u8>> {
        let body = self.body(key)?;
        let end = usize::try_from(end).unwrap_or(usize::MAX).min(body.len());
        let start = usize::try_from(start).unwrap_or(usize::MAX).min(end);
        Ok(body[start..end].to_vec())
    }

    async fn reader(&self, key: &str) -> PortResult<Box<dyn Read + Send>> {
        Ok(Box::new(Cursor::new(self.body(key)?)))
    }

    async fn put(&self, key: &str, body: Vec<u8>) -> PortResult<()> {
        self.faults.write("put object")?;
        self.store(key, body);
        Ok(())
    }

    fn put_from_reader(&self, key: &str, mut body: Box<dyn Read + Send>) -> PortResult<u64> {
        self.faults.write("put object from reader")?;
        let mut bytes = Vec::new();
        body.read_to_end(&mut bytes)
            .map_err(|e| PortError::Transient(format!("reading the body of {key}: {e}")))?;
        let size = bytes.len() as u64;
        self.store(key, bytes);
        Ok(size)
    }
}

/// Queues in memory; tests take messages off with [`MemoryQueue::take`].
#[derive(Default)]
pub struct MemoryQueue {
    queues: Mutex<HashMap<QueueName, VecDeque<String>>>,
    faults: Arc<Faults>,
    sent: Notify,
}

impl MemoryQueue {
    pub fn new(faults: Arc<Faults>) -> Self {
        MemoryQueue {
            queues: Mutex::default(),
            faults,
            sent: Notify::new(),
        }
    }

    /// Waits until messages were sent since the last wait, or [`Self::wake`].
    pub async fn sent(&self) {
        self.sent.notified().await;
    }

    /// Ends a wait in [`Self::sent`], or the next one.
    pub(crate) fn wake(&self) {
        self.sent.notify_one();
    }

    /// Removes and returns every message waiting on `queue`.
    pub fn take(&self, queue: QueueName) -> Vec<String> {
        self.queues
            .lock()
            .expect("a test panicked while holding the queues")
            .get_mut(&queue)
            .map(|q| q.drain(..).collect())
            .unwrap_or_default()
    }
}

impl MessageQueue for MemoryQueue {
    async fn send(&self, queue: QueueName, bodies: Vec<String>) -> PortResult<()> {
        for chunk in bodies.chunks(10) {
            self.faults.write("send messages")?;
            self.queues
                .lock()
                .expect("a test panicked while holding the queues")
                .entry(queue)
                .or_default()
                .extend(chunk.iter().cloned());
            self.wake();
        }
        Ok(())
    }
}

#[cfg(test)]
mod contract {
    use super::MemoryStore;

    crate::store_contract_tests!(async { MemoryStore::default() });
}
