//! One integration target, split into modules by subject. Every test reads a
//! small fixture from `tests/data/` and runs it through the engine as the
//! pipeline does: `ContactFile::open`, then `Screen` row by row, then
//! `ReportWriter` for the rejected rows.

mod support;

mod contacts;
mod encodings;
mod exporters;
mod mapping;
mod refusals;
mod report;
mod rows;
mod rules;
mod template;
