import { describe, expect, it } from "vitest";
import { FrameSplitter, MAX_MESSAGE, fitScale, parseFrame, parseServerMessage, socketUrl, toDevice, wheelNotches } from "./desktop";

function frameBytes(rects: { x: number; y: number; w: number; h: number; data: number[] }[], width = 200, height = 100): ArrayBuffer {
  const size = 13 + rects.reduce((s, r) => s + 13 + r.data.length, 0);
  const buf = new ArrayBuffer(size);
  const v = new DataView(buf);
  v.setUint8(0, 1);
  v.setUint32(1, 7);
  v.setUint16(5, 1);
  v.setUint16(7, width);
  v.setUint16(9, height);
  v.setUint16(11, rects.length);
  let at = 13;
  for (const r of rects) {
    v.setUint16(at, r.x);
    v.setUint16(at + 2, r.y);
    v.setUint16(at + 4, r.w);
    v.setUint16(at + 6, r.h);
    v.setUint8(at + 8, 1);
    v.setUint32(at + 9, r.data.length);
    new Uint8Array(buf, at + 13, r.data.length).set(r.data);
    at += 13 + r.data.length;
  }
  return buf;
}

describe("desktop frames", () => {
  it("parses the documented layout (same bytes as the Rust test)", () => {
    const f = parseFrame(frameBytes([
      { x: 0, y: 0, w: 64, h: 64, data: [1, 2, 3] },
      { x: 128, y: 64, w: 72, h: 36, data: [9, 9] },
    ]));
    expect(f.seq).toBe(7);
    expect([f.monitor, f.width, f.height]).toEqual([1, 200, 100]);
    expect(f.rects.map((r) => [r.x, r.y, r.w, r.h, r.encoding])).toEqual([[0, 0, 64, 64, 1], [128, 64, 72, 36, 1]]);
    expect(Array.from(f.rects[0].data)).toEqual([1, 2, 3]);
    expect(Array.from(f.rects[1].data)).toEqual([9, 9]);
  });

  it("refuses truncated, foreign and out-of-bounds frames", () => {
    const ok = frameBytes([{ x: 0, y: 0, w: 10, h: 10, data: [1, 2, 3] }]);
    expect(() => parseFrame(ok.slice(0, ok.byteLength - 1))).toThrow(/truncated/);
    const other = ok.slice(0);
    new DataView(other).setUint8(0, 9);
    expect(() => parseFrame(other)).toThrow(/unknown/);
    expect(() => parseFrame(frameBytes([{ x: 150, y: 0, w: 51, h: 10, data: [] }]))).toThrow(/outside/);
  });
});

describe("desktop geometry and input", () => {
  it("fits the monitor in the box without upscaling", () => {
    expect(fitScale(1920, 1080, 960, 1080)).toBe(0.5);
    expect(fitScale(800, 600, 1920, 1080)).toBe(1);
  });

  it("maps canvas positions to monitor pixels, clamped", () => {
    const box = { left: 10, top: 20, width: 960, height: 540 };
    const mon = { width: 1920, height: 1080 };
    expect(toDevice(10, 20, box, mon)).toEqual({ x: 0, y: 0 });
    expect(toDevice(490, 290, box, mon)).toEqual({ x: 960, y: 540 });
    expect(toDevice(5000, -3, box, mon)).toEqual({ x: 1919, y: 0 });
  });

  it("turns wheel deltas into bounded notches", () => {
    expect(wheelNotches(0, 0)).toBe(0);
    expect(wheelNotches(100, 0)).toBe(3);
    expect(wheelNotches(-3, 1)).toBe(-1);
    expect(wheelNotches(1e6, 0)).toBe(10);
    expect(wheelNotches(1, 0)).toBe(1);
  });

  it("parses server messages and builds the socket URL", () => {
    expect(parseServerMessage('{"type":"monitor","current":1}')).toEqual({ type: "monitor", current: 1 });
    expect(parseServerMessage('{"type":"exit"}')).toBeNull();
    expect(parseServerMessage("nope")).toBeNull();
    expect(socketUrl({ protocol: "https:", host: "rmm.example" }, "/ws/remote/abc", "t k")).toBe("wss://rmm.example/ws/remote/abc?ticket=t%20k");
  });
});

describe("FrameSplitter", () => {
  const prefixed = (body: Uint8Array) => {
    const out = new Uint8Array(4 + body.length);
    new DataView(out.buffer).setUint32(0, body.length);
    out.set(body, 4);
    return out;
  };

  it("joins data channel messages cut anywhere into whole frame messages", () => {
    const a = new Uint8Array([1, 2, 3]);
    const b = new Uint8Array(1000).fill(7);
    const pa = prefixed(a);
    const all = new Uint8Array(pa.length + 4 + b.length);
    all.set(pa, 0);
    all.set(prefixed(b), pa.length);
    for (let cut = 0; cut <= all.length; cut++) {
      const s = new FrameSplitter();
      const got = [...s.push(all.slice(0, cut)), ...s.push(all.slice(cut))].map((m) => new Uint8Array(m));
      expect(got.length).toBe(2);
      expect(got[0]).toEqual(a);
      expect(got[1].length).toBe(1000);
      expect(got[1].every((v) => v === 7)).toBe(true);
      expect(s.pending).toBe(0);
    }
  });

  it("refuses a length over the limit", () => {
    const s = new FrameSplitter();
    const head = new Uint8Array(4);
    new DataView(head.buffer).setUint32(0, MAX_MESSAGE + 1);
    expect(() => s.push(head)).toThrow();
  });

  it("knows the WebRTC server messages", () => {
    expect(parseServerMessage('{"type":"transport","path":"webrtc"}')).toEqual({ type: "transport", path: "webrtc" });
    expect(parseServerMessage('{"type":"rtc","ice_servers":[]}')).toEqual({ type: "rtc", ice_servers: [] });
    expect(parseServerMessage('{"type":"shell"}')).toBeNull();
  });
});
