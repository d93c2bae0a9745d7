//! Contacts, their dedupe keys, and the registry of each tenant's scopes.
//!
//! One partition per (tenant, scope, number): `T#<t>#N#<scope>#<e164>`.
//! - `#KEY`: the dedupe key: the contact it points to (`contact_id`) and,
//!   for the record, the (`import_id`, `row`) that last claimed it. In skip
//!   and update modes it also *is* that contact (`body`, the GSI1
//!   attributes, `ver`), so inserting a contact is one conditional put.
//! - `C#<contact_id>`: contacts that create mode adds beside the key.
//!
//! A `#KEY` item holds a contact itself when it has `gsi1sk` (= that
//! contact's id). It points at that contact when `contact_id` equals
//! `gsi1sk`, else at `C#<contact_id>`.
//!
//! A row's own contact (`contact_id_for` its import and row) is in its
//! number's partition: in `#KEY` when the row ran in skip or update mode, at
//! `C#<id>` in create mode. An import has one mode, so a row is always
//! written in the same one, and "its own contact exists already" is one look
//! at the item its mode writes.

use std::collections::{HashMap, VecDeque};

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use contact_import_core::ports::{
    contact_id_for, ContactFilter, ContactPage, ContactStore, ContactWrite, PortError, PortResult,
    StoredContact, WriteTarget,
};
use contact_import_core::rules::outcome::WriteOutcome;
use contact_import_core::rules::spec::DuplicateMode;
use futures_util::stream::{self, StreamExt, TryStreamExt};
use futures_util::FutureExt;

use super::item_keys::{self, KEY_SK, SHARDS};
use super::{
    attr, corrupt, fresh_token, get_s, n, s, to_json, DynamoStore, Item, PutNew, GSI1, GSI3,
    IN_FLIGHT,
};

/// Read-decide-write rounds for one row before contention counts as transient.
const MAX_ROUNDS: u32 = 10;

/// One row, with everything its items need.
struct Own<'a> {
    target: WriteTarget<'a>,
    write: &'a ContactWrite,
    contact_id: String,
    pk: String,
}

impl<'a> Own<'a> {
    fn new(target: WriteTarget<'a>, write: &'a ContactWrite) -> Self {
        Own {
            target,
            write,
            contact_id: contact_id_for(target.import_id, write.row),
            pk: item_keys::number_pk(target.tenant, target.scope, &write.contact.phone),
        }
    }

    fn gsi1_pk(&self) -> String {
        item_keys::gsi1_pk(
            self.target.tenant,
            self.target.scope,
            item_keys::shard(&self.write.contact.phone),
        )
    }

    fn gsi3_pk(&self) -> String {
        item_keys::gsi3_pk(self.target.tenant, self.target.import_id, self.target.scope)
    }

    /// The row as a new contact of its own.
    fn stored(&self) -> StoredContact {
        StoredContact {
            contact_id: self.contact_id.clone(),
            scope: self.target.scope.to_owned(),
            import_id: self.target.import_id.to_owned(),
            row: self.write.row,
            contact: self.write.contact.clone(),
        }
    }

    /// The attributes of a contact item (embedded in `#KEY` or on its own).
    fn contact_attrs(&self, sk: String, stored: &StoredContact) -> PortResult<Item> {
        Ok(Item::from([
            (attr::PK.to_owned(), s(&self.pk)),
            (attr::SK.to_owned(), s(sk)),
            (attr::BODY.to_owned(), s(to_json(stored)?)),
            (attr::VERSION.to_owned(), s(fresh_token())),
            (attr::GSI1_PK.to_owned(), s(self.gsi1_pk())),
            (attr::GSI1_SK.to_owned(), s(&stored.contact_id)),
        ]))
    }

    /// `#KEY` claimed by this row, holding this row's contact.
    fn claim_item(&self) -> PortResult<Item> {
        let mut item = self.contact_attrs(KEY_SK.to_owned(), &self.stored())?;
        item.insert(attr::CONTACT_ID.to_owned(), s(&self.contact_id));
        item.insert(attr::IMPORT_ID.to_owned(), s(self.target.import_id));
        item.insert(attr::ROW.to_owned(), n(self.write.row));
        Ok(item)
    }

    /// `C#<own id>`: this row's contact beside the key.
    fn contact_item(&self) -> PortResult<Item> {
        self.contact_attrs(item_keys::contact_sk(&self.contact_id), &self.stored())
    }
}

/// A `#KEY` item as read.
#[derive(Debug)]
struct Key {
    /// The contact the key points to.
    contact_id: String,
    /// The id of the contact the item holds itself, if any.
    embedded: Option<String>,
    body: Option<String>,
    version: Option<String>,
}

impl Key {
    fn parse(item: &Item) -> PortResult<Key> {
        let text = |name: &str| get_s(item, name).map(str::to_owned);
        Ok(Key {
            contact_id: text(attr::CONTACT_ID).ok_or_else(|| corrupt(item, "no contact_id"))?,
            embedded: text(attr::GSI1_SK),
            body: text(attr::BODY),
            version: text(attr::VERSION),
        })
    }

    fn holds(&self, contact_id: &str) -> bool {
        self.embedded.as_deref() == Some(contact_id)
    }
}

/// The sort-key part of a query of one index partition.
#[derive(Debug, Clone)]
enum Range {
    All,
    After(String),
    Between(String, String),
}

/// The two indexes contacts are listed from.
#[derive(Debug, Clone, Copy)]
enum ContactIndex {
    /// GSI1: a scope's contacts, by shard and contact id.
    ByScope,
    /// GSI3: the contacts an import updated in a scope, by contact id.
    UpdatedByImport,
}

impl ContactIndex {
    fn name(self) -> &'static str {
        match self {
            ContactIndex::ByScope => GSI1,
            ContactIndex::UpdatedByImport => GSI3,
        }
    }

    fn pk_attr(self) -> &'static str {
        match self {
            ContactIndex::ByScope => attr::GSI1_PK,
            ContactIndex::UpdatedByImport => attr::GSI3_PK,
        }
    }

    fn sk_attr(self) -> &'static str {
        match self {
            ContactIndex::ByScope => attr::GSI1_SK,
            ContactIndex::UpdatedByImport => attr::GSI3_SK,
        }
    }
}

/// One index partition to read.
#[derive(Debug)]
struct IndexQuery {
    index: ContactIndex,
    pk: String,
    range: Range,
}

fn is_condition_failure<E>(
    err: &aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    crate::error::service_code(err) == Some("ConditionalCheckFailedException")
}

impl DynamoStore {
    /// Puts a scope in the tenant's registry, once per process.
    pub(crate) async fn register_scope(&self, tenant: &str, scope: &str) -> PortResult<()> {
        let tenant = item_keys::tenant(tenant)?;
        if scope.is_empty() {
            return Err(PortError::Permanent(
                "a destination scope cannot be empty".into(),
            ));
        }
        let pair = (tenant.to_owned(), scope.to_owned());
        if self.registered().contains(&pair) {
            return Ok(());
        }
        self.retry
            .run(|| async {
                self.client
                    .put_item()
                    .table_name(&self.table)
                    .item(attr::PK, s(item_keys::scopes_pk(tenant)))
                    .item(attr::SK, s(scope))
                    .item(attr::SCOPE, s(scope))
                    .send()
                    .await
                    .map_err(self.err("PutItem (scope registry)"))
            })
            .await?;
        self.registered().insert(pair);
        Ok(())
    }

    fn registered(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<(String, String)>> {
        self.registered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The tenant's scopes from `start` on (included), in order.
    async fn scopes_from(&self, tenant: &str, start: Option<&str>) -> PortResult<Vec<String>> {
        let query = || {
            let query = self
                .client
                .query()
                .table_name(&self.table)
                .expression_attribute_names("#pk", attr::PK)
                .expression_attribute_values(":pk", s(item_keys::scopes_pk(tenant)))
                .consistent_read(true);
            match start {
                Some(start) => query
                    .key_condition_expression("#pk = :pk AND #sk >= :start")
                    .expression_attribute_names("#sk", attr::SK)
                    .expression_attribute_values(":start", s(start)),
                None => query.key_condition_expression("#pk = :pk"),
            }
        };
        let items = self
            .query_items("Query (scope registry)", query, None)
            .await?;
        Ok(items
            .iter()
            .filter_map(|item| get_s(item, attr::SK).map(str::to_owned))
            .collect())
    }

    /// The fast path: claims an unclaimed key and writes the row's contact
    /// into it, in one conditional put. When the key exists: the key as it
    /// was (returned with the failure, or read when the server left it out).
    async fn put_claim(&self, own: &Own<'_>) -> PortResult<PutNew> {
        let item = own.claim_item()?;
        match self.put_new(&item, "PutItem (claim a number)").await? {
            PutNew::Exists(None) => Ok(PutNew::Exists(self.get_item(&own.pk, KEY_SK).await?)),
            put => Ok(put),
        }
    }

    /// Merges the row into the contact `key` points to, conditioned on the
    /// version read; false when someone wrote in between (read again, retry).
    async fn merge_into(&self, own: &Own<'_>, key: &Key) -> PortResult<bool> {
        let target_id = key.contact_id.as_str();
        let in_key = key.holds(target_id);
        let (sk, current) = if in_key {
            let body = key.body.clone().ok_or_else(|| {
                PortError::Permanent(format!(
                    "the key of {} holds contact {target_id} without its body",
                    own.pk
                ))
            })?;
            (KEY_SK.to_owned(), Some((body, key.version.clone())))
        } else {
            let sk = item_keys::contact_sk(target_id);
            let item = self.get_item(&own.pk, &sk).await?;
            let current = item.map(|item| {
                (
                    get_s(&item, attr::BODY).map(str::to_owned),
                    get_s(&item, attr::VERSION).map(str::to_owned),
                )
            });
            match current {
                Some((Some(body), version)) => (sk, Some((body, version))),
                Some((None, _)) => {
                    return Err(PortError::Permanent(format!(
                        "contact {target_id} in {} has no body",
                        own.pk
                    )))
                }
                None => (sk, None),
            }
        };
        let Some((body, version)) = current else {
            // The contact the key names is gone: write it anew, as the
            // reference store does.
            let mut stored = StoredContact {
                contact_id: target_id.to_owned(),
                ..own.stored()
            };
            stored.contact.merge_from(own.write.contact.clone());
            let mut item = own.contact_attrs(sk, &stored)?;
            item.insert(attr::GSI3_PK.to_owned(), s(own.gsi3_pk()));
            item.insert(attr::GSI3_SK.to_owned(), s(target_id));
            return self
                .put_if_absent(item, "PutItem (recreate a contact)")
                .await;
        };
        let mut stored: StoredContact = serde_json::from_str(&body)
            .map_err(|e| PortError::Permanent(format!("contact {target_id} in {}: {e}", own.pk)))?;
        stored.contact.merge_from(own.write.contact.clone());
        stored.import_id = own.target.import_id.to_owned();
        stored.row = own.write.row;
        let body = to_json(&stored)?;
        let mut condition = vec![match version {
            Some(_) => "#ver = :old",
            None => "attribute_not_exists(#ver)",
        }];
        if in_key {
            // The key must still point at the contact it holds.
            condition.push("#cid = :target AND #embedded = :target");
        } else {
            condition.push("attribute_exists(#pk)");
        }
        self.retry
            .run(|| async {
                let mut request = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .key(attr::PK, s(&own.pk))
                    .key(attr::SK, s(&sk))
                    .update_expression(
                        "SET #body = :body, #ver = :ver, #g3pk = :g3pk, #g3sk = :target",
                    )
                    .condition_expression(condition.join(" AND "))
                    .expression_attribute_names("#body", attr::BODY)
                    .expression_attribute_names("#ver", attr::VERSION)
                    .expression_attribute_names("#g3pk", attr::GSI3_PK)
                    .expression_attribute_names("#g3sk", attr::GSI3_SK)
                    .expression_attribute_values(":body", s(&body))
                    .expression_attribute_values(":ver", s(fresh_token()))
                    .expression_attribute_values(":g3pk", s(own.gsi3_pk()))
                    .expression_attribute_values(":target", s(target_id));
                if let Some(version) = &version {
                    request = request.expression_attribute_values(":old", s(version));
                }
                request = if in_key {
                    request
                        .expression_attribute_names("#cid", attr::CONTACT_ID)
                        .expression_attribute_names("#embedded", attr::GSI1_SK)
                } else {
                    request.expression_attribute_names("#pk", attr::PK)
                };
                match request.send().await {
                    Ok(_) => Ok(true),
                    Err(e)
                        if matches!(
                            e.as_service_error(),
                            Some(UpdateItemError::ConditionalCheckFailedException(_))
                        ) =>
                    {
                        Ok(false)
                    }
                    Err(e) => Err(self.err("UpdateItem (merge a contact)")(e)),
                }
            })
            .await
    }

    /// Skip and update mode, one row.
    async fn claim(&self, own: &Own<'_>) -> PortResult<WriteOutcome> {
        // None: not read yet, so try the fast path first.
        let mut known: Option<Option<Item>> = None;
        for _ in 0..MAX_ROUNDS {
            let current = match known.take() {
                Some(current) => current,
                None => match self.put_claim(own).await? {
                    PutNew::Written => return Ok(WriteOutcome::Inserted),
                    PutNew::Exists(current) => current,
                },
            };
            // Gone since the put failed: the fast path again.
            let Some(item) = current else { continue };
            let key = Key::parse(&item)?;
            if key.holds(&own.contact_id) || key.contact_id == own.contact_id {
                // An earlier delivery wrote this row's contact: leave it,
                // and whatever was merged into it since, alone.
                return Ok(WriteOutcome::Inserted);
            }
            match own.target.mode {
                DuplicateMode::Update => {
                    if self.merge_into(own, &key).await? {
                        return Ok(WriteOutcome::Updated);
                    }
                    known = Some(self.get_item(&own.pk, KEY_SK).await?);
                }
                _ => return Ok(WriteOutcome::Existing),
            }
        }
        Err(PortError::Transient(format!(
            "{} in {}: too much contention on one number",
            own.pk,
            self.what()
        )))
    }

    /// Points a key at this row's contact, keeping whatever contact the key
    /// item holds itself. `only_if_unclaimed`: leave a key that exists alone.
    async fn point_key(&self, own: &Own<'_>, only_if_unclaimed: bool) -> PortResult<()> {
        self.retry
            .run(|| async {
                let mut request = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .key(attr::PK, s(&own.pk))
                    .key(attr::SK, s(KEY_SK))
                    .update_expression("SET #cid = :cid, #imp = :imp, #row = :row")
                    .expression_attribute_names("#cid", attr::CONTACT_ID)
                    .expression_attribute_names("#imp", attr::IMPORT_ID)
                    .expression_attribute_names("#row", attr::ROW)
                    .expression_attribute_values(":cid", s(&own.contact_id))
                    .expression_attribute_values(":imp", s(own.target.import_id))
                    .expression_attribute_values(":row", n(own.write.row));
                if only_if_unclaimed {
                    request = request
                        .condition_expression("attribute_not_exists(#pk)")
                        .expression_attribute_names("#pk", attr::PK);
                }
                match request.send().await {
                    Ok(_) => Ok(()),
                    Err(e) if is_condition_failure(&e) => Ok(()),
                    Err(e) => Err(self.err("UpdateItem (point a key)")(e)),
                }
            })
            .await
    }

    /// Create mode, one row: its own contact beside the key (a conditional
    /// put, so that a late retry never overwrites what was merged into it
    /// since), then the key pointed at it. When the contact was there
    /// already, the key is only claimed if nobody holds it: that repairs a
    /// crash between the two writes without undoing a later row's claim.
    async fn create_one(&self, own: &Own<'_>) -> PortResult<()> {
        let item = own.contact_item()?;
        let version = get_s(&item, attr::VERSION).map(str::to_owned);
        let created = match self.put_new(&item, "PutItem (create a contact)").await? {
            PutNew::Written => true,
            // Our own version: an earlier try of this very call landed and
            // its answer was lost.
            PutNew::Exists(old) => old
                .as_ref()
                .and_then(|old| get_s(old, attr::VERSION))
                .is_some_and(|v| Some(v) == version.as_deref()),
        };
        self.point_key(own, !created).await
    }

    /// One page of one index partition: the contacts `accept` keeps, and
    /// where the next page starts (None after the last).
    async fn fetch(
        &self,
        IndexQuery { index, pk, range }: &IndexQuery,
        start: Option<Item>,
        limit: usize,
        accept: &(dyn Fn(&StoredContact) -> bool + Sync),
    ) -> PortResult<(Vec<StoredContact>, Option<Item>)> {
        let output = self
            .retry
            .run(|| async {
                let query = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .index_name(index.name())
                    .expression_attribute_names("#pk", index.pk_attr())
                    .expression_attribute_values(":pk", s(pk))
                    .limit(i32::try_from(limit.clamp(1, 1000)).unwrap_or(1000))
                    .set_exclusive_start_key(start.clone());
                let query = match range {
                    Range::All => query.key_condition_expression("#pk = :pk"),
                    Range::After(after) => query
                        .key_condition_expression("#pk = :pk AND #sk > :after")
                        .expression_attribute_names("#sk", index.sk_attr())
                        .expression_attribute_values(":after", s(after)),
                    Range::Between(low, high) => query
                        .key_condition_expression("#pk = :pk AND #sk BETWEEN :low AND :high")
                        .expression_attribute_names("#sk", index.sk_attr())
                        .expression_attribute_values(":low", s(low))
                        .expression_attribute_values(":high", s(high)),
                };
                query.send().await.map_err(self.err("Query (contacts)"))
            })
            .await?;
        let mut found = Vec::with_capacity(output.items().len());
        for item in output.items() {
            let text = get_s(item, attr::BODY).ok_or_else(|| corrupt(item, "no body"))?;
            let stored: StoredContact =
                serde_json::from_str(text).map_err(|e| corrupt(item, &format!("body: {e}")))?;
            if accept(&stored) {
                found.push(stored);
            }
        }
        Ok((found, output.last_evaluated_key))
    }

    /// Up to `need` contacts of one scope after `after`, by contact id: the
    /// 16 shards of GSI1 (plus, for one import, the contacts it updated, in
    /// GSI3) merged. Each partition is read a page at a time, only when the
    /// merge has used up what it read, so a page of the listing reads about
    /// its own size, not sixteen times it.
    async fn list_scope(
        &self,
        tenant: &str,
        scope: &str,
        import_id: Option<&str>,
        after: Option<&str>,
        need: usize,
    ) -> PortResult<Vec<StoredContact>> {
        let gsi1_range = match import_id {
            None => Some(after.map_or(Range::All, |a| Range::After(a.to_owned()))),
            // The ids an import creates: `<import>-<row>`, between `<import>-`
            // and `<import>.`.
            Some(import_id) => {
                let low = format!("{import_id}-");
                let low = after.map_or(low.clone(), |a| a.max(low.as_str()).to_owned());
                let high = format!("{import_id}.");
                (low <= high).then_some(Range::Between(low, high))
            }
        };
        let mut cursors: Vec<Cursor> = Vec::new();
        if let Some(range) = gsi1_range {
            for shard in 0..SHARDS {
                cursors.push(Cursor::new(IndexQuery {
                    index: ContactIndex::ByScope,
                    pk: item_keys::gsi1_pk(tenant, scope, shard),
                    range: range.clone(),
                }));
            }
        }
        if let Some(import_id) = import_id {
            cursors.push(Cursor::new(IndexQuery {
                index: ContactIndex::UpdatedByImport,
                pk: item_keys::gsi3_pk(tenant, import_id, scope),
                range: after.map_or(Range::All, |a| Range::After(a.to_owned())),
            }));
        }
        let accept = |c: &StoredContact| {
            after.is_none_or(|a| c.contact_id.as_str() > a)
                && import_id.is_none_or(|i| c.import_id == i)
        };
        // Twice a shard's fair share: one read per partition covers most pages.
        let page = (need / SHARDS as usize) * 2 + 4;
        let mut contacts: Vec<StoredContact> = Vec::new();
        while contacts.len() < need {
            // A partition with nothing buffered may hold the next contact: read it first.
            let empty: Vec<usize> = (0..cursors.len())
                .filter(|&i| cursors[i].buffer.is_empty() && !cursors[i].done)
                .collect();
            if !empty.is_empty() {
                let cursors_ref = &cursors;
                let pages: Vec<(usize, Vec<StoredContact>, Option<Item>)> = stream::iter(empty)
                    .map(|i| async move {
                        let cursor = &cursors_ref[i];
                        let (found, next) = self
                            .fetch(&cursor.query, cursor.next.clone(), page, &accept)
                            .await?;
                        Ok::<_, PortError>((i, found, next))
                    })
                    .buffer_unordered(IN_FLIGHT)
                    .try_collect()
                    .await?;
                for (i, found, next) in pages {
                    let cursor = &mut cursors[i];
                    cursor.buffer.extend(found);
                    cursor.done = next.is_none();
                    cursor.next = next;
                }
                continue;
            }
            let Some(first) = (0..cursors.len())
                .filter(|&i| !cursors[i].buffer.is_empty())
                .min_by(|&a, &b| {
                    cursors[a].buffer[0]
                        .contact_id
                        .cmp(&cursors[b].buffer[0].contact_id)
                })
            else {
                break;
            };
            let Some(contact) = cursors[first].buffer.pop_front() else {
                break;
            };
            // A contact an import both created and updated is in GSI1 and GSI3.
            if contacts
                .last()
                .is_some_and(|last| last.contact_id == contact.contact_id)
            {
                continue;
            }
            contacts.push(contact);
        }
        Ok(contacts)
    }
}

/// One index partition, read a page at a time during a merge.
struct Cursor {
    query: IndexQuery,
    buffer: VecDeque<StoredContact>,
    /// Where the next page starts.
    next: Option<Item>,
    done: bool,
}

impl Cursor {
    fn new(query: IndexQuery) -> Self {
        Cursor {
            query,
            buffer: VecDeque::new(),
            next: None,
            done: false,
        }
    }
}

// Every method boxes its future, so that callers' futures stay shallow (see the crate docs).
impl ContactStore for DynamoStore {
    /// Skip and update: one conditional put per new contact. Create: a
    /// conditional put of the contact, then one update of its number's key.
    /// Rows of different numbers run concurrently, rows of one number in order.
    async fn write_contacts(
        &self,
        target: WriteTarget<'_>,
        rows: &[ContactWrite],
    ) -> PortResult<Vec<WriteOutcome>> {
        async move {
            item_keys::tenant(target.tenant)?;
            self.register_scope(target.tenant, target.scope).await?;
            // Rows of one number, in file order.
            let mut groups: Vec<Vec<usize>> = Vec::new();
            let mut group_of: HashMap<&str, usize> = HashMap::new();
            for (i, write) in rows.iter().enumerate() {
                let g = *group_of
                    .entry(write.contact.phone.as_str())
                    .or_insert_with(|| {
                        groups.push(Vec::new());
                        groups.len() - 1
                    });
                groups[g].push(i);
            }
            let decided: Vec<Vec<(usize, WriteOutcome)>> = stream::iter(groups)
                .map(|group| async move {
                    let mut outcomes = Vec::with_capacity(group.len());
                    for i in group {
                        let own = Own::new(target, &rows[i]);
                        let outcome = match target.mode {
                            DuplicateMode::Create => {
                                self.create_one(&own).await?;
                                WriteOutcome::Inserted
                            }
                            DuplicateMode::Skip | DuplicateMode::Update => self.claim(&own).await?,
                        };
                        outcomes.push((i, outcome));
                    }
                    Ok::<_, PortError>(outcomes)
                })
                .buffer_unordered(IN_FLIGHT)
                .try_collect()
                .await?;
            let mut outcomes = vec![WriteOutcome::Existing; rows.len()];
            for (i, outcome) in decided.into_iter().flatten() {
                outcomes[i] = outcome;
            }
            Ok(outcomes)
        }
        .boxed()
        .await
    }

    /// By contact id within a scope. Without a scope filter, scope after
    /// scope in the order of the tenant's scope registry; the page token
    /// then names the scope too (`<escaped scope>#<contact id>`). With a
    /// scope filter the token is the last contact id, as in the reference store.
    async fn list_contacts(
        &self,
        tenant: &str,
        filter: &ContactFilter,
        after: Option<&str>,
        limit: usize,
    ) -> PortResult<ContactPage> {
        async move {
            let tenant = item_keys::tenant(tenant)?;
            let (token_scope, after_id) = match after {
                Some(token) => {
                    let (scope, id) = item_keys::parse_page_token(token);
                    (scope, Some(id))
                }
                None => (None, None),
            };
            let scopes = match &filter.scope {
                Some(scope) => {
                    if token_scope.as_ref().is_some_and(|t| t != scope) {
                        return Err(PortError::Permanent(format!(
                            "page token `{}` is not from a listing of scope {scope}",
                            after.unwrap_or_default()
                        )));
                    }
                    vec![scope.clone()]
                }
                None => {
                    if after.is_some() && token_scope.is_none() {
                        return Err(PortError::Permanent(format!(
                            "`{}` is not a page token of a tenant-wide listing",
                            after.unwrap_or_default()
                        )));
                    }
                    self.scopes_from(tenant, token_scope.as_deref()).await?
                }
            };
            let want = limit.saturating_add(1);
            let mut contacts: Vec<StoredContact> = Vec::new();
            for scope in &scopes {
                // The token's id applies to the token's own scope only.
                let after_here = match (&filter.scope, &token_scope) {
                    (Some(_), _) => after_id,
                    (None, Some(from)) if from == scope => after_id,
                    _ => None,
                };
                let found = self
                    .list_scope(
                        tenant,
                        scope,
                        filter.import_id.as_deref(),
                        after_here,
                        want - contacts.len(),
                    )
                    .await?;
                contacts.extend(found);
                if contacts.len() >= want {
                    break;
                }
            }
            let next = if contacts.len() > limit {
                contacts.truncate(limit);
                contacts.last().map(|c| match &filter.scope {
                    Some(_) => c.contact_id.clone(),
                    None => item_keys::page_token(&c.scope, &c.contact_id),
                })
            } else {
                None
            };
            Ok(ContactPage { contacts, next })
        }
        .boxed()
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use contact_import_core::Contact;
    use std::collections::BTreeMap;

    /// A contact as a CRM export gives it: names, email, company, address,
    /// tags and a few custom fields.
    fn typical() -> ContactWrite {
        ContactWrite {
            row: 48_213,
            contact: Contact {
                phone: "+14155552671".into(),
                phone_raw: "(415) 555-2671".into(),
                first_name: Some("Annabelle".into()),
                last_name: Some("Fitzgerald-Ramirez".into()),
                email: Some("annabelle.fitzgerald@example-company.com".into()),
                company: Some("Example Company Holdings LLC".into()),
                address: Some("1234 Market Street, Suite 500".into()),
                city: Some("San Francisco".into()),
                state: Some("CA".into()),
                zip: Some("94103".into()),
                country: Some("US".into()),
                timezone: Some("America/Los_Angeles".into()),
                tags: vec!["spring-2026".into(), "west".into()],
                custom: BTreeMap::from([
                    ("stage".into(), serde_json::json!("lead")),
                    ("score".into(), serde_json::json!(42)),
                    ("renewal".into(), serde_json::json!("2026-09-30")),
                ]),
                ..Contact::default()
            },
        }
    }

    fn target(mode: DuplicateMode) -> WriteTarget<'static> {
        WriteTarget {
            tenant: "tenant-0123456789",
            import_id: "imp-0123456789abcdef0123",
            scope: "list:Spring leads 2026",
            mode,
        }
    }

    #[test]
    fn an_inserted_contact_costs_one_write_unit_and_one_index_unit() {
        let write = typical();
        let own = Own::new(target(DuplicateMode::Skip), &write);
        let item = own.claim_item().unwrap();
        let size = crate::dynamo::item_size(&item);
        assert!(
            size < 1024,
            "the key item is {size} bytes: more than 1 write unit"
        );
        // GSI1 projects the keys and the body only.
        let projected: Item = item
            .iter()
            .filter(|(name, _)| {
                [attr::PK, attr::SK, attr::GSI1_PK, attr::GSI1_SK, attr::BODY]
                    .contains(&name.as_str())
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert!(crate::dynamo::item_size(&projected) < 1024);
        // No other index sees an insert.
        for absent in [attr::GSI2_PK, attr::GSI3_PK] {
            assert!(!item.contains_key(absent), "{absent}");
        }
    }

    #[test]
    fn a_key_item_names_its_contact_and_holds_it() {
        let write = typical();
        let own = Own::new(target(DuplicateMode::Update), &write);
        let key = Key::parse(&own.claim_item().unwrap()).unwrap();
        assert_eq!(key.contact_id, "imp-0123456789abcdef0123-48213");
        assert!(key.holds(&key.contact_id));
        let body: StoredContact = serde_json::from_str(key.body.as_deref().unwrap()).unwrap();
        assert_eq!(body, own.stored());
        assert_eq!(
            own.pk,
            "T#tenant-0123456789#N#list:Spring leads 2026#+14155552671"
        );
        // A create-mode contact sits beside the key, in the same partition and shard.
        let beside = own.contact_item().unwrap();
        assert_eq!(
            get_s(&beside, attr::SK),
            Some("C#imp-0123456789abcdef0123-48213")
        );
        assert_eq!(get_s(&beside, attr::GSI1_PK), Some(own.gsi1_pk().as_str()));
        assert!(!beside.contains_key(attr::CONTACT_ID), "not a key");
    }
}
