import { describe, expect, it } from "vitest";
import { formatClock, parseAsciicast, Replay, type ReplaySink, type Scheduler } from "./remoteRecording";

const CAST = [
  '{"version":2,"width":80,"height":24,"timestamp":1700000000,"env":{"TERM":"xterm-256color"}}',
  '[0.5,"o","$ "]',
  '[1.0,"o","echo hello-42\\r\\n"]',
  '[1.0,"i","x"]',
  '[1.5,"r","100x40"]',
  '[2.0,"o","hello-42\\r\\n"]',
  "",
].join("\n");

describe("parseAsciicast", () => {
  it("reads the header, output and resize events, and the duration", () => {
    const r = parseAsciicast(CAST);
    expect(r.header).toEqual({ version: 2, width: 80, height: 24, timestamp: 1700000000 });
    expect(r.events).toEqual([
      { t: 0.5, kind: "o", data: "$ " },
      { t: 1.0, kind: "o", data: "echo hello-42\r\n" },
      { t: 1.5, kind: "r", cols: 100, rows: 40 },
      { t: 2.0, kind: "o", data: "hello-42\r\n" },
    ]);
    expect(r.problems).toEqual([]);
    expect(r.duration).toBe(2);
  });

  it("reports bad lines by number and replays the rest", () => {
    const text = [
      '{"version":2,"width":80,"height":24}',
      '[0.1,"o","a"]',
      "not json",
      '[0.2,"o"]',
      '["x","o","b"]',
      '[0.3,"o",5]',
      '[0.4,"r","wide"]',
      '[0.5,"z","?"]',
      '[0.05,"o","late"]',
      '[0.6,"o","end"]',
    ].join("\n");
    const r = parseAsciicast(text);
    expect(r.problems.map((p) => p.line)).toEqual([3, 4, 5, 6, 7, 8, 9]);
    expect(r.problems[0].message).toBe("not JSON");
    expect(r.problems[4].message).toMatch(/COLSxROWS/);
    expect(r.problems[6].message).toMatch(/goes back/);
    expect(r.events.map((e) => (e.kind === "o" ? [e.t, e.data] : null))).toEqual([
      [0.1, "a"],
      [0.1, "late"],
      [0.6, "end"],
    ]);
  });

  it("refuses a file without an asciicast v2 header", () => {
    expect(() => parseAsciicast("")).toThrow(/empty/);
    expect(() => parseAsciicast("hello")).toThrow(/not JSON/);
    expect(() => parseAsciicast("[1,2]")).toThrow(/not a JSON object/);
    expect(() => parseAsciicast('{"version":1,"width":80,"height":24}')).toThrow(/not an asciicast v2/);
    expect(() => parseAsciicast('{"version":2,"width":0,"height":24}')).toThrow(/width and height/);
  });
});

/** A clock the test moves by hand; timers run in time order as it passes them. */
function fakeClock(): Scheduler & { advance: (ms: number) => void } {
  let now = 0;
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    now: () => now,
    setTimeout: (fn, ms) => {
      timers.set(++seq, { at: now + ms, fn });
      return seq;
    },
    clearTimeout: (h) => void timers.delete(h as number),
    advance(ms: number) {
      const end = now + ms;
      for (;;) {
        const due = [...timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        timers.delete(due[0]);
        now = due[1].at;
        due[1].fn();
      }
      now = end;
    },
  };
}

function recordingSink(): ReplaySink & { log: string[] } {
  const log: string[] = [];
  return { log, write: (d) => log.push(d), resize: (c, r) => log.push(`<${c}x${r}>`), reset: () => log.push("<reset>") };
}

describe("Replay", () => {
  it("writes each event at its time, resizes in between", () => {
    const clock = fakeClock();
    const sink = recordingSink();
    const p = new Replay(parseAsciicast(CAST), sink, clock);
    expect(sink.log).toEqual(["<80x24>"]);
    p.play();
    clock.advance(499);
    expect(sink.log).toEqual(["<80x24>"]);
    clock.advance(1);
    expect(sink.log).toEqual(["<80x24>", "$ "]);
    clock.advance(1000);
    expect(sink.log).toEqual(["<80x24>", "$ ", "echo hello-42\r\n", "<100x40>"]);
    expect(p.current).toMatchObject({ playing: true, position: 1.5 });
    clock.advance(500);
    expect(sink.log.at(-1)).toBe("hello-42\r\n");
    expect(p.current).toMatchObject({ playing: false, ended: true, position: 2 });
  });

  it("pauses, and plays faster at 2× and 4×", () => {
    const clock = fakeClock();
    const sink = recordingSink();
    const p = new Replay(parseAsciicast(CAST), sink, clock);
    p.play();
    clock.advance(600);
    p.pause();
    clock.advance(10_000);
    expect(sink.log).toEqual(["<80x24>", "$ "]);
    expect(p.current.position).toBeCloseTo(0.6);
    p.setSpeed(4);
    p.play();
    // 0.4 s of recording at 4× is 100 ms.
    clock.advance(99);
    expect(sink.log.length).toBe(2);
    clock.advance(1);
    expect(sink.log.at(-1)).toBe("echo hello-42\r\n");
    p.setSpeed(2);
    // 1.0 → 2.0 is 1 s of recording: 500 ms at 2×.
    clock.advance(499);
    expect(sink.log.at(-1)).toBe("<100x40>");
    clock.advance(1);
    expect(sink.log.at(-1)).toBe("hello-42\r\n");
    expect(p.current.ended).toBe(true);
  });

  it("skips to the end at once, and plays again from the start after the end", () => {
    const clock = fakeClock();
    const sink = recordingSink();
    const p = new Replay(parseAsciicast(CAST), sink, clock);
    const states: boolean[] = [];
    p.subscribe((s) => states.push(s.ended));
    p.skipToEnd();
    expect(sink.log).toEqual(["<80x24>", "$ echo hello-42\r\n", "<100x40>", "hello-42\r\n"]);
    expect(p.current).toMatchObject({ ended: true, playing: false, position: 2 });
    expect(states.at(-1)).toBe(true);
    p.play();
    expect(sink.log.slice(4)).toEqual(["<reset>", "<80x24>"]);
    clock.advance(2000);
    expect(sink.log.at(-1)).toBe("hello-42\r\n");
  });
});

describe("formatClock", () => {
  it("formats seconds as m:ss or h:mm:ss", () => {
    expect(formatClock(0)).toBe("0:00");
    expect(formatClock(61.9)).toBe("1:01");
    expect(formatClock(3723)).toBe("1:02:03");
  });
});
