//! policy compliance (issue 13).
