//! Checked chunks handed from the splitter to an importer in the same
//! process, so that the rules run once per row there.
//!
//! To decide in-file duplicates, the splitter must check every row before
//! the chunk goes out; across Lambdas the importer checks the rows again.
//! When both run in one process (the local CLI), the splitter keeps the
//! rows it checked for the importer instead. Only a few chunks wait at
//! once. When all places are taken, the splitter waits for one while a
//! local runner delivers chunks as they are sent, having sent every chunk
//! that holds a place. Otherwise (no one delivering yet, or an order that
//! waits for every chunk) it checks for numbers only and the importer
//! checks the chunk itself. So the wait always ends.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::importer::CheckedChunk;
use super::ChunkMessage;

/// The longest the splitter waits for a place.
const LONGEST_WAIT: Duration = Duration::from_secs(1);

/// A chunk of an import, by import id and index.
type ChunkKey = (String, u32);

/// The place a chunk holds, the message it was checked for, its rows.
type Waiting = (OwnedSemaphorePermit, ChunkMessage, CheckedChunk);

pub(super) struct Handoff {
    places: Arc<Semaphore>,
    /// Whether importers take chunks as they are sent, so that the splitter
    /// can wait for a place instead of checking for numbers only: set while
    /// a local runner delivers in the order sent.
    taken_as_sent: AtomicBool,
    waiting: Mutex<HashMap<ChunkKey, Waiting>>,
}

/// A place taken for one chunk's checked rows.
pub(super) struct Place(OwnedSemaphorePermit);

impl Handoff {
    /// Room for `places` checked chunks at once.
    pub(super) fn new(places: usize) -> Self {
        Handoff {
            places: Arc::new(Semaphore::new(places.max(1))),
            taken_as_sent: AtomicBool::new(false),
            waiting: Mutex::default(),
        }
    }

    pub(super) fn set_taken_as_sent(&self, taken: bool) {
        self.taken_as_sent.store(taken, Ordering::Release);
    }

    /// A place for this chunk, if one is free. Rows an earlier try kept for
    /// it (a split that failed part way and runs again) give up theirs.
    pub(super) fn reserve(&self, chunk: &ChunkMessage) -> Option<Place> {
        self.waiting()
            .remove(&(chunk.import_id.clone(), chunk.index));
        Arc::clone(&self.places).try_acquire_owned().ok().map(Place)
    }

    /// Whether waiting for a place ends: only if importers take the chunks
    /// already sent while the splitter waits.
    pub(super) fn waits(&self) -> bool {
        self.taken_as_sent.load(Ordering::Acquire)
    }

    /// The next free place. Only when [`Self::waits`], with every chunk
    /// that holds a place already sent. Should a place never come back (a
    /// case no one foresaw), the wait ends after [`LONGEST_WAIT`] without one.
    pub(super) async fn place(&self) -> Option<Place> {
        let places = Arc::clone(&self.places);
        match tokio::time::timeout(LONGEST_WAIT, places.acquire_owned()).await {
            Ok(Ok(permit)) => Some(Place(permit)),
            _ => None,
        }
    }

    pub(super) fn put(&self, chunk: ChunkMessage, place: Place, checked: CheckedChunk) {
        let key = (chunk.import_id.clone(), chunk.index);
        self.waiting().insert(key, (place.0, chunk, checked));
    }

    /// The rows the splitter checked for exactly this message, if it kept
    /// them; their place is freed. A message that differs from the one
    /// checked (the in-file duplicates aside, decided after the check) is
    /// checked again by its importer.
    pub(super) fn take(&self, chunk: &ChunkMessage) -> Option<CheckedChunk> {
        let key = (chunk.import_id.clone(), chunk.index);
        let (_, checked_for, checked) = self.waiting().remove(&key)?;
        let as_checked = ChunkMessage {
            duplicates: Vec::new(),
            ..chunk.clone()
        };
        (as_checked == checked_for).then_some(checked)
    }

    fn waiting(&self) -> MutexGuard<'_, HashMap<ChunkKey, Waiting>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
