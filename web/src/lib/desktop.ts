// Remote desktop (issue 12): the socket protocol's pure parts, as documented in
// crates/proto/src/api/remote_desktop.rs and crates/proto/src/agent/remote_desktop.rs.
//   binary, server → browser: one screen frame (type 1, seq, monitor, size, JPEG rectangles)
//   text, browser → server:   DesktopClientMessage (ack, refresh, monitor, input)
//   text, server → browser:   DesktopServerMessage (hello, monitor, error, rtc, rtc_answer, transport)
// WebRTC: after `rtc` (the ICE servers) the browser may offer a peer connection with one
// data channel ("frames"); once open, frames come there as the length-prefixed stream cut
// into messages of at most 64 KiB (FrameSplitter joins them); acks and input stay on the socket.

export const MSG_FRAME = 1;
export const ENC_JPEG = 1;

export interface FrameRect {
  x: number;
  y: number;
  w: number;
  h: number;
  encoding: number;
  data: Uint8Array;
}

export interface Frame {
  seq: number;
  monitor: number;
  width: number;
  height: number;
  rects: FrameRect[];
}

export interface DesktopMonitor {
  index: number;
  name: string;
  x: number;
  y: number;
  width: number;
  height: number;
  primary: boolean;
}

export interface IceServer {
  urls: string[];
  username?: string;
  credential?: string;
}

export type TransportPath = "relay" | "webrtc";

/** Label of the frames' data channel. */
export const RTC_CHANNEL_LABEL = "frames";

export type DesktopServerMessage =
  | { type: "hello"; display: string; monitors: DesktopMonitor[]; current: number; view_only: boolean }
  | { type: "monitor"; current: number }
  | { type: "error"; message: string }
  | { type: "rtc"; ice_servers: IceServer[] }
  | { type: "rtc_answer"; sdp: string }
  | { type: "transport"; path: TransportPath; reason?: string };

export type DesktopClientMessage =
  | { type: "ack"; seq: number }
  | { type: "refresh" }
  | { type: "monitor"; index: number }
  | { type: "pointer_move"; x: number; y: number }
  | { type: "pointer_button"; button: number; down: boolean; x: number; y: number }
  | { type: "wheel"; dx: number; dy: number; x: number; y: number }
  | { type: "key"; key: string; code?: string; down: boolean }
  | { type: "rtc_offer"; sdp: string };

/** Largest message the splitter accepts (as the agent's MAX_MESSAGE). */
export const MAX_MESSAGE = 32 * 1024 * 1024;

/** Joins data channel messages into the stream and splits it into frame messages (each a
 * big-endian u32 length, then that many bytes). */
export class FrameSplitter {
  private buf = new Uint8Array(0);

  /** Adds bytes; returns the messages now complete. Throws on a length over MAX_MESSAGE. */
  push(bytes: Uint8Array): ArrayBuffer[] {
    const joined = new Uint8Array(this.buf.length + bytes.length);
    joined.set(this.buf, 0);
    joined.set(bytes, this.buf.length);
    const out: ArrayBuffer[] = [];
    let at = 0;
    const view = new DataView(joined.buffer);
    while (at + 4 <= joined.length) {
      const len = view.getUint32(at);
      if (len > MAX_MESSAGE) throw new Error("desktop message larger than the limit");
      if (at + 4 + len > joined.length) break;
      out.push(joined.slice(at + 4, at + 4 + len).buffer);
      at += 4 + len;
    }
    this.buf = joined.slice(at);
    return out;
  }

  /** Bytes of a partial message held. */
  get pending(): number {
    return this.buf.length;
  }
}

/** Parses a binary frame; throws on a truncated or foreign message. */
export function parseFrame(buf: ArrayBuffer): Frame {
  const v = new DataView(buf);
  let at = 0;
  const need = (n: number) => {
    if (at + n > buf.byteLength) throw new Error("truncated desktop frame");
  };
  need(13);
  const type = v.getUint8(0);
  if (type !== MSG_FRAME) throw new Error(`unknown desktop message type ${type}`);
  const seq = v.getUint32(1);
  const monitor = v.getUint16(5);
  const width = v.getUint16(7);
  const height = v.getUint16(9);
  const n = v.getUint16(11);
  at = 13;
  const rects: FrameRect[] = [];
  for (let i = 0; i < n; i++) {
    need(13);
    const x = v.getUint16(at);
    const y = v.getUint16(at + 2);
    const w = v.getUint16(at + 4);
    const h = v.getUint16(at + 6);
    const encoding = v.getUint8(at + 8);
    const len = v.getUint32(at + 9);
    at += 13;
    need(len);
    if (x + w > width || y + h > height) throw new Error("desktop rectangle outside its monitor");
    rects.push({ x, y, w, h, encoding, data: new Uint8Array(buf, at, len) });
    at += len;
  }
  return { seq, monitor, width, height, rects };
}

/** The scale that fits a `w`×`h` monitor in a `boxW`×`boxH` box (never above 1). */
export function fitScale(w: number, h: number, boxW: number, boxH: number): number {
  if (w <= 0 || h <= 0 || boxW <= 0 || boxH <= 0) return 1;
  return Math.min(1, boxW / w, boxH / h);
}

/** A pointer position on the drawn canvas (client coordinates) in monitor pixels. */
export function toDevice(
  clientX: number,
  clientY: number,
  box: { left: number; top: number; width: number; height: number },
  monitor: { width: number; height: number },
): { x: number; y: number } {
  const sx = box.width > 0 ? monitor.width / box.width : 1;
  const sy = box.height > 0 ? monitor.height / box.height : 1;
  const clamp = (v: number, max: number) => Math.max(0, Math.min(max - 1, v));
  return {
    x: clamp(Math.floor((clientX - box.left) * sx), monitor.width),
    y: clamp(Math.floor((clientY - box.top) * sy), monitor.height),
  };
}

/** Wheel notches for a DOM wheel event's delta (pixels, lines or pages). */
export function wheelNotches(delta: number, deltaMode: number): number {
  if (delta === 0) return 0;
  const lines = deltaMode === 0 ? delta / 40 : deltaMode === 1 ? delta / 3 : delta * 3;
  const n = Math.max(1, Math.min(10, Math.round(Math.abs(lines))));
  return Math.sign(delta) * n;
}

/** Keys the browser itself must not act on while the desktop has focus. */
export function keyMessage(e: { key: string; code: string }, down: boolean): DesktopClientMessage {
  return { type: "key", key: e.key, code: e.code || undefined, down };
}

/** Parses a server text frame; `null` when it is not one of ours. */
export function parseServerMessage(text: string): DesktopServerMessage | null {
  try {
    const m = JSON.parse(text) as { type?: unknown };
    const known = ["hello", "monitor", "error", "rtc", "rtc_answer", "transport"];
    if (m && typeof m.type === "string" && known.includes(m.type)) return m as DesktopServerMessage;
  } catch {
    // fall through
  }
  return null;
}

/** The socket URL for a session's `ws_path` and ticket on the page's own origin. */
export function socketUrl(loc: { protocol: string; host: string }, wsPath: string, ticket: string): string {
  const scheme = loc.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${loc.host}${wsPath}?ticket=${encodeURIComponent(ticket)}`;
}
