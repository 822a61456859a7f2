//! Remote desktop (issue 12): the browser socket's frames for `desktop` sessions.
