//! Talking to hosts: SSH connections, remote commands, streaming output, quoting.
//!
//! We drive the system's OpenSSH (through the `openssh` crate's native multiplexing) rather
//! than an SSH library: the runner's `~/.ssh/config`, agents, jump hosts and known_hosts
//! then work exactly as they do for the engineer's own `ssh`, and host keys are checked by
//! the same code that checks them everywhere else. Host keys are always checked strictly.

pub mod backoff;
pub mod connection;
pub mod error;
pub mod leftovers;
pub mod pool;
pub mod quote;

pub use backoff::Backoff;
pub use connection::{
    Connection, Deadline, Deadlines, Output, BOOKKEEPING_LIMIT, COMMAND_LIMIT, TRANSFER_IDLE_LIMIT,
};
pub use error::{ConnectFailure, RemoteError};
pub use pool::{Endpoint, Pool};
pub use quote::{quote, RemoteCommand, EXIT_NO_DIR};
