//! Authentication: passwords, tokens, MFA, login throttling, and the resolution of each
//! request into a [`Principal`](principal::Principal) and its scope.

pub mod agent;
pub mod mfa;
pub mod password;
pub mod policy;
pub mod principal;
pub mod throttle;
pub mod tokens;
