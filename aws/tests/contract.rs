//! The store contract, against DynamoDB as moto serves it.

use contact_import_testkit as kit;

contact_import_core::store_contract_tests!(async { kit::store().await });
