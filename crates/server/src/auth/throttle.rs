//! Login throttling per account and per client IP: failures within a sliding window past a
//! limit answer 429 with `Retry-After`. State is in memory, per replica (a limit per node;
//! several replicas multiply it — documented in the README).

use chrono::{DateTime, Duration, Utc};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

#[derive(Debug)]
pub struct Throttle {
    window: Duration,
    max_per_account: u32,
    max_per_ip: u32,
    failures: Mutex<HashMap<String, VecDeque<DateTime<Utc>>>>,
}

impl Throttle {
    pub fn new(window: Duration, max_per_account: u32, max_per_ip: u32) -> Self {
        Throttle {
            window,
            max_per_account,
            max_per_ip,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn keys(account: &str, ip: Option<&str>) -> (String, Option<String>) {
        (
            format!("acct:{}", account.trim().to_lowercase()),
            ip.map(|i| format!("ip:{i}")),
        )
    }

    /// Seconds to wait when the account or the IP is over its limit.
    pub fn check(&self, account: &str, ip: Option<&str>, now: DateTime<Utc>) -> Option<u64> {
        let (a, i) = Self::keys(account, ip);
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let mut wait = None;
        for (key, max) in [(Some(a), self.max_per_account), (i, self.max_per_ip)] {
            let Some(key) = key else { continue };
            if let Some(q) = map.get_mut(&key) {
                while q.front().is_some_and(|t| *t <= now - self.window) {
                    q.pop_front();
                }
                if q.len() >= max as usize
                    && let Some(oldest) = q.front()
                {
                    let secs = (*oldest + self.window - now).num_seconds().max(1) as u64;
                    wait = Some(wait.map_or(secs, |w: u64| w.max(secs)));
                }
            }
        }
        wait
    }

    pub fn record_failure(&self, account: &str, ip: Option<&str>, now: DateTime<Utc>) {
        let (a, i) = Self::keys(account, ip);
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 100_000 {
            let cutoff = now - self.window;
            map.retain(|_, q| q.back().is_some_and(|t| *t > cutoff));
        }
        for key in [Some(a), i].into_iter().flatten() {
            map.entry(key).or_default().push_back(now);
        }
    }

    /// A successful login clears the account's failures (not the IP's).
    pub fn record_success(&self, account: &str) {
        let (a, _) = Self::keys(account, None);
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&a);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_limit_until_window_passes() {
        let t = Throttle::new(Duration::minutes(15), 3, 10);
        let now = DateTime::<Utc>::UNIX_EPOCH;
        for _ in 0..3 {
            assert!(t.check("a@x.io", Some("1.2.3.4"), now).is_none());
            t.record_failure("a@x.io", Some("1.2.3.4"), now);
        }
        assert!(
            t.check("A@x.io", Some("5.6.7.8"), now).is_some(),
            "per account, case-insensitive"
        );
        assert!(
            t.check("b@x.io", Some("1.2.3.4"), now).is_none(),
            "ip limit not reached"
        );
        assert!(
            t.check("a@x.io", None, now + Duration::minutes(16))
                .is_none()
        );
    }
}
