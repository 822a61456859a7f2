//! Schedule triggers: cron slots with a timezone, fired once each under a job lease.
