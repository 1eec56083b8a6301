//! Test helpers shared by every Libris test suite.

pub mod database;
pub mod receiver;
