//! [`MessageQueue`] on SQS.

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use contact_import_core::ports::{MessageQueue, PortError, PortResult, QueueName};
use futures_util::FutureExt;

use crate::error::{is_transient_code, sdk_error, RetryPolicy};

/// SendMessageBatch takes at most this many messages...
pub(crate) const BATCH_MESSAGES: usize = 10;
/// ...and at most this many bytes of bodies in all (the classic SQS limit,
/// which every queue accepts).
pub(crate) const BATCH_BYTES: usize = 256 * 1024;

/// The chunk queue and the finalize queue.
#[derive(Debug, Clone)]
pub struct AwsQueue {
    client: aws_sdk_sqs::Client,
    chunk_queue_url: String,
    finalize_queue_url: String,
    retry: RetryPolicy,
}

impl AwsQueue {
    pub fn new(
        client: aws_sdk_sqs::Client,
        chunk_queue_url: impl Into<String>,
        finalize_queue_url: impl Into<String>,
    ) -> Self {
        AwsQueue {
            client,
            chunk_queue_url: chunk_queue_url.into(),
            finalize_queue_url: finalize_queue_url.into(),
            retry: RetryPolicy::default(),
        }
    }

    /// How the failed entries of a batch are retried.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn url(&self, queue: QueueName) -> &str {
        match queue {
            QueueName::Chunks => &self.chunk_queue_url,
            QueueName::Finalize => &self.finalize_queue_url,
        }
    }

    /// Sends one batch; the entries SQS refused for a temporary reason are
    /// sent again, alone, with backoff.
    async fn send_batch(&self, url: &str, bodies: &[String]) -> PortResult<()> {
        // Entry ids are positions in `bodies`, so a retry resends exactly the failed ones.
        let mut pending: Vec<usize> = (0..bodies.len()).collect();
        let mut attempt = 0;
        loop {
            let entries = pending
                .iter()
                .map(|&i| {
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(&bodies[i])
                        .build()
                        .map_err(|e| PortError::Permanent(format!("a message for {url}: {e}")))
                })
                .collect::<PortResult<Vec<_>>>()?;
            let sent = self
                .retry
                .run(|| async {
                    self.client
                        .send_message_batch()
                        .queue_url(url)
                        .set_entries(Some(entries.clone()))
                        .send()
                        .await
                        .map_err(|e| sdk_error("SendMessageBatch", url, e))
                })
                .await?;
            let failed = sent.failed();
            if failed.is_empty() {
                return Ok(());
            }
            if let Some(refused) = failed
                .iter()
                .find(|f| f.sender_fault() && !is_transient_code(f.code()))
            {
                return Err(PortError::Permanent(format!(
                    "SendMessageBatch on {url}: message {} refused: {}: {}",
                    refused.id(),
                    refused.code(),
                    refused.message().unwrap_or_default()
                )));
            }
            attempt += 1;
            if attempt >= self.retry.attempts.max(1) {
                let first = &failed[0];
                return Err(PortError::Transient(format!(
                    "SendMessageBatch on {url}: {} of {} messages still failing after {attempt} tries ({}: {})",
                    failed.len(),
                    pending.len(),
                    first.code(),
                    first.message().unwrap_or_default()
                )));
            }
            pending = failed
                .iter()
                .filter_map(|f| f.id().parse().ok())
                .filter(|i: &usize| *i < bodies.len())
                .collect();
            self.retry.pause(attempt - 1).await;
        }
    }
}

/// Splits `bodies` into batches SQS accepts, in order.
pub(crate) fn batches(bodies: &[String]) -> Vec<&[String]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, body) in bodies.iter().enumerate() {
        let full = i - start == BATCH_MESSAGES || (i > start && bytes + body.len() > BATCH_BYTES);
        if full {
            out.push(&bodies[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += body.len();
    }
    if start < bodies.len() {
        out.push(&bodies[start..]);
    }
    out
}

// Every method boxes its future, so that callers' futures stay shallow (see the crate docs).
impl MessageQueue for AwsQueue {
    async fn send(&self, queue: QueueName, bodies: Vec<String>) -> PortResult<()> {
        async move {
            let url = self.url(queue);
            for batch in batches(&bodies) {
                self.send_batch(url, batch).await?;
            }
            Ok(())
        }
        .boxed()
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_hold_ten_messages_and_stay_under_the_size_limit() {
        let small: Vec<String> = (0..23).map(|i| format!("m{i}")).collect();
        let sizes: Vec<usize> = batches(&small).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [10, 10, 3]);
        assert_eq!(batches(&small).concat(), small, "in order, nothing lost");

        let big: Vec<String> = (0..5).map(|_| "x".repeat(100 * 1024)).collect();
        let sizes: Vec<usize> = batches(&big).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [2, 2, 1]);
        assert!(batches(&[]).is_empty());
    }
}
