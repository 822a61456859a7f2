//! Issue 13 tests.
