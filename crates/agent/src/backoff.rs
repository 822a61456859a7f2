//! Jittered exponential backoff for reconnects and retries, and the wait a server asks
//! for with `Retry-After` when it is overloaded.

use rand::Rng;
use std::time::Duration;

/// Doubles from `base` up to `max`; each delay is drawn uniformly from
/// `[d/2, d]` ("equal jitter") so many agents don't reconnect in lockstep.
#[derive(Clone, Debug)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    pub fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max: max.max(base),
            attempt: 0,
        }
    }

    /// The next delay to wait.
    pub fn next_delay(&mut self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(20)).unwrap_or(u32::MAX);
        let ceiling = self.base.saturating_mul(factor).min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        let half = ceiling / 2;
        let jitter_ms = rand::rng().random_range(0..=half.as_millis().max(1) as u64);
        half + Duration::from_millis(jitter_ms)
    }

    /// Call after a success.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    pub fn attempts(&self) -> u32 {
        self.attempt
    }
}

/// The waits after answers that say `Retry-After` (503 `overloaded`, 429): the time the
/// server asked for, plus "full jitter" (uniform in `[0, min(cap, base · 2^n)]`, n the
/// answers of this kind in a row), so agents the server turned away in the same second
/// come back spread out, and further apart while the overload lasts. The asked time is
/// itself capped at `cap`, so a broken `Retry-After` cannot park the agent for days;
/// nothing makes the agent give up.
#[derive(Clone, Debug)]
pub struct RetryAfter {
    base: Duration,
    cap: Duration,
    attempt: u32,
}

impl RetryAfter {
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap: cap.max(base),
            attempt: 0,
        }
    }

    /// The wait after the server said `Retry-After: asked`.
    pub fn next_delay(&mut self, asked: Duration) -> Duration {
        self.next_delay_with(asked, &mut rand::rng())
    }

    /// [`Self::next_delay`] with the randomness given (tests pass a seeded one).
    pub fn next_delay_with<R: Rng + ?Sized>(&mut self, asked: Duration, rng: &mut R) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(20)).unwrap_or(u32::MAX);
        let ceiling = self.base.saturating_mul(factor).min(self.cap);
        self.attempt = self.attempt.saturating_add(1);
        let ceiling_ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        let jitter = Duration::from_millis(rng.random_range(0..=ceiling_ms));
        asked.min(self.cap) + jitter
    }

    /// Call after a success.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// The `Retry-After` of an answer, in seconds (the form Breeze sends; an HTTP-date is
/// not understood and gives `None`).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng as _;
    use rand::rngs::StdRng;

    #[test]
    fn retry_after_waits_the_asked_time_plus_growing_capped_full_jitter() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut b = RetryAfter::new(Duration::from_secs(1), Duration::from_secs(8));
        let asked = Duration::from_secs(3);
        // Attempt n's jitter is at most min(8 s, 1 s · 2^n).
        let mut seen_above_half = false;
        for n in 0..10u32 {
            let d = b.next_delay_with(asked, &mut rng);
            let ceiling = Duration::from_secs(1u64 << n.min(3)).min(Duration::from_secs(8));
            assert!(d >= asked, "attempt {n}: {d:?} is before Retry-After");
            assert!(
                d <= asked + ceiling,
                "attempt {n}: {d:?} over {ceiling:?} of jitter"
            );
            if n >= 3 && d > asked + Duration::from_secs(4) {
                seen_above_half = true;
            }
        }
        assert!(seen_above_half, "the jitter grows past the first ceilings");
        // After a success the jitter starts small again.
        b.reset();
        let d = b.next_delay_with(asked, &mut rng);
        assert!(d <= asked + Duration::from_secs(1), "{d:?}");
    }

    #[test]
    fn full_jitter_spreads_over_the_whole_range() {
        // Many agents told the same Retry-After come back over the whole window, not
        // in a lump: each quarter of [asked, asked + ceiling] gets some of them.
        let mut rng = StdRng::seed_from_u64(1);
        let asked = Duration::from_secs(1);
        let mut quarters = [0u32; 4];
        for _ in 0..400 {
            let mut b = RetryAfter::new(Duration::from_secs(4), Duration::from_secs(300));
            let extra = b.next_delay_with(asked, &mut rng) - asked;
            let q = usize::try_from(extra.as_millis() / 1000)
                .unwrap_or(3)
                .min(3);
            quarters[q] += 1;
        }
        assert!(quarters.iter().all(|&n| n > 60), "{quarters:?}");
    }

    #[test]
    fn an_absurd_retry_after_is_capped() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut b = RetryAfter::new(Duration::from_secs(1), Duration::from_secs(300));
        let d = b.next_delay_with(Duration::from_secs(10_000_000), &mut rng);
        assert!(
            d >= Duration::from_secs(300) && d <= Duration::from_secs(301),
            "{d:?}"
        );
    }

    #[test]
    fn retry_after_is_read_in_seconds() {
        assert_eq!(parse_retry_after("5"), Some(Duration::from_secs(5)));
        assert_eq!(parse_retry_after(" 12 "), Some(Duration::from_secs(12)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

    #[test]
    fn grows_then_caps_with_jitter() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(8));
        let d: Vec<Duration> = (0..8).map(|_| b.next_delay()).collect();
        assert!(d[0] >= Duration::from_millis(500) && d[0] <= Duration::from_millis(1001));
        for x in &d[4..] {
            assert!(
                *x >= Duration::from_secs(4) && *x <= Duration::from_millis(8001),
                "{x:?}"
            );
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(1001));
    }
}
