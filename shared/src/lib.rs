//! The contact-import domain, shared by the Lambdas, the CLI and the tests.
//! Nothing here knows about AWS. Its parts, each using only those above it
//! (besides `rules::refusal`, which says why a file is refused, and the
//! spec and phone rules that [`file::synthetic`] makes valid rows with):
//!
//! - [`file`]: bytes to records. The encoding and the delimiter
//!   ([`file::input`]), rows numbered whatever the line endings, a quote
//!   that runs on being one row ([`file::records`]), vCard files as CSV
//!   ([`file::vcard`]), and generated files ([`file::synthetic`]).
//! - [`rules`]: what a record means. The spec, the headers and the column
//!   plan; each row through [`rules::row::RowValidator`] into a contact or
//!   a rejection; then do-not-call and in-file duplicates
//!   ([`rules::engine::Screen`]); the report of rejected rows. A whole
//!   file opens with [`rules::engine::ContactFile::open`].
//! - [`imports`]: an import's record, its status and counters, and the keys
//!   of the objects it writes.
//! - [`ports`]: what the pipeline needs from a store, an object store and a
//!   queue; in-memory adapters ([`ports::memory`]: the local run's queue,
//!   and the reference store the other stores are held to); the contract
//!   suite every store passes (`ports::contract`, behind the `contract`
//!   feature).
//! - [`pipeline`]: the splitter, importer and finalizer over the ports, and
//!   a runner that delivers their messages in one process.

pub mod file;
pub mod imports;
pub mod pipeline;
pub mod ports;
pub mod rules;

pub use rules::contact::Contact;
pub use rules::engine::{ContactFile, FileFacts, RowOutcome, Screen};
pub use rules::outcome::{ErrorCode, Rejection, Tally, WriteOutcome};
pub use rules::refusal::Refusal;
pub use rules::spec::ImportSpec;
