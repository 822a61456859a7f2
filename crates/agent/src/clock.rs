//! Time, passed in so expiry and scheduling can be tested without sleeping.

use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// A source of the current time.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The machine's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock fixed at a settable instant, for tests.
#[derive(Debug)]
pub struct FixedClock(AtomicI64);

impl FixedClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(AtomicI64::new(at.timestamp_millis()))
    }

    pub fn set(&self, at: DateTime<Utc>) {
        self.0.store(at.timestamp_millis(), Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.0.load(Ordering::SeqCst)).unwrap_or_default()
    }
}

/// The server's time as the agent estimates it: the local clock plus the offset
/// seen in the last `server_time` the server sent. Command expiry is judged by this
/// clock so a machine whose clock is off does not refuse (or accept) commands wrongly.
#[derive(Clone)]
pub struct ServerClock {
    local: Arc<dyn Clock>,
    offset_ms: Arc<AtomicI64>,
}

impl ServerClock {
    pub fn new(local: Arc<dyn Clock>) -> Self {
        Self {
            local,
            offset_ms: Arc::new(AtomicI64::new(0)),
        }
    }

    /// Records the server's time as seen now.
    pub fn observe(&self, server_time: DateTime<Utc>) {
        let offset = server_time - self.local.now();
        self.offset_ms
            .store(offset.num_milliseconds(), Ordering::SeqCst);
    }

    pub fn offset(&self) -> Duration {
        Duration::milliseconds(self.offset_ms.load(Ordering::SeqCst))
    }

    pub fn local(&self) -> Arc<dyn Clock> {
        self.local.clone()
    }
}

impl Clock for ServerClock {
    fn now(&self) -> DateTime<Utc> {
        self.local.now() + self.offset()
    }
}
