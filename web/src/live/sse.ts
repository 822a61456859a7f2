// Server-Sent Events framing, read from a fetch() body: EventSource cannot send an
// Authorization header, and an access token in the URL would end up in logs.
// Lines end with \n or \r\n; a blank line ends a message; `data:` lines join with \n;
// lines starting with `:` are comments (the server's keep-alives).

/** Incremental parser: feed decoded text in any pieces, get each complete message's data. */
export class SseParser {
  private partial = "";
  private data: string | null = null;
  private event = "";

  push(text: string): string[] {
    const out: string[] = [];
    const lines = (this.partial + text).split("\n");
    this.partial = lines.pop() ?? "";
    for (const raw of lines) {
      const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
      if (line === "") {
        // Only messages with the default event name are ours.
        if (this.data !== null && (this.event === "" || this.event === "message")) out.push(this.data);
        this.data = null;
        this.event = "";
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "data") this.data = this.data === null ? value : `${this.data}\n${value}`;
      else if (field === "event") this.event = value;
    }
    return out;
  }
}

/** Reads an event-stream body to its end (or until aborted), handing each message's data to `onData`. */
export async function readEvents(body: ReadableStream<Uint8Array>, onData: (data: string) => void): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const parser = new SseParser();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    for (const data of parser.push(decoder.decode(value, { stream: true }))) onData(data);
  }
}
