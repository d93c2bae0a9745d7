//! SDK errors as port errors, and the backoff our own retries use.
//!
//! The SDK already retries throttling and 5xx a few times inside each call
//! (standard retry mode). What it cannot retry is what only we can see: a
//! transaction cancelled by a conflict, the unprocessed part of a batch, the
//! failed entries of an SQS batch. [`RetryPolicy`] paces those, and also
//! gives a throttled call a few more tries with a longer wait before the
//! error goes back to the caller as [`PortError::Transient`].

use std::fmt::Debug;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use contact_import_core::ports::{PortError, PortResult};

/// Error codes after which trying again can help, whichever service sent them.
const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "LimitExceededException",
    "TransactionConflictException",
    "TransactionInProgressException",
    "InternalServerError",
    "InternalFailure",
    "InternalError",
    "ServiceUnavailable",
    "SlowDown",
    "RequestTimeout",
    "RequestTimeoutException",
];

/// Whether an error code names a temporary condition.
pub(crate) fn is_transient_code(code: &str) -> bool {
    TRANSIENT_CODES.contains(&code)
}

/// Maps an SDK error to a port error whose message names the operation and
/// what it was working on (`what`: a table, a bucket, a queue).
///
/// Timeouts, lost connections, unreadable responses, throttling, conflicts
/// and 5xx are transient; everything else (validation, a missing table,
/// access denied, a malformed request) is permanent.
pub(crate) fn sdk_error<E>(operation: &str, what: &str, err: SdkError<E, HttpResponse>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let transient = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(context) => {
            let status = context.raw().status().as_u16();
            status >= 500 || status == 429 || context.err().code().is_some_and(is_transient_code)
        }
        _ => false,
    };
    let message = format!("{operation} on {what}: {}", DisplayErrorContext(&err));
    if transient {
        PortError::Transient(message)
    } else {
        PortError::Permanent(message)
    }
}

/// The code of a service error, if the error is one.
pub(crate) fn service_code<E, R>(err: &SdkError<E, R>) -> Option<&str>
where
    E: ProvideErrorMetadata,
    R: Debug,
{
    match err {
        SdkError::ServiceError(context) => context.err().code(),
        _ => None,
    }
}

/// How often and how patiently our own retries try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all, the first included; at least 1.
    pub attempts: u32,
    /// The wait before the second try; it doubles with every further try.
    pub base_delay: Duration,
    /// The longest wait between two tries.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 6,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// A policy for tests: the same number of tries, (almost) no waiting.
    pub fn immediate(attempts: u32) -> Self {
        RetryPolicy {
            attempts,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
        }
    }

    /// The wait after failed try number `attempt` (0 is the first try):
    /// exponential, capped, with "equal jitter" (half the wait fixed, half
    /// random) so that concurrent writers that failed together do not come
    /// back together, and none comes back at once.
    pub(crate) fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self
            .base_delay
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max_delay);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        if nanos == 0 {
            return ceiling;
        }
        // Never zero, never above the ceiling.
        Duration::from_nanos(nanos / 2 + jitter() % (nanos / 2 + 1))
    }

    /// Waits before try number `attempt + 1`.
    pub(crate) async fn pause(&self, attempt: u32) {
        tokio::time::sleep(self.delay(attempt)).await;
    }

    /// Runs `call` until it succeeds, fails permanently, or has been tried
    /// `attempts` times; the last error is returned.
    pub(crate) async fn run<T, F, Fut>(&self, mut call: F) -> PortResult<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = PortResult<T>>,
    {
        let mut attempt = 0;
        loop {
            match call().await {
                Err(err) if err.is_retryable() && attempt + 1 < self.attempts.max(1) => {
                    self.pause(attempt).await;
                    attempt += 1;
                }
                result => return result,
            }
        }
    }
}

/// A cheap pseudo-random number for jitter (xorshift over a clock-seeded state).
fn jitter() -> u64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let mut x = STATE.load(Ordering::Relaxed);
    if x == 0 {
        x = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9_7f4a_7c15)
            | 1;
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    STATE.store(x, Ordering::Relaxed);
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_stay_under_the_cap() {
        let policy = RetryPolicy {
            attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        for attempt in 0..10 {
            let delay = policy.delay(attempt);
            let ceiling = Duration::from_millis(100 << attempt.min(4)).min(Duration::from_secs(1));
            assert!(delay <= ceiling, "{attempt}: {delay:?} > {ceiling:?}");
            assert!(
                delay >= ceiling / 2,
                "{attempt}: {delay:?} < half of {ceiling:?}"
            );
        }
    }

    #[tokio::test]
    async fn run_retries_transient_errors_only() {
        let policy = RetryPolicy::immediate(3);
        let mut calls = 0;
        let result: PortResult<()> = policy
            .run(|| {
                calls += 1;
                async { Err(PortError::Transient("busy".into())) }
            })
            .await;
        assert_eq!(result, Err(PortError::Transient("busy".into())));
        assert_eq!(calls, 3, "tried as often as the policy says");

        let mut calls = 0;
        let result: PortResult<()> = policy
            .run(|| {
                calls += 1;
                async { Err(PortError::Permanent("bad".into())) }
            })
            .await;
        assert!(matches!(result, Err(PortError::Permanent(_))));
        assert_eq!(calls, 1, "a permanent error is not retried");

        let mut calls = 0;
        let result = policy
            .run(|| {
                calls += 1;
                let n = calls;
                async move {
                    if n < 2 {
                        Err(PortError::Transient("busy".into()))
                    } else {
                        Ok(n)
                    }
                }
            })
            .await;
        assert_eq!(result, Ok(2));
    }

    #[test]
    fn transient_codes_are_recognised() {
        assert!(is_transient_code("ProvisionedThroughputExceededException"));
        assert!(is_transient_code("TransactionConflictException"));
        assert!(!is_transient_code("ValidationException"));
        assert!(!is_transient_code("ResourceNotFoundException"));
        assert!(!is_transient_code("AccessDeniedException"));
    }
}
