//! The command line, run as a user runs it: locally, against a stack on
//! moto, on previews, and on bad input.

mod aws;
mod common;
mod local;
mod preview;
mod robustness;
