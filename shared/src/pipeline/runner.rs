//! Runs the pipeline in one process, delivering queue messages as SQS does:
//! at least once, retried on failure, dead-lettered after too many tries.
//! The local CLI imports with it; the fault tests use its knobs to deliver
//! twice, out of order, or after a crash.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::task::{JoinError, JoinSet};
use tracing::warn;

use super::handoff::Handoff;
use super::{
    parse_message, ChunkMessage, FinalizeMessage, Pipeline, PipelineError, Resumed, SplitOutcome,
    Upload,
};
use crate::ports::memory::MemoryQueue;
use crate::ports::{ObjectStore, QueueName, Store};

/// In which order a batch of chunk messages is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    AsSent,
    Reversed,
    /// A fixed pseudo-random order, from a seed.
    Shuffled(u64),
}

#[derive(Debug, Clone, Copy)]
pub struct Delivery {
    pub order: Order,
    /// How many times each message is delivered.
    pub copies: u32,
    /// Tries per delivery before the message goes to the dead-letter path.
    pub max_attempts: u32,
    /// Chunks imported at once.
    pub workers: usize,
}

impl Default for Delivery {
    fn default() -> Self {
        Delivery {
            order: Order::AsSent,
            copies: 1,
            max_attempts: 3,
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }
}

/// Called with the rows of each chunk as it is imported.
pub type Progress = Arc<dyn Fn(u64) + Send + Sync>;

pub struct LocalRunner<S, O> {
    pipeline: Pipeline<S, O, MemoryQueue>,
    queue: Arc<MemoryQueue>,
    delivery: Delivery,
    progress: Option<Progress>,
}

impl<S, O> LocalRunner<S, O>
where
    S: Store + 'static,
    O: ObjectStore + 'static,
{
    /// `queue` must be the queue the pipeline sends to.
    pub fn new(
        pipeline: Pipeline<S, O, MemoryQueue>,
        queue: Arc<MemoryQueue>,
        delivery: Delivery,
    ) -> Self {
        LocalRunner {
            // Splitter and importers share this process: the rules run once.
            pipeline: pipeline.sharing_checks(delivery.workers),
            queue,
            delivery,
            progress: None,
        }
    }

    pub fn pipeline(&self) -> &Pipeline<S, O, MemoryQueue> {
        &self.pipeline
    }

    pub fn with_progress(mut self, progress: Progress) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Splits the upload, delivering its chunks as they are sent, until
    /// both queues are empty.
    pub async fn run(&self, upload: Upload) -> Result<SplitOutcome, PipelineError> {
        self.delivering(self.with_retries("the split", || self.pipeline.split(upload.clone())))
            .await
    }

    /// Resumes an import whose messages were lost with an earlier process
    /// (see [`Pipeline::resume`]), delivering until both queues are empty.
    pub async fn resume(&self, tenant: &str, import_id: &str) -> Result<Resumed, PipelineError> {
        self.delivering(self.with_retries("the resume", || self.pipeline.resume(tenant, import_id)))
            .await
    }

    /// Delivers what is waiting, and what that sends, until nothing is left.
    pub async fn drain(&self) -> Result<(), PipelineError> {
        self.delivering(async { Ok(()) }).await
    }

    /// Runs `sending` while delivering what it sends, and then what is left.
    async fn delivering<T>(
        &self,
        sending: impl Future<Output = Result<T, PipelineError>>,
    ) -> Result<T, PipelineError> {
        let sent_all = AtomicBool::new(false);
        let _taking = (self.delivery.order == Order::AsSent)
            .then(|| self.pipeline.handoff.as_deref().map(TakenAsSent::new))
            .flatten();
        let sending = async {
            let result = sending.await;
            sent_all.store(true, Ordering::Release);
            self.queue.wake();
            result
        };
        let (result, ()) = tokio::try_join!(sending, self.deliver(&sent_all))?;
        Ok(result)
    }

    /// Delivers chunks as they arrive, `workers` at a time, and a finalize
    /// request once no chunk is left, until `sent_all` is set and nothing
    /// is left. Any order but [`Order::AsSent`] waits for `sent_all`, as it
    /// reorders the whole set.
    async fn deliver(&self, sent_all: &AtomicBool) -> Result<(), PipelineError> {
        let workers = self.delivery.workers.max(1);
        let mut running = JoinSet::new();
        let mut waiting = VecDeque::new();
        loop {
            // Read first: whatever was sent before it is on the queue now.
            let last_take = sent_all.load(Ordering::Acquire);
            if last_take || self.delivery.order == Order::AsSent {
                for body in ordered(self.queue.take(QueueName::Chunks), self.delivery.order) {
                    let chunk: ChunkMessage = parse_message(&body)?;
                    for _ in 0..self.delivery.copies {
                        waiting.push_back(chunk.clone());
                    }
                }
            }
            while running.len() < workers {
                let Some(chunk) = waiting.pop_front() else {
                    break;
                };
                let worker = Worker {
                    pipeline: self.pipeline.clone(),
                    max_attempts: self.delivery.max_attempts,
                    progress: self.progress.clone(),
                };
                running.spawn(async move { worker.deliver(chunk).await });
            }
            if !running.is_empty() {
                tokio::select! {
                    finished = running.join_next() => joined(finished)?,
                    () = self.queue.sent(), if waiting.is_empty() => {}
                }
                continue;
            }
            let finalize = self.queue.take(QueueName::Finalize);
            if finalize.is_empty() {
                if last_take {
                    return Ok(());
                }
                self.queue.sent().await;
                continue;
            }
            for body in finalize {
                let message: FinalizeMessage = parse_message(&body)?;
                for _ in 0..self.delivery.copies {
                    self.with_retries("finalizing", || self.pipeline.finalize(message.clone()))
                        .await?;
                }
            }
        }
    }

    async fn with_retries<T, F, Fut>(&self, what: &str, step: F) -> Result<T, PipelineError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, PipelineError>>,
    {
        retried(self.delivery.max_attempts, what, step).await
    }
}

/// Runs `step` until it succeeds or has failed `max_attempts` times, as a
/// queue delivers a message again; the last error is returned.
async fn retried<T, F, Fut>(max_attempts: u32, what: &str, mut step: F) -> Result<T, PipelineError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, PipelineError>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match step().await {
            Ok(done) => return Ok(done),
            Err(e) if attempt < max_attempts => warn!(error = %e, "{what} failed; retrying"),
            Err(e) => return Err(e),
        }
    }
}

/// While alive, chunks are taken as they are sent, so the splitter may
/// wait for the importers to take the rows it checked.
struct TakenAsSent<'a>(&'a Handoff);

impl<'a> TakenAsSent<'a> {
    fn new(handoff: &'a Handoff) -> Self {
        handoff.set_taken_as_sent(true);
        TakenAsSent(handoff)
    }
}

impl Drop for TakenAsSent<'_> {
    fn drop(&mut self) {
        self.0.set_taken_as_sent(false);
    }
}

fn joined(
    finished: Option<Result<Result<(), PipelineError>, JoinError>>,
) -> Result<(), PipelineError> {
    match finished {
        Some(Ok(result)) => result,
        Some(Err(e)) => Err(PipelineError::Stopped {
            work: "an importer",
            detail: e.to_string(),
        }),
        None => Ok(()),
    }
}

/// One delivery of a chunk message, with the queue's retries and dead-letter path.
struct Worker<S, O> {
    pipeline: Pipeline<S, O, MemoryQueue>,
    max_attempts: u32,
    progress: Option<Progress>,
}

impl<S, O> Worker<S, O>
where
    S: Store + 'static,
    O: ObjectStore + 'static,
{
    async fn deliver(self, chunk: ChunkMessage) -> Result<(), PipelineError> {
        let rows = chunk.rows;
        for attempt in 1..=self.max_attempts {
            match self.pipeline.import_chunk(chunk.clone()).await {
                Ok(()) => {
                    if let Some(progress) = &self.progress {
                        progress(rows);
                    }
                    return Ok(());
                }
                Err(e) => warn!(error = %e, attempt, chunk = chunk.index, "chunk failed"),
            }
        }
        // The dead-letter path, itself retried like any delivery.
        retried(self.max_attempts, "burying a chunk", || {
            self.pipeline.bury_chunk(chunk.clone())
        })
        .await
    }
}

/// Puts messages in the requested order.
fn ordered(mut bodies: Vec<String>, order: Order) -> Vec<String> {
    match order {
        Order::AsSent => {}
        Order::Reversed => bodies.reverse(),
        Order::Shuffled(seed) => {
            // Fisher-Yates with xorshift: a fixed order per seed, no dependency.
            let mut state = seed | 1;
            for i in (1..bodies.len()).rev() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                bodies.swap(i, (state % (i as u64 + 1)) as usize);
            }
        }
    }
    bodies
}
