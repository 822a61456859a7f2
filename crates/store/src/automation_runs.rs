//! automation runs (issue 13).
