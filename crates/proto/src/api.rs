//! HTTP API bodies.
