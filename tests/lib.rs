//! Shared helpers live in the integration target; this library is empty on purpose
//! so that `cargo test --workspace` builds the target.
