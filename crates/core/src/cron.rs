//! Cron schedules with an IANA timezone (issue 13): parsing and the next slot after an
//! instant, correct across DST changes.
