//! What the terminal shows: text laid out for 80 columns, the progress
//! bar, and an import's summary.

pub mod layout;
pub mod progress;
pub mod summary;
