//! Remote sessions (issue 12).
