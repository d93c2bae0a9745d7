//! The AWS adapters against moto, and against mocked SDK responses for
//! what moto cannot show.

mod contract;
mod dynamo;
mod mocked;
mod objects;
mod queue;
