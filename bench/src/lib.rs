//! What the benchmarks share: a fresh server's first-run setup, one real `breeze-agent`
//! enrolled and running (for the remote-access benchmarks), and sessions opened once it
//! is online.

pub mod first_run;
pub mod remote_agent;
pub mod stats;
