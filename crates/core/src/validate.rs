//! Input parsed once at the edge into checked types; the inside trusts them.

use serde::Serialize;
use std::fmt;

/// A rejected input, naming the field it came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    pub field: String,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A lower-cased e-mail address.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(field: &str, raw: &str) -> Result<Self, ValidationError> {
        let s = raw.trim().to_lowercase();
        let err = |m: &str| Err(ValidationError::new(field, m));
        if s.is_empty() {
            return err("is required");
        }
        if s.len() > 254 {
            return err("must be at most 254 characters");
        }
        let Some((local, domain)) = s.split_once('@') else {
            return err("must be an e-mail address like name@example.com");
        };
        let domain_ok = !domain.is_empty()
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        if local.is_empty()
            || local.len() > 64
            || !domain_ok
            || s.chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
        {
            return err("must be an e-mail address like name@example.com");
        }
        Ok(Email(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A display name: trimmed, 1..=max characters, no control characters.
pub fn name(field: &str, raw: &str, max: usize) -> Result<String, ValidationError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(ValidationError::new(field, "is required"));
    }
    if s.chars().count() > max {
        return Err(ValidationError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if s.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(s.to_string())
}

/// Optional free text: trimmed, at most `max` characters; empty becomes `None`.
pub fn optional_text(
    field: &str,
    raw: Option<&str>,
    max: usize,
) -> Result<Option<String>, ValidationError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) if s.chars().count() > max => Err(ValidationError::new(
            field,
            format!("must be at most {max} characters"),
        )),
        Some(s) => Ok(Some(s.to_string())),
    }
}

/// A URL slug: lower-case letters, digits and dashes, 2..=63 characters.
pub fn slug(field: &str, raw: &str) -> Result<String, ValidationError> {
    let ok = (2..=63).contains(&raw.len())
        && raw
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !raw.starts_with('-')
        && !raw.ends_with('-');
    if ok {
        Ok(raw.to_string())
    } else {
        Err(ValidationError::new(
            field,
            "must be 2-63 lower-case letters, digits or dashes, not starting or ending with a dash",
        ))
    }
}

/// Derives a slug from a name ("Acme IT Solutions" → "acme-it-solutions").
pub fn slugify(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let mut s = out
        .trim_end_matches('-')
        .chars()
        .take(63)
        .collect::<String>();
    while s.ends_with('-') {
        s.pop();
    }
    if s.len() < 2 {
        s = format!("t-{s}x");
    }
    s
}

/// Minimum password rules (NIST 800-63B: length over composition rules).
pub fn password(field: &str, raw: &str) -> Result<(), ValidationError> {
    let n = raw.chars().count();
    if n < 12 {
        return Err(ValidationError::new(
            field,
            "must be at least 12 characters",
        ));
    }
    if n > 512 {
        return Err(ValidationError::new(
            field,
            "must be at most 512 characters",
        ));
    }
    Ok(())
}

/// An IANA time zone name such as `Europe/Berlin`, or `UTC`.
pub fn timezone(field: &str, raw: &str) -> Result<String, ValidationError> {
    let ok = raw == "UTC"
        || (raw.len() <= 64
            && raw.contains('/')
            && raw.split('/').all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-+".contains(c))
            }));
    if ok {
        Ok(raw.to_string())
    } else {
        Err(ValidationError::new(
            field,
            "must be an IANA time zone such as Europe/Berlin, or UTC",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(
            Email::parse("email", " Ann@Example.COM ").map(|e| e.0),
            Ok("ann@example.com".into())
        );
        for bad in [
            "",
            "ann",
            "ann@",
            "@x.com",
            "a b@x.com",
            "ann@x..com",
            "ann@.x",
        ] {
            assert_eq!(
                Email::parse("email", bad).map_err(|e| e.field),
                Err("email".into()),
                "{bad}"
            );
        }
    }

    #[test]
    fn slugs() {
        assert_eq!(slugify("Acme IT Solutions!"), "acme-it-solutions");
        assert!(slug("slug", &slugify("Ä")).is_ok());
        assert!(slug("slug", "Bad Slug").is_err());
        assert!(slug("slug", "-x").is_err());
    }

    #[test]
    fn names_and_passwords() {
        assert!(name("name", "  ", 10).is_err());
        assert!(name("name", "a\u{7}b", 10).is_err());
        assert_eq!(name("name", " ok ", 10), Ok("ok".into()));
        assert!(password("password", "short").is_err());
        assert!(password("password", "long enough pass").is_ok());
        assert!(timezone("timezone", "Europe/Berlin").is_ok());
        assert!(timezone("timezone", "nowhere").is_err());
    }
}
