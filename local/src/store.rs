//! Every store port in one redb file, with the semantics of
//! [`contact_import_core::ports::memory::MemoryStore`].
//!
//! Every key is a redb tuple whose first element is the tenant. redb writes
//! each element with its length and compares tuples element by element, so no
//! value a file or a user supplies can reach into another tenant's keys, as a
//! separator inside a concatenated string could. Claims and contacts are
//! the exceptions, for size and speed: their keys are a [`numbered_key`],
//! the number of a (tenant, scope) or (tenant, import) pair in the high 64
//! bits and the phone's digits or the row in the low 64, so that no value
//! can reach another pair's keys either.
//!
//! Each call is one write transaction: redb runs one at a time, which is
//! what makes a claim, a chunk commit or a status change conditional when
//! many importers write at once.
//!
//! Contact writes and chunk commits are not flushed to disk one by one: a
//! chunk commit is made durable when [`DURABLE_EVERY`] has passed since the
//! last durable one, and every other write, and closing the store, make all
//! before them durable. redb keeps the commits in between in memory, so a
//! page that many chunks change is written once instead of once per chunk.
//! A crash (a killed process, a power cut) loses only the commits since the
//! last durable one, the newest first; the store then holds what it held at
//! that point, which resuming the import takes from as from any crash.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::HashSet;
use std::fs;
use std::ops::Range;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, Once, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use contact_import_core::imports::{ChunkResult, ImportRecord, ImportStatus, ImportUpdate};
use contact_import_core::ports::{
    contact_cursor, contact_id_for, contact_id_parts, ChunkCommit, ContactFilter, ContactPage,
    ContactStore, ContactWrite, DoNotCallStore, ImportStore, PortError, PortResult, StoredContact,
    WriteTarget,
};
use contact_import_core::rules::phone::checked_e164_key;
use contact_import_core::rules::spec::DuplicateMode;
use contact_import_core::{Contact, WriteOutcome};
use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata, Table,
    TableDefinition, TableHandle, WriteTransaction,
};

/// (tenant, import id) → the import record as JSON.
const IMPORTS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("imports");
/// (tenant, created_at, import id): read backwards, a tenant's imports newest first.
const IMPORTS_BY_TIME: TableDefinition<(&str, &str, &str), ()> =
    TableDefinition::new("imports_by_time");
/// (tenant, import id, chunk index) → the chunk result as JSON; its presence
/// is what makes a chunk committed.
const CHUNKS: TableDefinition<(&str, &str, u32), &[u8]> = TableDefinition::new("chunks");
/// (scope number, E.164), as [`numbered_key`] makes it, → (import number, row)
/// of the claim, which points to the contact `contact_id_for(import id,
/// row)`. About 30 bytes a claim, so that the claims of a large import stay
/// in the page cache, and a key of fixed width, which the tree compares
/// without decoding it.
const CLAIMS: TableDefinition<u128, (u32, u64)> = TableDefinition::new("claims_by_e164");
/// Claims as stores before `claims_by_e164` kept them: the scope's number
/// in 4 big-endian bytes, then the number's bytes. Opening such a store
/// moves them.
const CLAIMS_BY_BYTES: TableDefinition<&[u8], (u32, u64)> =
    TableDefinition::new("claims_by_number");
/// (tenant, scope) → the scope's number in claim keys.
const SCOPE_NUMBERS: TableDefinition<(&str, &str), u32> = TableDefinition::new("scope_numbers");
/// (tenant, import id) → the import's number in claims.
const IMPORT_NUMBERS: TableDefinition<(&str, &str), u32> = TableDefinition::new("import_numbers");
/// Import number → import id.
const IMPORT_IDS: TableDefinition<u32, &str> = TableDefinition::new("import_ids");
/// Claims as stores before `claims_by_number` kept them: (tenant, scope,
/// E.164) → (contact id, import id, row). Opening such a store moves them too.
const CLAIMS_BY_NAME: TableDefinition<(&str, &str, &str), (&str, &str, u64)> =
    TableDefinition::new("claims");
/// (scope, import id, row, contact as JSON). The filter fields sit outside
/// the JSON, so a filtered listing decodes only the contacts it returns.
type ContactValue = (&'static str, &'static str, u64, &'static [u8]);
/// (import number, row), as [`numbered_key`] makes it, → the contact
/// `contact_id_for(import id, row)`. A number of `import_numbers` names one
/// import of one tenant, so no tenant reaches another's contacts. A new
/// contact's key follows the one its import wrote before, so that writing
/// an import's contacts appends to the tree; and a key of fixed width is
/// compared without decoding it, as the tree is searched on every insert
/// (docs/decisions.md).
const CONTACTS: TableDefinition<u128, ContactValue> = TableDefinition::new("contacts_by_number");
/// Contacts as stores before `contacts_by_number` kept them: (tenant,
/// import id, row) → the contact. Opening such a store moves them.
const CONTACTS_BY_ROW: TableDefinition<(&str, &str, u64), ContactValue> =
    TableDefinition::new("contacts_by_row");
/// Contacts as stores before `contacts_by_row` kept them: (tenant, contact
/// id) → the contact. Opening such a store moves them too.
const CONTACTS_BY_ID: TableDefinition<(&str, &str), ContactValue> =
    TableDefinition::new("contacts");
/// (tenant, E.164).
const DO_NOT_CALL: TableDefinition<(&str, &str), ()> = TableDefinition::new("do_not_call");

/// What went wrong inside a transaction, before it is named for the caller.
#[derive(Debug, thiserror::Error)]
enum TxnFailure {
    #[error(transparent)]
    Redb(redb::Error),
    #[error("a value does not encode: {0}")]
    Json(#[from] serde_json::Error),
    /// A request the stored state refuses; its message stands alone.
    #[error("{0}")]
    Refused(String),
    /// What the file holds cannot be what this store wrote.
    #[error("{0}")]
    Damaged(String),
}

/// A stored value, which only this store wrote: one that does not decode
/// was damaged since.
fn decode<T: serde::de::DeserializeOwned>(json: &[u8]) -> Result<T, TxnFailure> {
    serde_json::from_slice(json)
        .map_err(|e| TxnFailure::Damaged(format!("a stored value does not decode: {e}")))
}

macro_rules! redb_failures {
    ($($error:ty),* $(,)?) => {
        $(impl From<$error> for TxnFailure {
            fn from(e: $error) -> Self {
                TxnFailure::Redb(e.into())
            }
        })*
    };
}

redb_failures!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError,
);

impl TxnFailure {
    /// What shows the file damaged, when this failure does.
    fn damage(&self) -> Option<String> {
        match self {
            TxnFailure::Redb(redb::Error::Corrupted(detail)) | TxnFailure::Damaged(detail) => {
                Some(detail.clone())
            }
            TxnFailure::Redb(redb::Error::Io(e))
                if e.kind() == std::io::ErrorKind::UnexpectedEof =>
            {
                Some(format!("it ends before its last page: {e}"))
            }
            _ => None,
        }
    }

    /// A lost write lock or a failed disk operation may pass; a damaged
    /// file (a short read is a file cut short, not a passing fault), bad
    /// data or a schema mismatch will not.
    fn port(self, what: &str) -> PortError {
        if let Some(detail) = self.damage() {
            return damaged(what, &detail);
        }
        match self {
            TxnFailure::Redb(redb::Error::Io(e)) => crate::io_error(what, &e),
            TxnFailure::Redb(redb::Error::DatabaseAlreadyOpen) => PortError::Transient(format!(
                "{what}: it is already open, most likely in another process; try again when that one ends"
            )),
            TxnFailure::Redb(e @ (redb::Error::WouldBlock | redb::Error::TransactionPoisoned)) => {
                PortError::Transient(format!("{what}: {e}"))
            }
            TxnFailure::Refused(message) => PortError::Permanent(message),
            e => PortError::Permanent(format!("{what}: {e}")),
        }
    }
}

/// The store, named in `what`, cannot be read as a store: only the user
/// can restore or replace it.
fn damaged(what: &str, detail: &str) -> PortError {
    PortError::Permanent(format!(
        "{what}: the store is damaged ({detail}); restore it from a backup, or move it \
         aside (rename it) to start again with an empty store"
    ))
}

thread_local! {
    /// Whether this thread is inside [`guarded`], whose panics are reported
    /// as errors instead.
    static GUARDED: Cell<bool> = const { Cell::new(false) };
}

/// Runs redb work, turning a panic into a damaged-store failure. redb
/// trusts the pages it reads: a page a disk or a person overwrote can make
/// it panic (an invalid page type, `unreachable`) where a `Corrupted`
/// error was due. The panic's message becomes the error's detail, and the
/// default hook, which would print it with a backtrace, stays quiet.
fn guarded<T>(work: impl FnOnce() -> Result<T, TxnFailure>) -> Result<T, TxnFailure> {
    static QUIET_HOOK: Once = Once::new();
    QUIET_HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !GUARDED.with(Cell::get) {
                previous(info);
            }
        }));
    });
    let outer = GUARDED.replace(true);
    let result = panic::catch_unwind(AssertUnwindSafe(work));
    GUARDED.set(outer);
    result.unwrap_or_else(|payload| {
        let detail = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "the store's code stopped on it".to_owned());
        Err(TxnFailure::Damaged(detail))
    })
}

/// The least string above `tenant`: `(tenant, ..)..(successor, ..)` is
/// exactly the tenant's keys.
fn successor(tenant: &str) -> String {
    format!("{tenant}\0")
}

/// The page cache. With claims of about 30 bytes, a cache of 48 MiB held
/// 45 MB more at 1M rows and was no faster (docs/decisions.md).
const CACHE_BYTES: usize = 16 * 1024 * 1024;

/// The most time a committed chunk waits to be made durable: what a crash
/// can make an import redo.
const DURABLE_EVERY: Duration = Duration::from_secs(2);

/// How often the file's written pages are handed to the disk between
/// durable commits.
const WRITE_BACK_EVERY: Duration = Duration::from_millis(250);

/// Hands the store file's written pages to the disk every
/// [`WRITE_BACK_EVERY`], on a thread of its own, until dropped. A durable
/// commit syncs the file while it holds the write lock, so every importer
/// waits for it; written back as they come, the pages of the seconds before
/// it are no longer the commit's to write (docs/decisions.md). Syncing more
/// often than redb does changes nothing it relies on: the kernel may write
/// any page back at any moment.
struct WriteBack {
    _stop: mpsc::Sender<()>,
}

impl WriteBack {
    fn start(path: &Path) -> std::io::Result<Self> {
        let file = fs::OpenOptions::new().write(true).open(path)?;
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("store-write-back".to_owned())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(WRITE_BACK_EVERY) {
                    // A failing disk fails the next durable commit, which says so.
                    let _ = file.sync_data();
                }
            })?;
        Ok(WriteBack { _stop: stop })
    }
}

/// Every store port in one redb file; share it behind an `Arc`.
pub struct RedbStore {
    db: Arc<Database>,
    path: PathBuf,
    /// Ends the write-back thread when the store is dropped.
    _write_back: WriteBack,
    /// The first damage found: after it, no call reads the file again, as
    /// redb's state after a panic is not to be trusted.
    damage: Arc<OnceLock<PortError>>,
    /// When a commit was last made durable.
    last_durable: Arc<Mutex<Instant>>,
}

impl RedbStore {
    /// Opens the store at `path`, creating the file and its folder if missing.
    pub fn open(path: impl AsRef<Path>) -> PortResult<Self> {
        let path = path.as_ref();
        let what = format!("opening the store {}", path.display());
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|e| crate::io_error(&what, &e))?;
        }
        let open = || -> Result<Database, TxnFailure> {
            // redb caches 1 GiB by default; a laptop import needs far less.
            let db = Database::builder()
                .set_cache_size(CACHE_BYTES)
                .create(path)?;
            // A read transaction cannot open a table that no write created.
            let txn = db.begin_write()?;
            txn.open_table(IMPORTS)?;
            txn.open_table(IMPORTS_BY_TIME)?;
            txn.open_table(CHUNKS)?;
            txn.open_table(CLAIMS)?;
            txn.open_table(SCOPE_NUMBERS)?;
            txn.open_table(IMPORT_NUMBERS)?;
            txn.open_table(IMPORT_IDS)?;
            txn.open_table(CONTACTS)?;
            txn.open_table(DO_NOT_CALL)?;
            let earlier: Vec<String> = txn.list_tables()?.map(|t| t.name().to_owned()).collect();
            if earlier.iter().any(|name| name == CLAIMS_BY_NAME.name()) {
                move_claims_by_name(&txn)?;
            }
            if earlier.iter().any(|name| name == CLAIMS_BY_BYTES.name()) {
                move_claims_by_bytes(&txn)?;
            }
            if earlier.iter().any(|name| name == CONTACTS_BY_ID.name()) {
                move_contacts_by_id(&txn)?;
            }
            if earlier.iter().any(|name| name == CONTACTS_BY_ROW.name()) {
                move_contacts_by_row(&txn)?;
            }
            txn.commit()?;
            Ok(db)
        };
        let db = guarded(open).map_err(|e| e.port(&what))?;
        let write_back = WriteBack::start(path).map_err(|e| crate::io_error(&what, &e))?;
        Ok(RedbStore {
            db: Arc::new(db),
            path: path.to_owned(),
            _write_back: write_back,
            damage: Arc::default(),
            last_durable: Arc::new(Mutex::new(Instant::now())),
        })
    }

    /// Runs `work` off the runtime's threads and names its failure with
    /// `what` and the store's path. A write transaction that `work` drops
    /// without committing is aborted, which is how a call that changes
    /// nothing avoids an fsync.
    async fn run<T, F>(&self, what: String, work: F) -> PortResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> Result<T, TxnFailure> + Send + 'static,
    {
        if let Some(damage) = self.damage.get() {
            return Err(damage.clone());
        }
        let what = format!("{what} in the store {}", self.path.display());
        let (db, damage) = (Arc::clone(&self.db), Arc::clone(&self.damage));
        crate::blocking(move || {
            guarded(|| work(&db)).map_err(|e| {
                let found = e.damage().is_some();
                let error = e.port(&what);
                if found {
                    let _ = damage.set(error.clone());
                }
                error
            })
        })
        .await
    }
}

/// Whether a commit now is to be durable, [`DURABLE_EVERY`] having passed
/// since the last durable one; if so, it counts as done.
fn durable_due(last_durable: &Mutex<Instant>) -> bool {
    let mut last = last_durable.lock().unwrap_or_else(PoisonError::into_inner);
    let due = last.elapsed() >= DURABLE_EVERY;
    if due {
        *last = Instant::now();
    }
    due
}

/// The number of `name` of `tenant` in `numbers`, given on its first use;
/// and whether that use is now.
fn number_of(
    numbers: &mut Table<(&str, &str), u32>,
    tenant: &str,
    name: &str,
) -> Result<(u32, bool), TxnFailure> {
    if let Some(number) = numbers.get((tenant, name))? {
        return Ok((number.value(), false));
    }
    let number = u32::try_from(numbers.len()?).map_err(|_| {
        TxnFailure::Refused(format!(
            "the store has numbered 2^32 names and cannot number {name}; import into a new data folder"
        ))
    })?;
    numbers.insert((tenant, name), number)?;
    Ok((number, true))
}

/// The scope's and the import's numbers in claims, given on first use.
fn claim_numbers(
    txn: &WriteTransaction,
    tenant: &str,
    scope: &str,
    import_id: &str,
) -> Result<(u32, u32), TxnFailure> {
    let (scope_number, _) = number_of(&mut txn.open_table(SCOPE_NUMBERS)?, tenant, scope)?;
    Ok((scope_number, import_number(txn, tenant, import_id)?))
}

/// The import's number in claims and contact keys, given on first use.
fn import_number(txn: &WriteTransaction, tenant: &str, import_id: &str) -> Result<u32, TxnFailure> {
    let (number, new) = number_of(&mut txn.open_table(IMPORT_NUMBERS)?, tenant, import_id)?;
    if new {
        txn.open_table(IMPORT_IDS)?.insert(number, import_id)?;
    }
    Ok(number)
}

/// A key of claims (a scope's number, a phone's digits) or contacts (an
/// import's number, a row): fixed-width, which the tree compares without
/// decoding, and ordered by the number first.
fn numbered_key(number: u32, low: u64) -> u128 {
    (u128::from(number) << 64) | u128::from(low)
}

/// The [`numbered_key`] of a stored claim on `phone`, which this store wrote
/// only for E.164 numbers.
fn stored_claim_key(scope_number: u32, phone: &[u8]) -> Result<u128, TxnFailure> {
    std::str::from_utf8(phone)
        .ok()
        .and_then(checked_e164_key)
        .map(|number| numbered_key(scope_number, number))
        .ok_or_else(|| {
            TxnFailure::Damaged("a claim is stored on a value that is not an E.164 number".into())
        })
}

/// Moves the claims of a store made before `claims_by_number` into
/// `claims_by_e164`.
fn move_claims_by_name(txn: &WriteTransaction) -> Result<(), TxnFailure> {
    {
        let by_name = txn.open_table(CLAIMS_BY_NAME)?;
        let mut claims = txn.open_table(CLAIMS)?;
        for entry in by_name.iter()? {
            let (name, claim) = entry?;
            let (tenant, scope, phone) = name.value();
            let (_, import_id, row) = claim.value();
            let (scope_number, import_number) = claim_numbers(txn, tenant, scope, import_id)?;
            claims.insert(
                stored_claim_key(scope_number, phone.as_bytes())?,
                (import_number, row),
            )?;
        }
    }
    txn.delete_table(CLAIMS_BY_NAME)?;
    Ok(())
}

/// Moves the claims of a store made before `claims_by_e164` into it.
fn move_claims_by_bytes(txn: &WriteTransaction) -> Result<(), TxnFailure> {
    {
        let by_bytes = txn.open_table(CLAIMS_BY_BYTES)?;
        let mut claims = txn.open_table(CLAIMS)?;
        for entry in by_bytes.iter()? {
            let (key, claim) = entry?;
            let key = key.value();
            let scope_number = key
                .first_chunk::<4>()
                .map(|bytes| u32::from_be_bytes(*bytes))
                .ok_or_else(|| {
                    TxnFailure::Damaged("a claim's key is shorter than a scope's number".into())
                })?;
            claims.insert(stored_claim_key(scope_number, &key[4..])?, claim.value())?;
        }
    }
    txn.delete_table(CLAIMS_BY_BYTES)?;
    Ok(())
}

/// Moves the contacts of a store made before `contacts_by_row` into
/// `contacts_by_number`.
fn move_contacts_by_id(txn: &WriteTransaction) -> Result<(), TxnFailure> {
    {
        let by_id = txn.open_table(CONTACTS_BY_ID)?;
        let mut contacts = txn.open_table(CONTACTS)?;
        for entry in by_id.iter()? {
            let (key, value) = entry?;
            let (tenant, contact_id) = key.value();
            let (import_id, row) = contact_id_parts(contact_id).ok_or_else(|| {
                TxnFailure::Damaged(format!(
                    "a contact is stored under `{contact_id}`, not a contact id"
                ))
            })?;
            let key = numbered_key(import_number(txn, tenant, import_id)?, row);
            contacts.insert(key, value.value())?;
        }
    }
    txn.delete_table(CONTACTS_BY_ID)?;
    Ok(())
}

/// Moves the contacts of a store made before `contacts_by_number` into it.
fn move_contacts_by_row(txn: &WriteTransaction) -> Result<(), TxnFailure> {
    {
        let by_row = txn.open_table(CONTACTS_BY_ROW)?;
        let mut contacts = txn.open_table(CONTACTS)?;
        for entry in by_row.iter()? {
            let (key, value) = entry?;
            let (tenant, import_id, row) = key.value();
            let key = numbered_key(import_number(txn, tenant, import_id)?, row);
            contacts.insert(key, value.value())?;
        }
    }
    txn.delete_table(CONTACTS_BY_ROW)?;
    Ok(())
}

/// An owned [`WriteTarget`], to move onto a blocking thread.
struct OwnedTarget {
    tenant: String,
    import_id: String,
    scope: String,
    mode: DuplicateMode,
}

impl From<WriteTarget<'_>> for OwnedTarget {
    fn from(target: WriteTarget<'_>) -> Self {
        Self {
            tenant: target.tenant.to_owned(),
            import_id: target.import_id.to_owned(),
            scope: target.scope.to_owned(),
            mode: target.mode,
        }
    }
}

/// A contact as the write transaction needs it, made before the write
/// lock is taken: most rows are inserts, which need only the JSON.
struct EncodedWrite {
    row: u64,
    /// Its number, as [`checked_e164_key`] gives it.
    number: u64,
    /// Where its JSON stands in the batch's [`Encoded::json`]: empty for an
    /// `update` row claimed elsewhere, which is not encoded.
    json: Range<usize>,
    /// Only under `update`, to merge into a stored contact.
    contact: Option<Contact>,
    /// The claim (import number, row) of another row on its number, when a
    /// snapshot found one and no contact of its own: it never will write
    /// one, so the writer need not look for it.
    claimed_elsewhere: Option<(u32, u64)>,
    /// Under `update`, the claim's contact merged with this row in a
    /// snapshot, for the writer to store if the contact is still as read.
    premerged: Option<Premerged>,
}

/// The contact of a row's [`EncodedWrite::claimed_elsewhere`] as a
/// snapshot read it, and merged with the row.
struct Premerged {
    /// The stored value's scope, import id, row and JSON, as read.
    scope: String,
    import_id: String,
    row: u64,
    json: Vec<u8>,
    merged: Vec<u8>,
}

/// A batch's rows and their numbers, as [`checked_e164_key`] gives them.
struct Numbers {
    rows: Vec<(u64, u64)>,
}

impl Numbers {
    /// Refuses a batch with a number that is not E.164, which the rules
    /// never pass: claims are keyed by the number's digits.
    fn of(writes: &[ContactWrite]) -> Result<Self, TxnFailure> {
        let rows = writes
            .iter()
            .map(|write| match checked_e164_key(&write.contact.phone) {
                Some(number) => Ok((write.row, number)),
                None => Err(TxnFailure::Refused(format!(
                    "the number of row {} is not in E.164 form (a + and up to 15 digits)",
                    write.row
                ))),
            })
            .collect::<Result<_, _>>()?;
        Ok(Numbers { rows })
    }
}

/// The contacts of a batch that the write transaction decides, their JSON
/// in one buffer: one allocation for the batch instead of one per row.
struct Encoded {
    json: Vec<u8>,
    writes: Vec<EncodedWrite>,
}

impl Encoded {
    /// The rows of `writes` that the snapshot's `claimed_elsewhere` leaves
    /// to the writer: under `skip`, those it did not decide.
    fn new(
        numbers: &Numbers,
        writes: &[ContactWrite],
        claimed_elsewhere: &[Option<(u32, u64)>],
        mode: DuplicateMode,
    ) -> Result<Self, TxnFailure> {
        // About the JSON of a contact with a name, an email and a few fields.
        let mut json = Vec::with_capacity(writes.len() * 320);
        // Sized once: grown from empty, a chunk's writes were copied about a
        // dozen times (3 MB each at 5,000 rows).
        let mut encoded = Vec::with_capacity(writes.len());
        let rows = writes.iter().zip(&numbers.rows).zip(claimed_elsewhere);
        for ((write, &(row, number)), &claimed_elsewhere) in rows {
            if claimed_elsewhere.is_some() && mode == DuplicateMode::Skip {
                continue;
            }
            let start = json.len();
            // An `update` row claimed elsewhere never stores its own
            // contact (claims are never removed), only its merge.
            if claimed_elsewhere.is_none() {
                serde_json::to_writer(&mut json, &write.contact)?;
            }
            encoded.push(EncodedWrite {
                row,
                number,
                json: start..json.len(),
                contact: (mode == DuplicateMode::Update).then(|| write.contact.clone()),
                claimed_elsewhere,
                premerged: None,
            });
        }
        Ok(Encoded {
            json,
            writes: encoded,
        })
    }
}

/// How many rows of a batch the snapshot reads before it gives up on a
/// batch that it decides none of.
const PROBED_ROWS: usize = 32;

/// The claims a read snapshot finds on the rows of a `skip` or `update`
/// batch held elsewhere, with no write lock: those whose number is claimed while they
/// wrote no contact of their own (so another row holds the claim). A
/// committed claim is never removed, and moves only to a row that writes
/// its own contact, which a `skip` or `update` row does only on an
/// unclaimed number; so no later transaction finds these rows otherwise.
/// Under `skip` they are `Existing`: an import's second run over a file
/// decides all its rows here, in parallel, and the serial writer has
/// nothing left to do. Under `update` the writer merges them into the
/// claim's contact without looking for one of their own. Only a batch with
/// such a row among its first [`PROBED_ROWS`] is read whole: in one
/// without, the rare row that the snapshot would have found costs the
/// writer a lookup more.
fn claimed_elsewhere_in_snapshot(
    db: &Database,
    target: &OwnedTarget,
    numbers: &Numbers,
) -> Result<Vec<Option<(u32, u64)>>, TxnFailure> {
    let rows = &numbers.rows;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let (tenant, import_id) = (target.tenant.as_str(), target.import_id.as_str());
    let txn = db.begin_read()?;
    let Some(scope_number) = txn
        .open_table(SCOPE_NUMBERS)?
        .get((tenant, target.scope.as_str()))?
    else {
        return Ok(vec![None; rows.len()]);
    };
    let scope_number = scope_number.value();
    let claims = txn.open_table(CLAIMS)?;
    // A row that holds its claim wrote its contact in the same transaction,
    // so its own contact is the one thing to look for: the batch's are
    // found in one pass over its rows' range, which in an import's first
    // run over a file holds none.
    let (first, last) = rows.iter().fold((u64::MAX, 0), |(first, last), (row, _)| {
        (first.min(*row), last.max(*row))
    });
    let own_contacts = match txn.open_table(IMPORT_NUMBERS)?.get((tenant, import_id))? {
        Some(number) => txn
            .open_table(CONTACTS)?
            .range(numbered_key(number.value(), first)..=numbered_key(number.value(), last))?
            // The low 64 bits of a contact's key are its row.
            .map(|entry| entry.map(|(key, _)| key.value() as u64))
            .collect::<Result<Vec<u64>, _>>()?,
        // An import that has no number yet has written no contact.
        None => Vec::new(),
    };
    let mut elsewhere = Vec::with_capacity(rows.len());
    for (row, number) in rows {
        let claim = claims
            .get(numbered_key(scope_number, *number))?
            .map(|guard| guard.value());
        elsewhere.push(claim.filter(|_| own_contacts.binary_search(row).is_err()));
        if elsewhere.len() == PROBED_ROWS && elsewhere.iter().all(Option::is_none) {
            // Most likely new numbers, as in a first import: a lookup per
            // row would find nothing the write transaction does not.
            return Ok(vec![None; rows.len()]);
        }
    }
    Ok(elsewhere)
}

/// Merges, in a read snapshot with no write lock, each `update` row that
/// the snapshot before found claimed elsewhere into the claim's contact:
/// decoding, merging and encoding are most of an update's work, and done
/// here they run on every core. The writer stores the merge only if the
/// claim and the contact are still those read here, and merges again
/// under its lock where they are not.
fn premerge(db: &Database, rows: &mut Encoded) -> Result<(), TxnFailure> {
    if rows
        .writes
        .iter()
        .all(|write| write.claimed_elsewhere.is_none())
    {
        return Ok(());
    }
    let txn = db.begin_read()?;
    let contacts = txn.open_table(CONTACTS)?;
    for write in &mut rows.writes {
        let (Some((import, row)), Some(newer)) = (write.claimed_elsewhere, write.contact.as_ref())
        else {
            continue;
        };
        let Some(stored) = contacts.get(numbered_key(import, row))? else {
            continue;
        };
        let (scope, import_id, row, json) = stored.value();
        let mut contact = decode::<Contact>(json)?;
        contact.merge_from(newer.clone());
        write.premerged = Some(Premerged {
            scope: scope.to_owned(),
            import_id: import_id.to_owned(),
            row,
            json: json.to_vec(),
            merged: serde_json::to_vec(&contact)?,
        });
    }
    Ok(())
}

/// Puts back the claim that a row replaced before it knew it may not hold it.
fn put_back(
    claims: &mut Table<u128, (u32, u64)>,
    key: u128,
    claim: Option<(u32, u64)>,
) -> Result<(), TxnFailure> {
    match claim {
        Some(claim) => claims.insert(key, claim)?,
        None => claims.remove(key)?,
    };
    Ok(())
}

/// Decides and writes a batch in one write transaction, row by row, so that
/// a row sees the claims of the rows before it.
fn write_batch(
    db: &Database,
    target: &OwnedTarget,
    rows: Encoded,
) -> Result<Vec<WriteOutcome>, TxnFailure> {
    let (tenant, import_id, scope) = (
        target.tenant.as_str(),
        target.import_id.as_str(),
        target.scope.as_str(),
    );
    let mut txn = db.begin_write()?;
    // Made durable with the chunk's commit or a later one: a crash before
    // that loses the chunk's contacts and its commit together.
    txn.set_durability(Durability::None)?;
    let (scope_number, import_number) = claim_numbers(&txn, tenant, scope, import_id)?;
    let mut outcomes = Vec::with_capacity(rows.writes.len());
    {
        let mut claims = txn.open_table(CLAIMS)?;
        let mut contacts = txn.open_table(CONTACTS)?;
        // Under skip and create most rows claim a new number: claiming first
        // looks the number up once, and a row that may not hold the claim
        // puts back the one it replaced.
        let claimed_first = target.mode != DuplicateMode::Update;
        for write in rows.writes {
            let key = numbered_key(scope_number, write.number);
            let own_claim = (import_number, write.row);
            let claim = if claimed_first {
                claims.insert(key, own_claim)?
            } else {
                claims.get(key)?
            }
            .map(|guard| guard.value());
            let own_key = numbered_key(import_number, write.row);
            let outcome = match (target.mode, claim, write.contact) {
                // Claimed by this row: an earlier delivery wrote it.
                (_, Some(claimed), _) if claimed == own_claim => WriteOutcome::Inserted,
                (DuplicateMode::Create, _, newer) | (_, None, newer) => {
                    let own_json: Cow<[u8]> = match &newer {
                        // Not encoded, as claimed elsewhere: should its claim
                        // be gone, which no write does, it is encoded now.
                        Some(contact) if write.json.is_empty() => {
                            serde_json::to_vec(contact)?.into()
                        }
                        _ => rows.json[write.json].into(),
                    };
                    let own = (scope, import_id, write.row, &*own_json);
                    // Inserting first looks the row's own contact up once.
                    let earlier = contacts.insert(own_key, own)?.map(|guard| {
                        let (scope, import_id, row, json) = guard.value();
                        (scope.to_owned(), import_id.to_owned(), row, json.to_vec())
                    });
                    match earlier {
                        // Written by an earlier delivery; rewriting could
                        // undo a later merge, so it is put back.
                        Some((its_scope, its_import, its_row, its_json)) => {
                            let earlier = (
                                its_scope.as_str(),
                                its_import.as_str(),
                                its_row,
                                its_json.as_slice(),
                            );
                            contacts.insert(own_key, earlier)?;
                            put_back(&mut claims, key, claim)?;
                        }
                        None if !claimed_first => {
                            claims.insert(key, own_claim)?;
                        }
                        None => {}
                    }
                    WriteOutcome::Inserted
                }
                _ if claimed_first => {
                    put_back(&mut claims, key, claim)?;
                    if contacts.get(own_key)?.is_some() {
                        WriteOutcome::Inserted
                    } else {
                        WriteOutcome::Existing
                    }
                }
                _ if write.claimed_elsewhere.is_none() && contacts.get(own_key)?.is_some() => {
                    WriteOutcome::Inserted
                }
                (DuplicateMode::Update, Some((claimed_import, claimed_row)), Some(newer)) => {
                    // A merge made for a claim that has moved since is of no use.
                    let still_claimed =
                        write.claimed_elsewhere == Some((claimed_import, claimed_row));
                    let premerged = write.premerged.filter(|_| still_claimed);
                    let key = numbered_key(claimed_import, claimed_row);
                    // The snapshot's merge stands if the contact is as it read it.
                    let unchanged = match &premerged {
                        Some(p) => contacts.get(key)?.is_some_and(|guard| {
                            let read = (&*p.scope, &*p.import_id, p.row, &*p.json);
                            guard.value() == read
                        }),
                        None => false,
                    };
                    let (stored_scope, merged): (Cow<str>, Cow<[u8]>) = match &premerged {
                        Some(p) if unchanged => {
                            (p.scope.as_str().into(), p.merged.as_slice().into())
                        }
                        _ => {
                            let stored = match contacts.get(key)? {
                                Some(guard) => {
                                    let (stored_scope, _, _, json) = guard.value();
                                    Some((stored_scope.to_owned(), decode::<Contact>(json)?))
                                }
                                None => None,
                            };
                            let (stored_scope, contact) = match stored {
                                Some((stored_scope, mut contact)) => {
                                    contact.merge_from(newer);
                                    (stored_scope, contact)
                                }
                                None => (scope.to_owned(), newer),
                            };
                            (stored_scope.into(), serde_json::to_vec(&contact)?.into())
                        }
                    };
                    let value = (&*stored_scope, import_id, write.row, &*merged);
                    contacts.insert(key, value)?;
                    WriteOutcome::Updated
                }
                (_, Some(_), _) => WriteOutcome::Existing,
            };
            outcomes.push(outcome);
        }
    }
    txn.commit()?;
    Ok(outcomes)
}

impl ContactStore for RedbStore {
    async fn write_contacts(
        &self,
        target: WriteTarget<'_>,
        rows: &[ContactWrite],
    ) -> PortResult<Vec<WriteOutcome>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let what = format!(
            "writing {} contacts of import {} to {} for tenant {}",
            rows.len(),
            target.import_id,
            target.scope,
            target.tenant
        );
        let target = Arc::new(OwnedTarget::from(target));
        let numbers = Numbers::of(rows).map_err(|e| e.port(&what))?;
        let (numbers, elsewhere) = if target.mode == DuplicateMode::Create {
            (numbers, vec![None; rows.len()])
        } else {
            let target = Arc::clone(&target);
            self.run(what.clone(), move |db| {
                let elsewhere = claimed_elsewhere_in_snapshot(db, &target, &numbers)?;
                Ok((numbers, elsewhere))
            })
            .await?
        };
        let mut encoded =
            Encoded::new(&numbers, rows, &elsewhere, target.mode).map_err(|e| e.port(&what))?;
        if target.mode == DuplicateMode::Update {
            encoded = self
                .run(what.clone(), move |db| {
                    premerge(db, &mut encoded)?;
                    Ok(encoded)
                })
                .await?;
        }
        let skip = target.mode == DuplicateMode::Skip;
        let written = if encoded.writes.is_empty() {
            Vec::new()
        } else {
            self.run(what, move |db| write_batch(db, &target, encoded))
                .await?
        };
        // A short answer stays short, for the pipeline's count check.
        let mut written = written.into_iter();
        Ok(elsewhere
            .into_iter()
            .filter_map(|elsewhere| match elsewhere.is_some() && skip {
                true => Some(WriteOutcome::Existing),
                false => written.next(),
            })
            .collect())
    }

    async fn list_contacts(
        &self,
        tenant: &str,
        filter: &ContactFilter,
        after: Option<&str>,
        limit: usize,
    ) -> PortResult<ContactPage> {
        let what = format!("listing the contacts of tenant {tenant}");
        let after = match after {
            Some(id) => {
                let (import_id, row) = contact_cursor(id)?;
                Some((import_id.to_owned(), row))
            }
            None => None,
        };
        let (tenant, filter) = (tenant.to_owned(), filter.clone());
        self.run(what, move |db| {
            let txn = db.begin_read()?;
            let table = txn.open_table(CONTACTS)?;
            let imports = txn.open_table(IMPORT_NUMBERS)?;
            let end = successor(&tenant);
            // The tenant's imports in the order of their ids, and each
            // one's contacts in the order of their rows.
            let first_import = match &after {
                Some((import_id, _)) => import_id.as_str(),
                None => "",
            };
            let mut contacts = Vec::new();
            let mut more = false;
            let tenant_imports =
                imports.range((tenant.as_str(), first_import)..(end.as_str(), ""))?;
            'imports: for entry in tenant_imports {
                let (key, number) = entry?;
                let (_, own_import) = key.value();
                let number = number.value();
                let first_row = match &after {
                    Some((import_id, row)) if import_id == own_import => match row.checked_add(1) {
                        Some(next) => next,
                        None => continue,
                    },
                    _ => 0,
                };
                let rows = numbered_key(number, first_row)..=numbered_key(number, u64::MAX);
                for entry in table.range(rows)? {
                    let (key, value) = entry?;
                    // The low 64 bits of a contact's key are its row.
                    let own_row = key.value() as u64;
                    let (scope, import_id, row, json) = value.value();
                    if filter.scope.as_deref().is_some_and(|s| s != scope)
                        || filter
                            .import_id
                            .as_deref()
                            .is_some_and(|id| id != import_id)
                    {
                        continue;
                    }
                    if contacts.len() == limit {
                        more = true;
                        break 'imports;
                    }
                    contacts.push(StoredContact {
                        contact_id: contact_id_for(own_import, own_row),
                        scope: scope.to_owned(),
                        import_id: import_id.to_owned(),
                        row,
                        contact: decode(json)?,
                    });
                }
            }
            let next = if more {
                contacts
                    .last()
                    .map(|c: &StoredContact| c.contact_id.clone())
            } else {
                None
            };
            Ok(ContactPage { contacts, next })
        })
        .await
    }
}

impl DoNotCallStore for RedbStore {
    async fn do_not_call(&self, tenant: &str, numbers: &[String]) -> PortResult<HashSet<String>> {
        if numbers.is_empty() {
            return Ok(HashSet::new());
        }
        let what = format!("looking up do-not-call numbers of tenant {tenant}");
        let (tenant, numbers) = (tenant.to_owned(), numbers.to_vec());
        self.run(what, move |db| {
            let txn = db.begin_read()?;
            let table = txn.open_table(DO_NOT_CALL)?;
            let mut listed = HashSet::new();
            for number in numbers {
                if table.get((tenant.as_str(), number.as_str()))?.is_some() {
                    listed.insert(number);
                }
            }
            Ok(listed)
        })
        .await
    }

    async fn add_do_not_call(&self, tenant: &str, numbers: &[String]) -> PortResult<usize> {
        if numbers.is_empty() {
            return Ok(0);
        }
        let what = format!("adding do-not-call numbers for tenant {tenant}");
        let (tenant, numbers) = (tenant.to_owned(), numbers.to_vec());
        self.run(what, move |db| {
            let txn = db.begin_write()?;
            let mut added = 0;
            {
                let mut table = txn.open_table(DO_NOT_CALL)?;
                for number in &numbers {
                    if table
                        .insert((tenant.as_str(), number.as_str()), ())?
                        .is_none()
                    {
                        added += 1;
                    }
                }
            }
            if added > 0 {
                txn.commit()?;
            }
            Ok(added)
        })
        .await
    }
}

impl ImportStore for RedbStore {
    async fn create_import(&self, record: &ImportRecord) -> PortResult<bool> {
        let what = format!(
            "creating import {} for tenant {}",
            record.import_id, record.tenant
        );
        let record = record.clone();
        self.run(what, move |db| {
            let json = serde_json::to_vec(&record)?;
            let (tenant, import_id) = (record.tenant.as_str(), record.import_id.as_str());
            let txn = db.begin_write()?;
            {
                let mut imports = txn.open_table(IMPORTS)?;
                if imports.get((tenant, import_id))?.is_some() {
                    return Ok(false);
                }
                imports.insert((tenant, import_id), json.as_slice())?;
                txn.open_table(IMPORTS_BY_TIME)?
                    .insert((tenant, record.created_at.as_str(), import_id), ())?;
            }
            txn.commit()?;
            Ok(true)
        })
        .await
    }

    async fn get_import(&self, tenant: &str, import_id: &str) -> PortResult<Option<ImportRecord>> {
        let what = format!("reading import {import_id} of tenant {tenant}");
        let (tenant, import_id) = (tenant.to_owned(), import_id.to_owned());
        self.run(what, move |db| {
            let txn = db.begin_read()?;
            let imports = txn.open_table(IMPORTS)?;
            let record = imports.get((tenant.as_str(), import_id.as_str()))?;
            record.map(|json| decode(json.value())).transpose()
        })
        .await
    }

    async fn update_import(
        &self,
        tenant: &str,
        import_id: &str,
        from: ImportStatus,
        update: &ImportUpdate,
    ) -> PortResult<bool> {
        let what = format!(
            "moving import {import_id} of tenant {tenant} from {from} to {}",
            update.status
        );
        let (tenant, import_id, update) = (tenant.to_owned(), import_id.to_owned(), update.clone());
        self.run(what, move |db| {
            let key = (tenant.as_str(), import_id.as_str());
            let txn = db.begin_write()?;
            {
                let mut imports = txn.open_table(IMPORTS)?;
                let mut record: ImportRecord = match imports.get(key)? {
                    Some(json) => decode(json.value())?,
                    None => return Ok(false),
                };
                if record.status != from {
                    return Ok(false);
                }
                record.apply(&update);
                imports.insert(key, serde_json::to_vec(&record)?.as_slice())?;
            }
            txn.commit()?;
            Ok(true)
        })
        .await
    }

    async fn commit_chunk(
        &self,
        tenant: &str,
        import_id: &str,
        result: &ChunkResult,
    ) -> PortResult<ChunkCommit> {
        let what = format!(
            "committing chunk {} of import {import_id} for tenant {tenant}",
            result.index
        );
        let (tenant, import_id, result) = (tenant.to_owned(), import_id.to_owned(), result.clone());
        let last_durable = Arc::clone(&self.last_durable);
        self.run(what, move |db| {
            let key = (tenant.as_str(), import_id.as_str());
            let chunk_key = (tenant.as_str(), import_id.as_str(), result.index);
            let mut txn = db.begin_write()?;
            let commit = {
                let mut imports = txn.open_table(IMPORTS)?;
                let mut chunks = txn.open_table(CHUNKS)?;
                let newly_committed = chunks.get(chunk_key)?.is_none();
                let mut record: ImportRecord = match imports.get(key)? {
                    Some(json) => decode(json.value())?,
                    None => {
                        return Err(TxnFailure::Refused(format!(
                            "no import {import_id} for tenant {tenant}"
                        )))
                    }
                };
                if newly_committed {
                    record.tally.add(&result.tally);
                    record.chunks_done += 1;
                    imports.insert(key, serde_json::to_vec(&record)?.as_slice())?;
                    chunks.insert(chunk_key, serde_json::to_vec(&result)?.as_slice())?;
                }
                ChunkCommit {
                    newly_committed,
                    chunks_done: record.chunks_done,
                    chunks_total: record.chunks_total,
                }
            };
            if commit.newly_committed {
                if !durable_due(&last_durable) {
                    txn.set_durability(Durability::None)?;
                }
                txn.commit()?;
            }
            Ok(commit)
        })
        .await
    }

    async fn chunk_results(&self, tenant: &str, import_id: &str) -> PortResult<Vec<ChunkResult>> {
        let what = format!("reading the chunks of import {import_id} of tenant {tenant}");
        let (tenant, import_id) = (tenant.to_owned(), import_id.to_owned());
        self.run(what, move |db| {
            let txn = db.begin_read()?;
            let chunks = txn.open_table(CHUNKS)?;
            let (tenant, import_id) = (tenant.as_str(), import_id.as_str());
            let mut results = Vec::new();
            for entry in chunks.range((tenant, import_id, 0)..=(tenant, import_id, u32::MAX))? {
                let (_, json) = entry?;
                results.push(decode(json.value())?);
            }
            Ok(results)
        })
        .await
    }

    async fn list_imports(&self, tenant: &str, limit: usize) -> PortResult<Vec<ImportRecord>> {
        let what = format!("listing the imports of tenant {tenant}");
        let tenant = tenant.to_owned();
        self.run(what, move |db| {
            let txn = db.begin_read()?;
            let by_time = txn.open_table(IMPORTS_BY_TIME)?;
            let imports = txn.open_table(IMPORTS)?;
            let end = successor(&tenant);
            let mut records = Vec::new();
            let newest_first = by_time
                .range((tenant.as_str(), "", "")..(end.as_str(), "", ""))?
                .rev();
            for entry in newest_first.take(limit) {
                let (key, _) = entry?;
                let (_, _, import_id) = key.value();
                let json = imports.get((tenant.as_str(), import_id))?.ok_or_else(|| {
                    TxnFailure::Damaged(format!(
                        "the store lists import {import_id} of tenant {tenant} but holds no record of it"
                    ))
                })?;
                records.push(decode(json.value())?);
            }
            Ok(records)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use contact_import_core::ports::contract::{self, target};
    use contact_import_core::ports::memory::MemoryStore;
    use contact_import_core::ports::{ContactStore, Store};
    use contact_import_core::rules::spec::ImportSpec;
    use contact_import_core::Tally;

    use super::*;

    fn fresh() -> (RedbStore, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path().join("data").join("store.redb")).unwrap();
        (store, dir)
    }

    /// A contact with one tag.
    fn contact(phone: &str, first_name: &str, tag: &str) -> Contact {
        contract::contact(phone, first_name, &[tag])
    }

    fn record(tenant: &str, import_id: &str, created_at: &str) -> ImportRecord {
        ImportRecord::accepted(
            tenant,
            import_id,
            "uploads/a.csv",
            10,
            ImportSpec::default(),
            created_at,
        )
    }

    /// Every contact of a tenant, read in small pages to cross page ends.
    async fn listed<S: Store>(
        store: &S,
        tenant: &str,
        filter: &ContactFilter,
    ) -> Vec<StoredContact> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = store
                .list_contacts(tenant, filter, after.as_deref(), 7)
                .await
                .unwrap();
            all.extend(page.contacts);
            match page.next {
                Some(next) => after = Some(next),
                None => return all,
            }
        }
    }

    #[tokio::test]
    async fn behaves_as_the_memory_store_on_a_random_history() {
        let (redb, _dir) = fresh();
        let memory = MemoryStore::default();
        // A fixed linear congruential sequence: the same history on every run.
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |n: u64| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 33) % n
        };
        let modes = [
            DuplicateMode::Skip,
            DuplicateMode::Update,
            DuplicateMode::Create,
        ];
        let mut batches: Vec<(String, String, String, DuplicateMode, Vec<ContactWrite>)> =
            Vec::new();
        let mut seen = HashSet::new();
        for step in 0..120 {
            let batch = if step > 0 && next(4) == 0 {
                // A retried chunk: the same rows again.
                batches[next(batches.len() as u64) as usize].clone()
            } else {
                let rows = (0..=next(12))
                    .map(|_| {
                        let row = next(40);
                        ContactWrite {
                            row,
                            contact: contact(
                                &format!("+1415555{:04}", next(25)),
                                &format!("n{}", next(5)),
                                &format!("t{}", next(3)),
                            ),
                        }
                    })
                    .collect();
                (
                    format!("tenant-{}", next(2)),
                    format!("imp-{}", next(4)),
                    ["contacts", "campaign:c1"][next(2) as usize].to_owned(),
                    modes[next(3) as usize],
                    rows,
                )
            };
            let (tenant, import_id, scope, mode, rows) = &batch;
            let at = target(tenant, import_id, scope, *mode);
            let outcomes = redb.write_contacts(at, rows).await.unwrap();
            assert_eq!(
                outcomes,
                memory.write_contacts(at, rows).await.unwrap(),
                "step {step}"
            );
            seen.extend(outcomes.iter().map(|o| format!("{o:?}")));
            batches.push(batch);
        }
        assert_eq!(seen.len(), 3, "the history takes every path: {seen:?}");
        for tenant in ["tenant-0", "tenant-1"] {
            let filters = [
                ContactFilter::default(),
                ContactFilter {
                    scope: Some("campaign:c1".into()),
                    import_id: None,
                },
                ContactFilter {
                    scope: None,
                    import_id: Some("imp-2".into()),
                },
            ];
            for filter in filters {
                assert_eq!(
                    listed(&redb, tenant, &filter).await,
                    listed(&memory, tenant, &filter).await,
                    "{tenant} {filter:?}"
                );
            }
        }
    }

    /// The snapshot settles a redelivered `skip` or `update` batch's first
    /// row, not the row that an earlier delivery inserted before another
    /// import took over its number.
    #[tokio::test]
    async fn a_snapshot_leaves_a_row_an_earlier_delivery_wrote_to_the_writer() {
        use WriteOutcome::{Existing, Inserted, Updated};
        for (mode, first_row) in [
            (DuplicateMode::Skip, Existing),
            (DuplicateMode::Update, Updated),
        ] {
            let (redb, _dir) = fresh();
            let memory = MemoryStore::default();
            let write = |row, phone: &str| ContactWrite {
                row,
                contact: contact(phone, "n", "t"),
            };
            // imp-c's chunk, delivered before and after imp-b takes its second number.
            let imp_c = (
                "imp-c",
                mode,
                vec![write(5, "+14155550001"), write(6, "+14155550002")],
                vec![first_row, Inserted],
            );
            let history = [
                (
                    "imp-a",
                    DuplicateMode::Skip,
                    vec![write(1, "+14155550001")],
                    vec![Inserted],
                ),
                imp_c.clone(),
                (
                    "imp-b",
                    DuplicateMode::Create,
                    vec![write(1, "+14155550002")],
                    vec![Inserted],
                ),
                imp_c,
            ];
            for (step, (import_id, mode, rows, expected)) in history.iter().enumerate() {
                let at = target("t1", import_id, "contacts", *mode);
                assert_eq!(
                    &redb.write_contacts(at, rows).await.unwrap(),
                    expected,
                    "{mode:?} step {step}"
                );
                assert_eq!(
                    &memory.write_contacts(at, rows).await.unwrap(),
                    expected,
                    "{mode:?} step {step}"
                );
            }
            let all = ContactFilter::default();
            assert_eq!(
                listed(&redb, "t1", &all).await,
                listed(&memory, "t1", &all).await
            );
            assert_eq!(listed(&redb, "t1", &all).await.len(), 3);
        }
    }

    /// A batch delivered again with rows between the ones an earlier
    /// delivery wrote stores the new contacts around the stored ones,
    /// leaves those as they were, and answers as the memory store does.
    #[tokio::test]
    async fn a_redelivered_batch_appends_between_the_rows_already_written() {
        let (redb, _dir) = fresh();
        let memory = MemoryStore::default();
        let write = |row: u64| ContactWrite {
            row,
            contact: contact(&format!("+1415555{row:04}"), "Ann", "a"),
        };
        let earlier: Vec<ContactWrite> = [2, 5, 6].map(write).to_vec();
        let again: Vec<ContactWrite> = (1..=8).map(write).collect();
        for mode in [DuplicateMode::Skip, DuplicateMode::Create] {
            let at = target("t1", "imp-a", "contacts", mode);
            for batch in [&earlier, &again, &again] {
                let outcomes = redb.write_contacts(at, batch).await.unwrap();
                assert_eq!(outcomes, memory.write_contacts(at, batch).await.unwrap());
                assert!(outcomes.iter().all(|o| *o == WriteOutcome::Inserted));
            }
            let all = ContactFilter::default();
            let stored = listed(&redb, "t1", &all).await;
            assert_eq!(stored, listed(&memory, "t1", &all).await);
            assert_eq!(stored.len(), 8);
        }
    }

    /// An `update` row merged in a snapshot, whose contact another import
    /// changes before the writer takes it, is merged again by the writer:
    /// the other import's change is kept, as the memory store keeps it.
    #[tokio::test]
    async fn a_merge_whose_contact_changed_since_its_snapshot_is_made_again() {
        let (redb, _dir) = fresh();
        let memory = MemoryStore::default();
        let phone = "+14155550001";
        let write = |row, first_name, tag| {
            vec![ContactWrite {
                row,
                contact: contact(phone, first_name, tag),
            }]
        };
        let (first, later, stale) = (
            write(1, "Ann", "a"),
            write(3, "Cy", "c"),
            write(2, "Bea", "b"),
        );
        let update = |import_id| target("t1", import_id, "contacts", DuplicateMode::Update);
        let skip = target("t1", "imp-a", "contacts", DuplicateMode::Skip);
        redb.write_contacts(skip, &first).await.unwrap();
        memory.write_contacts(skip, &first).await.unwrap();
        // imp-b's batch is read and merged, then imp-c updates the contact.
        let imp_b = OwnedTarget::from(update("imp-b"));
        let numbers = Numbers::of(&stale).unwrap();
        let elsewhere = claimed_elsewhere_in_snapshot(&redb.db, &imp_b, &numbers).unwrap();
        assert_eq!(
            elsewhere,
            [Some((0, 1))],
            "imp-a, the first import numbered, holds row 1"
        );
        let mut encoded =
            Encoded::new(&numbers, &stale, &elsewhere, DuplicateMode::Update).unwrap();
        premerge(&redb.db, &mut encoded).unwrap();
        assert!(encoded.writes[0].premerged.is_some());
        redb.write_contacts(update("imp-c"), &later).await.unwrap();
        memory
            .write_contacts(update("imp-c"), &later)
            .await
            .unwrap();
        assert_eq!(
            write_batch(&redb.db, &imp_b, encoded).unwrap(),
            [WriteOutcome::Updated]
        );
        memory
            .write_contacts(update("imp-b"), &stale)
            .await
            .unwrap();
        let all = ContactFilter::default();
        let stored = listed(&redb, "t1", &all).await;
        assert_eq!(stored, listed(&memory, "t1", &all).await);
        assert_eq!(stored[0].contact.tags, ["a", "c", "b"]);
    }

    /// An `update` row found claimed elsewhere is not encoded up front. Were
    /// its number unclaimed by the time it is written (no write removes a
    /// claim, but a store may be damaged), it still stores its whole contact.
    #[tokio::test]
    async fn an_update_row_not_encoded_up_front_is_encoded_if_it_inserts() {
        let (redb, _dir) = fresh();
        let rows = [ContactWrite {
            row: 4,
            contact: contact("+14155550004", "Dee", "d"),
        }];
        let at = OwnedTarget::from(target("t1", "imp-a", "contacts", DuplicateMode::Update));
        let numbers = Numbers::of(&rows).unwrap();
        let encoded =
            Encoded::new(&numbers, &rows, &[Some((7, 9))], DuplicateMode::Update).unwrap();
        assert!(encoded.writes[0].json.is_empty(), "not encoded");
        assert_eq!(
            write_batch(&redb.db, &at, encoded).unwrap(),
            [WriteOutcome::Inserted]
        );
        let stored = listed(&redb, "t1", &ContactFilter::default()).await;
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].contact, rows[0].contact);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn parallel_writers_claim_each_number_once() {
        let (store, _dir) = fresh();
        let store = Arc::new(store);
        let tasks: Vec<_> = (0..8u64)
            .map(|task| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    let import_id = format!("imp-{task}");
                    // Task t writes numbers 50t..50t+200: each overlaps the next three.
                    let rows: Vec<ContactWrite> = (0..200u64)
                        .map(|i| ContactWrite {
                            row: i + 2,
                            contact: contact(&format!("+1415555{:04}", task * 50 + i), "X", "t"),
                        })
                        .collect();
                    let mut inserted = Vec::new();
                    for batch in rows.chunks(25) {
                        let outcomes = store
                            .write_contacts(
                                target("acme", &import_id, "contacts", DuplicateMode::Skip),
                                batch,
                            )
                            .await
                            .unwrap();
                        for (write, outcome) in batch.iter().zip(outcomes) {
                            if outcome == WriteOutcome::Inserted {
                                inserted.push(write.contact.phone.clone());
                            }
                        }
                    }
                    inserted
                })
            })
            .collect();
        let mut inserted = Vec::new();
        for task in tasks {
            inserted.extend(task.await.unwrap());
        }
        let distinct: HashSet<&String> = inserted.iter().collect();
        assert_eq!(
            distinct.len(),
            inserted.len(),
            "a number was inserted twice"
        );
        assert_eq!(
            inserted.len(),
            7 * 50 + 200,
            "every number was inserted once"
        );
        let stored = listed(store.as_ref(), "acme", &ContactFilter::default()).await;
        assert_eq!(stored.len(), inserted.len());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn parallel_chunk_commits_count_each_chunk_once() {
        let (store, _dir) = fresh();
        let store = Arc::new(store);
        store
            .create_import(&record("acme", "imp-a", "2026-01-01T00:00:00Z"))
            .await
            .unwrap();
        let mut one = Tally::default();
        one.record_write(WriteOutcome::Inserted);
        let tasks: Vec<_> = (0..8u32)
            .map(|task| {
                let (store, one) = (Arc::clone(&store), one.clone());
                tokio::spawn(async move {
                    let mut newly = 0;
                    // Every chunk is delivered to two tasks, as a redelivery would.
                    for index in [task, (task + 1) % 8] {
                        let result = ChunkResult {
                            index,
                            tally: one.clone(),
                            report_part: None,
                        };
                        if store
                            .commit_chunk("acme", "imp-a", &result)
                            .await
                            .unwrap()
                            .newly_committed
                        {
                            newly += 1;
                        }
                    }
                    newly
                })
            })
            .collect();
        let mut newly = 0;
        for task in tasks {
            newly += task.await.unwrap();
        }
        assert_eq!(newly, 8);
        let stored = store.get_import("acme", "imp-a").await.unwrap().unwrap();
        assert_eq!((stored.chunks_done, stored.tally.inserted), (8, 8));
        let indexes: Vec<u32> = store
            .chunk_results("acme", "imp-a")
            .await
            .unwrap()
            .iter()
            .map(|c| c.index)
            .collect();
        assert_eq!(indexes, (0..8).collect::<Vec<_>>());
    }

    /// A store of each earlier layout: claims keyed by name, or by the
    /// scope's number and the number's bytes, as before `claims_by_number`
    /// and `claims_by_e164`; contacts keyed by contact id, or by (tenant,
    /// import id, row), as before `contacts_by_row` and `contacts_by_number`.
    /// Opening it moves them, its numbers stay claimed and its contacts are
    /// found.
    #[tokio::test]
    async fn claims_and_contacts_of_an_earlier_store_are_moved_on_opening() {
        for claims_by_bytes in [false, true] {
            for contacts_by_row in [false, true] {
                claims_and_contacts_are_moved(claims_by_bytes, contacts_by_row).await;
            }
        }
    }

    async fn claims_and_contacts_are_moved(claims_by_bytes: bool, by_row: bool) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.redb");
        {
            let db = Database::create(&path).unwrap();
            let txn = db.begin_write().unwrap();
            {
                let mut by_id = txn.open_table(CONTACTS_BY_ID).unwrap();
                let mut by_rows = txn.open_table(CONTACTS_BY_ROW).unwrap();
                for (tenant, scope, row) in [("acme", "contacts", 2), ("globex", "campaign:c1", 3)]
                {
                    let json = serde_json::to_vec(&contact("+14155552671", "Ann", "old")).unwrap();
                    let id = contact_id_for("imp-old", row);
                    if claims_by_bytes {
                        let (scope_number, import_number) =
                            claim_numbers(&txn, tenant, scope, "imp-old").unwrap();
                        let mut key = scope_number.to_be_bytes().to_vec();
                        key.extend_from_slice(b"+14155552671");
                        txn.open_table(CLAIMS_BY_BYTES)
                            .unwrap()
                            .insert(key.as_slice(), (import_number, row))
                            .unwrap();
                    } else {
                        txn.open_table(CLAIMS_BY_NAME)
                            .unwrap()
                            .insert(
                                (tenant, scope, "+14155552671"),
                                (id.as_str(), "imp-old", row),
                            )
                            .unwrap();
                    }
                    let value = (scope, "imp-old", row, json.as_slice());
                    if by_row {
                        by_rows.insert((tenant, "imp-old", row), value).unwrap();
                    } else {
                        by_id.insert((tenant, id.as_str()), value).unwrap();
                    }
                }
            }
            txn.commit().unwrap();
        }
        let store = RedbStore::open(&path).unwrap();
        let again = [ContactWrite {
            row: 2,
            contact: contact("+14155552671", "Bea", "new"),
        }];
        let skip = target("acme", "imp-new", "contacts", DuplicateMode::Skip);
        assert_eq!(
            store.write_contacts(skip, &again).await.unwrap(),
            [WriteOutcome::Existing]
        );
        let moved = listed(&store, "acme", &ContactFilter::default()).await;
        assert_eq!(
            moved
                .iter()
                .map(|c| (c.contact_id.as_str(), c.row))
                .collect::<Vec<_>>(),
            [("imp-old-2", 2)]
        );
        let update = target("globex", "imp-new", "campaign:c1", DuplicateMode::Update);
        assert_eq!(
            store.write_contacts(update, &again).await.unwrap(),
            [WriteOutcome::Updated]
        );
        let merged = listed(&store, "globex", &ContactFilter::default()).await;
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].contact_id, "imp-old-3");
        assert_eq!(merged[0].contact.first_name.as_deref(), Some("Bea"));
        assert_eq!(merged[0].contact.tags, ["old", "new"]);
        // Another scope of the same tenant has no claim on the number.
        let elsewhere = target("acme", "imp-new", "campaign:c1", DuplicateMode::Skip);
        assert_eq!(
            store.write_contacts(elsewhere, &again).await.unwrap(),
            [WriteOutcome::Inserted]
        );
        drop(store);
        let db = Database::open(&path).unwrap();
        let txn = db.begin_read().unwrap();
        let earlier = [
            CLAIMS_BY_NAME.name(),
            CLAIMS_BY_BYTES.name(),
            CONTACTS_BY_ID.name(),
            CONTACTS_BY_ROW.name(),
        ];
        assert!(txn
            .list_tables()
            .unwrap()
            .all(|t| !earlier.contains(&t.name())));
    }

    /// Claims are keyed by a number's digits, so a value that is not E.164
    /// (which the rules never pass) is refused, not keyed as another.
    #[tokio::test]
    async fn a_number_not_in_e164_form_is_refused_with_its_row() {
        let (store, _dir) = fresh();
        for phone in ["4155552671", "+04155552671", "+1 415 555 2671"] {
            let rows = [ContactWrite {
                row: 7,
                contact: contact(phone, "Ann", "t"),
            }];
            let at = target("acme", "imp-a", "contacts", DuplicateMode::Skip);
            let refused = store.write_contacts(at, &rows).await;
            assert_eq!(
                refused,
                Err(PortError::Permanent(
                    "the number of row 7 is not in E.164 form (a + and up to 15 digits)".into()
                )),
                "{phone}"
            );
        }
        assert!(listed(&store, "acme", &ContactFilter::default())
            .await
            .is_empty());
    }

    /// Keyed by row, not by the contact id's string (where row 10 comes
    /// before row 9), an import's contacts list in file order.
    #[tokio::test]
    async fn an_import_lists_its_contacts_in_row_order() {
        let (store, _dir) = fresh();
        let rows: Vec<ContactWrite> = (2..=12)
            .rev()
            .map(|row| ContactWrite {
                row,
                contact: contact(&format!("+1415555{row:04}"), "Ann", "t"),
            })
            .collect();
        let at = target("acme", "imp-a", "contacts", DuplicateMode::Skip);
        store.write_contacts(at, &rows).await.unwrap();
        let listed = listed(&store, "acme", &ContactFilter::default()).await;
        assert_eq!(
            listed.iter().map(|c| c.row).collect::<Vec<_>>(),
            (2..=12).collect::<Vec<_>>()
        );
        assert_eq!(listed[9].contact_id, "imp-a-11");
        let after = store
            .list_contacts("acme", &ContactFilter::default(), Some("imp-a-x"), 5)
            .await;
        assert!(matches!(after, Err(PortError::Permanent(_))), "{after:?}");
    }

    #[tokio::test]
    async fn data_survives_reopening_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.redb");
        {
            let store = RedbStore::open(&path).unwrap();
            store
                .create_import(&record("acme", "imp-a", "2026-01-01T00:00:00Z"))
                .await
                .unwrap();
            store
                .add_do_not_call("acme", &["+14155550000".into()])
                .await
                .unwrap();
            // The last writes are the ones not flushed one by one: closing
            // the store makes them durable.
            store
                .write_contacts(
                    target("acme", "imp-a", "contacts", DuplicateMode::Skip),
                    &[ContactWrite {
                        row: 2,
                        contact: contact("+14155552671", "Ann", "vip"),
                    }],
                )
                .await
                .unwrap();
            let chunk = ChunkResult {
                index: 0,
                tally: Tally::default(),
                report_part: None,
            };
            store.commit_chunk("acme", "imp-a", &chunk).await.unwrap();
        }
        let store = RedbStore::open(&path).unwrap();
        let reopened = store.get_import("acme", "imp-a").await.unwrap().unwrap();
        assert_eq!(reopened.chunks_done, 1);
        assert_eq!(store.chunk_results("acme", "imp-a").await.unwrap().len(), 1);
        let stored = listed(&store, "acme", &ContactFilter::default()).await;
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].contact, contact("+14155552671", "Ann", "vip"));
        assert_eq!(
            store
                .do_not_call("acme", &["+14155550000".into()])
                .await
                .unwrap()
                .len(),
            1
        );
        let again = store
            .write_contacts(
                target("acme", "imp-b", "contacts", DuplicateMode::Skip),
                &[ContactWrite {
                    row: 2,
                    contact: contact("+14155552671", "Ann", "vip"),
                }],
            )
            .await
            .unwrap();
        assert_eq!(again, [WriteOutcome::Existing], "the claim persisted too");
    }

    #[tokio::test]
    async fn separators_in_data_cannot_reach_another_tenant() {
        let (store, _dir) = fresh();
        let ann = [ContactWrite {
            row: 2,
            contact: contact("+14155552671", "Ann", "t"),
        }];
        // Each pair would meet the other under a key of joined strings.
        let pairs = [
            ("acme", "x|y"),
            ("acme|x", "y"),
            ("acme", "x\0y"),
            ("acme\0x", "y"),
            ("acmex", "y"),
        ];
        for (i, (tenant, scope)) in pairs.into_iter().enumerate() {
            let import_id = format!("imp-{i}");
            let outcomes = store
                .write_contacts(target(tenant, &import_id, scope, DuplicateMode::Skip), &ann)
                .await
                .unwrap();
            assert_eq!(outcomes, [WriteOutcome::Inserted], "{tenant:?} {scope:?}");
            store
                .create_import(&record(tenant, &import_id, "2026-01-01T00:00:00Z"))
                .await
                .unwrap();
        }
        let scopes: Vec<String> = listed(&store, "acme", &ContactFilter::default())
            .await
            .into_iter()
            .map(|c| c.scope)
            .collect();
        assert_eq!(scopes, ["x|y", "x\0y"]);
        let imports: Vec<String> = store
            .list_imports("acme", 10)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.import_id)
            .collect();
        assert_eq!(imports, ["imp-2", "imp-0"]);
        assert_eq!(
            listed(&store, "acme\0x", &ContactFilter::default())
                .await
                .len(),
            1
        );
    }

    #[tokio::test]
    async fn a_chunk_of_an_unknown_import_is_refused() {
        let (store, _dir) = fresh();
        let result = ChunkResult {
            index: 0,
            tally: Tally::default(),
            report_part: None,
        };
        let error = store
            .commit_chunk("acme", "imp-zz", &result)
            .await
            .unwrap_err();
        assert_eq!(
            error,
            PortError::Permanent("no import imp-zz for tenant acme".into())
        );
        assert!(store
            .chunk_results("acme", "imp-zz")
            .await
            .unwrap()
            .is_empty());
    }

    #[test]
    fn a_file_in_use_is_refused_with_its_path() {
        let (_store, dir) = fresh();
        let path = dir.path().join("data").join("store.redb");
        let Err(error) = RedbStore::open(&path) else {
            panic!("a second open of one file succeeded");
        };
        assert!(
            error.to_string().contains(&path.display().to_string()),
            "{error}"
        );
        let not_a_store = dir.path().join("notes.txt");
        fs::write(
            &not_a_store,
            "not a database, but long enough to look like one",
        )
        .unwrap();
        let Err(error) = RedbStore::open(&not_a_store) else {
            panic!("a text file opened as a store");
        };
        assert!(!error.is_retryable(), "{error}");
    }

    #[test]
    fn a_panic_inside_redb_is_a_damaged_store_and_ends_its_use() {
        let (store, dir) = fresh();
        let path = dir.path().join("data").join("store.redb");
        let future = store.run("reading".to_owned(), |_| -> Result<(), TxnFailure> {
            unreachable!("a page of an unexpected type")
        });
        let polled = pin!(future).poll(&mut Context::from_waker(Waker::noop()));
        let Poll::Ready(Err(error)) = polled else {
            panic!("the panic was not caught: {polled:?}");
        };
        assert!(!error.is_retryable(), "{error}");
        let message = error.to_string();
        for part in [
            &format!("reading in the store {}", path.display()),
            "the store is damaged",
            "a page of an unexpected type",
            "restore it from a backup, or move it aside",
        ] {
            assert!(message.contains(part), "{part:?} in {message}");
        }
        // Later calls do not touch the file again.
        let later = store.get_import("acme", "imp-a");
        let polled = pin!(later).poll(&mut Context::from_waker(Waker::noop()));
        assert_eq!(polled, Poll::Ready(Err(error)));
    }

    #[test]
    fn a_file_cut_short_is_damaged_not_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.redb");
        drop(RedbStore::open(&path).unwrap());
        let file = fs::OpenOptions::new().write(true).open(&path).unwrap();
        for length in [100, 4096] {
            file.set_len(length).unwrap();
            let Err(error) = RedbStore::open(&path) else {
                panic!("a store cut to {length} bytes opened");
            };
            assert!(!error.is_retryable(), "{error}");
            assert!(
                error.to_string().contains("the store is damaged"),
                "{error}"
            );
        }
    }

    #[test]
    fn works_outside_an_async_runtime() {
        let (store, _dir) = fresh();
        let writes = [ContactWrite {
            row: 2,
            contact: contact("+14155552671", "Ann", "t"),
        }];
        let future = store.write_contacts(
            target("acme", "imp-a", "contacts", DuplicateMode::Skip),
            &writes,
        );
        let polled = pin!(future).poll(&mut Context::from_waker(Waker::noop()));
        assert_eq!(polled, Poll::Ready(Ok(vec![WriteOutcome::Inserted])));
    }
}
