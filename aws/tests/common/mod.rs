//! What the moto-backed tests share: the configuration and fresh tables.

#![allow(dead_code)]

use aws_config::{BehaviorVersion, SdkConfig};
use contact_import_aws::{create_table, Clients, DynamoStore};

/// The standard AWS configuration, which `scripts/test` points at moto.
pub async fn sdk_config() -> SdkConfig {
    if std::env::var_os("AWS_ENDPOINT_URL").is_none() {
        panic!("these tests need moto: run scripts/test");
    }
    aws_config::load_defaults(BehaviorVersion::latest()).await
}

pub async fn clients() -> Clients {
    Clients::new(&sdk_config().await)
}

/// A name no earlier run used.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{prefix}-{nanos}-{}", NEXT.fetch_add(1, Ordering::SeqCst))
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

/// A store on a table of its own, with a client of the calling test's runtime.
pub async fn store() -> DynamoStore {
    let clients = clients().await;
    let table = new_table(&clients).await;
    DynamoStore::new(clients.dynamodb, table)
}
