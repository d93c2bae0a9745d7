//! The splitter Lambda: an upload under `uploads/<tenant>/` becomes an import
//! record and one queue message per chunk of rows.

use contact_import_lambda::{aws_pipeline, handle_uploads, init_tracing, Config, S3Notification};
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    let config = Config::from_env()?;
    let pipeline = aws_pipeline(&config).await;
    let handler = |event: LambdaEvent<S3Notification>| {
        handle_uploads(&pipeline, config.bucket(), event.payload)
    };
    lambda_runtime::run(service_fn(handler)).await
}
