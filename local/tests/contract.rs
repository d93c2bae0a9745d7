//! The store contract, run against a fresh redb file per case.

use contact_import_local::RedbStore;
use tempfile::TempDir;

/// A store with the directory that holds its file, removed when the case ends.
struct Fresh {
    store: RedbStore,
    _dir: TempDir,
}

async fn fresh() -> Fresh {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = RedbStore::open(dir.path().join("store.redb")).expect("the store opens");
    Fresh { store, _dir: dir }
}

contact_import_core::store_contract_tests!(fresh(), |fresh| &fresh.store);
