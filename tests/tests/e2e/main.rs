//! End-to-end tests, one binary: the real server on a random port, a fresh
//! database each, requests over real HTTP.

mod abuse;
mod accounts;
mod admin;
mod api_reference;
mod brokers;
mod campaigns;
mod catalog;
mod console;
mod email;
mod errors;
mod hook_formats;
mod hostile_bodies;
mod imports;
mod inbound;
mod lending;
mod member_hooks;
mod members;
mod metrics;
mod openapi;
mod races;
mod receiver_guide;
mod search;
mod signatures;
mod webhooks;
