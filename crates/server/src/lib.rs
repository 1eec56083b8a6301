//! The `libris` binary's library: configuration, wiring and commands, so the
//! end-to-end tests start exactly what `main` starts.

pub mod clock;
pub mod config;
pub mod deliveries;
pub mod destinations;
pub mod sms;
pub mod startup;
pub mod telemetry;
pub mod workers;

pub use config::{Cli, Command, Config, ServeArgs};
pub use startup::Application;
