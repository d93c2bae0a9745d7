//! One module per command: its arguments, its checks and its run.

pub mod contacts;
pub mod dnc;
pub mod generate;
pub mod history;
pub mod import;
pub mod preview;
pub mod report;
pub mod resume;
pub mod status;
