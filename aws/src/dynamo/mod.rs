//! [`ImportStore`], [`ContactStore`] and [`DoNotCallStore`] on one DynamoDB
//! table. The design (items, keys, indexes, costs) is in
//! `docs/table-design.md`; the keys themselves are built in [`keys`] only.
//!
//! [`ImportStore`]: contact_import_core::ports::ImportStore
//! [`ContactStore`]: contact_import_core::ports::ContactStore
//! [`DoNotCallStore`]: contact_import_core::ports::DoNotCallStore

mod contacts;
mod dnc;
mod imports;
pub mod item_keys;

use std::collections::{HashMap, HashSet};
use std::fmt::Display;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ReturnValuesOnConditionCheckFailure, ScalarAttributeType, TableStatus,
    TimeToLiveSpecification,
};
use contact_import_core::ports::{PortError, PortResult};

use crate::error::{sdk_error, service_code, RetryPolicy};

pub use imports::import_item;

/// An item as the SDK holds it.
pub type Item = HashMap<String, AttributeValue>;

/// Attribute names.
pub mod attr {
    pub const PK: &str = "pk";
    pub const SK: &str = "sk";
    pub(crate) const BODY: &str = "body";
    pub(crate) const VERSION: &str = "ver";
    pub(crate) const CONTACT_ID: &str = "contact_id";
    pub const IMPORT_ID: &str = "import_id";
    pub(crate) const ROW: &str = "row";
    pub(crate) const SCOPE: &str = "scope";
    pub(crate) const PHONE: &str = "phone";
    pub const EXPIRES_AT: &str = "expires_at";
    pub(crate) const GSI1_PK: &str = "gsi1pk";
    pub(crate) const GSI1_SK: &str = "gsi1sk";
    pub(crate) const GSI2_PK: &str = "gsi2pk";
    pub(crate) const GSI2_SK: &str = "gsi2sk";
    pub(crate) const GSI3_PK: &str = "gsi3pk";
    pub(crate) const GSI3_SK: &str = "gsi3sk";
}

/// Index names.
pub(crate) const GSI1: &str = "gsi1";
pub(crate) const GSI2: &str = "gsi2";
pub(crate) const GSI3: &str = "gsi3";

/// Every global secondary index: its name, partition key and sort key.
pub const INDEXES: [(&str, &str, &str); 3] = [
    (GSI1, attr::GSI1_PK, attr::GSI1_SK),
    (GSI2, attr::GSI2_PK, attr::GSI2_SK),
    (GSI3, attr::GSI3_PK, attr::GSI3_SK),
];

/// How long a chunk marker is kept: long after its import has finished.
pub(crate) const CHUNK_MARKER_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// Per-row requests one store call keeps in flight: about 16 / latency
/// requests a second for one importer (docs/aws-cost.md).
const IN_FLIGHT: usize = 16;

/// What a conditional put of a new item found.
enum PutNew {
    Written,
    /// An item with its key existed: the item, or `None` when the server
    /// left it out of its answer.
    Exists(Option<Item>),
}

/// Every store port on one DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
    retry: RetryPolicy,
    /// The (tenant, scope) pairs this process has already put in the
    /// registry, so that only the first batch of a scope pays for it.
    registered: Arc<Mutex<HashSet<(String, String)>>>,
}

impl DynamoStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
            retry: RetryPolicy::default(),
            registered: Arc::default(),
        }
    }

    /// How throttled calls, conflicts and unprocessed batch parts are retried.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &aws_sdk_dynamodb::Client {
        &self.client
    }

    fn what(&self) -> String {
        format!("table {}", self.table)
    }

    /// Writes `item` unless an item with its key exists; true when it was new.
    async fn put_if_absent(&self, item: Item, operation: &str) -> PortResult<bool> {
        Ok(matches!(
            self.put_new(&item, operation).await?,
            PutNew::Written
        ))
    }

    /// Puts `item` unless its key exists.
    async fn put_new(&self, item: &Item, operation: &str) -> PortResult<PutNew> {
        self.retry
            .run(|| async {
                let result = self
                    .client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(item.clone()))
                    .condition_expression("attribute_not_exists(#pk)")
                    .expression_attribute_names("#pk", attr::PK)
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .send()
                    .await;
                match result {
                    Ok(_) => Ok(PutNew::Written),
                    Err(err) => match err.as_service_error() {
                        Some(PutItemError::ConditionalCheckFailedException(failed)) => {
                            Ok(PutNew::Exists(failed.item.clone()))
                        }
                        _ => Err(self.err(operation)(err)),
                    },
                }
            })
            .await
    }

    /// Maps an SDK error of `operation` on this table.
    fn err<E>(
        &self,
        operation: &str,
    ) -> impl Fn(
        aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
    ) -> PortError
           + '_
    where
        E: aws_sdk_dynamodb::error::ProvideErrorMetadata
            + std::error::Error
            + Send
            + Sync
            + 'static,
    {
        let operation = operation.to_owned();
        move |e| sdk_error(&operation, &self.what(), e)
    }

    /// The items `query` finds, page after page as the SDK's paginator
    /// reads them, up to about `most` (a page's worth past it at most).
    /// A read has no effect, so on a passing failure it runs again whole.
    async fn query_items(
        &self,
        what: &str,
        query: impl Fn() -> QueryFluentBuilder,
        most: Option<usize>,
    ) -> PortResult<Vec<Item>> {
        self.retry
            .run(|| async {
                let mut items = Vec::new();
                let mut pages = query().into_paginator().send();
                while let Some(page) = pages.next().await {
                    items.extend(page.map_err(self.err(what))?.items.unwrap_or_default());
                    if most.is_some_and(|most| items.len() >= most) {
                        break;
                    }
                }
                Ok(items)
            })
            .await
    }

    /// A strongly consistent read of one item.
    async fn get_item(&self, pk: &str, sk: &str) -> PortResult<Option<Item>> {
        self.retry
            .run(|| async {
                self.client
                    .get_item()
                    .table_name(&self.table)
                    .key(attr::PK, s(pk))
                    .key(attr::SK, s(sk))
                    .consistent_read(true)
                    .send()
                    .await
                    .map_err(self.err("GetItem"))
            })
            .await
            .map(|output| output.item)
    }
}

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: impl Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(crate) fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

pub(crate) fn get_n<T: FromStr>(item: &Item, name: &str) -> Option<T> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

/// A JSON attribute, parsed, or a permanent error naming it.
pub(crate) fn get_json<T: serde::de::DeserializeOwned>(item: &Item, name: &str) -> PortResult<T> {
    let text = get_s(item, name).ok_or_else(|| corrupt(item, &format!("no `{name}`")))?;
    serde_json::from_str(text).map_err(|e| corrupt(item, &format!("`{name}`: {e}")))
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> PortResult<String> {
    serde_json::to_string(value)
        .map_err(|e| PortError::Permanent(format!("cannot serialise a stored value: {e}")))
}

pub(crate) fn corrupt(item: &Item, what: &str) -> PortError {
    PortError::Permanent(format!(
        "item {}/{} is not as this store writes it: {what}",
        get_s(item, attr::PK).unwrap_or("?"),
        get_s(item, attr::SK).unwrap_or("?"),
    ))
}

/// A fresh version token for optimistic locking: never reused, so a writer
/// that read an old version can never mistake a newer write for it.
pub(crate) fn fresh_token() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "{:x}-{:x}-{:x}",
        nanos,
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The approximate size DynamoDB bills for an item: attribute names plus
/// values (strings as UTF-8, numbers about one byte per two digits).
#[cfg(test)]
pub(crate) fn item_size(item: &Item) -> usize {
    fn value_size(value: &AttributeValue) -> usize {
        match value {
            AttributeValue::S(s) => s.len(),
            AttributeValue::N(n) => n.len().div_ceil(2) + 1,
            AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
            AttributeValue::B(b) => b.as_ref().len(),
            AttributeValue::L(list) => 3 + list.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
            AttributeValue::M(map) => {
                3 + map
                    .iter()
                    .map(|(k, v)| 1 + k.len() + value_size(v))
                    .sum::<usize>()
            }
            AttributeValue::Ss(values) => values.iter().map(String::len).sum(),
            AttributeValue::Ns(values) => values.iter().map(|n| n.len().div_ceil(2) + 1).sum(),
            AttributeValue::Bs(values) => values.iter().map(|b| b.as_ref().len()).sum(),
            _ => 0,
        }
    }
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

/// Creates the table of a [`DynamoStore`] (on-demand billing, the three
/// indexes, TTL on `expires_at`) and waits until it is active. A table that
/// already exists is left as it is.
pub async fn create_table(client: &aws_sdk_dynamodb::Client, table: &str) -> PortResult<()> {
    let what = format!("table {table}");
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .map_err(|e| PortError::Permanent(format!("key schema of {what}: {e}")))
    };
    let string_attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| PortError::Permanent(format!("attributes of {what}: {e}")))
    };
    let index = |name: &str, pk: &str, sk: &str, projection: Projection| {
        GlobalSecondaryIndex::builder()
            .index_name(name)
            .key_schema(key(pk, KeyType::Hash)?)
            .key_schema(key(sk, KeyType::Range)?)
            .projection(projection)
            .build()
            .map_err(|e| PortError::Permanent(format!("index {name} of {what}: {e}")))
    };
    // Contacts are listed from their body alone: projecting only it keeps
    // claim and version updates from costing index writes.
    let body_only = Projection::builder()
        .projection_type(ProjectionType::Include)
        .non_key_attributes(attr::BODY)
        .build();
    let everything = Projection::builder()
        .projection_type(ProjectionType::All)
        .build();
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(attr::PK, KeyType::Hash)?)
        .key_schema(key(attr::SK, KeyType::Range)?);
    for (name, pk, sk) in INDEXES {
        // The imports index (GSI2) serves whole records.
        let projection = match name {
            GSI2 => everything.clone(),
            _ => body_only.clone(),
        };
        request = request.global_secondary_indexes(index(name, pk, sk, projection)?);
    }
    let index_keys = INDEXES.iter().flat_map(|&(_, pk, sk)| [pk, sk]);
    for name in [attr::PK, attr::SK].into_iter().chain(index_keys) {
        request = request.attribute_definitions(string_attr(name)?);
    }
    match request.send().await {
        Ok(_) => {}
        Err(e) if service_code(&e) == Some("ResourceInUseException") => {}
        Err(e) => return Err(sdk_error("CreateTable", &what, e)),
    }
    let mut active = false;
    for _ in 0..300 {
        let described = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| sdk_error("DescribeTable", &what, e))?;
        if described.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            active = true;
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    if !active {
        return Err(PortError::Transient(format!("{what} is not active yet")));
    }
    let ttl = TimeToLiveSpecification::builder()
        .enabled(true)
        .attribute_name(attr::EXPIRES_AT)
        .build()
        .map_err(|e| PortError::Permanent(format!("TTL of {what}: {e}")))?;
    match client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(ttl)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        // Already on: asking again is refused.
        Err(e)
            if service_code(&e) == Some("ValidationException")
                && format!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(&e))
                    .contains("already enabled") =>
        {
            Ok(())
        }
        Err(e) => Err(sdk_error("UpdateTimeToLive", &what, e)),
    }
}
