//! Runs the pipeline in one process, delivering queue messages as SQS does:
//! at least once, retried on failure, dead-lettered after too many tries.
//! The local CLI imports with it; the fault tests use its knobs to deliver
//! twice, out of order, or after a crash.

use std::sync::Arc;

use tokio::task::JoinSet;
use tracing::warn;

use super::{
    parse_message, ChunkMessage, FinalizeMessage, Pipeline, PipelineError, Resumed, SplitOutcome,
    Upload,
};
use crate::memory::MemoryQueue;
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
            pipeline,
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

    /// Splits the upload, then delivers messages until both queues are empty.
    pub async fn run(&self, upload: Upload) -> Result<SplitOutcome, PipelineError> {
        let outcome = self
            .with_retries(|| self.pipeline.split(upload.clone()))
            .await?;
        self.drain().await?;
        Ok(outcome)
    }

    /// Resumes an import whose messages were lost with an earlier process
    /// (see [`Pipeline::resume`]), then delivers until both queues are empty.
    pub async fn resume(&self, tenant: &str, import_id: &str) -> Result<Resumed, PipelineError> {
        let resumed = self
            .with_retries(|| self.pipeline.resume(tenant, import_id))
            .await?;
        self.drain().await?;
        Ok(resumed)
    }

    /// Delivers what is waiting, and what that sends, until nothing is left.
    pub async fn drain(&self) -> Result<(), PipelineError> {
        loop {
            let chunks = self.queue.take(QueueName::Chunks);
            let finalize = self.queue.take(QueueName::Finalize);
            if chunks.is_empty() && finalize.is_empty() {
                return Ok(());
            }
            self.deliver_chunks(ordered(chunks, self.delivery.order))
                .await?;
            for body in finalize {
                let message: FinalizeMessage = parse_message(&body)?;
                for _ in 0..self.delivery.copies {
                    self.with_retries(|| self.pipeline.finalize(message.clone()))
                        .await?;
                }
            }
        }
    }

    async fn deliver_chunks(&self, bodies: Vec<String>) -> Result<(), PipelineError> {
        let mut running = JoinSet::new();
        let copies = self.delivery.copies;
        for body in bodies {
            let chunk: ChunkMessage = parse_message(&body)?;
            for _ in 0..copies {
                if running.len() >= self.delivery.workers.max(1) {
                    finish_one(&mut running).await?;
                }
                let worker = Worker {
                    pipeline: self.pipeline.clone(),
                    max_attempts: self.delivery.max_attempts,
                    progress: self.progress.clone(),
                };
                let chunk = chunk.clone();
                running.spawn(async move { worker.deliver(chunk).await });
            }
        }
        while !running.is_empty() {
            finish_one(&mut running).await?;
        }
        Ok(())
    }

    async fn with_retries<T, F, Fut>(&self, mut step: F) -> Result<T, PipelineError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, PipelineError>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match step().await {
                Ok(done) => return Ok(done),
                Err(e) if attempt < self.delivery.max_attempts => warn!(error = %e, "retrying"),
                Err(e) => return Err(e),
            }
        }
    }
}

async fn finish_one(running: &mut JoinSet<Result<(), PipelineError>>) -> Result<(), PipelineError> {
    match running.join_next().await {
        Some(Ok(result)) => result,
        Some(Err(e)) => Err(PipelineError::Invalid(format!("an importer stopped: {e}"))),
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
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.pipeline.bury_chunk(chunk.clone()).await {
                Ok(()) => return Ok(()),
                Err(e) if attempt < self.max_attempts => {
                    warn!(error = %e, "burying a chunk failed; retrying")
                }
                Err(e) => return Err(e),
            }
        }
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
