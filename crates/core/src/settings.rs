//! A partner's own settings (the console's Settings screen): outgoing e-mail (SMTP) and the
//! session policy of its users. Here: their bounds, how input is checked, and how a
//! partner's policy combines with the server's configured defaults. No IO.

use crate::validate::{Email, ValidationError};
use chrono::Duration;
use std::fmt;

/// Access token lifetime a partner may choose, in minutes.
pub const ACCESS_MINUTES: std::ops::RangeInclusive<i64> = 5..=60;
/// Longest a login may last however active, in hours (1 hour to 365 days).
pub const SESSION_HOURS: std::ops::RangeInclusive<i64> = 1..=8760;
/// Time without activity after which a login ends, in minutes (5 minutes to 30 days).
pub const IDLE_MINUTES: std::ops::RangeInclusive<i64> = 5..=43_200;

/// How the SMTP connection is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain text (only for a relay on a trusted network).
    None,
    /// Plain connection upgraded with STARTTLS, required (usually port 587).
    StartTls,
    /// TLS from the first byte (usually port 465).
    Tls,
}

impl SmtpTls {
    pub const WORDS: &'static [&'static str] = &["none", "starttls", "tls"];

    pub fn parse(field: &str, raw: &str) -> Result<Self, ValidationError> {
        match raw.trim() {
            "none" => Ok(SmtpTls::None),
            "starttls" => Ok(SmtpTls::StartTls),
            "tls" => Ok(SmtpTls::Tls),
            _ => Err(ValidationError::new(
                field,
                "must be one of: none, starttls, tls",
            )),
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            SmtpTls::None => "none",
            SmtpTls::StartTls => "starttls",
            SmtpTls::Tls => "tls",
        }
    }

    /// The port this mode usually runs on.
    pub fn default_port(&self) -> u16 {
        match self {
            SmtpTls::None => 25,
            SmtpTls::StartTls => 587,
            SmtpTls::Tls => 465,
        }
    }
}

impl fmt::Display for SmtpTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An SMTP server's host name or IP address.
pub fn smtp_host(field: &str, raw: &str) -> Result<String, ValidationError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(ValidationError::new(field, "is required"));
    }
    if s.len() > 253 {
        return Err(ValidationError::new(
            field,
            "must be at most 253 characters",
        ));
    }
    let ok = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']' | '_'))
        && !s.starts_with(['.', '-'])
        && !s.contains("..");
    if !ok {
        return Err(ValidationError::new(
            field,
            "must be a host name or IP address like smtp.example.com",
        ));
    }
    Ok(s.to_ascii_lowercase())
}

/// A TCP port, 1..=65535.
pub fn port(field: &str, n: i64) -> Result<u16, ValidationError> {
    u16::try_from(n)
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| ValidationError::new(field, "must be between 1 and 65535"))
}

/// The sender of outgoing mail: `name@example.com` or `Display Name <name@example.com>`.
/// Answers it normalized (address lower-cased, name trimmed).
pub fn mailbox(field: &str, raw: &str) -> Result<String, ValidationError> {
    let s = raw.trim();
    if s.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    match s.strip_suffix('>').and_then(|x| x.rsplit_once('<')) {
        Some((name, addr)) => {
            let name = name.trim().trim_matches('"').trim();
            if name.chars().count() > 100 || name.contains(['"', '<', '>', '\\']) {
                return Err(ValidationError::new(
                    field,
                    "the display name must be at most 100 characters without quotes or angle brackets",
                ));
            }
            let addr = Email::parse(field, addr)?;
            Ok(if name.is_empty() {
                addr.to_string()
            } else {
                format!("{name} <{addr}>")
            })
        }
        None => Ok(Email::parse(field, s)?.to_string()),
    }
}

/// An SMTP user name: up to 254 characters without control characters.
pub fn smtp_username(field: &str, raw: &str) -> Result<Option<String>, ValidationError> {
    let s = raw.trim();
    if s.chars().count() > 254 || s.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            "must be at most 254 characters without control characters",
        ));
    }
    Ok((!s.is_empty()).then(|| s.to_string()))
}

/// An SMTP password as given (not trimmed: spaces may be part of it).
pub fn smtp_password(field: &str, raw: &str) -> Result<String, ValidationError> {
    if raw.is_empty() {
        return Err(ValidationError::new(
            field,
            "must not be empty (send null to remove the stored password)",
        ));
    }
    if raw.len() > 1024 || raw.chars().any(|c| c == '\r' || c == '\n' || c == '\0') {
        return Err(ValidationError::new(
            field,
            "must be at most 1024 bytes without line breaks",
        ));
    }
    Ok(raw.to_string())
}

fn within(
    field: &str,
    n: i64,
    range: &std::ops::RangeInclusive<i64>,
    unit: &str,
) -> Result<i64, ValidationError> {
    if range.contains(&n) {
        Ok(n)
    } else {
        Err(ValidationError::new(
            field,
            format!(
                "must be between {} and {} {unit}",
                range.start(),
                range.end()
            ),
        ))
    }
}

/// A partner's session policy. `None` fields fall back to the server's configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Access token lifetime, minutes.
    pub access_token_minutes: Option<i64>,
    /// Longest a login lasts, however active, hours.
    pub session_lifetime_hours: Option<i64>,
    /// A login ends when its refresh token goes unused this long, minutes.
    pub idle_timeout_minutes: Option<i64>,
    /// Users without two-factor authentication must enrol before doing anything else.
    pub require_mfa: bool,
}

/// The server's configured lifetimes (`[auth]` in the configuration file).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LifetimeDefaults {
    pub access_ttl_secs: i64,
    pub refresh_ttl_days: i64,
}

/// Token lifetimes that apply to one user's login.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifetimes {
    /// How long an access token lives.
    pub access: Duration,
    /// How long a refresh token lives unused (each refresh issues a new one).
    pub refresh: Duration,
    /// The longest a login (a refresh family) may last from its start, if limited.
    pub max_session: Option<Duration>,
}

impl SessionPolicy {
    /// Checks the policy's fields against their bounds and against each other. `defaults`
    /// stand in for the fields left to the server. Errors name the field under `prefix`.
    pub fn validate(
        &self,
        prefix: &str,
        defaults: LifetimeDefaults,
    ) -> Result<(), ValidationError> {
        let f = |name: &str| format!("{prefix}{name}");
        if let Some(n) = self.access_token_minutes {
            within(&f("access_token_minutes"), n, &ACCESS_MINUTES, "minutes")?;
        }
        if let Some(n) = self.session_lifetime_hours {
            within(&f("session_lifetime_hours"), n, &SESSION_HOURS, "hours")?;
        }
        if let Some(n) = self.idle_timeout_minutes {
            let field = f("idle_timeout_minutes");
            within(&field, n, &IDLE_MINUTES, "minutes")?;
            let access_secs = self
                .access_token_minutes
                .map_or(defaults.access_ttl_secs, |m| m * 60);
            if n * 60 < access_secs {
                return Err(ValidationError::new(
                    field,
                    format!(
                        "must be at least the access token lifetime ({} minutes): the session is renewed when the access token expires",
                        (access_secs + 59) / 60
                    ),
                ));
            }
            if let Some(h) = self.session_lifetime_hours
                && n > h * 60
            {
                return Err(ValidationError::new(
                    field,
                    format!("must not be longer than the session lifetime ({h} hours)"),
                ));
            }
        }
        Ok(())
    }

    /// The lifetimes a login under this policy gets: the policy's values where set, the
    /// server's defaults elsewhere.
    pub fn lifetimes(&self, defaults: LifetimeDefaults) -> Lifetimes {
        Lifetimes {
            access: self.access_token_minutes.map_or(
                Duration::seconds(defaults.access_ttl_secs),
                Duration::minutes,
            ),
            refresh: self
                .idle_timeout_minutes
                .map_or(Duration::days(defaults.refresh_ttl_days), Duration::minutes),
            max_session: self.session_lifetime_hours.map(Duration::hours),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULTS: LifetimeDefaults = LifetimeDefaults {
        access_ttl_secs: 900,
        refresh_ttl_days: 30,
    };

    fn field_of(p: &SessionPolicy) -> Option<String> {
        p.validate("session_policy.", DEFAULTS)
            .err()
            .map(|e| e.field)
    }

    #[test]
    fn policy_bounds_name_the_field() {
        assert_eq!(field_of(&SessionPolicy::default()), None);
        let p = |a, s, i| SessionPolicy {
            access_token_minutes: a,
            session_lifetime_hours: s,
            idle_timeout_minutes: i,
            require_mfa: false,
        };
        assert_eq!(field_of(&p(Some(5), Some(1), Some(5))), None);
        assert_eq!(field_of(&p(Some(60), Some(8760), Some(43_200))), None);
        assert_eq!(
            field_of(&p(Some(4), None, None)).as_deref(),
            Some("session_policy.access_token_minutes")
        );
        assert_eq!(
            field_of(&p(Some(61), None, None)).as_deref(),
            Some("session_policy.access_token_minutes")
        );
        assert_eq!(
            field_of(&p(None, Some(0), None)).as_deref(),
            Some("session_policy.session_lifetime_hours")
        );
        assert_eq!(
            field_of(&p(None, Some(8761), None)).as_deref(),
            Some("session_policy.session_lifetime_hours")
        );
        assert_eq!(
            field_of(&p(None, None, Some(43_201))).as_deref(),
            Some("session_policy.idle_timeout_minutes")
        );
    }

    #[test]
    fn idle_timeout_must_outlast_the_access_token_and_fit_in_the_session() {
        let p = |a, s, i| SessionPolicy {
            access_token_minutes: a,
            session_lifetime_hours: s,
            idle_timeout_minutes: i,
            require_mfa: false,
        };
        // The server default access lifetime (15 minutes) counts when the policy sets none.
        assert!(field_of(&p(None, None, Some(10))).is_some());
        assert_eq!(field_of(&p(None, None, Some(15))), None);
        assert!(field_of(&p(Some(30), None, Some(20))).is_some());
        assert_eq!(field_of(&p(Some(10), None, Some(10))), None);
        assert!(field_of(&p(None, Some(1), Some(61))).is_some());
        assert_eq!(field_of(&p(None, Some(1), Some(60))), None);
    }

    #[test]
    fn lifetimes_take_the_policy_and_fall_back_to_the_defaults() {
        let none = SessionPolicy::default().lifetimes(DEFAULTS);
        assert_eq!(none.access, Duration::minutes(15));
        assert_eq!(none.refresh, Duration::days(30));
        assert_eq!(none.max_session, None);
        let set = SessionPolicy {
            access_token_minutes: Some(5),
            session_lifetime_hours: Some(8),
            idle_timeout_minutes: Some(45),
            require_mfa: true,
        }
        .lifetimes(DEFAULTS);
        assert_eq!(set.access, Duration::minutes(5));
        assert_eq!(set.refresh, Duration::minutes(45));
        assert_eq!(set.max_session, Some(Duration::hours(8)));
    }

    #[test]
    fn smtp_inputs_are_checked_and_normalized() {
        assert_eq!(
            smtp_host("h", " SMTP.Example.com ").as_deref(),
            Ok("smtp.example.com")
        );
        assert!(smtp_host("h", "").is_err());
        assert!(smtp_host("h", "smtp example.com").is_err());
        assert!(smtp_host("h", "smtp.example.com/evil").is_err());
        assert_eq!(port("p", 587), Ok(587));
        assert!(port("p", 0).is_err());
        assert!(port("p", 65_536).is_err());
        assert_eq!(
            mailbox("from", "Alerts@Acme.test").as_deref(),
            Ok("alerts@acme.test")
        );
        assert_eq!(
            mailbox("from", " \"Acme IT\" <Alerts@Acme.test> ").as_deref(),
            Ok("Acme IT <alerts@acme.test>")
        );
        assert!(mailbox("from", "Acme IT").is_err());
        assert!(mailbox("from", "Acme <not-an-address>").is_err());
        assert!(mailbox("from", "a@b.test\r\nBcc: x@y.test").is_err());
        assert_eq!(SmtpTls::parse("tls", "starttls"), Ok(SmtpTls::StartTls));
        assert!(SmtpTls::parse("tls", "ssl").is_err());
        assert!(smtp_password("password", "").is_err());
        assert!(smtp_password("password", "a\nb").is_err());
        assert_eq!(smtp_password("password", " p w ").as_deref(), Ok(" p w "));
        assert_eq!(smtp_username("u", "  "), Ok(None));
    }
}
