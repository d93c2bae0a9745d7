//! The handlers, with fixture events and over moto.

mod common;
mod handlers;
mod moto;
