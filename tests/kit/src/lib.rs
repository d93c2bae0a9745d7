//! What the test targets share: resources of their own on moto (which
//! `scripts/test` starts and points `AWS_ENDPOINT_URL` at), names no run
//! used before, and contacts to write.

use aws_config::{BehaviorVersion, SdkConfig};
use contact_import_aws::{create_table, AwsSettings, Clients, DynamoStore};

/// The contract suite's own: one definition for every test.
pub use contact_import_core::ports::contract::{contact, unique};

/// Stops a test that needs moto, saying how to run it, when none is set up.
pub fn require_moto() {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL").is_some(),
        "these tests need moto: run scripts/test"
    );
}

/// The standard AWS configuration, pointed at moto.
pub async fn sdk_config() -> SdkConfig {
    require_moto();
    aws_config::load_defaults(BehaviorVersion::latest()).await
}

pub async fn clients() -> Clients {
    Clients::new(&sdk_config().await)
}

/// A new table. Each case gets its own: moto undoes a cancelled transaction
/// by restoring a copy of the whole table taken when it began, which would
/// undo whatever other cases wrote to a shared table in the meantime.
pub async fn new_table(clients: &Clients) -> String {
    let name = unique("contact-import");
    create_table(&clients.dynamodb, &name)
        .await
        .expect("creating the table on moto");
    name
}

/// A store on a table of its own.
pub async fn store() -> DynamoStore {
    let clients = clients().await;
    let table = new_table(&clients).await;
    DynamoStore::new(clients.dynamodb, table)
}

/// A new queue named after `name`; its URL.
pub async fn new_queue(clients: &Clients, name: &str) -> String {
    clients
        .sqs
        .create_queue()
        .queue_name(unique(name))
        .send()
        .await
        .expect("creating a queue on moto")
        .queue_url()
        .expect("a queue has a URL")
        .to_owned()
}

/// What a deployed stack's functions are given: a bucket, a table and the
/// two queues, all new.
pub async fn new_resources(clients: &Clients) -> AwsSettings {
    let bucket = unique("imports");
    clients
        .s3
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("creating the bucket on moto");
    AwsSettings {
        bucket,
        table: new_table(clients).await,
        chunk_queue_url: new_queue(clients, "chunks").await,
        finalize_queue_url: new_queue(clients, "finalize").await,
    }
}
