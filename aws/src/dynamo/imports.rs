//! Import records and chunk markers.
//!
//! The record item holds the record as created (`body`, JSON) plus one
//! top-level attribute for everything that changes afterwards: the fields an
//! [`ImportUpdate`] carries (SET one by one, so two updates never overwrite
//! each other's fields) and the counters (ADDed by chunk commits, so commits
//! never read-modify-write). A read lays the attributes over the body.

use futures_util::FutureExt;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};
use contact_import_core::imports::{ChunkResult, ImportRecord, ImportStatus, ImportUpdate};
use contact_import_core::ports::{ChunkCommit, ImportStore, PortError, PortResult};
use contact_import_core::rules::outcome::{ErrorCode, Tally};

use super::item_keys::{self, IMPORT_SK};
use super::{
    attr, corrupt, fresh_token, get_json, get_n, get_s, n, s, to_json, DynamoStore, Item,
    CHUNK_MARKER_TTL, GSI2,
};

const STATUS: &str = "status";
const UPDATED_AT: &str = "updated_at";
const FINISHED_AT: &str = "finished_at";
const FAILURE: &str = "failure";
const FACTS: &str = "facts";
const PLAN: &str = "plan";
const DATA_KEY: &str = "data_key";
const REPORT_KEY: &str = "report_key";
const SUMMARY_KEY: &str = "summary_key";
const ROWS: &str = "rows";
const CHUNKS_TOTAL: &str = "chunks_total";
const CHUNK_ROWS: &str = "chunk_rows";
const CHUNKS_DONE: &str = "chunks_done";
const PROCESSED: &str = "processed";
const INSERTED: &str = "inserted";
const UPDATED: &str = "updated";
const SKIPPED: &str = "skipped";
const FAILED: &str = "failed";
const INDEX: &str = "index";

/// The attribute of one reason's counter.
fn reason_attr(code: ErrorCode) -> String {
    format!("r_{}", code.as_str())
}

/// The counters of a tally as attributes (reasons only where the tally has them).
fn counter_values(tally: &Tally) -> Vec<(String, u64)> {
    let mut values = vec![
        (PROCESSED.to_owned(), tally.processed),
        (INSERTED.to_owned(), tally.inserted),
        (UPDATED.to_owned(), tally.updated),
        (SKIPPED.to_owned(), tally.skipped),
        (FAILED.to_owned(), tally.failed),
    ];
    values.extend(
        tally
            .reasons
            .iter()
            .map(|(code, count)| (reason_attr(*code), *count)),
    );
    values
}

fn status_text(status: ImportStatus) -> String {
    status.as_str().to_owned()
}

/// The item of a new import record.
pub fn import_item(record: &ImportRecord) -> PortResult<Item> {
    let tenant = item_keys::tenant(&record.tenant)?;
    let mut item = Item::from([
        (
            attr::PK.to_owned(),
            s(item_keys::import_pk(tenant, &record.import_id)),
        ),
        (attr::SK.to_owned(), s(IMPORT_SK)),
        (attr::BODY.to_owned(), s(to_json(record)?)),
        (attr::GSI2_PK.to_owned(), s(item_keys::gsi2_pk(tenant))),
        (
            attr::GSI2_SK.to_owned(),
            s(item_keys::gsi2_sk(&record.created_at, &record.import_id)),
        ),
        (STATUS.to_owned(), s(status_text(record.status))),
        (UPDATED_AT.to_owned(), s(&record.updated_at)),
        (ROWS.to_owned(), n(record.rows)),
        (CHUNKS_TOTAL.to_owned(), n(record.chunks_total)),
        (CHUNKS_DONE.to_owned(), n(record.chunks_done)),
    ]);
    for (name, value) in counter_values(&record.tally) {
        item.insert(name, n(value));
    }
    Ok(item)
}

/// The attributes an update SETs: exactly what [`ImportRecord::apply`]
/// changes, field by field.
pub(crate) fn update_values(
    update: &ImportUpdate,
) -> PortResult<Vec<(&'static str, AttributeValue)>> {
    let mut values = vec![
        (STATUS, s(status_text(update.status))),
        (UPDATED_AT, s(&update.now)),
    ];
    if update.status.is_final() {
        values.push((FINISHED_AT, s(&update.now)));
    }
    if let Some(failure) = &update.failure {
        values.push((FAILURE, s(to_json(failure)?)));
    }
    if let Some(facts) = &update.facts {
        values.push((FACTS, s(to_json(facts)?)));
    }
    if let Some(plan) = &update.plan {
        values.push((PLAN, s(to_json(plan)?)));
    }
    for (name, value) in [
        (DATA_KEY, &update.data_key),
        (REPORT_KEY, &update.report_key),
        (SUMMARY_KEY, &update.summary_key),
    ] {
        if let Some(value) = value {
            values.push((name, s(value)));
        }
    }
    if let Some(rows) = update.rows {
        values.push((ROWS, n(rows)));
    }
    if let Some(chunks) = update.chunks_total {
        values.push((CHUNKS_TOTAL, n(chunks)));
    }
    if let Some(chunk_rows) = update.chunk_rows {
        values.push((CHUNK_ROWS, n(chunk_rows)));
    }
    Ok(values)
}

use aws_sdk_dynamodb::types::AttributeValue;

/// The record an item holds: its body with the top-level attributes laid over.
pub(crate) fn record_from_item(item: &Item) -> PortResult<ImportRecord> {
    let mut record: ImportRecord = get_json(item, attr::BODY)?;
    if let Some(status) = get_s(item, STATUS) {
        record.status = serde_json::from_value(serde_json::Value::String(status.to_owned()))
            .map_err(|e| corrupt(item, &format!("status: {e}")))?;
    }
    let text = |name: &str| get_s(item, name).map(str::to_owned);
    if let Some(at) = text(UPDATED_AT) {
        record.updated_at = at;
    }
    if let Some(at) = text(FINISHED_AT) {
        record.finished_at = Some(at);
    }
    if item.contains_key(FAILURE) {
        record.failure = Some(get_json(item, FAILURE)?);
    }
    if item.contains_key(FACTS) {
        record.facts = Some(get_json(item, FACTS)?);
    }
    if item.contains_key(PLAN) {
        record.plan = Some(get_json(item, PLAN)?);
    }
    for (name, field) in [
        (DATA_KEY, &mut record.data_key),
        (REPORT_KEY, &mut record.report_key),
        (SUMMARY_KEY, &mut record.summary_key),
    ] {
        if let Some(value) = text(name) {
            *field = Some(value);
        }
    }
    if let Some(rows) = get_n(item, ROWS) {
        record.rows = rows;
    }
    if let Some(total) = get_n(item, CHUNKS_TOTAL) {
        record.chunks_total = total;
    }
    if let Some(done) = get_n(item, CHUNKS_DONE) {
        record.chunks_done = done;
    }
    if let Some(chunk_rows) = get_n(item, CHUNK_ROWS) {
        record.chunk_rows = chunk_rows;
    }
    let tally = &mut record.tally;
    for (name, field) in [
        (PROCESSED, &mut tally.processed),
        (INSERTED, &mut tally.inserted),
        (UPDATED, &mut tally.updated),
        (SKIPPED, &mut tally.skipped),
        (FAILED, &mut tally.failed),
    ] {
        if let Some(value) = get_n(item, name) {
            *field = value;
        }
    }
    for code in ErrorCode::ALL {
        if let Some(count) = get_n(item, &reason_attr(code)) {
            tally.reasons.insert(code, count);
        }
    }
    Ok(record)
}

/// Cancellation reasons after which the same transaction can succeed.
const RETRYABLE_REASONS: &[&str] = &[
    "TransactionConflict",
    "ThrottlingError",
    "ProvisionedThroughputExceeded",
    "RequestLimitExceeded",
    "InternalServerError",
];

/// What one try of a chunk commit came to.
enum Commit {
    Done,
    AlreadyCommitted,
    NoImport,
    /// Worth another try; `same_token`: the outcome is unknown, so the next
    /// try must be recognisable as the same request.
    Retry {
        reason: String,
        same_token: bool,
    },
}

impl DynamoStore {
    async fn import_item_of(&self, tenant: &str, import_id: &str) -> PortResult<Option<Item>> {
        self.get_item(&item_keys::import_pk(tenant, import_id), IMPORT_SK)
            .await
    }

    fn no_import(&self, tenant: &str, import_id: &str) -> PortError {
        PortError::Permanent(format!(
            "no import {import_id} for tenant {tenant} in {}",
            self.what()
        ))
    }

    /// The chunk marker and the counter increment, as one transaction.
    fn commit_items(
        &self,
        tenant: &str,
        import_id: &str,
        result: &ChunkResult,
    ) -> PortResult<[TransactWriteItem; 2]> {
        let pk = item_keys::import_pk(tenant, import_id);
        let expires_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .saturating_add(CHUNK_MARKER_TTL)
            .as_secs();
        let build = |e: aws_sdk_dynamodb::error::BuildError| {
            PortError::Permanent(format!("a chunk commit on {}: {e}", self.what()))
        };
        let marker = Put::builder()
            .table_name(&self.table)
            .item(attr::PK, s(&pk))
            .item(attr::SK, s(item_keys::chunk_sk(result.index)))
            .item(attr::BODY, s(to_json(result)?))
            .item(INDEX, n(result.index))
            .item(attr::EXPIRES_AT, n(expires_at))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", attr::PK)
            .build()
            .map_err(build)?;
        let mut adds = vec![format!("#c0 :c0")];
        let mut counters = Update::builder()
            .table_name(&self.table)
            .key(attr::PK, s(&pk))
            .key(attr::SK, s(IMPORT_SK))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_names("#c0", CHUNKS_DONE)
            .expression_attribute_values(":c0", n(1));
        for (i, (name, value)) in counter_values(&result.tally).into_iter().enumerate() {
            let i = i + 1;
            adds.push(format!("#c{i} :c{i}"));
            counters = counters
                .expression_attribute_names(format!("#c{i}"), name)
                .expression_attribute_values(format!(":c{i}"), n(value));
        }
        let counters = counters
            .update_expression(format!("ADD {}", adds.join(", ")))
            .build()
            .map_err(build)?;
        Ok([
            TransactWriteItem::builder().put(marker).build(),
            TransactWriteItem::builder().update(counters).build(),
        ])
    }

    async fn try_commit(&self, items: &[TransactWriteItem; 2], token: &str) -> PortResult<Commit> {
        let sent = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items.to_vec()))
            .client_request_token(token)
            .send()
            .await;
        let err = match sent {
            Ok(_) => return Ok(Commit::Done),
            Err(err) => err,
        };
        if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
            err.as_service_error()
        {
            let codes: Vec<&str> = cancelled
                .cancellation_reasons()
                .iter()
                .map(|r| r.code().unwrap_or("None"))
                .collect();
            return Ok(match codes.as_slice() {
                ["ConditionalCheckFailed", ..] => Commit::AlreadyCommitted,
                [_, "ConditionalCheckFailed", ..] => Commit::NoImport,
                codes if codes.iter().any(|c| RETRYABLE_REASONS.contains(c)) => Commit::Retry {
                    reason: format!("transaction cancelled ({})", codes.join(", ")),
                    same_token: false,
                },
                codes => {
                    return Err(PortError::Permanent(format!(
                        "TransactWriteItems on {}: cancelled ({})",
                        self.what(),
                        codes.join(", ")
                    )))
                }
            });
        }
        match self.err("TransactWriteItems")(err) {
            PortError::Transient(reason) => Ok(Commit::Retry {
                reason,
                same_token: true,
            }),
            permanent => Err(permanent),
        }
    }
}

// Every method boxes its future, so that callers' futures stay shallow (see the crate docs).
impl ImportStore for DynamoStore {
    /// A conditional put; also registers the destination's scope so that
    /// tenant-wide contact listings find it.
    async fn create_import(&self, record: &ImportRecord) -> PortResult<bool> {
        async move {
            let item = import_item(record)?;
            self.register_scope(&record.tenant, &record.spec.destination.scope())
                .await?;
            self.put_if_absent(item, "PutItem (create import)").await
        }
        .boxed()
        .await
    }

    async fn get_import(&self, tenant: &str, import_id: &str) -> PortResult<Option<ImportRecord>> {
        async move {
            let tenant = item_keys::tenant(tenant)?;
            self.import_item_of(tenant, import_id)
                .await?
                .map(|item| record_from_item(&item))
                .transpose()
        }
        .boxed()
        .await
    }

    async fn update_import(
        &self,
        tenant: &str,
        import_id: &str,
        from: ImportStatus,
        update: &ImportUpdate,
    ) -> PortResult<bool> {
        async move {
            let tenant = item_keys::tenant(tenant)?;
            let values = update_values(update)?;
            let set: Vec<String> = (0..values.len())
                .map(|i| format!("#u{i} = :u{i}"))
                .collect();
            self.retry
                .run(|| async {
                    let mut request = self
                        .client
                        .update_item()
                        .table_name(&self.table)
                        .key(attr::PK, s(item_keys::import_pk(tenant, import_id)))
                        .key(attr::SK, s(IMPORT_SK))
                        .update_expression(format!("SET {}", set.join(", ")))
                        .condition_expression("attribute_exists(#pk) AND #status = :from")
                        .expression_attribute_names("#pk", attr::PK)
                        .expression_attribute_names("#status", STATUS)
                        .expression_attribute_values(":from", s(status_text(from)));
                    for (i, (name, value)) in values.iter().enumerate() {
                        request = request
                            .expression_attribute_names(format!("#u{i}"), *name)
                            .expression_attribute_values(format!(":u{i}"), value.clone());
                    }
                    match request.send().await {
                        Ok(_) => Ok(true),
                        Err(e)
                            if e.as_service_error()
                                .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
                        {
                            Ok(false)
                        }
                        Err(e) => Err(self.err("UpdateItem (update import)")(e)),
                    }
                })
                .await
        }
        .boxed()
        .await
    }

    /// One transaction: the marker (only if absent) and the counters' ADD.
    /// A marker already there means the chunk was committed before: nothing
    /// changes and `newly_committed` is false. Conflicts and throttling are
    /// retried with backoff; a try whose outcome is unknown (a timeout) is
    /// retried with the same client request token, so that DynamoDB
    /// recognises it instead of reporting the chunk as committed before.
    async fn commit_chunk(
        &self,
        tenant: &str,
        import_id: &str,
        result: &ChunkResult,
    ) -> PortResult<ChunkCommit> {
        async move {
        let tenant = item_keys::tenant(tenant)?;
        let items = self.commit_items(tenant, import_id, result)?;
        let mut token = fresh_token();
        let mut attempt = 0;
        let newly_committed = loop {
            match self.try_commit(&items, &token).await? {
                Commit::Done => break true,
                Commit::AlreadyCommitted => break false,
                Commit::NoImport => return Err(self.no_import(tenant, import_id)),
                Commit::Retry { reason, same_token } => {
                    attempt += 1;
                    if attempt >= self.retry.attempts.max(1) {
                        return Err(PortError::Transient(format!(
                            "committing chunk {} of import {import_id} on {}: {reason}, after {attempt} tries",
                            result.index,
                            self.what()
                        )));
                    }
                    if !same_token {
                        token = fresh_token();
                    }
                    self.retry.pause(attempt - 1).await;
                }
            }
        };
        let item = self
            .import_item_of(tenant, import_id)
            .await?
            .ok_or_else(|| self.no_import(tenant, import_id))?;
        Ok(ChunkCommit {
            newly_committed,
            chunks_done: get_n(&item, CHUNKS_DONE).unwrap_or(0),
            chunks_total: get_n(&item, CHUNKS_TOTAL).unwrap_or(0),
        })
            }
        .boxed()
        .await
    }

    async fn chunk_results(&self, tenant: &str, import_id: &str) -> PortResult<Vec<ChunkResult>> {
        async move {
            let tenant = item_keys::tenant(tenant)?;
            let pk = item_keys::import_pk(tenant, import_id);
            let query = || {
                self.client
                    .query()
                    .table_name(&self.table)
                    .key_condition_expression("#pk = :pk AND begins_with(#sk, :chunk)")
                    .expression_attribute_names("#pk", attr::PK)
                    .expression_attribute_names("#sk", attr::SK)
                    .expression_attribute_values(":pk", s(&pk))
                    .expression_attribute_values(":chunk", s(item_keys::CHUNK_PREFIX))
                    .consistent_read(true)
            };
            let mut results = self
                .query_items("Query (chunk markers)", query, None)
                .await?
                .iter()
                .map(|item| get_json::<ChunkResult>(item, attr::BODY))
                .collect::<PortResult<Vec<_>>>()?;
            results.sort_by_key(|r| r.index);
            Ok(results)
        }
        .boxed()
        .await
    }

    /// Newest first, from GSI2 (eventually consistent, as every index read).
    async fn list_imports(&self, tenant: &str, limit: usize) -> PortResult<Vec<ImportRecord>> {
        async move {
            let tenant = item_keys::tenant(tenant)?;
            if limit == 0 {
                return Ok(Vec::new());
            }
            let query = || {
                self.client
                    .query()
                    .table_name(&self.table)
                    .index_name(GSI2)
                    .key_condition_expression("#pk = :pk")
                    .expression_attribute_names("#pk", attr::GSI2_PK)
                    .expression_attribute_values(":pk", s(item_keys::gsi2_pk(tenant)))
                    .scan_index_forward(false)
                    .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            };
            let mut records = self
                .query_items("Query (imports by time)", query, Some(limit))
                .await?
                .iter()
                .map(record_from_item)
                .collect::<PortResult<Vec<_>>>()?;
            records.truncate(limit);
            Ok(records)
        }
        .boxed()
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use contact_import_core::imports::ImportFailure;
    use contact_import_core::rules::outcome::WriteOutcome;
    use contact_import_core::rules::spec::ImportSpec;

    fn record() -> ImportRecord {
        let mut record = ImportRecord::accepted(
            "acme",
            "imp-1",
            "uploads/acme/a.csv",
            123,
            ImportSpec::default(),
            "2026-01-01T00:00:00Z",
        );
        record.tally.record_write(WriteOutcome::Inserted);
        record.tally.record_rejection(ErrorCode::NoConsent);
        record
    }

    /// What an UpdateItem SET of `values` does to `item`.
    fn set(item: &mut Item, values: Vec<(&'static str, AttributeValue)>) {
        for (name, value) in values {
            item.insert(name.to_owned(), value);
        }
    }

    #[test]
    fn a_new_item_reads_back_as_its_record() {
        let record = record();
        let item = import_item(&record).unwrap();
        assert_eq!(record_from_item(&item).unwrap(), record);
        assert_eq!(get_s(&item, attr::PK), Some("T#acme#I#imp-1"));
        assert_eq!(
            get_s(&item, attr::GSI2_SK),
            Some("2026-01-01T00:00:00Z#imp-1")
        );
        assert_eq!(get_n::<u64>(&item, "r_no_consent"), Some(1));
    }

    #[test]
    fn updates_set_what_apply_changes_and_nothing_else() {
        let mut expected = record();
        let mut item = import_item(&expected).unwrap();

        let mut first = ImportUpdate::to(ImportStatus::Importing, "2026-01-01T00:00:05Z");
        first.rows = Some(10);
        first.chunks_total = Some(2);
        first.data_key = Some("work/acme/imp-1/utf8.csv".into());
        set(&mut item, update_values(&first).unwrap());
        expected.apply(&first);
        assert_eq!(record_from_item(&item).unwrap(), expected);

        let mut last = ImportUpdate::to(ImportStatus::Failed, "2026-01-01T00:01:00Z");
        last.failure = Some(ImportFailure {
            code: "no_phone_column".into(),
            message: "No column holds phone numbers.".into(),
        });
        last.report_key = Some("reports/acme/imp-1/errors.csv".into());
        last.summary_key = Some("reports/acme/imp-1/summary.json".into());
        let values = update_values(&last).unwrap();
        assert!(
            !values
                .iter()
                .any(|(name, _)| *name == ROWS || *name == DATA_KEY),
            "fields the update does not carry are left alone"
        );
        set(&mut item, values);
        expected.apply(&last);
        let read = record_from_item(&item).unwrap();
        assert_eq!(read, expected);
        assert_eq!(read.rows, 10, "kept from the first update");
        assert_eq!(read.finished_at.as_deref(), Some("2026-01-01T00:01:00Z"));
    }

    #[test]
    fn counters_laid_over_the_body_win() {
        let record = record();
        let mut item = import_item(&record).unwrap();
        item.insert(CHUNKS_DONE.into(), n(3));
        item.insert(PROCESSED.into(), n(40));
        item.insert("r_invalid_phone".into(), n(7));
        let read = record_from_item(&item).unwrap();
        assert_eq!((read.chunks_done, read.tally.processed), (3, 40));
        assert_eq!(read.tally.reasons[&ErrorCode::InvalidPhone], 7);
        assert_eq!(read.tally.reasons[&ErrorCode::NoConsent], 1);
    }

    #[test]
    fn a_bad_tenant_builds_no_item() {
        let mut record = record();
        record.tenant = "a#b".into();
        assert!(matches!(import_item(&record), Err(PortError::Permanent(_))));
    }
}
