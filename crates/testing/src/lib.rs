//! Test helpers shared by every Libris test suite.

pub mod database;
mod loopback;
pub mod proxy;
pub mod receiver;
pub mod sms_gateway;
pub mod smtp;
