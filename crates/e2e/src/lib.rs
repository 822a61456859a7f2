//! This crate holds the end-to-end test binary (`tests/e2e`), which starts the real server
//! (in process with `App::build`, and as the `breeze` binary) and the real `breeze-agent`.
//! Its library holds what other crates' tests and benchmarks share: [`xvfb`], [`sway`].

pub mod sway;
pub mod xvfb;
