// Terminal recordings (asciicast v2, https://docs.asciinema.org/manual/asciicast/v2/): the
// parser, and a replay engine that feeds a terminal at 1×/2×/4× with pause and skip to end.
// Time is passed in (Scheduler), so the tests run without waiting.

export interface AsciicastHeader {
  version: 2;
  width: number;
  height: number;
  /** Unix seconds when the recording started. */
  timestamp?: number;
  title?: string;
}

export type CastEvent = { t: number; kind: "o"; data: string } | { t: number; kind: "r"; cols: number; rows: number };

export interface LineProblem {
  /** 1-based line number in the file. */
  line: number;
  message: string;
}

export interface Recording {
  header: AsciicastHeader;
  /** Output and resize events in time order (input and markers are not replayed). */
  events: CastEvent[];
  /** Lines that could not be read; they are skipped. */
  problems: LineProblem[];
  /** Seconds from the start to the last event. */
  duration: number;
}

const positiveInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v > 0;

/** Parses an asciicast v2 file; throws when the header is not one (nothing can be replayed). */
export function parseAsciicast(text: string): Recording {
  const lines = text.split("\n");
  let i = 0;
  while (i < lines.length && lines[i].trim() === "") i++;
  if (i === lines.length) throw new Error("The recording is empty.");
  let raw: unknown;
  try {
    raw = JSON.parse(lines[i]);
  } catch {
    throw new Error(`Line ${i + 1}: the header is not JSON.`);
  }
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw new Error(`Line ${i + 1}: the header is not a JSON object.`);
  const h = raw as Record<string, unknown>;
  if (h.version !== 2) throw new Error(`Line ${i + 1}: not an asciicast v2 recording (version ${JSON.stringify(h.version)}).`);
  if (!positiveInt(h.width) || !positiveInt(h.height)) throw new Error(`Line ${i + 1}: the header's width and height must be positive integers.`);
  const header: AsciicastHeader = { version: 2, width: h.width, height: h.height };
  if (typeof h.timestamp === "number") header.timestamp = h.timestamp;
  if (typeof h.title === "string") header.title = h.title;

  const events: CastEvent[] = [];
  const problems: LineProblem[] = [];
  let last = 0;
  for (let n = i + 1; n < lines.length; n++) {
    const line = lines[n];
    if (line.trim() === "") continue;
    const bad = (message: string) => problems.push({ line: n + 1, message });
    let ev: unknown;
    try {
      ev = JSON.parse(line);
    } catch {
      bad("not JSON");
      continue;
    }
    if (!Array.isArray(ev) || ev.length !== 3) {
      bad("not an event [time, code, data]");
      continue;
    }
    const [t, code, data] = ev as [unknown, unknown, unknown];
    if (typeof t !== "number" || !Number.isFinite(t) || t < 0) {
      bad("the time is not a number of seconds ≥ 0");
      continue;
    }
    if (typeof code !== "string" || typeof data !== "string") {
      bad("the code and data must be strings");
      continue;
    }
    if (t < last) bad(`the time goes back (${t} after ${last}); replayed at ${last}`);
    const at = Math.max(t, last);
    if (code === "o") {
      events.push({ t: at, kind: "o", data });
    } else if (code === "r") {
      const m = /^(\d+)x(\d+)$/.exec(data);
      const cols = m ? Number(m[1]) : 0;
      const rows = m ? Number(m[2]) : 0;
      if (!m || cols < 1 || rows < 1 || cols > 1000 || rows > 1000) {
        bad(`a resize must read COLSxROWS, not ${JSON.stringify(data)}`);
        continue;
      }
      events.push({ t: at, kind: "r", cols, rows });
    } else if (code !== "i" && code !== "m") {
      bad(`unknown event code ${JSON.stringify(code)}`);
      continue;
    }
    last = at;
  }
  return { header, events, problems, duration: last };
}

/** Where a replay writes. */
export interface ReplaySink {
  write(data: string): void;
  resize(cols: number, rows: number): void;
  /** Clears the screen for a replay from the start. */
  reset(): void;
}

export interface Scheduler {
  /** Milliseconds, monotonic. */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realScheduler: Scheduler = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => window.setTimeout(fn, ms),
  clearTimeout: (h) => window.clearTimeout(h as number),
};

export const SPEEDS = [1, 2, 4] as const;
export type Speed = (typeof SPEEDS)[number];

export interface ReplayState {
  playing: boolean;
  speed: Speed;
  /** Seconds into the recording. */
  position: number;
  ended: boolean;
}

/** Plays a recording's events into a sink in real time (scaled by the speed). */
export class Replay {
  private next = 0;
  /** The recording time at `wallStart`. */
  private base = 0;
  private wallStart = 0;
  private timer: unknown = null;
  private state: ReplayState = { playing: false, speed: 1, position: 0, ended: false };
  private listeners = new Set<(s: ReplayState) => void>();

  constructor(
    private readonly rec: Recording,
    private readonly sink: ReplaySink,
    private readonly clock: Scheduler = realScheduler,
  ) {
    sink.resize(rec.header.width, rec.header.height);
    if (rec.events.length === 0) this.state.ended = true;
  }

  get current(): ReplayState {
    return { ...this.state, position: this.position() };
  }

  subscribe(fn: (s: ReplayState) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  play() {
    if (this.state.playing) return;
    if (this.state.ended) this.restart();
    this.wallStart = this.clock.now();
    this.state.playing = true;
    this.tick();
  }

  pause() {
    if (!this.state.playing) return;
    this.base = this.position();
    this.state.playing = false;
    this.cancel();
    this.emit();
  }

  setSpeed(speed: Speed) {
    if (this.state.playing) {
      this.base = this.position();
      this.wallStart = this.clock.now();
    }
    this.state.speed = speed;
    if (this.state.playing) {
      this.cancel();
      this.tick();
    } else this.emit();
  }

  /** Writes everything left at once and stops at the end. */
  skipToEnd() {
    this.cancel();
    this.flushUntil(Infinity);
    this.base = this.rec.duration;
    this.state.playing = false;
    this.state.ended = true;
    this.emit();
  }

  dispose() {
    this.cancel();
    this.listeners.clear();
  }

  private restart() {
    this.sink.reset();
    this.sink.resize(this.rec.header.width, this.rec.header.height);
    this.next = 0;
    this.base = 0;
    this.state.ended = false;
  }

  private position(): number {
    if (!this.state.playing) return this.base;
    return Math.min(this.rec.duration, this.base + ((this.clock.now() - this.wallStart) / 1000) * this.state.speed);
  }

  private tick = () => {
    this.timer = null;
    const pos = this.position();
    this.flushUntil(pos);
    if (this.next >= this.rec.events.length) {
      this.base = this.rec.duration;
      this.state.playing = false;
      this.state.ended = true;
      this.emit();
      return;
    }
    const wait = ((this.rec.events[this.next].t - pos) / this.state.speed) * 1000;
    this.timer = this.clock.setTimeout(this.tick, Math.max(0, wait));
    this.emit();
  };

  /** Writes the events up to `t`, output coalesced between resizes. */
  private flushUntil(t: number) {
    let out = "";
    const events = this.rec.events;
    while (this.next < events.length && events[this.next].t <= t) {
      const e = events[this.next++];
      if (e.kind === "o") out += e.data;
      else {
        if (out) this.sink.write(out);
        out = "";
        this.sink.resize(e.cols, e.rows);
      }
    }
    if (out) this.sink.write(out);
  }

  private cancel() {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  private emit() {
    const s = this.current;
    for (const fn of this.listeners) fn(s);
  }
}

/** `m:ss` (or `h:mm:ss`) for a number of seconds. */
export function formatClock(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}
