// The browser end of a terminal socket (issue 12 contract): binary frames carry terminal
// bytes both ways; text frames carry JSON control messages, `{"type":"resize",cols,rows}`
// from here and `{"type":"exit",code}` / `{"type":"error",message}` from the server.

/** The socket address for a session: this page's origin as ws(s), the session's path, its ticket. */
export function socketUrl(origin: string, wsPath: string, ticket: string): string {
  const base = origin.replace(/^http(s?):/i, "ws$1:").replace(/\/$/, "");
  return `${base}${wsPath}${wsPath.includes("?") ? "&" : "?"}ticket=${encodeURIComponent(ticket)}`;
}

export type ServerMessage = { type: "exit"; code: number } | { type: "error"; message: string };

/** A server text frame, or null when it is not one this console knows. */
export function parseServerMessage(text: string): ServerMessage | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (!v || typeof v !== "object") return null;
  const m = v as Record<string, unknown>;
  if (m.type === "exit" && typeof m.code === "number" && Number.isInteger(m.code)) return { type: "exit", code: m.code };
  if (m.type === "error" && typeof m.message === "string") return { type: "error", message: m.message };
  return null;
}

export function resizeMessage(cols: number, rows: number): string {
  return JSON.stringify({ type: "resize", cols, rows });
}

/** A terminal size the server accepts (1..=1000 each). */
export function validSize(cols: number, rows: number): boolean {
  return Number.isInteger(cols) && Number.isInteger(rows) && cols >= 1 && rows >= 1 && cols <= 1000 && rows <= 1000;
}

export type LinkStatus = "connecting" | "active" | "ended";

export interface LinkEvents {
  data(bytes: Uint8Array): void;
  status(status: LinkStatus, message?: string): void;
}

/** The part of WebSocket the link uses (a fake in the tests). */
export interface SocketLike {
  binaryType: BinaryType;
  readonly readyState: number;
  onopen: ((ev: Event) => void) | null;
  onmessage: ((ev: MessageEvent) => void) | null;
  onclose: ((ev: CloseEvent) => void) | null;
  onerror: ((ev: Event) => void) | null;
  send(data: string | ArrayBufferLike | ArrayBufferView): void;
  close(code?: number, reason?: string): void;
}

const OPEN = 1;

/**
 * One terminal socket: keystrokes go out as UTF-8 binary frames, resizes as JSON text frames
 * (the latest size is sent once the socket opens if it changed meanwhile), and the server's
 * exit or error message becomes the ended status's message.
 */
export class TerminalLink {
  private readonly encoder = new TextEncoder();
  private ended = false;
  private endMessage: string | null = null;
  /** The size the server last heard of. */
  private sentSize: [number, number];
  private wantSize: [number, number];

  constructor(
    private readonly ws: SocketLike,
    size: { cols: number; rows: number },
    private readonly on: LinkEvents,
  ) {
    this.sentSize = [size.cols, size.rows];
    this.wantSize = [size.cols, size.rows];
    ws.binaryType = "arraybuffer";
    on.status("connecting");
    ws.onopen = () => {
      on.status("active");
      this.flushSize();
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data === "string") {
        const m = parseServerMessage(ev.data);
        if (m?.type === "exit") this.endMessage = `The shell exited with code ${m.code}.`;
        else if (m?.type === "error") this.endMessage = `Error: ${m.message}`;
        return;
      }
      // binaryType is "arraybuffer": every other frame is one.
      on.data(new Uint8Array(ev.data as ArrayBuffer));
    };
    ws.onerror = () => {
      this.endMessage ??= "The connection failed.";
    };
    ws.onclose = (ev) => this.finish(this.endMessage ?? (ev.reason ? `Disconnected: ${ev.reason}` : `Disconnected (code ${ev.code}).`));
  }

  /** Sends keystrokes (xterm's onData). Nothing is sent once the session ended. */
  input(text: string) {
    if (this.ws.readyState === OPEN && !this.ended) this.ws.send(this.encoder.encode(text));
  }

  /** Sends raw bytes (xterm's onBinary: a string of byte values, e.g. some mouse reports). */
  inputBinary(data: string) {
    if (this.ws.readyState !== OPEN || this.ended) return;
    const bytes = new Uint8Array(data.length);
    for (let i = 0; i < data.length; i++) bytes[i] = data.charCodeAt(i) & 0xff;
    this.ws.send(bytes);
  }

  resize(cols: number, rows: number) {
    if (!validSize(cols, rows)) return;
    this.wantSize = [cols, rows];
    this.flushSize();
  }

  /** Closes the socket from this side. */
  close(message = "Disconnected.") {
    this.endMessage ??= message;
    if (this.ws.readyState <= OPEN) this.ws.close(1000, "closed by the user");
    this.finish(this.endMessage);
  }

  private flushSize() {
    if (this.ws.readyState !== OPEN || this.ended) return;
    const [c, r] = this.wantSize;
    if (c === this.sentSize[0] && r === this.sentSize[1]) return;
    this.ws.send(resizeMessage(c, r));
    this.sentSize = [c, r];
  }

  private finish(message: string) {
    if (this.ended) return;
    this.ended = true;
    this.on.status("ended", message);
  }
}
