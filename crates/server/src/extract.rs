//! Extractors that turn every malformed input into a clear 4xx JSON error naming the field:
//! bodies (wrong content type, bad JSON, wrong types, unknown or missing fields, too large),
//! path ids (not a UUID) and query strings.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// A JSON body.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ct = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mime = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if mime != "application/json"
            && !(mime.starts_with("application/") && mime.ends_with("+json"))
        {
            return Err(ApiError::UnsupportedMediaType(
                "the body must be JSON with `Content-Type: application/json`".into(),
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(
                    "the request body is larger than this endpoint accepts".into(),
                )
            } else {
                ApiError::BadRequest {
                    code: "bad_request",
                    message: e.body_text(),
                    field: None,
                }
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// `Option<ApiJson<T>>`: `None` for an empty body.
impl<S: Send + Sync, T: DeserializeOwned> axum::extract::OptionalFromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        let empty = req
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() == "0")
            || !req.headers().contains_key(CONTENT_TYPE);
        if empty {
            return Ok(None);
        }
        <ApiJson<T> as FromRequest<S>>::from_request(req, state)
            .await
            .map(Some)
    }
}

/// Parses JSON, naming the offending field on error.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Every request body is an object; serde would otherwise accept a struct as an array.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::BadRequest {
            code: "invalid_body",
            message: "the body must be a JSON object".into(),
            field: None,
        });
    }
    // No database text column can hold NUL (PostgreSQL refuses it outright), and no name,
    // path or value a person types has one: refuse it here, naming where it is.
    if let Some(field) = nul_in_json(bytes) {
        return Err(ApiError::Validation {
            field,
            message: "must not contain a NUL character (\\u0000)".into(),
        });
    }
    // PostgreSQL's `jsonb` keeps a number exactly and prints it in full; one near
    // `f64::MAX` comes back as ~309 digits that serde_json reads as infinity and refuses,
    // so every later read of the row would fail (see `json_limits::MAX_NUMBER`).
    check_numbers(bytes, None)?;
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let msg = inner.to_string();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::BadRequest {
                code: "malformed_json",
                message: format!("malformed JSON: {msg}"),
                field: None,
            };
        }
        // "unknown field `x`" and "missing field `x`" name the field themselves.
        let named = msg.split('`').nth(1).map(str::to_string);
        let root = path == "." || path.is_empty();
        // serde_path_to_error puts an unknown field in the path itself; a missing field is
        // named only in the message, under its parent's path.
        let field = if msg.starts_with("missing field") {
            match named {
                Some(n) if root => Some(n),
                Some(n) => Some(format!("{path}.{n}")),
                None => (!root).then_some(path),
            }
        } else if root {
            named.filter(|_| msg.starts_with("unknown field"))
        } else {
            Some(path)
        };
        let message = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        match field {
            Some(f) => ApiError::Validation { field: f, message },
            None => ApiError::BadRequest {
                code: "invalid_body",
                message,
                field: None,
            },
        }
    })
}

/// Where a JSON body holds a NUL character (in a string or a key), as a field path such as
/// `software[3].version`; `None` when it holds none. Only bodies whose text has a `\u0000`
/// escape are parsed twice (raw NUL bytes are not valid JSON and fail to parse anyway).
fn nul_in_json(bytes: &[u8]) -> Option<String> {
    if !bytes.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000")) {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    path_of_first(&value, &|k| k.contains('\0'), &|v| {
        v.as_str().is_some_and(|s| s.contains('\0'))
    })
}

/// Refuses JSON holding a number larger than `json_limits::MAX_NUMBER` in magnitude
/// (422 naming its path, under `under` when the JSON is one field of the request: an
/// automation webhook's `body`).
pub(crate) fn check_numbers(bytes: &[u8], under: Option<&str>) -> Result<(), ApiError> {
    let Some(at) = huge_number_in_json(bytes) else {
        return Ok(());
    };
    let field = match under {
        None => at,
        Some(u) if at.is_empty() || at.starts_with('[') => format!("{u}{at}"),
        Some(u) => format!("{u}.{at}"),
    };
    Err(ApiError::Validation {
        field,
        message: format!(
            "numbers are at most {:e} in magnitude",
            breeze_core::json_limits::MAX_NUMBER
        ),
    })
}

/// Where a JSON body holds a number larger than `json_limits::MAX_NUMBER` in magnitude,
/// as a field path; `None` when it holds none. The text is scanned first (strings
/// skipped), and only a body with such a number is parsed twice. One beyond `f64` (which
/// serde_json cannot read at all) stays the parser's own error: malformed JSON.
fn huge_number_in_json(bytes: &[u8]) -> Option<String> {
    use breeze_core::json_limits::MAX_NUMBER;
    let too_large = |f: f64| f.abs() > MAX_NUMBER;
    let mut i = 0;
    let mut found = false;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < bytes.len()
                    && matches!(bytes[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
                {
                    i += 1;
                }
                let token = &bytes[start..i];
                // Without an exponent, 300 digits stay below 1e300.
                if (token.len() > 300 || token.iter().any(|b| matches!(b, b'e' | b'E')))
                    && std::str::from_utf8(token)
                        .ok()
                        .and_then(|t| t.parse::<f64>().ok())
                        .is_some_and(too_large)
                {
                    found = true;
                    break;
                }
            }
            _ => i += 1,
        }
    }
    if !found {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    path_of_first(&value, &|_| false, &|v| v.as_f64().is_some_and(too_large))
}

/// The path (`a.b[2].c`) of the first key or value in `v` that `bad_key` or `bad` holds
/// for; `None` when there is none.
fn path_of_first(
    v: &serde_json::Value,
    bad_key: &dyn Fn(&str) -> bool,
    bad: &dyn Fn(&serde_json::Value) -> bool,
) -> Option<String> {
    fn walk(
        v: &serde_json::Value,
        path: &mut String,
        bad_key: &dyn Fn(&str) -> bool,
        bad: &dyn Fn(&serde_json::Value) -> bool,
    ) -> bool {
        match v {
            serde_json::Value::Array(items) => items.iter().enumerate().any(|(i, item)| {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                let found = walk(item, path, bad_key, bad);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            serde_json::Value::Object(map) => map.iter().any(|(k, item)| {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&k.replace('\0', "\\u0000"));
                let found = bad_key(k) || walk(item, path, bad_key, bad);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            other => bad(other),
        }
    }
    let mut path = String::new();
    walk(v, &mut path, bad_key, bad).then_some(path)
}

/// Path parameters; a malformed id answers 400 naming the parameter.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(ApiPath(v)),
            Err(e) => {
                let text = e.body_text();
                let field = text
                    .split('`')
                    .nth(1)
                    .map(str::to_string)
                    .or_else(|| Some("id".into()));
                Err(ApiError::BadRequest {
                    code: "invalid_path",
                    message: format!("invalid path parameter (ids are UUIDs): {text}"),
                    field,
                })
            }
        }
    }
}

/// Query parameters. One that does not parse (a word where a number goes, a malformed id
/// or time) answers 422 `invalid_query` naming the parameter: the same status as a value
/// that parses but is out of range (422 `validation`), on every route.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parse_query(parts.uri.query().unwrap_or("")).map(ApiQuery)
    }
}

/// Parses a query string, naming the offending parameter on error.
pub fn parse_query<T: DeserializeOwned>(q: &str) -> Result<T, ApiError> {
    let uri = format!("/?{q}")
        .parse()
        .map_err(|_| ApiError::InvalidQuery {
            field: None,
            message: "invalid query string".into(),
        })?;
    // A NUL (`%00`) fits in no database text column and in no name or search: refuse it,
    // naming the parameter.
    if q.to_ascii_lowercase().contains("%00")
        && let Ok(axum::extract::Query(pairs)) =
            axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&uri)
        && let Some((k, _)) = pairs
            .iter()
            .find(|(k, v)| k.contains('\0') || v.contains('\0'))
    {
        return Err(ApiError::InvalidQuery {
            field: Some(k.replace('\0', "\\u0000")),
            message: "must not contain a NUL character (%00)".into(),
        });
    }
    axum::extract::Query::<T>::try_from_uri(&uri)
        .map(|axum::extract::Query(v)| v)
        .map_err(|e| {
            // axum's text: "Failed to deserialize query string: <path>: <error>".
            let text = e.body_text();
            let field = text
                .split(": ")
                .nth(1)
                .and_then(|s| s.split(':').next())
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty() && !s.contains(' '))
                // serde names a missing parameter only in its message.
                .or_else(|| {
                    let rest = text.split("missing field `").nth(1)?;
                    rest.split('`').next().map(str::to_string)
                });
            ApiError::InvalidQuery {
                field,
                message: text,
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        email: String,
        n: Option<u32>,
    }

    fn field_of(json: &str) -> Option<String> {
        match parse_json::<Body>(json.as_bytes()) {
            Err(ApiError::Validation { field, .. }) => Some(field),
            Err(ApiError::BadRequest { field, .. }) => field,
            _ => None,
        }
    }

    #[test]
    fn a_missing_query_parameter_is_named() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Q {
            path: String,
        }
        match parse_query::<Q>("other=1") {
            Err(ApiError::InvalidQuery { field, .. }) => assert_eq!(field.as_deref(), Some("path")),
            other => panic!("expected invalid_query, got {other:?}"),
        }
    }

    #[test]
    fn json_errors_name_the_field() {
        assert_eq!(field_of(r#"{"email": 3}"#).as_deref(), Some("email"));
        assert_eq!(
            field_of(r#"{"email": "a", "n": "x"}"#).as_deref(),
            Some("n")
        );
        assert_eq!(
            field_of(r#"{"email": "a", "evil": 1}"#).as_deref(),
            Some("evil")
        );
        assert_eq!(field_of(r#"{}"#).as_deref(), Some("email"));
        assert!(matches!(
            parse_json::<Body>(b"{not json"),
            Err(ApiError::BadRequest {
                code: "malformed_json",
                ..
            })
        ));
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Query {
        limit: Option<u32>,
        from: Option<chrono::DateTime<chrono::Utc>>,
    }

    #[test]
    fn query_errors_are_422_naming_the_parameter() {
        for (q, field) in [
            ("limit=abc", "limit"),
            ("limit=-1", "limit"),
            ("from=yesterday", "from"),
        ] {
            match parse_query::<Query>(q) {
                Err(e @ ApiError::InvalidQuery { .. }) => {
                    assert_eq!(e.status(), axum::http::StatusCode::UNPROCESSABLE_ENTITY);
                    let ApiError::InvalidQuery { field: f, .. } = e else {
                        unreachable!()
                    };
                    assert_eq!(f.as_deref(), Some(field), "{q}");
                }
                other => panic!("{q}: {other:?}"),
            }
        }
        assert!(parse_query::<Query>("limit=5&unknown=1").is_ok());
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Search {
        q: Option<String>,
    }

    #[test]
    fn nul_is_refused_naming_where_it_is() {
        match parse_query::<Search>("q=a%00b") {
            Err(ApiError::InvalidQuery { field, .. }) => assert_eq!(field.as_deref(), Some("q")),
            other => panic!("{other:?}"),
        }
        assert!(parse_query::<Search>("q=100%25").is_ok());
        assert_eq!(
            field_of(r#"{"email": "a\u0000b"}"#).as_deref(),
            Some("email")
        );
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Nested {
            items: Vec<std::collections::BTreeMap<String, String>>,
        }
        match parse_json::<Nested>(br#"{"items": [{"a": "x"}, {"name": "\u0000"}]}"#) {
            Err(ApiError::Validation { field, .. }) => assert_eq!(field, "items[1].name"),
            other => panic!("{other:?}"),
        }
        // An escaped backslash followed by "u0000" is text, not NUL.
        assert!(parse_json::<Body>(br#"{"email": "a\\u0000"}"#).is_ok());
    }

    /// A number PostgreSQL would give back as one serde_json cannot read (so every later
    /// read of the row failed with a 500) is refused, naming where it is.
    #[test]
    fn a_number_too_large_to_read_back_is_refused_naming_where_it_is() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Free {
            name: String,
            data: serde_json::Value,
        }
        let field = |json: &str| match parse_json::<Free>(json.as_bytes()) {
            Err(ApiError::Validation { field, message }) => {
                assert!(message.len() < 80, "{message}");
                Some(field)
            }
            Ok(_) => None,
            Err(e) => panic!("{json}: {e:?}"),
        };
        let max = f64::MAX.to_string(); // 309 digits, no exponent
        for (json, at) in [
            (
                r#"{"name": "a", "data": {"k": [0, {"x": -1.7976931348623157e+308}]}}"#,
                "data.k[1].x",
            ),
            (r#"{"name": "a", "data": 1.0001E300}"#, "data"),
        ] {
            assert_eq!(field(json).as_deref(), Some(at), "{json}");
        }
        // Numbers serde_json itself cannot read are malformed JSON, as before.
        for json in [
            format!(r#"{{"name": "a", "data": {{"m": {max}}}}}"#),
            r#"{"name": "a", "data": [1e999]}"#.into(),
        ] {
            assert!(
                matches!(
                    parse_json::<Free>(json.as_bytes()),
                    Err(ApiError::BadRequest {
                        code: "malformed_json",
                        ..
                    })
                ),
                "{json}"
            );
        }
        // At the bound, tiny, long integers and look-alikes inside strings pass.
        let digits = "9".repeat(300);
        for json in [
            r#"{"name": "1e999", "data": [1e300, -1e300, 1e-300, 5e-324, 0.5E+2, 12345678901234567890123]}"#.to_string(),
            format!(r#"{{"name": "{max}", "data": [{digits}, "\"1e999", -0]}}"#),
        ] {
            assert_eq!(field(&json), None, "{json}");
        }
        assert_eq!(
            huge_number_in_json(b"{\"a\": 1e400"),
            None,
            "malformed: serde says so"
        );
    }
}
