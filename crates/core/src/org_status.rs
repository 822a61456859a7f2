//! What an organization's status allows (seed 004 `organizations.status`): `active` and
//! `trial` work normally; `suspended` and `churned` organizations are read-only — their
//! users read but do not act, their agents are refused (and keep their state), nothing
//! enrolls into them. Partner staff may still change the status itself back.

/// Whether an organization with this status refuses writes and agents.
pub fn is_read_only(status: &str) -> bool {
    refusal_code(status).is_some()
}

/// The error code a refused request answers with (`org_suspended`, `org_churned`).
pub fn refusal_code(status: &str) -> Option<&'static str> {
    match status {
        "suspended" => Some("org_suspended"),
        "churned" => Some("org_churned"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suspended_and_churned_organizations_are_read_only() {
        assert_eq!(refusal_code("suspended"), Some("org_suspended"));
        assert_eq!(refusal_code("churned"), Some("org_churned"));
        assert!(!is_read_only("active"));
        assert!(!is_read_only("trial"));
    }
}
