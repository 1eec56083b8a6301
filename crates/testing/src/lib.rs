//! Test helpers shared by every Libris test suite.

pub mod database;
mod loopback;
pub mod receiver;
pub mod smtp;
