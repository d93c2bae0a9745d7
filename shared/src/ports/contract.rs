//! The store contract: one suite that every store adapter must pass, so the
//! embedded store and DynamoDB cannot drift apart; and the object stores'
//! joined write, which each adapter's tests run.
//!
//! An adapter crate runs it with
//! `contact_import_core::store_contract_tests!(async { make_store().await });`
//! where the expression yields a fresh, empty store each time. When the store
//! lives inside something the case must keep (a temporary directory), say
//! how to reach it: `store_contract_tests!(fresh(), |fresh| &fresh.store)`.
//! Tenants are unique per case, so a shared backend (moto) needs no
//! cleaning between cases.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::json;

use crate::imports::{ChunkResult, ImportRecord, ImportStatus, ImportUpdate};
use crate::ports::{contact_id_for, ContactFilter, ContactWrite, ObjectStore, Store, WriteTarget};
use crate::rules::contact::Contact;
use crate::rules::outcome::{ErrorCode, Tally, WriteOutcome};
use crate::rules::spec::{DuplicateMode, ImportSpec};

/// Generates one `#[tokio::test]` per contract case for a store factory.
#[macro_export]
macro_rules! store_contract_tests {
    ($make:expr) => {
        $crate::store_contract_tests!($make, |store| &store);
    };
    ($make:expr, |$made:ident| $store:expr) => {
        $crate::store_contract_tests!(@cases $make, $made, $store;
            skip_claims_a_new_number_once,
            retried_batch_keeps_its_own_claims,
            a_late_retry_does_not_undo_a_later_merge,
            overlapping_imports_leave_one_contact_per_number,
            update_merges_into_the_stored_contact,
            create_always_adds_and_is_idempotent,
            scopes_and_tenants_are_isolated,
            do_not_call_lookup_and_add,
            import_is_created_once_and_updated_conditionally,
            chunk_commits_count_exactly_once,
            contacts_list_by_scope_import_and_page,
            imports_list_newest_first,
        );
    };
    (@cases $make:expr, $made:ident, $store:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let $made = $make.await;
                $crate::ports::contract::$case($store).await;
            }
        )*
    };
}

/// A name no earlier run, and no other call of this run, used.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{prefix}-{nanos}-{}", NEXT.fetch_add(1, Ordering::SeqCst))
}

/// A contact with a name and tags, as a row of a file makes it.
pub fn contact(phone: &str, first_name: &str, tags: &[&str]) -> Contact {
    Contact {
        phone: phone.to_owned(),
        phone_raw: phone.to_owned(),
        first_name: Some(first_name.to_owned()),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        ..Contact::default()
    }
}

fn rows(contacts: &[(u64, Contact)]) -> Vec<ContactWrite> {
    contacts
        .iter()
        .map(|(row, contact)| ContactWrite {
            row: *row,
            contact: contact.clone(),
        })
        .collect()
}

/// Where a batch of rows goes.
pub fn target<'a>(
    tenant: &'a str,
    import_id: &'a str,
    scope: &'a str,
    mode: DuplicateMode,
) -> WriteTarget<'a> {
    WriteTarget {
        tenant,
        import_id,
        scope,
        mode,
    }
}

async fn all_contacts<S: Store>(
    store: &S,
    tenant: &str,
    filter: &ContactFilter,
) -> Vec<crate::ports::StoredContact> {
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .list_contacts(tenant, filter, after.as_deref(), 100)
            .await
            .expect("listing works");
        all.extend(page.contacts);
        match page.next {
            Some(next) => after = Some(next),
            None => return all,
        }
    }
}

pub async fn skip_claims_a_new_number_once<S: Store>(store: &S) {
    let tenant = unique("t");
    let first = store
        .write_contacts(
            target(&tenant, "imp-a", "contacts", DuplicateMode::Skip),
            &rows(&[
                (2, contact("+14155552671", "Ann", &[])),
                (3, contact("+14155552672", "Bob", &[])),
            ]),
        )
        .await
        .unwrap();
    assert_eq!(first, [WriteOutcome::Inserted, WriteOutcome::Inserted]);
    let second = store
        .write_contacts(
            target(&tenant, "imp-b", "contacts", DuplicateMode::Skip),
            &rows(&[(2, contact("+14155552671", "Annie", &[]))]),
        )
        .await
        .unwrap();
    assert_eq!(second, [WriteOutcome::Existing]);
    let stored = all_contacts(store, &tenant, &ContactFilter::default()).await;
    assert_eq!(stored.len(), 2);
    let ann = stored
        .iter()
        .find(|c| c.contact.phone == "+14155552671")
        .unwrap();
    assert_eq!(
        ann.contact.first_name.as_deref(),
        Some("Ann"),
        "skip leaves the stored contact alone"
    );
    assert_eq!(
        (ann.contact_id.as_str(), ann.import_id.as_str(), ann.row),
        (contact_id_for("imp-a", 2).as_str(), "imp-a", 2)
    );
}

pub async fn retried_batch_keeps_its_own_claims<S: Store>(store: &S) {
    let tenant = unique("t");
    let batch = rows(&[
        (2, contact("+14155552671", "Ann", &[])),
        (5, contact("+14155552673", "Cy", &[])),
    ]);
    for mode in [DuplicateMode::Skip, DuplicateMode::Update] {
        let outcomes = store
            .write_contacts(target(&tenant, "imp-a", "contacts", mode), &batch)
            .await
            .unwrap();
        assert_eq!(
            outcomes,
            [WriteOutcome::Inserted, WriteOutcome::Inserted],
            "a retry of the same rows, {mode:?}"
        );
    }
    assert_eq!(
        all_contacts(store, &tenant, &ContactFilter::default())
            .await
            .len(),
        2
    );
}

pub async fn a_late_retry_does_not_undo_a_later_merge<S: Store>(store: &S) {
    let tenant = unique("t");
    for mode in [DuplicateMode::Skip, DuplicateMode::Create] {
        let (scope, first_import, later_import) = (
            format!("campaign:{mode:?}"),
            format!("imp-a-{mode:?}"),
            format!("imp-b-{mode:?}"),
        );
        let first = rows(&[(2, contact("+14155552671", "Ann", &["a"]))]);
        store
            .write_contacts(target(&tenant, &first_import, &scope, mode), &first)
            .await
            .unwrap();
        let newer = rows(&[(7, contact("+14155552671", "Anne", &["b"]))]);
        let merged = store
            .write_contacts(
                target(&tenant, &later_import, &scope, DuplicateMode::Update),
                &newer,
            )
            .await
            .unwrap();
        assert_eq!(merged, [WriteOutcome::Updated], "{mode:?}");
        // Import A's chunk is delivered again, after B's merge.
        let again = store
            .write_contacts(target(&tenant, &first_import, &scope, mode), &first)
            .await
            .unwrap();
        assert_eq!(again, [WriteOutcome::Inserted], "{mode:?}");
        let filter = ContactFilter {
            scope: Some(scope.clone()),
            import_id: None,
        };
        let stored = all_contacts(store, &tenant, &filter).await;
        assert_eq!(stored.len(), 1, "{mode:?}");
        assert_eq!(
            stored[0].contact.first_name.as_deref(),
            Some("Anne"),
            "{mode:?}: the merge stays"
        );
        assert_eq!(stored[0].contact.tags, ["a", "b"], "{mode:?}");
        // A `create` import points the number at its own contact, so A's
        // row no longer holds the key when its chunk comes once more.
        let latest = rows(&[(9, contact("+14155552671", "Annie", &["c"]))]);
        let created = store
            .write_contacts(
                target(
                    &tenant,
                    &format!("imp-c-{mode:?}"),
                    &scope,
                    DuplicateMode::Create,
                ),
                &latest,
            )
            .await
            .unwrap();
        assert_eq!(created, [WriteOutcome::Inserted], "{mode:?}");
        let again = store
            .write_contacts(target(&tenant, &first_import, &scope, mode), &first)
            .await
            .unwrap();
        assert_eq!(again, [WriteOutcome::Inserted], "{mode:?}");
        let stored = all_contacts(store, &tenant, &filter).await;
        assert_eq!(stored.len(), 2, "{mode:?}");
        let own = contact_id_for(&first_import, 2);
        let first_contact = stored.iter().find(|s| s.contact_id == own).unwrap();
        assert_eq!(
            first_contact.contact.first_name.as_deref(),
            Some("Anne"),
            "{mode:?}: the merge stays without the key"
        );
        assert_eq!(first_contact.contact.tags, ["a", "b"], "{mode:?}");
    }
}

/// One import of the overlap case: its id, tag and chunks of rows.
struct Overlapping {
    import_id: String,
    tag: &'static str,
    chunks: Vec<Vec<ContactWrite>>,
}

impl Overlapping {
    /// Rows 2, 3, … hold `numbers` in order, five rows a chunk.
    fn new(import_id: String, tag: &'static str, numbers: impl Iterator<Item = u32>) -> Self {
        let writes: Vec<ContactWrite> = numbers
            .zip(2..)
            .map(|(number, row)| ContactWrite {
                row,
                contact: contact(&format!("+1415555{number:04}"), tag, &[tag]),
            })
            .collect();
        let chunks = writes.chunks(5).map(<[_]>::to_vec).collect();
        Overlapping {
            import_id,
            tag,
            chunks,
        }
    }

    async fn write<S: Store>(
        &self,
        store: &S,
        tenant: &str,
        scope: &str,
        mode: DuplicateMode,
        chunk: usize,
    ) -> Vec<WriteOutcome> {
        let target = target(tenant, &self.import_id, scope, mode);
        store
            .write_contacts(target, &self.chunks[chunk])
            .await
            .unwrap()
    }

    /// Every chunk in order: one delivery of the whole import.
    async fn deliver<S: Store>(
        &self,
        store: &S,
        tenant: &str,
        scope: &str,
        mode: DuplicateMode,
    ) -> Vec<WriteOutcome> {
        let mut outcomes = Vec::new();
        for chunk in 0..self.chunks.len() {
            outcomes.extend(self.write(store, tenant, scope, mode, chunk).await);
        }
        outcomes
    }

    fn rows(&self) -> impl Iterator<Item = &ContactWrite> {
        self.chunks.iter().flatten()
    }
}

/// Two imports whose files share 20 of their 30 numbers each write into one
/// destination, first with their chunks interleaved, then all at once (with a
/// second delivery of one import racing the first), in skip and update mode:
/// every number ends with one contact, inserted by exactly one row, and each
/// import's outcomes account for each of its rows.
pub async fn overlapping_imports_leave_one_contact_per_number<S: Store>(store: &S) {
    let tenant = unique("t");
    for mode in [DuplicateMode::Skip, DuplicateMode::Update] {
        for concurrent in [false, true] {
            let case = format!("{mode:?}, concurrent: {concurrent}");
            let scope = format!("list:overlap {mode:?} {concurrent}");
            // The shared numbers come first in both files, so that
            // concurrent deliveries reach them at the same time.
            let a = Overlapping::new(
                format!("imp-a-{mode:?}-{concurrent}"),
                "a",
                (10..30).chain(0..10),
            );
            let b = Overlapping::new(
                format!("imp-b-{mode:?}-{concurrent}"),
                "b",
                (10..30).chain(30..40),
            );
            let (outcomes_a, outcomes_b) = if concurrent {
                let (first_a, again_a, first_b) = tokio::join!(
                    a.deliver(store, &tenant, &scope, mode),
                    a.deliver(store, &tenant, &scope, mode),
                    b.deliver(store, &tenant, &scope, mode),
                );
                assert_eq!(first_a, again_a, "{case}: both deliveries of A agree");
                (first_a, first_b)
            } else {
                // A in file order, B backwards, a chunk of each in turn; each
                // number's first writer is known, and so is every outcome.
                let mut outcomes_a = Vec::new();
                let mut chunks_b = Vec::new();
                let mut written = BTreeSet::new();
                let mut expected = |rows: &[ContactWrite]| -> Vec<WriteOutcome> {
                    rows.iter()
                        .map(|w| match (written.insert(w.contact.phone.clone()), mode) {
                            (true, _) => WriteOutcome::Inserted,
                            (false, DuplicateMode::Update) => WriteOutcome::Updated,
                            (false, _) => WriteOutcome::Existing,
                        })
                        .collect()
                };
                for (chunk_a, chunk_b) in (0..a.chunks.len()).zip((0..b.chunks.len()).rev()) {
                    let got = a.write(store, &tenant, &scope, mode, chunk_a).await;
                    assert_eq!(
                        got,
                        expected(&a.chunks[chunk_a]),
                        "{case}: A chunk {chunk_a}"
                    );
                    outcomes_a.extend(got);
                    let got = b.write(store, &tenant, &scope, mode, chunk_b).await;
                    assert_eq!(
                        got,
                        expected(&b.chunks[chunk_b]),
                        "{case}: B chunk {chunk_b}"
                    );
                    chunks_b.push(got);
                }
                // B's outcomes in its file order, as A's are.
                (outcomes_a, chunks_b.into_iter().rev().flatten().collect())
            };
            // A late retry of B changes neither its outcomes nor the contacts.
            assert_eq!(
                b.deliver(store, &tenant, &scope, mode).await,
                outcomes_b,
                "{case}: B delivered again"
            );
            one_contact_per_number(
                store,
                &tenant,
                &scope,
                mode,
                &[(&a, outcomes_a), (&b, outcomes_b)],
                &case,
            )
            .await;
        }
    }
}

/// Checks the destination against what each import's writes answered.
async fn one_contact_per_number<S: Store>(
    store: &S,
    tenant: &str,
    scope: &str,
    mode: DuplicateMode,
    imports: &[(&Overlapping, Vec<WriteOutcome>)],
    case: &str,
) {
    // Per number: the contact id and tag of the row that inserted it, and
    // the tags of every import that wrote it.
    let mut inserted_by: HashMap<&str, (String, &str)> = HashMap::new();
    let mut tags: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for (import, outcomes) in imports {
        let rows: Vec<&ContactWrite> = import.rows().collect();
        assert_eq!(outcomes.len(), rows.len(), "{case}: one outcome per row");
        let (mut inserted, mut other) = (0, 0);
        for (write, outcome) in rows.iter().zip(outcomes) {
            let phone = write.contact.phone.as_str();
            tags.entry(phone).or_default().insert(import.tag);
            match (outcome, mode) {
                (WriteOutcome::Inserted, _) => {
                    inserted += 1;
                    let id = contact_id_for(&import.import_id, write.row);
                    if let Some((earlier, _)) = inserted_by.insert(phone, (id.clone(), import.tag))
                    {
                        panic!("{case}: {phone} inserted by both {earlier} and {id}");
                    }
                }
                (WriteOutcome::Existing, DuplicateMode::Skip)
                | (WriteOutcome::Updated, DuplicateMode::Update) => other += 1,
                (outcome, mode) => panic!("{case}: {outcome:?} in {mode:?} mode"),
            }
        }
        assert_eq!(
            inserted + other,
            rows.len(),
            "{case}: {}'s counters add up to its rows",
            import.import_id
        );
    }
    let filter = ContactFilter {
        scope: Some(scope.to_owned()),
        import_id: None,
    };
    let stored = all_contacts(store, tenant, &filter).await;
    assert_eq!(stored.len(), 40, "{case}: one contact per distinct number");
    assert_eq!(inserted_by.len(), 40, "{case}: every number inserted once");
    let phones: BTreeSet<&str> = stored.iter().map(|c| c.contact.phone.as_str()).collect();
    assert_eq!(phones.len(), 40, "{case}: no number has two contacts");
    for contact in &stored {
        let phone = contact.contact.phone.as_str();
        let (inserted_id, inserted_tag) = &inserted_by[phone];
        assert_eq!(
            &contact.contact_id, inserted_id,
            "{case}: {phone} is the contact its inserting row made"
        );
        let stored_tags: BTreeSet<&str> = contact.contact.tags.iter().map(String::as_str).collect();
        let expected = match mode {
            // No merge may be lost, whichever import came first.
            DuplicateMode::Update => tags[phone].clone(),
            _ => BTreeSet::from([*inserted_tag]),
        };
        assert_eq!(stored_tags, expected, "{case}: tags of {phone}");
    }
}

pub async fn update_merges_into_the_stored_contact<S: Store>(store: &S) {
    let tenant = unique("t");
    let mut first = contact("+14155552671", "Ann", &["vip"]);
    first.company = Some("Old Co".into());
    first.custom = BTreeMap::from([("stage".into(), json!("lead"))]);
    store
        .write_contacts(
            target(&tenant, "imp-a", "campaign:c1", DuplicateMode::Skip),
            &rows(&[(2, first)]),
        )
        .await
        .unwrap();
    let mut newer = contact("+14155552671", "Anne", &["west"]);
    newer.custom = BTreeMap::from([("stage".into(), json!("customer"))]);
    for _ in 0..2 {
        let outcomes = store
            .write_contacts(
                target(&tenant, "imp-b", "campaign:c1", DuplicateMode::Update),
                &rows(&[(9, newer.clone())]),
            )
            .await
            .unwrap();
        assert_eq!(
            outcomes,
            [WriteOutcome::Updated],
            "and the same again on a retry"
        );
    }
    let stored = all_contacts(store, &tenant, &ContactFilter::default()).await;
    assert_eq!(stored.len(), 1);
    let merged = &stored[0];
    assert_eq!(
        merged.contact_id,
        contact_id_for("imp-a", 2),
        "the contact keeps its id"
    );
    assert_eq!(merged.contact.first_name.as_deref(), Some("Anne"));
    assert_eq!(merged.contact.company.as_deref(), Some("Old Co"));
    assert_eq!(merged.contact.tags, ["vip", "west"]);
    assert_eq!(merged.contact.custom["stage"], json!("customer"));
    assert_eq!((merged.import_id.as_str(), merged.row), ("imp-b", 9));
}

pub async fn create_always_adds_and_is_idempotent<S: Store>(store: &S) {
    let tenant = unique("t");
    let batch = rows(&[
        (2, contact("+14155552671", "Ann", &[])),
        (3, contact("+14155552671", "Ann again", &[])),
    ]);
    for _ in 0..2 {
        let outcomes = store
            .write_contacts(
                target(&tenant, "imp-a", "campaign:c1", DuplicateMode::Create),
                &batch,
            )
            .await
            .unwrap();
        assert_eq!(outcomes, [WriteOutcome::Inserted, WriteOutcome::Inserted]);
    }
    let stored = all_contacts(store, &tenant, &ContactFilter::default()).await;
    let ids: Vec<&str> = stored.iter().map(|c| c.contact_id.as_str()).collect();
    assert_eq!(
        ids,
        [contact_id_for("imp-a", 2), contact_id_for("imp-a", 3)]
    );
    let later = store
        .write_contacts(
            target(&tenant, "imp-b", "campaign:c1", DuplicateMode::Skip),
            &rows(&[(2, contact("+14155552671", "X", &[]))]),
        )
        .await
        .unwrap();
    assert_eq!(
        later,
        [WriteOutcome::Existing],
        "created contacts still claim their number"
    );
}

pub async fn scopes_and_tenants_are_isolated<S: Store>(store: &S) {
    let (a, b) = (unique("t"), unique("t"));
    let ann = rows(&[(2, contact("+14155552671", "Ann", &[]))]);
    // An import has one destination, so each scope gets its own import.
    for (tenant, import_id, scope) in [
        (&a, "imp-a", "campaign:c1"),
        (&a, "imp-b", "campaign:c2"),
        (&a, "imp-c", "agent:c1"),
        (&b, "imp-a", "campaign:c1"),
    ] {
        let outcomes = store
            .write_contacts(target(tenant, import_id, scope, DuplicateMode::Skip), &ann)
            .await
            .unwrap();
        assert_eq!(outcomes, [WriteOutcome::Inserted], "{tenant} {scope}");
    }
    assert_eq!(
        all_contacts(store, &a, &ContactFilter::default())
            .await
            .len(),
        3
    );
    let of_b = all_contacts(store, &b, &ContactFilter::default()).await;
    assert_eq!(of_b.len(), 1);
    assert_eq!(of_b[0].scope, "campaign:c1");
    store
        .add_do_not_call(&a, &["+14155552671".into()])
        .await
        .unwrap();
    assert!(
        store
            .do_not_call(&b, &["+14155552671".into()])
            .await
            .unwrap()
            .is_empty(),
        "do-not-call is per tenant"
    );
}

pub async fn do_not_call_lookup_and_add<S: Store>(store: &S) {
    let tenant = unique("t");
    let numbers: Vec<String> = (0..30).map(|i| format!("+1415555{i:04}")).collect();
    assert_eq!(
        store
            .add_do_not_call(&tenant, &numbers[..20])
            .await
            .unwrap(),
        20
    );
    assert_eq!(
        store
            .add_do_not_call(&tenant, &numbers[10..25])
            .await
            .unwrap(),
        5,
        "only new numbers count"
    );
    let listed = store.do_not_call(&tenant, &numbers).await.unwrap();
    assert_eq!(listed.len(), 25);
    assert!(listed.contains(&numbers[24]) && !listed.contains(&numbers[25]));
    assert!(store.do_not_call(&tenant, &[]).await.unwrap().is_empty());
}

fn record(tenant: &str, import_id: &str, created_at: &str) -> ImportRecord {
    ImportRecord::accepted(
        tenant,
        import_id,
        &format!("uploads/{tenant}/a.csv"),
        100,
        ImportSpec::default(),
        created_at,
    )
}

pub async fn import_is_created_once_and_updated_conditionally<S: Store>(store: &S) {
    let tenant = unique("t");
    let accepted = record(&tenant, "imp-a", "2026-01-01T00:00:00Z");
    assert!(store.create_import(&accepted).await.unwrap());
    assert!(
        !store.create_import(&accepted).await.unwrap(),
        "a repeated event creates nothing"
    );
    let mut update = ImportUpdate::to(ImportStatus::Importing, "2026-01-01T00:00:01Z");
    update.rows = Some(10);
    update.chunks_total = Some(2);
    update.chunk_rows = Some(5);
    assert!(store
        .update_import(&tenant, "imp-a", ImportStatus::Accepted, &update)
        .await
        .unwrap());
    assert!(
        !store
            .update_import(&tenant, "imp-a", ImportStatus::Accepted, &update)
            .await
            .unwrap(),
        "status moved on"
    );
    let stored = store.get_import(&tenant, "imp-a").await.unwrap().unwrap();
    assert_eq!(
        (
            stored.status,
            stored.rows,
            stored.chunks_total,
            stored.chunk_rows
        ),
        (ImportStatus::Importing, 10, 2, 5)
    );
    assert_eq!(stored.spec, accepted.spec);
    assert!(store.get_import(&tenant, "imp-zz").await.unwrap().is_none());
}

pub async fn chunk_commits_count_exactly_once<S: Store>(store: &S) {
    let tenant = unique("t");
    store
        .create_import(&record(&tenant, "imp-a", "2026-01-01T00:00:00Z"))
        .await
        .unwrap();
    let mut update = ImportUpdate::to(ImportStatus::Importing, "2026-01-01T00:00:01Z");
    update.chunks_total = Some(2);
    store
        .update_import(&tenant, "imp-a", ImportStatus::Accepted, &update)
        .await
        .unwrap();
    let mut tally = Tally::default();
    tally.record_write(WriteOutcome::Inserted);
    tally.record_rejection(ErrorCode::InvalidPhone);
    let second = ChunkResult {
        index: 1,
        tally: tally.clone(),
        report_part: Some("work/x/parts/000001.csv".into()),
    };
    let commit = store.commit_chunk(&tenant, "imp-a", &second).await.unwrap();
    assert_eq!(
        (
            commit.newly_committed,
            commit.chunks_done,
            commit.chunks_total
        ),
        (true, 1, 2)
    );
    let again = store.commit_chunk(&tenant, "imp-a", &second).await.unwrap();
    assert_eq!((again.newly_committed, again.chunks_done), (false, 1));
    let first = ChunkResult {
        index: 0,
        tally: tally.clone(),
        report_part: None,
    };
    let commit = store.commit_chunk(&tenant, "imp-a", &first).await.unwrap();
    assert_eq!((commit.newly_committed, commit.chunks_done), (true, 2));
    let stored = store.get_import(&tenant, "imp-a").await.unwrap().unwrap();
    let mut expected = tally.clone();
    expected.add(&tally);
    assert_eq!(stored.tally, expected);
    assert_eq!(stored.chunks_done, 2);
    assert_eq!(
        store.chunk_results(&tenant, "imp-a").await.unwrap(),
        [first, second]
    );
}

pub async fn contacts_list_by_scope_import_and_page<S: Store>(store: &S) {
    let tenant = unique("t");
    for (import_id, scope, first_row) in [
        ("imp-a", "campaign:c1", 2),
        ("imp-b", "list:Spring leads", 10),
    ] {
        let batch: Vec<(u64, Contact)> = (0..3)
            .map(|i| {
                (
                    first_row + i,
                    contact(&format!("+1415555{:04}", first_row + i), "X", &[]),
                )
            })
            .collect();
        store
            .write_contacts(
                target(&tenant, import_id, scope, DuplicateMode::Skip),
                &rows(&batch),
            )
            .await
            .unwrap();
    }
    let by_scope = all_contacts(
        store,
        &tenant,
        &ContactFilter {
            scope: Some("list:Spring leads".into()),
            import_id: None,
        },
    )
    .await;
    assert_eq!(by_scope.len(), 3);
    assert!(by_scope.iter().all(|c| c.import_id == "imp-b"));
    let by_import = all_contacts(
        store,
        &tenant,
        &ContactFilter {
            scope: None,
            import_id: Some("imp-a".into()),
        },
    )
    .await;
    assert_eq!(
        by_import.iter().map(|c| c.row).collect::<Vec<_>>(),
        [2, 3, 4]
    );
    let page = store
        .list_contacts(&tenant, &ContactFilter::default(), None, 4)
        .await
        .unwrap();
    assert_eq!(page.contacts.len(), 4);
    let rest = store
        .list_contacts(&tenant, &ContactFilter::default(), page.next.as_deref(), 4)
        .await
        .unwrap();
    assert_eq!(rest.contacts.len(), 2);
    assert_eq!(rest.next, None);
    let mut ids: Vec<String> = page
        .contacts
        .iter()
        .chain(&rest.contacts)
        .map(|c| c.contact_id.clone())
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 6, "pages neither repeat nor skip");
}

pub async fn imports_list_newest_first<S: Store>(store: &S) {
    let tenant = unique("t");
    for (id, at) in [
        ("imp-a", "2026-01-01T00:00:00Z"),
        ("imp-c", "2026-03-01T00:00:00Z"),
        ("imp-b", "2026-02-01T00:00:00Z"),
    ] {
        store.create_import(&record(&tenant, id, at)).await.unwrap();
    }
    store
        .create_import(&record(&unique("other"), "imp-d", "2026-04-01T00:00:00Z"))
        .await
        .unwrap();
    let listed: Vec<String> = store
        .list_imports(&tenant, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.import_id)
        .collect();
    assert_eq!(listed, ["imp-c", "imp-b", "imp-a"]);
    assert_eq!(store.list_imports(&tenant, 2).await.unwrap().len(), 2);
}

/// Object stores' one composite write: `put_joined` writes the head and
/// then each part in order, however long, and a missing part leaves no
/// object behind. Takes the store in an `Arc`, as the finalizer holds it;
/// call from a multi-threaded runtime, as the default reads parts there.
pub async fn objects_join_parts_in_order<O: ObjectStore + 'static>(objects: Arc<O>) {
    let prefix = unique("work/t");
    // Larger than a read buffer and than the default write part, so that
    // a part is copied in more than one piece.
    let long: Vec<u8> = (0..6 * 1024 * 1024 + 7).map(|i| (i % 251) as u8).collect();
    let parts = [b"a,1\n".to_vec(), long, b"b,2\n".to_vec()];
    let mut keys = Vec::new();
    for (index, body) in parts.iter().enumerate() {
        let key = format!("{prefix}/parts/{index:06}.csv");
        objects.put(&key, body.clone()).await.unwrap();
        keys.push(key);
    }
    let target = format!("{prefix}/errors.csv");
    let joined = {
        let (objects, target, keys) = (Arc::clone(&objects), target.clone(), keys.clone());
        tokio::task::spawn_blocking(move || objects.put_joined(&target, b"head\n".to_vec(), keys))
            .await
            .unwrap()
    };
    let expected: Vec<u8> = std::iter::once(&b"head\n"[..])
        .chain(parts.iter().map(Vec::as_slice))
        .flatten()
        .copied()
        .collect();
    assert_eq!(joined, Ok(expected.len() as u64));
    assert!(
        objects.get(&target).await.unwrap() == Some(expected),
        "the joined bytes"
    );

    let broken = format!("{prefix}/broken.csv");
    let missing = vec![keys[0].clone(), format!("{prefix}/parts/none.csv")];
    let refused = {
        let (objects, broken) = (Arc::clone(&objects), broken.clone());
        tokio::task::spawn_blocking(move || objects.put_joined(&broken, Vec::new(), missing))
            .await
            .unwrap()
    };
    assert!(refused.is_err(), "a missing part: {refused:?}");
    assert_eq!(objects.get(&broken).await.unwrap(), None);
}
