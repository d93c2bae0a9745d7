//! The finalizer Lambda: joins an import's report, writes its summary and
//! final status; chunks from the dead-letter queue are reported, not lost.

use aws_lambda_events::sqs::SqsEvent;
use contact_import_lambda::{aws_pipeline, handle_finalizer, init_tracing, Config};
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    let config = Config::from_env()?;
    let pipeline = aws_pipeline(&config).await;
    let handler = |event: LambdaEvent<SqsEvent>| async {
        Ok::<_, Error>(handle_finalizer(&pipeline, event.payload).await)
    };
    lambda_runtime::run(service_fn(handler)).await
}
