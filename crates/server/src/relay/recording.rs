//! Terminal recordings in asciicast v2 (<https://docs.asciinema.org/manual/asciicast/v2/>),
//! written while a session is relayed.
//!
//! The file is a header line `{"version":2,"width":…,"height":…,"timestamp":…}` and then
//! one event per line: `[seconds, "o", text]` for output and `[seconds, "r", "COLSxROWS"]`
//! for a resize. Input is never recorded (it would hold passwords typed at prompts).
//! Output arrives in chunks that may split a UTF-8 sequence: the incomplete tail is
//! carried into the next chunk; bytes that are not UTF-8 at all become U+FFFD.
//! The file stops growing at a size cap: a last output event says so, and the session
//! goes on unrecorded.

use std::path::{Path, PathBuf};
use tokio::io::{AsyncWriteExt as _, BufWriter};

/// Where recordings live, relative to the data directory.
pub const DIR: &str = "recordings";

/// Where this replica keeps `session`'s recording, if it served the session.
pub fn local_path(
    state: &crate::state::AppState,
    session: breeze_proto::ids::RemoteSessionId,
) -> PathBuf {
    state
        .config
        .data_dir
        .join(DIR)
        .join(format!("{session}.cast"))
}

pub struct Recorder {
    out: BufWriter<tokio::fs::File>,
    /// Relative to the data directory (what the session row keeps).
    rel: String,
    started: std::time::Instant,
    /// Bytes of a UTF-8 sequence split across chunks.
    tail: Vec<u8>,
    written: u64,
    cap: u64,
    stopped: bool,
}

impl Recorder {
    /// Creates `<data_dir>/recordings/<name>.cast` and writes the header.
    pub async fn create(
        data_dir: &Path,
        name: &str,
        cols: u16,
        rows: u16,
        unix_time: i64,
        cap: u64,
    ) -> std::io::Result<Recorder> {
        let dir = data_dir.join(DIR);
        tokio::fs::create_dir_all(&dir).await?;
        let file_name = format!("{name}.cast");
        let file = tokio::fs::File::create(dir.join(&file_name)).await?;
        let mut r = Recorder {
            out: BufWriter::with_capacity(64 * 1024, file),
            rel: format!("{DIR}/{file_name}"),
            started: std::time::Instant::now(),
            tail: Vec::new(),
            written: 0,
            cap,
            stopped: false,
        };
        let header = serde_json::json!({
            "version": 2, "width": cols, "height": rows, "timestamp": unix_time,
            "env": {"TERM": "xterm-256color"},
        });
        r.line(header.to_string()).await?;
        Ok(r)
    }

    /// The file's path relative to the data directory.
    pub fn relative_path(&self) -> &str {
        &self.rel
    }

    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    fn elapsed(&self) -> f64 {
        (self.started.elapsed().as_micros() as f64) / 1_000_000.0
    }

    async fn line(&mut self, mut s: String) -> std::io::Result<()> {
        s.push('\n');
        self.out.write_all(s.as_bytes()).await?;
        self.written += s.len() as u64;
        Ok(())
    }

    async fn event(&mut self, code: &str, data: &str) -> std::io::Result<()> {
        if self.stopped {
            return Ok(());
        }
        let line = serde_json::json!([self.elapsed(), code, data]).to_string();
        if self.written + line.len() as u64 + 1 > self.cap {
            self.stopped = true;
            let note = serde_json::json!([
                self.elapsed(),
                "o",
                "\r\n[breeze: the recording reached its size limit and stopped here]\r\n"
            ])
            .to_string();
            return self.line(note).await;
        }
        self.line(line).await
    }

    /// Records terminal output.
    pub async fn output(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        let text = decode_carry(&mut self.tail, chunk);
        if text.is_empty() {
            return Ok(());
        }
        self.event("o", &text).await
    }

    /// Records a resize.
    pub async fn resize(&mut self, cols: u16, rows: u16) -> std::io::Result<()> {
        self.event("r", &format!("{cols}x{rows}")).await
    }

    /// Flushes what is buffered (the carried tail, if any, as U+FFFD) and closes the file.
    pub async fn finish(mut self) -> std::io::Result<(PathBuf, u64)> {
        if !self.tail.is_empty() {
            let rest = String::from_utf8_lossy(&std::mem::take(&mut self.tail)).into_owned();
            self.event("o", &rest).await?;
        }
        self.out.flush().await?;
        self.out.get_mut().sync_data().await?;
        Ok((PathBuf::from(self.rel), self.written))
    }
}

/// Decodes `tail ++ chunk` as UTF-8, keeping an incomplete sequence at the end in `tail`
/// for the next chunk; invalid bytes elsewhere become U+FFFD.
pub fn decode_carry(tail: &mut Vec<u8>, chunk: &[u8]) -> String {
    let mut buf = std::mem::take(tail);
    buf.extend_from_slice(chunk);
    let mut out = String::with_capacity(buf.len());
    let mut rest: &[u8] = &buf;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                break;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                // `good` is valid UTF-8 by construction.
                out.push_str(&String::from_utf8_lossy(good));
                match e.error_len() {
                    Some(n) => {
                        out.push(char::REPLACEMENT_CHARACTER);
                        rest = &bad[n..];
                    }
                    None => {
                        // An incomplete sequence at the end: keep it for the next chunk.
                        tail.extend_from_slice(bad);
                        break;
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn split_utf8_sequences_are_carried() {
        let s = "héllo → ✓ 🎉";
        let bytes = s.as_bytes();
        // Every split point gives back the same text.
        for cut in 0..=bytes.len() {
            let mut tail = Vec::new();
            let mut got = decode_carry(&mut tail, &bytes[..cut]);
            got.push_str(&decode_carry(&mut tail, &bytes[cut..]));
            assert!(tail.is_empty());
            assert_eq!(got, s, "cut at {cut}");
        }
        let mut tail = Vec::new();
        assert_eq!(decode_carry(&mut tail, b"a\xffb"), "a\u{fffd}b");
        assert!(tail.is_empty());
    }

    #[tokio::test]
    async fn writes_asciicast_v2_and_stops_at_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Recorder::create(dir.path(), "s1", 80, 24, 1_700_000_000, 400)
            .await
            .unwrap();
        r.output("hello ".as_bytes()).await.unwrap();
        r.output(&"wörld".as_bytes()[..2]).await.unwrap();
        r.output(&"wörld".as_bytes()[2..]).await.unwrap();
        r.resize(100, 40).await.unwrap();
        for _ in 0..20 {
            r.output(b"0123456789012345678901234567890123456789")
                .await
                .unwrap();
        }
        let (rel, n) = r.finish().await.unwrap();
        assert_eq!(rel, PathBuf::from("recordings/s1.cast"));
        let text = std::fs::read_to_string(dir.path().join(&rel)).unwrap();
        assert_eq!(text.len() as u64, n);
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["version"], 2);
        assert_eq!(
            (lines[0]["width"].as_u64(), lines[0]["height"].as_u64()),
            (Some(80), Some(24))
        );
        assert_eq!(lines[1][1], "o");
        assert_eq!(lines[1][2], "hello ");
        assert_eq!(lines[2][2], "w");
        assert_eq!(lines[3][2], "örld");
        assert_eq!(lines[4][1], "r");
        assert_eq!(lines[4][2], "100x40");
        let last = lines.last().unwrap();
        assert!(last[2].as_str().unwrap().contains("size limit"));
        // Capped: well under what 20 lines of output would need.
        assert!(n < 400 + 200, "{n}");
    }
}
