//! Newtype ids.
