//! What a record means: the spec, the column plan, the row rules, the
//! rules after them, and the report of the rows they reject.

mod cells;
pub mod contact;
pub mod echo;
pub mod engine;
pub(crate) mod first_occurrences;
pub mod headers;
pub mod layouts;
pub mod outcome;
pub mod phone;
pub mod plan;
pub mod refusal;
pub mod report;
pub mod row;
pub mod spec;
