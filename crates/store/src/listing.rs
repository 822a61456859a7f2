//! Paging, sorting and text search shared by every list. Cursors are opaque to clients;
//! sort fields come from each list's allow-list, never from input directly.

use crate::StoreError;
use crate::db::Q;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use breeze_proto::api::vocab::MAX_SEARCH_CHARS;

#[derive(Clone, Debug)]
pub struct ListOpts {
    pub limit: u32,
    pub offset: u64,
    /// `field` or `-field`.
    pub sort: Option<String>,
    pub search: Option<String>,
}

impl ListOpts {
    /// Checks `limit` (1..=500, default 50) and the length of `q`, and decodes `cursor`.
    pub fn parse(
        limit: Option<u32>,
        cursor: Option<&str>,
        sort: Option<&str>,
        q: Option<&str>,
    ) -> Result<Self, StoreError> {
        let limit = limit.unwrap_or(50);
        if !(1..=500).contains(&limit) {
            return Err(StoreError::invalid("limit", "must be between 1 and 500"));
        }
        if let Some(q) = q {
            check_search("q", q)?;
        }
        let offset = match cursor.filter(|c| !c.is_empty()) {
            None => 0,
            Some(c) => URL_SAFE_NO_PAD
                .decode(c)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|s| s.strip_prefix("o:").and_then(|n| n.parse().ok()))
                .ok_or_else(|| {
                    StoreError::invalid("cursor", "is not a cursor this server issued")
                })?,
        };
        Ok(ListOpts {
            limit,
            offset,
            sort: sort.filter(|s| !s.is_empty()).map(str::to_string),
            search: q
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        })
    }

    /// Appends `ORDER BY … LIMIT limit+1 OFFSET …` (one extra row tells whether a next page exists).
    pub(crate) fn finish(
        &self,
        q: &mut Q,
        allowed: &[(&str, &'static str)],
        default: &'static str,
    ) -> Result<(), StoreError> {
        q.push(" ORDER BY ");
        match &self.sort {
            None => {
                q.push(default);
            }
            Some(s) => {
                let (name, desc) = s
                    .strip_prefix('-')
                    .map_or((s.as_str(), false), |n| (n, true));
                let col = allowed
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, c)| *c)
                    .ok_or_else(|| {
                        let names: Vec<&str> = allowed.iter().map(|(n, _)| *n).collect();
                        StoreError::invalid(
                            "sort",
                            format!(
                                "must be one of {} (prefix - for descending)",
                                names.join(", ")
                            ),
                        )
                    })?;
                q.push(col)
                    .push(if desc { " DESC" } else { " ASC" })
                    .push(", ")
                    .push(default);
            }
        }
        q.push(" LIMIT ").push_bind(i64::from(self.limit) + 1);
        q.push(" OFFSET ")
            .push_bind(i64::try_from(self.offset).unwrap_or(i64::MAX));
        Ok(())
    }

    /// `%term%`, lower-cased, with LIKE wildcards in the term escaped (use with `ESCAPE '\'`).
    pub fn like_pattern(&self) -> Option<String> {
        self.search
            .as_ref()
            .map(|s| format!("%{}%", like_escape(&s.to_lowercase())))
    }

    /// Trims the extra row and answers the page plus the next cursor.
    pub fn page<T>(&self, mut rows: Vec<T>) -> (Vec<T>, Option<String>) {
        let more = rows.len() > self.limit as usize;
        rows.truncate(self.limit as usize);
        let next = more
            .then(|| URL_SAFE_NO_PAD.encode(format!("o:{}", self.offset + u64::from(self.limit))));
        (rows, next)
    }
}

/// A search term longer than [`MAX_SEARCH_CHARS`] characters is refused (422 naming the
/// field): SQLite refuses LIKE patterns past 50,000 bytes, and no name is that long.
pub fn check_search(field: &str, term: &str) -> Result<(), StoreError> {
    if term.chars().count() > MAX_SEARCH_CHARS {
        return Err(StoreError::invalid(
            field,
            format!("must be at most {MAX_SEARCH_CHARS} characters"),
        ));
    }
    Ok(())
}

/// `term` with the LIKE wildcards `%`, `_` and the escape character `\` escaped, for a
/// pattern used with `ESCAPE '\'` (the same on SQLite and PostgreSQL).
pub fn like_escape(term: &str) -> String {
    term.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_searches_are_refused_and_wildcards_escaped() {
        let long = "x".repeat(MAX_SEARCH_CHARS + 1);
        assert!(matches!(
            ListOpts::parse(None, None, None, Some(&long)),
            Err(StoreError::Invalid { field, .. }) if field == "q"
        ));
        let ok = "é".repeat(MAX_SEARCH_CHARS);
        assert!(ListOpts::parse(None, None, None, Some(&ok)).is_ok());
        assert_eq!(like_escape(r"50%_\x"), r"50\%\_\\x");
    }
}
