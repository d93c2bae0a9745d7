//! The store contract, against DynamoDB as moto serves it.

mod common;

contact_import_core::store_contract_tests!(async { common::store().await });
