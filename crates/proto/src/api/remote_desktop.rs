//! Remote desktop (issue 12): the browser socket's frames for `desktop` sessions.
//!
//! - **Binary frames, server → browser:** one screen frame each, laid out as documented in
//!   `crate::agent::remote_desktop` (type 1, seq, monitor, size, JPEG rectangles).
//! - **Text frames, browser → server:** JSON [`DesktopClientMessage`]. Every drawn frame is
//!   acknowledged with `ack {seq}`; the agent captures the next frame only while at most
//!   two are unacknowledged. Input in monitor pixels. In a view-only session the server
//!   drops input and answers one `error`.
//! - **Text frames, server → browser:** JSON [`DesktopServerMessage`]: `hello` first (the
//!   monitors), `monitor` after a switch, `error` when something failed (a final one
//!   precedes the socket's close), `rtc` when WebRTC may be tried (the ICE servers),
//!   `rtc_answer` to the browser's `rtc_offer`, `transport` when frames change path.
//! - **WebRTC:** see `crate::agent::remote_desktop` ("WebRTC"): frames may come over a
//!   data channel instead of binary socket frames; everything else stays on the socket.

use super::*;
use crate::agent::remote_desktop::{
    DesktopControl, DesktopInfo, DesktopMonitor, IceServer, TransportPath,
};

/// A monitor the browser can show.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DesktopMonitorInfo {
    pub index: u16,
    pub name: String,
    pub x: i16,
    pub y: i16,
    pub width: u16,
    pub height: u16,
    pub primary: bool,
}

impl From<DesktopMonitor> for DesktopMonitorInfo {
    fn from(m: DesktopMonitor) -> Self {
        Self {
            index: m.index,
            name: m.name,
            x: m.x,
            y: m.y,
            width: m.width,
            height: m.height,
            primary: m.primary,
        }
    }
}

/// Browser → server text frame on a desktop socket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum DesktopClientMessage {
    /// Frame `seq` was drawn.
    Ack {
        seq: u32,
    },
    /// Send the whole monitor again.
    Refresh,
    /// Show monitor `index`.
    Monitor {
        index: u16,
    },
    PointerMove {
        x: i32,
        y: i32,
    },
    /// `button` as `MouseEvent.button` numbers it (0 left, 1 middle, 2 right).
    PointerButton {
        button: u8,
        down: bool,
        x: i32,
        y: i32,
    },
    /// One wheel notch per event: `dy` > 0 scrolls down, `dx` > 0 right.
    Wheel {
        dx: i32,
        dy: i32,
        x: i32,
        y: i32,
    },
    /// `key` is `KeyboardEvent.key`, `code` is `KeyboardEvent.code`.
    Key {
        key: String,
        #[serde(default)]
        code: Option<String>,
        down: bool,
    },
    /// A WebRTC offer with one data channel, its candidates gathered (no trickle).
    RtcOffer {
        sdp: String,
    },
}

impl DesktopClientMessage {
    pub fn is_input(&self) -> bool {
        DesktopControl::from(self.clone()).is_input()
    }
}

/// The control the server forwards for a browser message (`rtc_offer` gets no ICE servers
/// here: the server adds those of its configuration).
impl From<DesktopClientMessage> for DesktopControl {
    fn from(m: DesktopClientMessage) -> Self {
        match m {
            DesktopClientMessage::RtcOffer { sdp } => Self::RtcOffer {
                sdp,
                ice_servers: Vec::new(),
            },
            DesktopClientMessage::Ack { seq } => Self::Ack { seq },
            DesktopClientMessage::Refresh => Self::Refresh,
            DesktopClientMessage::Monitor { index } => Self::Monitor { index },
            DesktopClientMessage::PointerMove { x, y } => Self::PointerMove { x, y },
            DesktopClientMessage::PointerButton { button, down, x, y } => {
                Self::PointerButton { button, down, x, y }
            }
            DesktopClientMessage::Wheel { dx, dy, x, y } => Self::Wheel { dx, dy, x, y },
            DesktopClientMessage::Key { key, code, down } => Self::Key { key, code, down },
        }
    }
}

/// Server → browser text frame on a desktop socket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DesktopServerMessage {
    /// First message: the display's monitors and the one shown.
    Hello {
        display: String,
        monitors: Vec<DesktopMonitorInfo>,
        current: u16,
        view_only: bool,
    },
    /// The monitor shown changed (after a `monitor` request).
    Monitor { current: u16 },
    /// Something failed; when the session ended the socket closes after this.
    Error { message: String },
    /// WebRTC may be tried for the frames, with these STUN/TURN servers (sent after
    /// `hello` when the server allows WebRTC).
    Rtc { ice_servers: Vec<IceServer> },
    /// The device's answer to `rtc_offer`.
    RtcAnswer { sdp: String },
    /// Frames now come over `path` (`relay`: binary socket frames; `webrtc`: the data
    /// channel); `reason` says why WebRTC is not used, when it is not.
    Transport {
        path: TransportPath,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

impl From<DesktopInfo> for DesktopServerMessage {
    fn from(i: DesktopInfo) -> Self {
        Self::Hello {
            display: i.display,
            monitors: i.monitors.into_iter().map(Into::into).collect(),
            current: i.current,
            view_only: i.view_only,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_messages_parse_and_map_to_agent_controls() -> Result<(), serde_json::Error> {
        let m: DesktopClientMessage = serde_json::from_str(
            r#"{"type":"pointer_button","button":0,"down":true,"x":10,"y":20}"#,
        )?;
        assert!(m.is_input());
        assert_eq!(
            serde_json::to_value(DesktopControl::from(m))?,
            serde_json::json!({"type":"pointer_button","button":0,"down":true,"x":10,"y":20})
        );
        let a: DesktopClientMessage = serde_json::from_str(r#"{"type":"ack","seq":4}"#)?;
        assert!(!a.is_input());
        assert!(
            serde_json::from_str::<DesktopClientMessage>(r#"{"type":"ack","seq":4,"x":1}"#)
                .is_err()
        );
        assert!(serde_json::from_str::<DesktopClientMessage>(r#"{"type":"shell"}"#).is_err());
        Ok(())
    }

    #[test]
    fn webrtc_messages_have_their_documented_shape() -> Result<(), serde_json::Error> {
        let o: DesktopClientMessage = serde_json::from_str(r#"{"type":"rtc_offer","sdp":"v=0"}"#)?;
        assert!(!o.is_input());
        assert_eq!(
            serde_json::to_value(DesktopControl::from(o))?,
            serde_json::json!({"type":"rtc_offer","sdp":"v=0","ice_servers":[]})
        );
        assert_eq!(
            serde_json::to_value(DesktopServerMessage::Transport {
                path: TransportPath::Webrtc,
                reason: None
            })?,
            serde_json::json!({"type":"transport","path":"webrtc"})
        );
        assert_eq!(
            serde_json::to_value(DesktopServerMessage::Rtc {
                ice_servers: vec![IceServer {
                    urls: vec!["turn:turn.example.net:3478".into()],
                    username: Some("u".into()),
                    credential: Some("p".into()),
                }]
            })?,
            serde_json::json!({"type":"rtc","ice_servers":[{"urls":["turn:turn.example.net:3478"],"username":"u","credential":"p"}]})
        );
        Ok(())
    }
}
