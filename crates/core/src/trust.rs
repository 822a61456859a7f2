//! Device trust levels at enrollment (seed 001 "Trust Levels"):
//!
//! | level | when |
//! |---|---|
//! | `low` | key/token enrollment only: the fingerprint is missing, malformed, or already held by another live device |
//! | `medium` | the fingerprint is well-formed and unique among live devices ("fingerprint verified") |
//! | `high` | reserved for devices connected to the mesh (WireGuard issue); never given at enrollment |

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrustLevel {
    Low,
    Medium,
    High,
}

impl TrustLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        }
    }
}

/// Whether a fingerprint has the documented form: 64 lowercase hex characters.
pub fn fingerprint_well_formed(f: &str) -> bool {
    f.len() == 64
        && f.chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

/// The trust level an enrollment earns.
pub fn at_enrollment(fingerprint: &str, held_by_another_live_device: bool) -> TrustLevel {
    if fingerprint_well_formed(fingerprint) && !held_by_another_live_device {
        TrustLevel::Medium
    } else {
        TrustLevel::Low
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_well_formed_fingerprint_earns_medium() {
        let f = "a".repeat(64);
        assert_eq!(at_enrollment(&f, false), TrustLevel::Medium);
        assert_eq!(at_enrollment(&f, true), TrustLevel::Low);
        assert_eq!(at_enrollment("abc", false), TrustLevel::Low);
        assert_eq!(at_enrollment(&"A".repeat(64), false), TrustLevel::Low);
    }
}
