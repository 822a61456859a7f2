//! The live event stream (`GET /api/v1/events`): Server-Sent Events read from the
//! response body and decoded into [`LiveEvent`]s.

use crate::{BreezeClient, ClientError, Result};
use breeze_proto::api::{ErrorBody, LiveEvent};
use std::collections::VecDeque;

/// An open event stream.
pub struct EventStream {
    resp: reqwest::Response,
    parser: SseParser,
    ready: VecDeque<String>,
}

impl BreezeClient {
    /// Opens the live event stream with this client's token. The first event is
    /// [`LiveEvent::Hello`]; once it has arrived, every later change is delivered.
    pub async fn events(&self) -> Result<EventStream> {
        let mut req = self
            .http
            .get(self.base.join("/api/v1/events")?)
            .header(reqwest::header::ACCEPT, "text/event-stream");
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await?;
        let status = resp.status();
        if !status.is_success() {
            let raw = resp.text().await.unwrap_or_default();
            return Err(ClientError::Api {
                status,
                body: serde_json::from_str::<ErrorBody>(&raw).ok(),
                raw,
            });
        }
        Ok(EventStream {
            resp,
            parser: SseParser::default(),
            ready: VecDeque::new(),
        })
    }
}

impl EventStream {
    /// The next event; `None` once the server has ended the stream.
    pub async fn next(&mut self) -> Result<Option<LiveEvent>> {
        loop {
            if let Some(data) = self.ready.pop_front() {
                return serde_json::from_str(&data)
                    .map(Some)
                    .map_err(|e| ClientError::Decode(format!("{e}: {data}")));
            }
            match self.resp.chunk().await? {
                Some(bytes) => self.ready.extend(self.parser.push(&bytes)),
                None => return Ok(None),
            }
        }
    }
}

/// Incremental parser of the `text/event-stream` format: answers the `data` of each
/// complete message with the default event name. Comments (`:` lines, the keep-alives)
/// and other fields are skipped.
#[derive(Default)]
pub struct SseParser {
    line: Vec<u8>,
    data: Option<String>,
    event: Option<String>,
}

impl SseParser {
    /// Feeds bytes (any split: mid-line, mid-character); answers the messages completed.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        for &b in bytes {
            if b != b'\n' {
                self.line.push(b);
                continue;
            }
            if self.line.last() == Some(&b'\r') {
                self.line.pop();
            }
            let line = String::from_utf8_lossy(&std::mem::take(&mut self.line)).into_owned();
            if line.is_empty() {
                let event = self.event.take();
                if let Some(data) = self.data.take()
                    && event.as_deref().is_none_or(|e| e == "message")
                {
                    out.push(data);
                }
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line.as_str(), ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "data" => match &mut self.data {
                    Some(d) => {
                        d.push('\n');
                        d.push_str(value);
                    }
                    None => self.data = Some(value.to_string()),
                },
                "event" => self.event = Some(value.to_string()),
                _ => {}
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_comments_and_splits() {
        let mut p = SseParser::default();
        assert_eq!(p.push(b": keep-alive\n\n"), Vec::<String>::new());
        assert_eq!(p.push(b"data: {\"type\":\"hel"), Vec::<String>::new());
        assert_eq!(
            p.push(b"lo\"}\r\n\r\ndata:a\ndata: b\n"),
            vec![r#"{"type":"hello"}"#.to_string()]
        );
        assert_eq!(
            p.push(b"\nevent: other\ndata: x\n\nid: 1\ndata: y\n\n"),
            vec!["a\nb".to_string(), "y".to_string()]
        );
        // A multi-byte character split across chunks survives.
        let bytes = "data: é\n\n".as_bytes();
        assert_eq!(p.push(&bytes[..7]), Vec::<String>::new());
        assert_eq!(p.push(&bytes[7..]), vec!["é".to_string()]);
    }
}
