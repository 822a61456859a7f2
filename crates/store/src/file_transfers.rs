//! File transfers (issue 12).
