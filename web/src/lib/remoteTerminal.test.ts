import { describe, expect, it } from "vitest";
import { parseServerMessage, resizeMessage, socketUrl, TerminalLink, validSize, type LinkStatus, type SocketLike } from "./remoteTerminal";

describe("socketUrl", () => {
  it("turns the page origin into ws(s) and adds the ticket", () => {
    expect(socketUrl("https://rmm.example", "/ws/remote/abc", "t+/=")).toBe("wss://rmm.example/ws/remote/abc?ticket=t%2B%2F%3D");
    expect(socketUrl("http://127.0.0.1:3901/", "/ws/remote/abc", "x")).toBe("ws://127.0.0.1:3901/ws/remote/abc?ticket=x");
  });
});

describe("messages", () => {
  it("reads the server's exit and error frames, and nothing else", () => {
    expect(parseServerMessage('{"type":"exit","code":130}')).toEqual({ type: "exit", code: 130 });
    expect(parseServerMessage('{"type":"error","message":"agent offline"}')).toEqual({ type: "error", message: "agent offline" });
    expect(parseServerMessage('{"type":"exit","code":"1"}')).toBeNull();
    expect(parseServerMessage('{"type":"other"}')).toBeNull();
    expect(parseServerMessage("nope")).toBeNull();
    expect(parseServerMessage("null")).toBeNull();
  });

  it("writes a resize frame", () => {
    expect(JSON.parse(resizeMessage(100, 40))).toEqual({ type: "resize", cols: 100, rows: 40 });
    expect(validSize(80, 24)).toBe(true);
    expect(validSize(0, 24)).toBe(false);
    expect(validSize(80, 1001)).toBe(false);
    expect(validSize(80.5, 24)).toBe(false);
  });
});

class FakeSocket implements SocketLike {
  binaryType: BinaryType = "blob";
  readyState = 0;
  sent: Array<string | Uint8Array> = [];
  closed: { code?: number; reason?: string } | null = null;
  onopen: ((ev: Event) => void) | null = null;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  onclose: ((ev: CloseEvent) => void) | null = null;
  onerror: ((ev: Event) => void) | null = null;
  send(d: string | ArrayBufferLike | ArrayBufferView) {
    this.sent.push(typeof d === "string" ? d : new Uint8Array(d as ArrayBuffer));
  }
  close(code?: number, reason?: string) {
    this.closed = { code, reason };
    this.readyState = 3;
  }
  open() {
    this.readyState = 1;
    this.onopen?.(new Event("open"));
  }
  receive(data: string | ArrayBuffer) {
    this.onmessage?.({ data } as MessageEvent);
  }
  serverClose(code: number, reason = "") {
    this.readyState = 3;
    this.onclose?.({ code, reason } as CloseEvent);
  }
}

function link() {
  const ws = new FakeSocket();
  const data: string[] = [];
  const statuses: Array<[LinkStatus, string | undefined]> = [];
  const l = new TerminalLink(ws, { cols: 80, rows: 24 }, { data: (b) => data.push(new TextDecoder().decode(b)), status: (s, m) => statuses.push([s, m]) });
  return { ws, l, data, statuses };
}

describe("TerminalLink", () => {
  it("sends keystrokes as UTF-8 binary frames and writes binary frames to the terminal", () => {
    const { ws, l, data, statuses } = link();
    expect(ws.binaryType).toBe("arraybuffer");
    l.input("lost before open");
    ws.open();
    l.input("echo é\r");
    expect(ws.sent.map((b) => (typeof b === "string" ? b : Array.from(b)))).toEqual([[...Buffer.from("echo é\r", "utf8")]]);
    ws.receive(new TextEncoder().encode("echo é\r\n").buffer);
    expect(data).toEqual(["echo é\r\n"]);
    expect(statuses).toEqual([["connecting", undefined], ["active", undefined]]);
  });

  it("sends xterm's binary input byte for byte, not as UTF-8", () => {
    const { ws, l } = link();
    ws.open();
    l.inputBinary("\x1b[M\xff\x80");
    expect(ws.sent.map((b) => (typeof b === "string" ? b : Array.from(b)))).toEqual([[0x1b, 0x5b, 0x4d, 0xff, 0x80]]);
  });

  it("sends a resize once open, only when the size changed", () => {
    const { ws, l } = link();
    l.resize(100, 40);
    expect(ws.sent).toEqual([]);
    ws.open();
    expect(ws.sent).toEqual(['{"type":"resize","cols":100,"rows":40}']);
    l.resize(100, 40);
    l.resize(0, 0);
    l.resize(120, 30);
    expect(ws.sent).toEqual(['{"type":"resize","cols":100,"rows":40}', '{"type":"resize","cols":120,"rows":30}']);
  });

  it("ends with the shell's exit code or the server's error", () => {
    const a = link();
    a.ws.open();
    a.ws.receive('{"type":"exit","code":0}');
    a.ws.serverClose(1000);
    expect(a.statuses.at(-1)).toEqual(["ended", "The shell exited with code 0."]);
    a.l.input("x");
    expect(a.ws.sent).toEqual([]);

    const b = link();
    b.ws.receive('{"type":"error","message":"the agent refused the terminal"}');
    b.ws.serverClose(1011);
    expect(b.statuses.at(-1)).toEqual(["ended", "Error: the agent refused the terminal"]);

    const c = link();
    c.ws.onerror?.(new Event("error"));
    c.ws.serverClose(1006);
    expect(c.statuses.at(-1)).toEqual(["ended", "The connection failed."]);
  });

  it("closes from this side once", () => {
    const { ws, l, statuses } = link();
    ws.open();
    l.close();
    expect(ws.closed).toEqual({ code: 1000, reason: "closed by the user" });
    ws.serverClose(1000);
    expect(statuses.filter(([s]) => s === "ended")).toEqual([["ended", "Disconnected."]]);
  });
});
