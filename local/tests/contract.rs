//! The store contract, run against a fresh redb file per case.

use std::collections::HashSet;

use contact_import_core::imports::{ChunkResult, ImportRecord, ImportStatus, ImportUpdate};
use contact_import_core::ports::{
    ChunkCommit, ContactFilter, ContactPage, ContactStore, ContactWrite, DoNotCallStore,
    ImportStore, PortResult, WriteTarget,
};
use contact_import_core::WriteOutcome;
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

impl ContactStore for Fresh {
    async fn write_contacts(
        &self,
        target: WriteTarget<'_>,
        rows: &[ContactWrite],
    ) -> PortResult<Vec<WriteOutcome>> {
        self.store.write_contacts(target, rows).await
    }

    async fn list_contacts(
        &self,
        tenant: &str,
        filter: &ContactFilter,
        after: Option<&str>,
        limit: usize,
    ) -> PortResult<ContactPage> {
        self.store.list_contacts(tenant, filter, after, limit).await
    }
}

impl DoNotCallStore for Fresh {
    async fn do_not_call(&self, tenant: &str, numbers: &[String]) -> PortResult<HashSet<String>> {
        self.store.do_not_call(tenant, numbers).await
    }

    async fn add_do_not_call(&self, tenant: &str, numbers: &[String]) -> PortResult<usize> {
        self.store.add_do_not_call(tenant, numbers).await
    }
}

impl ImportStore for Fresh {
    async fn create_import(&self, record: &ImportRecord) -> PortResult<bool> {
        self.store.create_import(record).await
    }

    async fn get_import(&self, tenant: &str, import_id: &str) -> PortResult<Option<ImportRecord>> {
        self.store.get_import(tenant, import_id).await
    }

    async fn update_import(
        &self,
        tenant: &str,
        import_id: &str,
        from: ImportStatus,
        update: &ImportUpdate,
    ) -> PortResult<bool> {
        self.store
            .update_import(tenant, import_id, from, update)
            .await
    }

    async fn commit_chunk(
        &self,
        tenant: &str,
        import_id: &str,
        result: &ChunkResult,
    ) -> PortResult<ChunkCommit> {
        self.store.commit_chunk(tenant, import_id, result).await
    }

    async fn chunk_results(&self, tenant: &str, import_id: &str) -> PortResult<Vec<ChunkResult>> {
        self.store.chunk_results(tenant, import_id).await
    }

    async fn list_imports(&self, tenant: &str, limit: usize) -> PortResult<Vec<ImportRecord>> {
        self.store.list_imports(tenant, limit).await
    }
}

contact_import_core::store_contract_tests!(fresh());
