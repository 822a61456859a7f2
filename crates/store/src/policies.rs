//! policies (issue 13).
