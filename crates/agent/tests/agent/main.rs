//! Integration tests of breeze-agent, one binary (STYLE.md).

mod collectors;
mod commands;
mod desktop;
mod desktop_rtc;
mod executor;
mod outbox;
mod overload;
mod support;
mod wayland;
