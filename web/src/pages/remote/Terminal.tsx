// A terminal on the device: a remote session of type "terminal", its socket bridged to xterm.js.
import { useEffect, useRef, useState } from "react";
import { Link, useParams } from "react-router";
import { useQuery } from "@tanstack/react-query";
import type { Terminal as XTerm } from "@xterm/xterm";
import type { FitAddon } from "@xterm/addon-fit";
import { api } from "../../api/instance";
import { errorMessage } from "../../api/client";
import { Badge, PageHeader } from "../../components/ui/card";
import { Button } from "../../components/ui/button";
import { Notice } from "../../components/ui/feedback";
import { deviceName } from "../../lib/devices";
import { createSession, endSession } from "../../lib/remoteApi";
import { socketUrl, TerminalLink, type LinkStatus } from "../../lib/remoteTerminal";
import { openTerminal } from "../../lib/remoteXterm";

const STATUS_TEXT: Record<LinkStatus, string> = { connecting: "connecting", active: "active", ended: "ended" };
const STATUS_TONE = { connecting: "primary", active: "ok", ended: "muted" } as const;

export default function TerminalPage() {
  const { id = "" } = useParams();
  const device = useQuery({
    queryKey: ["device", id],
    queryFn: ({ signal }) => api.GET("/api/v1/devices/{id}", { params: { path: { id } }, signal }),
  });
  const host = useRef<HTMLDivElement>(null);
  const xterm = useRef<{ term: XTerm; fit: FitAddon } | null>(null);
  const link = useRef<TerminalLink | null>(null);
  const [attempt, setAttempt] = useState(0);
  const [status, setStatus] = useState<LinkStatus>("connecting");
  const [message, setMessage] = useState<string | null>(null);
  const [sessionId, setSessionId] = useState<string | null>(null);
  const [ending, setEnding] = useState(false);

  // The terminal itself lives as long as the page; each connection attempt reuses it.
  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const t = openTerminal(el, { cursorBlink: true });
    xterm.current = t;
    t.fit.fit();
    let frame = 0;
    const ro = new ResizeObserver(() => {
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(() => {
        if (el.clientWidth > 0 && el.clientHeight > 0) t.fit.fit();
      });
    });
    ro.observe(el);
    const onResize = t.term.onResize(({ cols, rows }) => link.current?.resize(cols, rows));
    const onData = t.term.onData((d) => link.current?.input(d));
    const onBinary = t.term.onBinary((d) => link.current?.inputBinary(d));
    t.term.focus();
    return () => {
      cancelAnimationFrame(frame);
      ro.disconnect();
      onResize.dispose();
      onData.dispose();
      onBinary.dispose();
      t.term.dispose();
      xterm.current = null;
    };
  }, []);

  // One connection: a new session, its socket, until it ends or the page closes.
  useEffect(() => {
    const t = xterm.current;
    if (!t) return;
    let cancelled = false;
    let created: string | null = null;
    let ended = false;
    setStatus("connecting");
    setMessage(null);
    setSessionId(null);
    (async () => {
      try {
        const s = await createSession({ device_id: id, type: "terminal", cols: t.term.cols, rows: t.term.rows });
        created = s.id;
        if (cancelled) {
          void endSession(s.id).catch(() => {});
          return;
        }
        setSessionId(s.id);
        const ws = new WebSocket(socketUrl(window.location.origin, s.ws_path, s.ticket));
        link.current = new TerminalLink(ws, { cols: t.term.cols, rows: t.term.rows }, {
          data: (bytes) => t.term.write(bytes),
          status: (st, msg) => {
            if (st === "ended") ended = true;
            if (cancelled) return;
            setStatus(st);
            setMessage(msg ?? null);
            if (st === "active") t.term.focus();
          },
        });
        // The terminal may have been fitted again while the session was being created.
        link.current.resize(t.term.cols, t.term.rows);
      } catch (e) {
        if (cancelled) return;
        setStatus("ended");
        setMessage(`Could not open a terminal: ${errorMessage(e)}`);
      }
    })();
    return () => {
      cancelled = true;
      link.current?.close();
      link.current = null;
      // Leaving the page ends a live session (an ended one is left alone).
      if (created && !ended) void endSession(created).catch(() => {});
    };
  }, [id, attempt]);

  const disconnect = async () => {
    setEnding(true);
    try {
      if (sessionId) await endSession(sessionId);
    } catch (e) {
      setMessage(`The server did not end the session: ${errorMessage(e)}`);
    } finally {
      link.current?.close("Disconnected.");
      setEnding(false);
    }
  };

  const reconnect = () => {
    xterm.current?.term.reset();
    setAttempt((n) => n + 1);
  };

  const name = device.data ? deviceName(device.data) : id;
  return (
    <div className="flex h-full min-h-[28rem] flex-col">
      <nav aria-label="Breadcrumb" className="mb-2 text-sm text-muted-fg">
        <Link to="/devices" className="hover:underline">
          Devices
        </Link>{" "}
        /{" "}
        <Link to={`/devices/${id}`} className="hover:underline">
          {name}
        </Link>{" "}
        / Terminal
      </nav>
      <PageHeader
        title={`Terminal: ${name}`}
        description={
          <span className="inline-flex flex-wrap items-center gap-2">
            <span role="status" aria-label="Terminal status">
              <Badge tone={STATUS_TONE[status]}>{STATUS_TEXT[status]}</Badge>
            </span>
            {device.data && device.data.status !== "online" && <span>The device is {device.data.status}.</span>}
          </span>
        }
        actions={
          status === "ended" ? (
            <Button onClick={reconnect}>Reconnect</Button>
          ) : (
            <Button variant="secondary" loading={ending} onClick={() => void disconnect()}>
              Disconnect
            </Button>
          )
        }
      />
      {message && (
        <div className="mb-3">
          <Notice tone={status === "ended" && /^(Error|Could not|The connection)/.test(message) ? "danger" : "info"}>
            <span data-testid="terminal-message">{message}</span>
          </Notice>
        </div>
      )}
      <div className="min-h-0 flex-1 rounded-lg border border-border bg-[#0b1020] p-2">
        <div ref={host} className="h-full w-full" aria-label="Terminal" data-testid="terminal" />
      </div>
      {sessionId && (
        <p className="mt-2 text-xs text-muted-fg">
          Session <code className="font-mono">{sessionId}</code>.{" "}
          <Link to="/remote/sessions" className="underline">
            All sessions
          </Link>
        </p>
      )}
    </div>
  );
}
