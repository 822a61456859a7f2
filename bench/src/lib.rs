//! What the remote-access benchmarks share: a fresh server's first-run setup, one real
//! `breeze-agent` enrolled and running, and sessions opened once it is online.

pub mod remote_agent;
