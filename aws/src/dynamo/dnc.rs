//! The tenants' do-not-call lists: one small item per (tenant, number).

use futures_util::FutureExt;
use std::collections::{BTreeSet, HashMap, HashSet};

use aws_sdk_dynamodb::types::KeysAndAttributes;
use contact_import_core::ports::{DoNotCallStore, PortError, PortResult};
use futures_util::stream::{self, StreamExt, TryStreamExt};

use super::item_keys::{self, DNC_SK};
use super::{attr, get_s, s, DynamoStore, Item, IN_FLIGHT};

/// BatchGetItem reads at most this many keys.
const BATCH_GET: usize = 100;

impl DynamoStore {
    /// The keys of `pks` that exist, reading in batches of 100 and
    /// retrying unprocessed keys with backoff.
    async fn existing_keys(&self, pks: Vec<String>) -> PortResult<HashSet<String>> {
        let mut found = HashSet::new();
        for group in pks.chunks(BATCH_GET) {
            let mut pending: Vec<Item> = group
                .iter()
                .map(|pk| {
                    Item::from([
                        (attr::PK.to_owned(), s(pk)),
                        (attr::SK.to_owned(), s(DNC_SK)),
                    ])
                })
                .collect();
            let mut attempt = 0;
            while !pending.is_empty() {
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut pending)))
                    .projection_expression("#pk")
                    .expression_attribute_names("#pk", attr::PK)
                    .consistent_read(true)
                    .build()
                    .map_err(|e| {
                        PortError::Permanent(format!("BatchGetItem on {}: {e}", self.what()))
                    })?;
                let output = self
                    .retry
                    .run(|| async {
                        self.client
                            .batch_get_item()
                            .request_items(&self.table, request.clone())
                            .send()
                            .await
                            .map_err(self.err("BatchGetItem (do-not-call)"))
                    })
                    .await?;
                for item in output
                    .responses
                    .as_ref()
                    .and_then(|r| r.get(&self.table))
                    .into_iter()
                    .flatten()
                {
                    if let Some(pk) = get_s(item, attr::PK) {
                        found.insert(pk.to_owned());
                    }
                }
                pending = output
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .map(|k| k.keys)
                    .unwrap_or_default();
                if !pending.is_empty() {
                    attempt += 1;
                    if attempt >= self.retry.attempts.max(1) {
                        return Err(PortError::Transient(format!(
                            "BatchGetItem on {}: {} keys still unprocessed after {attempt} tries",
                            self.what(),
                            pending.len()
                        )));
                    }
                    self.retry.pause(attempt - 1).await;
                }
            }
        }
        Ok(found)
    }

    /// Puts one number unless it is there; true when it was new.
    async fn add_one(&self, tenant: &str, number: &str) -> PortResult<bool> {
        let item = Item::from([
            (attr::PK.to_owned(), s(item_keys::dnc_pk(tenant, number))),
            (attr::SK.to_owned(), s(DNC_SK)),
            (attr::PHONE.to_owned(), s(number)),
        ]);
        self.put_if_absent(item, "PutItem (do-not-call)").await
    }
}

// Every method boxes its future, so that callers' futures stay shallow (see the crate docs).
impl DoNotCallStore for DynamoStore {
    async fn do_not_call(&self, tenant: &str, numbers: &[String]) -> PortResult<HashSet<String>> {
        async move {
            let tenant = item_keys::tenant(tenant)?;
            // BatchGetItem refuses a request that names one key twice.
            let by_key: HashMap<String, &String> = numbers
                .iter()
                .map(|number| (item_keys::dnc_pk(tenant, number), number))
                .collect();
            let mut pks: Vec<String> = by_key.keys().cloned().collect();
            pks.sort();
            let found = self.existing_keys(pks).await?;
            Ok(found
                .iter()
                .filter_map(|pk| by_key.get(pk).map(|n| (*n).clone()))
                .collect())
        }
        .boxed()
        .await
    }

    /// Conditional puts, 16 at a time; only the numbers not listed before count.
    async fn add_do_not_call(&self, tenant: &str, numbers: &[String]) -> PortResult<usize> {
        async move {
            let tenant = item_keys::tenant(tenant)?;
            let unique: BTreeSet<String> = numbers.iter().cloned().collect();
            let added: Vec<bool> = stream::iter(unique)
                .map(|number| async move { self.add_one(tenant, &number).await })
                .buffer_unordered(IN_FLIGHT)
                .try_collect()
                .await?;
            Ok(added.into_iter().filter(|new| *new).count())
        }
        .boxed()
        .await
    }
}
