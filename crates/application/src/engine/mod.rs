//! The delivery engine: how anything leaves the process, written once.
//!
//! - [`consumers`]: each consumer of the event log (webhook fan-out, email
//!   notifications, …) claims the events marked for it and turns them into
//!   queue rows, in one transaction;
//! - [`queue`]: a channel's queue as the engine sees it (due rows, leases,
//!   recording), and the capacity a sender has free;
//! - [`channel`]: the port a channel's adapter implements, `send(message) ->
//!   report`;
//! - [`Engine`]: the unit of work over one channel, claim → send → record,
//!   which the workers, the CLI and the test ping all call.
//!
//! Nothing here names a channel: a channel is a [`Queue`] plus a [`Channel`]
//! adapter, registered by the server.

pub mod channel;
pub mod consumers;
pub mod queue;
mod work;

pub use channel::{Channel, Randomness, SendFuture};
pub use consumers::{dispatch, Consumer, Dispatched};
pub use queue::{Attempt, Candidate, Capacity, ChannelSettings, Job, Queue};
pub use work::Engine;
