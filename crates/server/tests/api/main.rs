//! API tests: a real server on port 0 with a throwaway database, driven by the typed client.
//! One test binary; modules per concept.

mod auth;
mod harness;
mod openapi;
mod smtp;
mod tenancy;
mod validation;
