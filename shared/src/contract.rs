//! The store contract: one suite that every store adapter must pass, so the
//! embedded store and DynamoDB cannot drift apart.
//!
//! An adapter crate runs it with
//! `contact_import_core::store_contract_tests!(async { make_store().await });`
//! where the expression yields a fresh, empty store each time. When the store
//! lives inside something the case must keep (a temporary directory), say
//! how to reach it: `store_contract_tests!(fresh(), |fresh| &fresh.store)`.
//! Tenants are unique per case, so a shared backend (moto) needs no
//! cleaning between cases.

use std::collections::BTreeMap;

use serde_json::json;

use crate::contact::Contact;
use crate::imports::{ChunkResult, ImportRecord, ImportStatus, ImportUpdate};
use crate::outcome::{ErrorCode, Tally, WriteOutcome};
use crate::ports::{contact_id_for, ContactFilter, ContactWrite, Store, WriteTarget};
use crate::spec::{DuplicateMode, ImportSpec};

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
                $crate::contract::$case($store).await;
            }
        )*
    };
}

fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{prefix}-{nanos}-{}", NEXT.fetch_add(1, Ordering::SeqCst))
}

fn contact(phone: &str, first_name: &str, tags: &[&str]) -> Contact {
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

fn target<'a>(
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
