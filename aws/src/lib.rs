//! AWS adapters of the contact-import ports: [`DynamoStore`] (imports,
//! contacts, do-not-call), [`AwsObjects`] (S3) and [`AwsQueue`] (SQS).
//!
//! A function builds its pipeline with [`pipeline`], from the standard AWS
//! configuration (environment, role; `AWS_ENDPOINT_URL` points it at a
//! local server such as moto) and its [`AwsSettings`]; the command line
//! builds its clients with [`Clients::connect`], then the adapters with
//! [`Adapters::new`]. The table layout is described in
//! `docs/table-design.md`.
//!
//! Every port method boxes its future once. The SDK's futures, our retry
//! loops and the per-row concurrency nest deeply; unboxed, they made the
//! Lambdas' handler futures too deep for the compiler's layout queries.
//! One allocation per call is nothing next to a network round trip.

mod clients;
pub mod dynamo;
mod error;
mod objects;
mod queue;

pub use clients::{pipeline, Adapters, AwsSettings, Clients, ConfigError};
pub use dynamo::{create_table, DynamoStore};
pub use error::RetryPolicy;
pub use objects::{AwsObjects, PART_SIZE, TABLE_TAG};
pub use queue::AwsQueue;
