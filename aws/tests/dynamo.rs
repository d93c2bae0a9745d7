//! DynamoStore on moto, beyond the contract: the same script run against the
//! reference store gives the same outcomes and listings; keys stay inside
//! their tenant and scope; errors say what failed.

use std::collections::BTreeSet;

use contact_import_aws::{create_table, DynamoStore};
use contact_import_core::imports::{ChunkResult, ImportRecord, ImportStatus, ImportUpdate};
use contact_import_core::ports::memory::MemoryStore;
use contact_import_core::ports::{
    ContactFilter, ContactStore, ContactWrite, DoNotCallStore, ImportStore, PortError,
    StoredContact, WriteTarget,
};
use contact_import_core::rules::outcome::{Tally, WriteOutcome};
use contact_import_core::rules::spec::{DuplicateMode, ImportSpec};
use contact_import_testkit::{self as kit, contact};

fn number(i: u32) -> String {
    format!("+1415555{i:04}")
}

/// One call of the script: (import, scope, mode, rows of (row, number, name, tags)).
type Step = (
    &'static str,
    &'static str,
    DuplicateMode,
    Vec<(u64, u32, &'static str, &'static [&'static str])>,
);

const LIST: &str = "list:Spring #1 100%";
const CAMPAIGN: &str = "campaign:c1";

fn script() -> Vec<Step> {
    use DuplicateMode::*;
    vec![
        // Five new numbers in a list whose name needs escaping.
        (
            "imp-a",
            LIST,
            Skip,
            (0..5)
                .map(|i| (2 + u64::from(i), i, "A", &["a"][..]))
                .collect(),
        ),
        // Updates three of them, adds one, and repeats a number in the batch.
        (
            "imp-b",
            LIST,
            Update,
            vec![
                (2, 2, "B", &["b"]),
                (3, 3, "B", &["b"]),
                (4, 4, "B", &[]),
                (5, 5, "B", &[]),
                (6, 5, "B2", &["late"]),
            ],
        ),
        // The same rows again: a redelivered chunk.
        (
            "imp-b",
            LIST,
            Update,
            vec![(2, 2, "B", &["b"]), (5, 5, "B", &[])],
        ),
        // Create mode: a number twice in one batch, then a new one.
        (
            "imp-c",
            CAMPAIGN,
            Create,
            vec![
                (2, 0, "C", &[]),
                (3, 0, "C again", &["c"]),
                (4, 1, "C", &[]),
            ],
        ),
        // An update merges into the latest created contact of number 0.
        ("imp-d", CAMPAIGN, Update, vec![(9, 0, "D", &["d"])]),
        // A late retry of imp-c must not undo imp-d's merge.
        (
            "imp-c",
            CAMPAIGN,
            Create,
            vec![
                (2, 0, "C", &[]),
                (3, 0, "C again", &["c"]),
                (4, 1, "C", &[]),
            ],
        ),
        // Skip finds created contacts; a late retry of imp-a changes nothing.
        (
            "imp-e",
            CAMPAIGN,
            Skip,
            vec![(2, 1, "E", &[]), (3, 7, "E", &[])],
        ),
        (
            "imp-a",
            LIST,
            Skip,
            (0..5)
                .map(|i| (2 + u64::from(i), i, "A", &["a"][..]))
                .collect(),
        ),
    ]
}

async fn run_script<S: ContactStore>(store: &S, tenant: &str) -> Vec<Vec<WriteOutcome>> {
    let mut all = Vec::new();
    for (import_id, scope, mode, rows) in script() {
        let rows: Vec<ContactWrite> = rows
            .into_iter()
            .map(|(row, n, name, tags)| ContactWrite {
                row,
                contact: contact(&number(n), name, tags),
            })
            .collect();
        let target = WriteTarget {
            tenant,
            import_id,
            scope,
            mode,
        };
        all.push(store.write_contacts(target, &rows).await.unwrap());
    }
    all
}

async fn listing<S: ContactStore>(
    store: &S,
    tenant: &str,
    filter: &ContactFilter,
    limit: usize,
) -> Vec<StoredContact> {
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .list_contacts(tenant, filter, after.as_deref(), limit)
            .await
            .unwrap();
        assert!(page.contacts.len() <= limit);
        all.extend(page.contacts);
        match page.next {
            Some(next) => after = Some(next),
            None => return all,
        }
    }
}

fn filter(scope: Option<&str>, import_id: Option<&str>) -> ContactFilter {
    ContactFilter {
        scope: scope.map(str::to_owned),
        import_id: import_id.map(str::to_owned),
    }
}

#[tokio::test]
async fn the_same_script_gives_what_the_reference_store_gives() {
    let store = kit::store().await;
    let reference = MemoryStore::default();
    let tenant = kit::unique("t");
    let outcomes = run_script(&store, &tenant).await;
    assert_eq!(outcomes, run_script(&reference, &tenant).await);
    assert_eq!(outcomes[1][0], WriteOutcome::Updated);
    assert_eq!(outcomes[5], [WriteOutcome::Inserted; 3], "the late retry");
    assert_eq!(
        outcomes[6],
        [WriteOutcome::Existing, WriteOutcome::Inserted]
    );

    for limit in [1, 2, 3, 100] {
        // One scope, or one import: the same contacts in the same order.
        for f in [
            filter(Some(LIST), None),
            filter(Some(CAMPAIGN), None),
            filter(None, Some("imp-a")),
            filter(None, Some("imp-b")),
            filter(None, Some("imp-d")),
            filter(Some(CAMPAIGN), Some("imp-c")),
            filter(Some(LIST), Some("imp-c")),
            filter(Some("list:none"), None),
        ] {
            assert_eq!(
                listing(&store, &tenant, &f, limit).await,
                listing(&reference, &tenant, &f, limit).await,
                "{f:?}, pages of {limit}"
            );
        }
        // The whole tenant: the same contacts, scope after scope.
        let everything = listing(&store, &tenant, &ContactFilter::default(), limit).await;
        let ids: Vec<&str> = everything.iter().map(|c| c.contact_id.as_str()).collect();
        let unique: BTreeSet<&str> = ids.iter().copied().collect();
        assert_eq!(ids.len(), unique.len(), "pages of {limit} repeat nothing");
        let mut sorted = everything.clone();
        sorted.sort_by(|a, b| a.contact_id.cmp(&b.contact_id));
        assert_eq!(
            sorted,
            listing(&reference, &tenant, &ContactFilter::default(), 100).await,
            "pages of {limit} skip nothing"
        );
    }

    // What the script leaves, spelled out.
    let campaign = listing(&store, &tenant, &filter(Some(CAMPAIGN), None), 100).await;
    let ids: Vec<&str> = campaign.iter().map(|c| c.contact_id.as_str()).collect();
    assert_eq!(ids, ["imp-c-2", "imp-c-3", "imp-c-4", "imp-e-3"]);
    let merged = &campaign[1];
    assert_eq!(merged.contact.first_name.as_deref(), Some("D"));
    assert_eq!(merged.contact.tags, ["c", "d"]);
    assert_eq!((merged.import_id.as_str(), merged.row), ("imp-d", 9));
    let updated_by_b = listing(&store, &tenant, &filter(None, Some("imp-b")), 100).await;
    let ids: Vec<&str> = updated_by_b.iter().map(|c| c.contact_id.as_str()).collect();
    assert_eq!(ids, ["imp-a-4", "imp-a-5", "imp-a-6", "imp-b-5"]);
}

#[tokio::test]
async fn user_text_cannot_reach_another_scope_or_tenant() {
    let store = kit::store().await;
    let (tenant, other) = (kit::unique("t"), kit::unique("t"));
    let write = |scope: &'static str, tenant: &str| {
        let store = &store;
        let tenant = tenant.to_owned();
        async move {
            store
                .write_contacts(
                    WriteTarget {
                        tenant: &tenant,
                        import_id: "imp-x",
                        scope,
                        mode: DuplicateMode::Skip,
                    },
                    &[ContactWrite {
                        row: 2,
                        contact: contact("+14155550100", "X", &[]),
                    }],
                )
                .await
                .unwrap()
        }
    };
    // Scopes whose escaped keys would collide if `#` were left alone.
    assert_eq!(write("list:a#N#b", &tenant).await, [WriteOutcome::Inserted]);
    assert_eq!(write("list:a", &tenant).await, [WriteOutcome::Inserted]);
    assert_eq!(
        write("list:a%23N%23b", &tenant).await,
        [WriteOutcome::Inserted]
    );
    assert_eq!(write("list:a#N#b", &other).await, [WriteOutcome::Inserted]);
    for scope in ["list:a#N#b", "list:a", "list:a%23N%23b"] {
        let found = listing(&store, &tenant, &filter(Some(scope), None), 10).await;
        assert_eq!(found.len(), 1, "{scope}");
        assert_eq!(found[0].scope, scope);
    }
    assert_eq!(
        listing(&store, &tenant, &ContactFilter::default(), 2)
            .await
            .len(),
        3
    );
    assert_eq!(
        listing(&store, &other, &ContactFilter::default(), 10)
            .await
            .len(),
        1
    );
    // A tenant that could spell a key prefix is refused before any request.
    for bad in ["a#b", "", "t/../x"] {
        let err = store
            .do_not_call(bad, &["+14155550100".into()])
            .await
            .unwrap_err();
        assert!(matches!(err, PortError::Permanent(_)), "{bad:?}: {err}");
    }
    // A page token names its scope: one from another listing is refused.
    let err = store
        .list_contacts(&tenant, &ContactFilter::default(), Some("imp-x-2"), 10)
        .await
        .unwrap_err();
    assert!(matches!(err, PortError::Permanent(_)));
}

fn record(tenant: &str, import_id: &str) -> ImportRecord {
    ImportRecord::accepted(
        tenant,
        import_id,
        &format!("uploads/{tenant}/a.csv"),
        10,
        ImportSpec::default(),
        "2026-01-01T00:00:00Z",
    )
}

#[tokio::test]
async fn redelivered_chunk_commits_add_up_once() {
    let store = kit::store().await;
    let tenant = kit::unique("t");
    assert!(store
        .create_import(&record(&tenant, "imp-a"))
        .await
        .unwrap());
    let mut update = ImportUpdate::to(ImportStatus::Importing, "2026-01-01T00:00:01Z");
    update.chunks_total = Some(12);
    assert!(store
        .update_import(&tenant, "imp-a", ImportStatus::Accepted, &update)
        .await
        .unwrap());
    let chunk = |index: u32| {
        let mut tally = Tally::default();
        for _ in 0..=index {
            tally.record_write(WriteOutcome::Inserted);
        }
        tally.record_write(WriteOutcome::Existing);
        ChunkResult {
            index,
            tally,
            report_part: None,
        }
    };
    // Every chunk twice, out of order, as redelivered messages come. (One
    // after the other: moto undoes a cancelled transaction by restoring a
    // copy of the whole table, which loses concurrent writes.)
    let mut newly = 0;
    for i in [
        5, 0, 5, 11, 3, 0, 1, 2, 4, 6, 7, 8, 9, 10, 11, 3, 1, 2, 4, 6, 7, 8, 9, 10,
    ] {
        let commit = store
            .commit_chunk(&tenant, "imp-a", &chunk(i))
            .await
            .unwrap();
        assert_eq!(commit.chunks_total, 12);
        if commit.newly_committed {
            newly += 1;
            assert_eq!(commit.chunks_done, newly, "chunk {i}");
        }
    }
    assert_eq!(newly, 12, "each chunk counted once");
    let stored = store.get_import(&tenant, "imp-a").await.unwrap().unwrap();
    assert_eq!((stored.chunks_done, stored.chunks_total), (12, 12));
    assert_eq!(stored.tally.inserted, (1..=12).sum::<u64>());
    assert_eq!(stored.tally.skipped, 12);
    assert_eq!(stored.tally.processed, stored.tally.inserted + 12);
    let results = store.chunk_results(&tenant, "imp-a").await.unwrap();
    assert_eq!(
        results.iter().map(|r| r.index).collect::<Vec<_>>(),
        (0..12).collect::<Vec<_>>()
    );
    assert_eq!(results[3], chunk(3));
}

#[tokio::test]
async fn missing_imports_and_tables_are_reported_as_such() {
    let store = kit::store().await;
    let tenant = kit::unique("t");
    let result = ChunkResult {
        index: 0,
        tally: Tally::default(),
        report_part: None,
    };
    let err = store
        .commit_chunk(&tenant, "imp-zz", &result)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PortError::Permanent(m) if m.contains("imp-zz")),
        "{err}"
    );
    assert!(
        store
            .chunk_results(&tenant, "imp-zz")
            .await
            .unwrap()
            .is_empty(),
        "the failed commit left no marker"
    );
    assert!(!store
        .update_import(
            &tenant,
            "imp-zz",
            ImportStatus::Accepted,
            &ImportUpdate::to(ImportStatus::Importing, "2026-01-01T00:00:01Z"),
        )
        .await
        .unwrap());
    assert!(store.list_imports(&tenant, 0).await.unwrap().is_empty());

    let clients = kit::clients().await;
    let missing = DynamoStore::new(clients.dynamodb, "no-such-table");
    let err = missing.get_import(&tenant, "imp-a").await.unwrap_err();
    match err {
        PortError::Permanent(message) => {
            assert!(message.contains("GetItem"), "{message}");
            assert!(message.contains("no-such-table"), "{message}");
        }
        other => panic!("a missing table is permanent, not {other:?}"),
    }
}

#[tokio::test]
async fn creating_the_table_again_changes_nothing() {
    let clients = kit::clients().await;
    let table = &kit::new_table(&clients).await;
    create_table(&clients.dynamodb, table).await.unwrap();
    let described = clients
        .dynamodb
        .describe_table()
        .table_name(table)
        .send()
        .await
        .unwrap();
    let mut indexes: Vec<&str> = described
        .table()
        .unwrap()
        .global_secondary_indexes()
        .iter()
        .filter_map(|i| i.index_name())
        .collect();
    indexes.sort();
    assert_eq!(indexes, ["gsi1", "gsi2", "gsi3"]);
    let ttl = clients
        .dynamodb
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    assert_eq!(ttl.attribute_name(), Some("expires_at"));
}
