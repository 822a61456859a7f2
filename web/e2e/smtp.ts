// A mail server on loopback for the run: it speaks just enough SMTP (no TLS, no auth) to take
// the messages Breeze sends once the MSP's SMTP settings point at it, so the run can check
// that the test message and the invitation really went out, and follow the e-mailed link.
import { createServer, type Server } from "node:net";

export interface Mail {
  from: string;
  to: string[];
  /** The message as received (headers and body, dot-unstuffed). */
  data: string;
}

export interface Sink {
  port: number;
  mails: Mail[];
  /** Waits for a message to `rcpt` whose text matches `re`. */
  waitFor: (rcpt: string, re: RegExp, ms?: number) => Promise<Mail>;
  close: () => Promise<void>;
}

export async function smtpSink(): Promise<Sink> {
  const mails: Mail[] = [];
  const server: Server = createServer((sock) => {
    sock.setEncoding("utf8");
    let buf = "";
    let inData = false;
    let cur: Mail = { from: "", to: [], data: "" };
    const say = (l: string) => sock.write(`${l}\r\n`);
    say("220 e2e-sink ESMTP");
    sock.on("data", (chunk: string) => {
      buf += chunk;
      for (;;) {
        if (inData) {
          const end = buf.indexOf("\r\n.\r\n");
          const start = buf.startsWith(".\r\n") ? 0 : -1;
          if (end < 0 && start < 0) return;
          const body = start === 0 ? "" : buf.slice(0, end + 2);
          buf = buf.slice(start === 0 ? 3 : end + 5);
          cur.data = body.replace(/^\.\./gm, ".");
          mails.push(cur);
          cur = { from: "", to: [], data: "" };
          inData = false;
          say("250 2.0.0 queued");
          continue;
        }
        const nl = buf.indexOf("\r\n");
        if (nl < 0) return;
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === "EHLO") sock.write("250-e2e-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n");
        else if (verb === "HELO") say("250 e2e-sink");
        else if (verb === "MAIL") {
          cur.from = /<([^>]*)>/.exec(line)?.[1] ?? "";
          say("250 2.1.0 ok");
        } else if (verb === "RCPT") {
          cur.to.push(/<([^>]*)>/.exec(line)?.[1] ?? "");
          say("250 2.1.5 ok");
        } else if (verb === "DATA") {
          inData = true;
          say("354 end with <CRLF>.<CRLF>");
        } else if (verb === "QUIT") {
          say("221 2.0.0 bye");
          sock.end();
          return;
        } else if (verb === "RSET") {
          cur = { from: "", to: [], data: "" };
          say("250 2.0.0 ok");
        } else if (verb === "NOOP") say("250 2.0.0 ok");
        else say("502 5.5.1 not implemented");
      }
    });
    sock.on("error", () => {});
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const addr = server.address();
  if (!addr || typeof addr === "string") throw new Error("the SMTP sink has no port");
  return {
    port: addr.port,
    mails,
    waitFor: async (rcpt, re, ms = 30_000) => {
      const end = Date.now() + ms;
      for (;;) {
        const m = mails.find((x) => x.to.some((t) => t.toLowerCase() === rcpt.toLowerCase()) && re.test(decoded(x.data)));
        if (m) return m;
        if (Date.now() > end) throw new Error(`no mail to ${rcpt} matching ${re} within ${ms} ms (${mails.length} received: ${mails.map((x) => x.to.join(",")).join("; ")})`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}

/** The message's text: the body decoded from base64 or quoted-printable (links survive). */
export function decoded(data: string): string {
  const split = data.indexOf("\r\n\r\n");
  const head = split < 0 ? data : data.slice(0, split);
  const body = split < 0 ? "" : data.slice(split + 4);
  const enc = /^content-transfer-encoding:\s*(\S+)/im.exec(head)?.[1]?.toLowerCase();
  if (enc === "base64") return `${head}\r\n\r\n${Buffer.from(body.replace(/\s+/g, ""), "base64").toString("utf8")}`;
  if (enc === "quoted-printable")
    return `${head}\r\n\r\n${Buffer.from(body.replace(/=\r?\n/g, "").replace(/=([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))), "latin1").toString("utf8")}`;
  return data;
}
