//! Job leases (issue 13, used by issue 14's scale-out): a row per periodic job holding who
//! runs it until when. Taken with `SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL.
