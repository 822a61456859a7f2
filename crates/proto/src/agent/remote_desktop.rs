//! `desktop` streams (issue 12): screen frames agent → server, input server → agent.
//!
//! # Opening
//! `stream_open {kind: "desktop", params}` with [`DesktopParams`]. The agent answers
//! `stream_accept` with [`DesktopInfo`] (the display, its monitors, the one shown), or
//! `stream_close` with a reason a person can read: no display configured, the X server
//! refused the connection, an unsupported platform (Wayland, Windows).
//!
//! # Frames (agent → server, stream bytes)
//! The stream's bytes are a sequence of messages, each a big-endian `u32` length then
//! that many bytes (at most [`MAX_MESSAGE`]). The server relays every message as one
//! binary WebSocket frame to the browser, without the length. A message is a **frame**:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 1 | message type, [`MSG_FRAME`] (= 1) |
//! | 1 | 4 | `seq`, u32, +1 per frame sent; the browser acks it |
//! | 5 | 2 | monitor index |
//! | 7 | 2 | monitor width (px) |
//! | 9 | 2 | monitor height (px) |
//! | 11 | 2 | rectangle count `n` |
//! | 13 | … | `n` rectangles |
//!
//! A rectangle: `x`, `y`, `w`, `h` (u16 each, monitor pixels), the encoding (u8,
//! [`ENC_JPEG`] = 1: a baseline JPEG of exactly `w × h`), the data length (u32), the data.
//! All integers are big-endian. Rectangles cover the parts of the monitor that changed
//! since the previous frame; the first frame, a frame after a monitor switch and a frame
//! after `refresh` cover the whole monitor. An unchanged screen sends no frame at all.
//!
//! # Controls
//! [`DesktopControl`] in `stream_control` messages. Server → agent: `ack`, `refresh`,
//! `monitor` and the input events (monitor coordinates). Agent → server: `monitor_changed`
//! after a switch, `error` (e.g. input refused in a view-only stream).
//!
//! # WebRTC (optional direct path for the frames)
//! The browser may offer a WebRTC peer connection (`rtc_offer` on its socket); the server
//! forwards it as [`DesktopControl::RtcOffer`] with the ICE servers (STUN/TURN) of its
//! configuration, the agent answers with [`DesktopControl::RtcAnswer`] once its ICE
//! candidates are gathered (no trickle: both SDPs carry every candidate). The browser's
//! offer holds one ordered, reliable data channel. Once that channel is open the agent
//! sends the frames there instead of on the stream: the same length-prefixed messages,
//! the byte stream cut into data channel messages of at most [`RTC_CHUNK`] bytes (a frame
//! may be larger than a data channel message may be), which the browser joins and splits
//! again. The first frame on a new path covers the whole monitor. Acks, input and every
//! control stay on the stream, so pacing is the same on both paths, and `seq` keeps
//! counting across them (the browser drops a frame older than one it drew). When ICE does
//! not connect within [`RTC_CONNECT_TIMEOUT_SECS`], or the connection fails or the channel
//! closes, the frames go (back) to the stream. [`DesktopControl::Transport`] tells which
//! path the frames take.
//!
//! # Flow
//! The agent captures at most [`MAX_FPS`] frames a second, and captures the next frame
//! only while at most [`MAX_UNACKED`] − 1 sent frames are unacknowledged, so a slow browser
//! lowers the frame rate instead of filling buffers; the stream's flow-control window
//! bounds the bytes in flight on top of that.

use serde::{Deserialize, Serialize};

/// Message type of a frame.
pub const MSG_FRAME: u8 = 1;
/// Rectangle encoding: baseline JPEG.
pub const ENC_JPEG: u8 = 1;
/// Largest message on the stream (a whole 8K monitor as JPEG fits easily).
pub const MAX_MESSAGE: usize = 32 * 1024 * 1024;
/// Frames a second the agent captures at most.
pub const MAX_FPS: u32 = 20;
/// Frames sent and not yet acknowledged at most.
pub const MAX_UNACKED: u32 = 2;
/// Frame header size.
pub const FRAME_HEADER: usize = 13;
/// Rectangle header size.
pub const RECT_HEADER: usize = 13;

/// Largest data channel message of the WebRTC path (Chromium takes up to 256 KiB).
pub const RTC_CHUNK: usize = 64 * 1024;
/// Seconds the agent waits for the data channel to open before it gives up on WebRTC.
pub const RTC_CONNECT_TIMEOUT_SECS: u64 = 10;
/// Label of the frames' data channel.
pub const RTC_CHANNEL_LABEL: &str = "frames";

/// A STUN or TURN server, as `RTCIceServer` in the browser takes it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IceServer {
    /// `stun:`, `stuns:`, `turn:` or `turns:` URLs.
    pub urls: Vec<String>,
    /// TURN user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// TURN password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// The path screen frames take.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TransportPath {
    /// Over the agent's channel and the server (the stream).
    Relay,
    /// Over the WebRTC data channel, device to browser.
    Webrtc,
}

/// `stream_open` params of a desktop stream.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesktopParams {
    /// Watch only: the agent refuses every input event.
    #[serde(default)]
    pub view_only: bool,
    /// The monitor to show first (default: the primary one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor: Option<u16>,
    /// JPEG quality 1..=100 (default [`DEFAULT_QUALITY`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<u8>,
}

/// JPEG quality when the params do not say.
pub const DEFAULT_QUALITY: u8 = 80;

/// One monitor of the captured display (RandR monitor, or the whole root window).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesktopMonitor {
    pub index: u16,
    pub name: String,
    pub x: i16,
    pub y: i16,
    pub width: u16,
    pub height: u16,
    pub primary: bool,
}

/// `stream_accept` info of a desktop stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesktopInfo {
    /// The X display captured (`:0`).
    pub display: String,
    pub monitors: Vec<DesktopMonitor>,
    /// Index of the monitor shown.
    pub current: u16,
    pub view_only: bool,
}

/// `stream_control` messages of a desktop stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DesktopControl {
    /// server → agent: the browser drew frame `seq` (and every one before it).
    Ack { seq: u32 },
    /// server → agent: send the whole monitor in the next frame.
    Refresh,
    /// server → agent: show monitor `index`.
    Monitor { index: u16 },
    /// server → agent: pointer moved to (`x`, `y`) on the monitor shown.
    PointerMove { x: i32, y: i32 },
    /// server → agent: `button` (0 left, 1 middle, 2 right, 3 back, 4 forward, as the
    /// DOM numbers them) pressed or released at (`x`, `y`).
    PointerButton {
        button: u8,
        down: bool,
        x: i32,
        y: i32,
    },
    /// server → agent: wheel turned (`dy` > 0: down, `dx` > 0: right; one notch per
    /// event) at (`x`, `y`).
    Wheel { dx: i32, dy: i32, x: i32, y: i32 },
    /// server → agent: a key (`key` as the DOM `KeyboardEvent.key` names it, `code` its
    /// physical position, e.g. `ShiftRight`) pressed or released.
    Key {
        key: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<String>,
        down: bool,
    },
    /// server → agent: the browser's WebRTC offer (every candidate in the SDP) and the
    /// ICE servers the agent may use.
    RtcOffer {
        sdp: String,
        #[serde(default)]
        ice_servers: Vec<IceServer>,
    },
    /// agent → server: the answer to `rtc_offer` (every candidate in the SDP).
    RtcAnswer { sdp: String },
    /// agent → server: frames now take `path`; `reason` says why WebRTC is not (or no
    /// longer) used.
    Transport {
        path: TransportPath,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// agent → server: the monitor shown is now `current`.
    MonitorChanged { current: u16 },
    /// agent → server: something the browser should tell the user (the stream goes on).
    Error { message: String },
}

impl DesktopControl {
    /// Whether this is an input event (refused in view-only sessions).
    pub fn is_input(&self) -> bool {
        matches!(
            self,
            Self::PointerMove { .. }
                | Self::PointerButton { .. }
                | Self::Wheel { .. }
                | Self::Key { .. }
        )
    }
}

/// A rectangle of a frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameRect {
    pub x: u16,
    pub y: u16,
    pub w: u16,
    pub h: u16,
    pub encoding: u8,
    pub data: Vec<u8>,
}

/// A frame message (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub seq: u32,
    pub monitor: u16,
    pub width: u16,
    pub height: u16,
    pub rects: Vec<FrameRect>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("the message is truncated")]
    Truncated,
    #[error("unknown message type {0}")]
    UnknownType(u8),
    #[error("too many rectangles")]
    TooManyRects,
    #[error("a rectangle does not fit in its monitor")]
    OutOfBounds,
    #[error("the message is larger than the limit")]
    TooLarge,
}

impl Frame {
    /// The frame's message body (without the stream's length prefix).
    pub fn encode(&self) -> Result<Vec<u8>, FrameError> {
        let n = u16::try_from(self.rects.len()).map_err(|_| FrameError::TooManyRects)?;
        let size = FRAME_HEADER
            + self
                .rects
                .iter()
                .map(|r| RECT_HEADER + r.data.len())
                .sum::<usize>();
        let mut v = Vec::with_capacity(size);
        v.push(MSG_FRAME);
        v.extend_from_slice(&self.seq.to_be_bytes());
        v.extend_from_slice(&self.monitor.to_be_bytes());
        v.extend_from_slice(&self.width.to_be_bytes());
        v.extend_from_slice(&self.height.to_be_bytes());
        v.extend_from_slice(&n.to_be_bytes());
        for r in &self.rects {
            for f in [r.x, r.y, r.w, r.h] {
                v.extend_from_slice(&f.to_be_bytes());
            }
            v.push(r.encoding);
            let len = u32::try_from(r.data.len()).map_err(|_| FrameError::TooLarge)?;
            v.extend_from_slice(&len.to_be_bytes());
            v.extend_from_slice(&r.data);
        }
        Ok(v)
    }

    /// Parses a message body; rectangles outside the monitor are an error.
    pub fn decode(b: &[u8]) -> Result<Frame, FrameError> {
        let mut r = Reader(b);
        let t = r.u8()?;
        if t != MSG_FRAME {
            return Err(FrameError::UnknownType(t));
        }
        let seq = r.u32()?;
        let monitor = r.u16()?;
        let width = r.u16()?;
        let height = r.u16()?;
        let n = r.u16()?;
        let mut rects = Vec::with_capacity(usize::from(n).min(4096));
        for _ in 0..n {
            let (x, y, w, h) = (r.u16()?, r.u16()?, r.u16()?, r.u16()?);
            let encoding = r.u8()?;
            let len = usize::try_from(r.u32()?).map_err(|_| FrameError::Truncated)?;
            let data = r.take(len)?.to_vec();
            if u32::from(x) + u32::from(w) > u32::from(width)
                || u32::from(y) + u32::from(h) > u32::from(height)
            {
                return Err(FrameError::OutOfBounds);
            }
            rects.push(FrameRect {
                x,
                y,
                w,
                h,
                encoding,
                data,
            });
        }
        Ok(Frame {
            seq,
            monitor,
            width,
            height,
            rects,
        })
    }
}

/// Prepends the stream's length prefix to a message body.
pub fn length_prefixed(body: &[u8]) -> Option<Vec<u8>> {
    let len = u32::try_from(body.len()).ok()?;
    if body.len() > MAX_MESSAGE {
        return None;
    }
    let mut v = Vec::with_capacity(4 + body.len());
    v.extend_from_slice(&len.to_be_bytes());
    v.extend_from_slice(body);
    Some(v)
}

/// Splits a byte stream back into messages, holding at most one partial message.
#[derive(Default)]
pub struct MessageSplitter {
    buf: Vec<u8>,
}

impl MessageSplitter {
    /// Adds stream bytes; answers the messages now complete, or an error when a length
    /// exceeds [`MAX_MESSAGE`].
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<Vec<u8>>, FrameError> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        let mut at = 0;
        while let Some(head) = self.buf.get(at..at + 4) {
            let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
            let len = usize::try_from(len).map_err(|_| FrameError::TooLarge)?;
            if len > MAX_MESSAGE {
                return Err(FrameError::TooLarge);
            }
            let Some(body) = self.buf.get(at + 4..at + 4 + len) else {
                break;
            };
            out.push(body.to_vec());
            at += 4 + len;
        }
        self.buf.drain(..at);
        Ok(out)
    }

    /// Bytes of a partial message held.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], FrameError> {
        let (a, b) = self.0.split_at_checked(n).ok_or(FrameError::Truncated)?;
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, FrameError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, FrameError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, FrameError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Frame {
        Frame {
            seq: 7,
            monitor: 1,
            width: 200,
            height: 100,
            rects: vec![
                FrameRect {
                    x: 0,
                    y: 0,
                    w: 64,
                    h: 64,
                    encoding: ENC_JPEG,
                    data: vec![1, 2, 3],
                },
                FrameRect {
                    x: 128,
                    y: 64,
                    w: 72,
                    h: 36,
                    encoding: ENC_JPEG,
                    data: vec![9; 300],
                },
            ],
        }
    }

    #[test]
    fn frames_round_trip_and_have_the_documented_layout() -> Result<(), FrameError> {
        let f = sample();
        let b = f.encode()?;
        assert_eq!(b.len(), FRAME_HEADER + 2 * RECT_HEADER + 303);
        assert_eq!(&b[..13], &[1, 0, 0, 0, 7, 0, 1, 0, 200, 0, 100, 0, 2]);
        assert_eq!(&b[13..26], &[0, 0, 0, 0, 0, 64, 0, 64, 1, 0, 0, 0, 3]);
        assert_eq!(Frame::decode(&b)?, f);
        Ok(())
    }

    #[test]
    fn bad_frames_are_refused() -> Result<(), FrameError> {
        let b = sample().encode()?;
        assert_eq!(Frame::decode(&b[..b.len() - 1]), Err(FrameError::Truncated));
        let mut other = b.clone();
        other[0] = 9;
        assert_eq!(Frame::decode(&other), Err(FrameError::UnknownType(9)));
        let mut f = sample();
        f.rects[1].w = 73;
        assert_eq!(Frame::decode(&f.encode()?), Err(FrameError::OutOfBounds));
        Ok(())
    }

    #[test]
    fn the_splitter_reassembles_messages_cut_anywhere() -> Result<(), FrameError> {
        let a = length_prefixed(b"hello").ok_or(FrameError::Truncated)?;
        let b = length_prefixed(&[7u8; 1000]).ok_or(FrameError::Truncated)?;
        let all = [a, b].concat();
        for cut in 0..all.len() {
            let mut s = MessageSplitter::default();
            let mut got = s.push(&all[..cut])?;
            got.extend(s.push(&all[cut..])?);
            assert_eq!(got, vec![b"hello".to_vec(), vec![7u8; 1000]]);
            assert_eq!(s.pending(), 0);
        }
        let mut s = MessageSplitter::default();
        let huge = u32::try_from(MAX_MESSAGE + 1)
            .unwrap_or(u32::MAX)
            .to_be_bytes();
        assert!(s.push(&huge).is_err());
        Ok(())
    }

    #[test]
    fn controls_are_tagged_json() -> Result<(), serde_json::Error> {
        let k: DesktopControl =
            serde_json::from_str(r#"{"type":"key","key":"a","code":"KeyA","down":true}"#)?;
        assert!(k.is_input());
        assert_eq!(
            serde_json::to_string(&DesktopControl::Ack { seq: 3 })?,
            r#"{"type":"ack","seq":3}"#
        );
        assert!(!DesktopControl::Refresh.is_input());
        let p: DesktopParams = serde_json::from_str(r#"{"view_only":true}"#)?;
        assert!(p.view_only && p.monitor.is_none());
        Ok(())
    }
}
