//! When an agent's token is due for rotation (two-phase, on a heartbeat: see the
//! heartbeat route). Each device's rotation comes a fixed, device-specific delay after
//! `token_rotation_secs`, up to an eighth of it (~3.75 days of the default 30): a fleet
//! enrolled in one roll-out otherwise rotated within one heartbeat interval, every
//! device writing its heartbeat alone twice (the new token, then its confirmation) and
//! an event, and did so again every period, since the rotations set the same times.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

/// When the token issued at `issued` to `device` is due for rotation, rotating every
/// `every_secs`: from `issued + every_secs` to `issued + every_secs * 9 / 8`, the same for
/// the device each period. Device ids are UUID v7, whose low 62 bits are random.
pub fn due_at(issued: DateTime<Utc>, every_secs: i64, device: Uuid) -> DateTime<Utc> {
    let spread = u64::try_from(every_secs / 8).unwrap_or(0);
    let offset = i64::try_from(device.as_u64_pair().1 % (spread + 1)).unwrap_or(0);
    issued + Duration::seconds(every_secs.saturating_add(offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fleet_issued_together_rotates_spread_over_an_eighth_of_the_period() {
        let issued = Utc::now();
        let every = 30 * 24 * 3600;
        let eighth = every / 8;
        let mut per_slice = [0usize; 8];
        for _ in 0..10_000 {
            let device = Uuid::now_v7();
            let due = due_at(issued, every, device);
            let offset = (due - issued).num_seconds() - every;
            assert!((0..=eighth).contains(&offset), "{offset}");
            // The same device is due at the same time each time it is asked.
            assert_eq!(due_at(issued, every, device), due);
            per_slice[usize::try_from(offset * 8 / (eighth + 1)).expect("slice")] += 1;
        }
        // 10,000 devices over 8 slices of the spread: ~1,250 each, none nearly empty.
        assert!(per_slice.iter().all(|&n| n > 1_000), "{per_slice:?}");
        // The smallest period the configuration allows still works.
        let due = due_at(issued, 60, Uuid::now_v7());
        assert!(due >= issued + Duration::seconds(60) && due <= issued + Duration::seconds(67));
    }
}
