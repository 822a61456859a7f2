//! Live output of a running script: what it prints is sent to the server as
//! `command_output` channel frames while it runs ([`breeze_proto::agent::CommandOutput`]),
//! at most every [`OUTPUT_FLUSH_MILLIS`] ms or once [`OUTPUT_CHUNK_MAX_BYTES`] are
//! waiting, and never more than the command's output cap per stream. It is a preview:
//! nothing is retried, and the final result (from the outbox) carries the output that
//! counts. When the queue to the channel is full (the channel is down or slow), the
//! stream stops for good, because the server takes chunks only at the offset it expects.

use breeze_proto::agent::{
    CommandOutput, OUTPUT_CHUNK_MAX_BYTES, OUTPUT_FLUSH_MILLIS, OutputStream,
};
use breeze_proto::ids::CommandId;
use tokio::sync::mpsc;

/// How often waiting output is sent.
pub const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(OUTPUT_FLUSH_MILLIS);

/// Queue between running scripts and the channel task. About 1 MiB of chunks; a
/// stream that finds it full stops (see the module docs).
pub const QUEUE_CAPACITY: usize = 64;

/// One output stream of one running command.
#[derive(Debug)]
pub struct LiveStream {
    command_id: CommandId,
    stream: OutputStream,
    tx: mpsc::Sender<CommandOutput>,
    pending: Vec<u8>,
    /// UTF-8 bytes sent so far (the next chunk's offset).
    sent: u64,
    cap: u64,
    stopped: bool,
}

impl LiveStream {
    pub fn new(
        command_id: CommandId,
        stream: OutputStream,
        cap: usize,
        tx: mpsc::Sender<CommandOutput>,
    ) -> Self {
        Self {
            command_id,
            stream,
            tx,
            pending: Vec::new(),
            sent: 0,
            cap: u64::try_from(cap).unwrap_or(u64::MAX),
            stopped: false,
        }
    }

    /// Takes bytes the script printed; sends at once when a full chunk is waiting.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.stopped {
            return;
        }
        self.pending.extend_from_slice(bytes);
        while !self.stopped && self.pending.len() >= OUTPUT_CHUNK_MAX_BYTES {
            if !self.send_one(false) {
                break;
            }
        }
    }

    /// Sends what is waiting (the timer's flush). `last`: the stream ended, so a
    /// trailing partial character is sent too (as U+FFFD).
    pub fn flush(&mut self, last: bool) {
        while !self.stopped && !self.pending.is_empty() {
            if !self.send_one(last) {
                break;
            }
        }
    }

    /// UTF-8 bytes sent so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Sends one chunk from the front of `pending`; false when nothing could be sent
    /// (only a partial character is waiting).
    fn send_one(&mut self, last: bool) -> bool {
        let take = self.pending.len().min(OUTPUT_CHUNK_MAX_BYTES);
        let take = if last {
            take
        } else {
            char_boundary(&self.pending[..take])
        };
        if take == 0 {
            return false;
        }
        let mut data = crate::output::display_text(&self.pending[..take]);
        self.pending.drain(..take);
        let room = usize::try_from(self.cap.saturating_sub(self.sent)).unwrap_or(usize::MAX);
        if data.len() >= room {
            let mut cut = room;
            while !data.is_char_boundary(cut) {
                cut -= 1;
            }
            data.truncate(cut);
            self.stopped = true;
            self.pending = Vec::new();
        }
        if data.is_empty() {
            return false;
        }
        let len = data.len() as u64;
        let chunk = CommandOutput {
            command_id: self.command_id,
            stream: self.stream,
            offset: self.sent,
            data,
        };
        if self.tx.try_send(chunk).is_err() {
            // Full or closed: a gap would make every later chunk useless.
            self.stopped = true;
            self.pending = Vec::new();
            return false;
        }
        self.sent += len;
        true
    }
}

/// The longest prefix of `bytes` that does not end inside a UTF-8 character (invalid
/// bytes count as whole characters: they become U+FFFD either way).
fn char_boundary(bytes: &[u8]) -> usize {
    // A character is at most 4 bytes: look for a lead byte in the last 3.
    for back in 1..=3.min(bytes.len()) {
        let i = bytes.len() - back;
        let b = bytes[i];
        if b & 0xC0 == 0x80 {
            continue; // continuation byte: keep looking for its lead
        }
        let need = match b {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => 1,
        };
        return if back < need { i } else { bytes.len() };
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(cap: usize, queue: usize) -> (LiveStream, mpsc::Receiver<CommandOutput>) {
        let (tx, rx) = mpsc::channel(queue);
        (
            LiveStream::new(CommandId::new(), OutputStream::Stdout, cap, tx),
            rx,
        )
    }

    fn drain(rx: &mut mpsc::Receiver<CommandOutput>) -> Vec<(u64, String)> {
        let mut out = Vec::new();
        while let Ok(c) = rx.try_recv() {
            out.push((c.offset, c.data));
        }
        out
    }

    #[test]
    fn small_output_waits_for_the_flush_and_offsets_add_up() {
        let (mut s, mut rx) = stream(1 << 20, 8);
        s.push(b"hello ");
        assert!(
            drain(&mut rx).is_empty(),
            "below a chunk: nothing before the timer"
        );
        s.flush(false);
        s.push(b"world");
        s.flush(false);
        assert_eq!(drain(&mut rx), [(0, "hello ".into()), (6, "world".into())]);
        assert_eq!(s.sent(), 11);
    }

    #[test]
    fn a_full_chunk_goes_at_once_and_none_is_larger() {
        let (mut s, mut rx) = stream(1 << 20, 8);
        s.push(&vec![b'x'; OUTPUT_CHUNK_MAX_BYTES * 2 + 5]);
        let got = drain(&mut rx);
        assert_eq!(got.len(), 2);
        assert!(got.iter().all(|(_, d)| d.len() == OUTPUT_CHUNK_MAX_BYTES));
        assert_eq!(got[1].0, OUTPUT_CHUNK_MAX_BYTES as u64);
        s.flush(true);
        assert_eq!(drain(&mut rx)[0].1.len(), 5);
    }

    #[test]
    fn a_character_split_across_reads_is_never_cut() {
        let (mut s, mut rx) = stream(1 << 20, 8);
        let e = "é".as_bytes();
        s.push(&[b'a', e[0]]);
        s.flush(false);
        s.push(&e[1..]);
        s.flush(false);
        assert_eq!(drain(&mut rx), [(0, "a".into()), (1, "é".into())]);
    }

    #[test]
    fn the_cap_ends_the_stream() {
        let (mut s, mut rx) = stream(10, 8);
        s.push(b"0123456");
        s.flush(false);
        s.push(b"789abcdef");
        s.flush(false);
        s.push(b"more");
        s.flush(true);
        assert_eq!(drain(&mut rx), [(0, "0123456".into()), (7, "789".into())]);
    }

    #[test]
    fn a_full_queue_stops_the_stream_instead_of_leaving_a_gap() {
        let (mut s, mut rx) = stream(1 << 20, 1);
        s.push(b"a");
        s.flush(false);
        s.push(b"b");
        s.flush(false); // queue full: dropped, stream stopped
        let _ = drain(&mut rx);
        s.push(b"c");
        s.flush(false);
        assert!(drain(&mut rx).is_empty());
    }

    #[test]
    fn boundaries() {
        assert_eq!(char_boundary(b"abc"), 3);
        assert_eq!(char_boundary(&"é".as_bytes()[..1]), 0);
        assert_eq!(char_boundary("aé".as_bytes()), 3);
        assert_eq!(char_boundary(&"a€".as_bytes()[..3]), 1);
        assert_eq!(char_boundary(&[b'a', 0xFF]), 2);
    }
}
