//! Capped capture of a child's output that keeps the *tail* (the end of a log is
//! where the error is).

/// Collects bytes, keeping at most `cap` of the most recent ones.
#[derive(Debug)]
pub struct TailBuffer {
    cap: usize,
    buf: Vec<u8>,
    dropped: u64,
}

impl TailBuffer {
    pub fn new(cap: usize) -> Self {
        Self {
            cap,
            buf: Vec::with_capacity(cap.min(64 * 1024)),
            dropped: 0,
        }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        // Compact only once the buffer is twice the cap, so pushing is amortized O(n).
        if self.buf.len() > self.cap.saturating_mul(2).max(4096) {
            self.compact();
        }
    }

    fn compact(&mut self) {
        if self.buf.len() > self.cap {
            let excess = self.buf.len() - self.cap;
            self.buf.drain(..excess);
            self.dropped += excess as u64;
        }
    }

    /// Whether anything was cut.
    pub fn truncated(&self) -> bool {
        self.dropped > 0 || self.buf.len() > self.cap
    }

    /// The kept tail as UTF-8 (invalid sequences replaced), and whether it was cut.
    /// A cut never leaves half a character at the start.
    pub fn finish(mut self) -> (String, bool) {
        self.compact();
        let truncated = self.dropped > 0;
        let mut start = 0;
        if truncated {
            // Skip UTF-8 continuation bytes (10xxxxxx) left by the cut.
            while start < self.buf.len() && start < 3 && (self.buf[start] & 0xC0) == 0x80 {
                start += 1;
            }
        }
        (display_text(&self.buf[start..]), truncated)
    }
}

/// Output bytes as text for the server: invalid UTF-8 and NUL (which no database text
/// column holds) become U+FFFD.
pub fn display_text(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.contains('\0') {
        text.replace('\0', "\u{FFFD}")
    } else {
        text.into_owned()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn nul_becomes_the_replacement_character() {
        assert_eq!(super::display_text(b"a\0b\xff"), "a\u{FFFD}b\u{FFFD}");
    }

    use super::*;

    #[test]
    fn keeps_everything_under_the_cap() {
        let mut t = TailBuffer::new(10);
        t.push(b"hello");
        assert_eq!(t.finish(), ("hello".to_string(), false));
    }

    #[test]
    fn keeps_the_tail_over_the_cap() {
        let mut t = TailBuffer::new(4);
        for chunk in [b"abc".as_slice(), b"defg", b"hij"] {
            t.push(chunk);
        }
        assert_eq!(t.finish(), ("ghij".to_string(), true));
    }

    #[test]
    fn a_cut_does_not_leave_half_a_character() {
        let mut t = TailBuffer::new(3);
        t.push("xxéé".as_bytes()); // 2 + 2*2 bytes; keeping 3 splits the first é
        assert_eq!(t.finish(), ("é".to_string(), true));
    }
}
