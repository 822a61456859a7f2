import { describe, expect, it } from "vitest";
import { SseParser, readEvents } from "./sse";
import { invalidationsFor } from "./events";

describe("SseParser", () => {
  it("answers each message's data once its blank line arrives", () => {
    const p = new SseParser();
    expect(p.push('data: {"type":"hello"}\n')).toEqual([]);
    expect(p.push("\n")).toEqual(['{"type":"hello"}']);
  });

  it("skips comments (keep-alives) and joins multi-line data", () => {
    const p = new SseParser();
    expect(p.push(":\n\n: keep-alive\n\ndata: a\ndata:b\n\n")).toEqual(["a\nb"]);
  });

  it("accepts CRLF line ends and pieces split anywhere", () => {
    const p = new SseParser();
    const text = 'data: {"type":"device.status"}\r\n\r\ndata: 2\r\n\r\n';
    const out: string[] = [];
    for (const ch of text) out.push(...p.push(ch));
    expect(out).toEqual(['{"type":"device.status"}', "2"]);
  });

  it("ignores messages with another event name and other fields", () => {
    const p = new SseParser();
    expect(p.push("event: ping\ndata: x\n\nid: 7\nretry: 10\ndata: y\n\n")).toEqual(["y"]);
  });

  it("drops a message the stream ended in the middle of", () => {
    const p = new SseParser();
    expect(p.push("data: half")).toEqual([]);
  });
});

describe("readEvents", () => {
  it("decodes UTF-8 split across chunks", async () => {
    const bytes = new TextEncoder().encode('data: "é"\n\ndata: "ü"\n\n');
    const chunks = [bytes.slice(0, 8), bytes.slice(8, 15), bytes.slice(15)];
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        for (const chunk of chunks) c.enqueue(chunk);
        c.close();
      },
    });
    const got: string[] = [];
    await readEvents(body, (d) => got.push(d));
    expect(got).toEqual(['"é"', '"ü"']);
  });
});

describe("invalidationsFor", () => {
  it("maps device events to the device lists and the device", () => {
    expect(invalidationsFor({ type: "device.status", device_id: "d1", org_id: "o1", site_id: "s1", status: "online" })).toEqual([["devices"], ["dashboard"], ["device", "d1"], ["device-events", "d1"]]);
    expect(invalidationsFor({ type: "device.inventory", device_id: "d1", org_id: "o1", site_id: "s1", sections: ["hardware"] })).toContainEqual(["device", "d1"]);
  });

  it("maps command and execution events to executions, device commands and the execution", () => {
    expect(invalidationsFor({ type: "command.updated", device_id: "d1", command_id: "c1", status: "running" })).toEqual([["executions"], ["device-commands"], ["device-events", "d1"]]);
    expect(invalidationsFor({ type: "execution.updated", device_id: "d1", command_id: "c1", execution_id: "e1", status: "completed" })).toEqual([
      ["executions"],
      ["device-commands"],
      ["executions", "e1"],
      ["device-events", "d1"],
    ]);
  });

  it("maps alert events to the inbox, the counts, the alert and the device's alerts", () => {
    expect(
      invalidationsFor({ type: "alert.updated", alert_id: "a1", rule_id: "r1", device_id: "d1", org_id: "o1", site_id: "s1", status: "active", severity: "high" }),
    ).toEqual([["alerts"], ["alert-counts"], ["alert-rules"], ["alert", "a1"], ["alert-deliveries", "a1"], ["device-alerts", "d1"]]);
  });

  it("refetches everything on resync and nothing on hello", () => {
    expect(invalidationsFor({ type: "resync" })).toEqual([[]]);
    expect(invalidationsFor({ type: "hello" })).toEqual([]);
  });
});
