//! One test binary for the end-to-end suite: API tests against the in-process server,
//! and agent tests with the real `breeze` and `breeze-agent` processes.

mod agent;
mod alert_crash;
mod alerts;
mod api;
mod automation_schedule;
mod automations;
mod install;
mod live_output;
mod overload;
mod policies;
mod quarantine;
mod remote_desktop;
mod remote_files;
mod remote_terminal;
mod replicas;
mod support;
