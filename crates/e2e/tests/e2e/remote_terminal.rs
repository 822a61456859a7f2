//! Issue 12 (remote access).
