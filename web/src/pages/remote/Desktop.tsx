// Remote desktop (issue 12): a session on the device's screen. Opens the session
// (`POST /api/v1/remote/sessions {type: "desktop"}`), connects its socket with the ticket,
// draws each frame's JPEG rectangles on a canvas at the monitor's size (scaled to fit by
// CSS), acknowledges every drawn frame, and sends pointer and keyboard input in monitor
// pixels unless the session is view-only. When the server allows WebRTC (`rtc`), it offers
// a peer connection whose data channel then carries the frames straight from the device;
// the socket stays for acks, input and as the fallback. Protocol: lib/desktop.ts.
import { useCallback, useEffect, useRef, useState } from "react";
import { Link, useParams } from "react-router";
import { api } from "../../api/instance";
import { errorMessage } from "../../api/client";
import { PageHeader } from "../../components/ui/card";
import { Button } from "../../components/ui/button";
import { Notice } from "../../components/ui/feedback";
import {
  ENC_JPEG,
  FrameSplitter,
  RTC_CHANNEL_LABEL,
  keyMessage,
  parseFrame,
  parseServerMessage,
  socketUrl,
  toDevice,
  wheelNotches,
  type DesktopClientMessage,
  type DesktopMonitor,
  type IceServer,
  type TransportPath,
} from "../../lib/desktop";

/** Waits until the peer connection gathered its candidates (at most `ms`). */
function gathered(pc: RTCPeerConnection, ms: number): Promise<void> {
  return new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") return resolve();
    const timer = window.setTimeout(resolve, ms);
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") {
        window.clearTimeout(timer);
        resolve();
      }
    });
  });
}

type Status = "idle" | "opening" | "connecting" | "live" | "ended";

interface SessionCreated {
  id: string;
  ws_path: string;
  ticket: string;
}

// The sessions route is built beside this page (issue 12); until its types are in
// schema.d.ts the call is typed here by the contract's shapes.
type OpenSession = (path: string, init: { body: { device_id: string; type: "desktop"; view_only: boolean } }) => Promise<SessionCreated>;

export default function DesktopPage() {
  const { id = "" } = useParams();
  const canvasRef = useRef<HTMLCanvasElement | null>(null);
  const wsRef = useRef<WebSocket | null>(null);
  const pcRef = useRef<RTCPeerConnection | null>(null);
  const sizeRef = useRef({ width: 0, height: 0 });
  const [status, setStatus] = useState<Status>("idle");
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [viewOnly, setViewOnly] = useState(false);
  const [monitors, setMonitors] = useState<DesktopMonitor[]>([]);
  const [current, setCurrent] = useState(0);
  const [sessionId, setSessionId] = useState<string | null>(null);
  const [transport, setTransport] = useState<TransportPath>("relay");

  const send = useCallback((m: DesktopClientMessage) => {
    const ws = wsRef.current;
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(m));
  }, []);

  const closePeer = useCallback(() => {
    pcRef.current?.close();
    pcRef.current = null;
    setTransport("relay");
  }, []);

  const disconnect = useCallback(() => {
    wsRef.current?.close();
    wsRef.current = null;
    closePeer();
    setStatus("ended");
  }, [closePeer]);

  useEffect(
    () => () => {
      wsRef.current?.close();
      pcRef.current?.close();
    },
    [],
  );

  const connect = useCallback(async () => {
    setError(null);
    setNotice(null);
    setStatus("opening");
    let created: SessionCreated;
    try {
      // Bound: an unbound ApiClient method has no `this` ("reading 'call'" of undefined).
      const post = api.POST.bind(api) as unknown as OpenSession;
      created = await post("/api/v1/remote/sessions", { body: { device_id: id, type: "desktop", view_only: viewOnly } });
    } catch (e) {
      setError(errorMessage(e));
      setStatus("ended");
      return;
    }
    setSessionId(created.id);
    setStatus("connecting");
    const ws = new WebSocket(socketUrl(window.location, created.ws_path, created.ticket));
    ws.binaryType = "arraybuffer";
    wsRef.current = ws;
    // Frames are drawn in order: each waits for the previous one's bitmaps. `seq` goes on
    // across the relay and the data channel: a frame older than one drawn is dropped (a
    // late relay frame after the switch; the first frame on a new path is a whole one).
    let drawing: Promise<void> = Promise.resolve();
    let lastSeq = 0;
    const draw = (buf: ArrayBuffer, path: TransportPath) => {
      drawing = drawing
        .then(async () => {
          const canvas = canvasRef.current;
          const ctx = canvas?.getContext("2d");
          if (!canvas || !ctx) return;
          const f = parseFrame(buf);
          if (f.seq <= lastSeq) return;
          lastSeq = f.seq;
          if (canvas.width !== f.width || canvas.height !== f.height) {
            canvas.width = f.width;
            canvas.height = f.height;
          }
          sizeRef.current = { width: f.width, height: f.height };
          const bitmaps = await Promise.all(
            f.rects.filter((r) => r.encoding === ENC_JPEG).map(async (r) => ({ r, bmp: await createImageBitmap(new Blob([r.data as BlobPart], { type: "image/jpeg" })) })),
          );
          for (const { r, bmp } of bitmaps) {
            ctx.drawImage(bmp, r.x, r.y, r.w, r.h);
            bmp.close();
          }
          canvas.dataset.seq = String(f.seq);
          canvas.dataset.path = path;
          send({ type: "ack", seq: f.seq });
        })
        .catch((e: unknown) => setError(`A frame could not be drawn: ${errorMessage(e)}`));
    };
    // WebRTC: offer a peer connection with the frames' channel; the device answers and
    // says (`transport`) when frames take it. Failing here only leaves the relay.
    const startRtc = async (iceServers: IceServer[]) => {
      closePeer();
      const pc = new RTCPeerConnection({ iceServers });
      pcRef.current = pc;
      const dc = pc.createDataChannel(RTC_CHANNEL_LABEL, { ordered: true });
      dc.binaryType = "arraybuffer";
      const split = new FrameSplitter();
      dc.onmessage = (ev) => {
        if (pcRef.current !== pc || !(ev.data instanceof ArrayBuffer)) return;
        try {
          for (const m of split.push(new Uint8Array(ev.data))) draw(m, "webrtc");
        } catch (e) {
          setError(`The direct connection sent an invalid frame: ${errorMessage(e)}`);
          pc.close();
        }
      };
      try {
        await pc.setLocalDescription(await pc.createOffer());
        await gathered(pc, 5000);
        const sdp = pc.localDescription?.sdp;
        if (pcRef.current === pc && sdp) send({ type: "rtc_offer", sdp });
      } catch (e) {
        if (pcRef.current === pc) setNotice(`A direct connection could not be set up (frames stay relayed): ${errorMessage(e)}`);
        pc.close();
      }
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data === "string") {
        const m = parseServerMessage(ev.data);
        if (!m) return;
        if (m.type === "hello") {
          setMonitors(m.monitors);
          setCurrent(m.current);
          setStatus("live");
        } else if (m.type === "monitor") {
          setCurrent(m.current);
        } else if (m.type === "rtc") {
          if (typeof RTCPeerConnection !== "undefined") void startRtc(m.ice_servers);
        } else if (m.type === "rtc_answer") {
          const pc = pcRef.current;
          pc?.setRemoteDescription({ type: "answer", sdp: m.sdp }).catch((e: unknown) => setNotice(`The device's WebRTC answer was refused: ${errorMessage(e)}`));
        } else if (m.type === "transport") {
          setTransport(m.path);
          if (m.path === "relay") {
            pcRef.current?.close();
            pcRef.current = null;
          }
        } else {
          setNotice(m.message);
        }
        return;
      }
      draw(ev.data as ArrayBuffer, "relay");
    };
    ws.onclose = () => {
      if (wsRef.current === ws) {
        wsRef.current = null;
        closePeer();
      }
      setStatus("ended");
    };
    ws.onerror = () => setError("The connection to the device failed.");
  }, [id, viewOnly, send, closePeer]);

  const at = (e: { clientX: number; clientY: number }) => {
    const canvas = canvasRef.current;
    if (!canvas) return null;
    return toDevice(e.clientX, e.clientY, canvas.getBoundingClientRect(), sizeRef.current);
  };
  const live = status === "live";
  const input = live && !viewOnly;

  return (
    <div>
      <PageHeader
        title="Remote desktop"
        description={<Link to={`/devices/${id}`} className="underline">Back to the device</Link>}
        actions={
          <div className="flex flex-wrap items-center gap-2">
            {live && (
              <span className="rounded border px-1.5 py-0.5 text-xs" data-testid="desktop-transport" title={transport === "webrtc" ? "Frames come straight from the device over WebRTC" : "Frames come through the server"}>
                {transport === "webrtc" ? "Direct (WebRTC)" : "Relayed"}
              </span>
            )}
            <label className="flex items-center gap-1 text-sm">
              <input type="checkbox" checked={viewOnly} disabled={status === "live" || status === "connecting"} onChange={(e) => setViewOnly(e.target.checked)} />
              View only
            </label>
            {monitors.length > 1 && (
              <select
                aria-label="Monitor"
                className="rounded border px-2 py-1 text-sm"
                value={current}
                onChange={(e) => send({ type: "monitor", index: Number(e.target.value) })}
              >
                {monitors.map((m) => (
                  <option key={m.index} value={m.index}>{`${m.name} (${m.width}×${m.height})`}</option>
                ))}
              </select>
            )}
            {live && <Button variant="secondary" onClick={() => send({ type: "refresh" })}>Refresh</Button>}
            {live || status === "connecting" ? (
              <Button variant="danger" onClick={disconnect}>Disconnect</Button>
            ) : (
              <Button onClick={() => void connect()} loading={status === "opening"}>Connect</Button>
            )}
          </div>
        }
      />
      <p className="mb-2 text-sm text-muted-fg" role="status" data-testid="desktop-status">
        {{ idle: "Not connected", opening: "Opening a session…", connecting: "Connecting to the device…", live: viewOnly ? "Live (view only)" : "Live", ended: "Disconnected" }[status]}
        {sessionId ? ` · session ${sessionId}` : ""}
      </p>
      {error && <Notice tone="danger">{error}</Notice>}
      {notice && <Notice tone="warn">{notice}</Notice>}
      <div className="mt-2 flex justify-center rounded border bg-black">
        <canvas
          ref={canvasRef}
          data-testid="desktop-canvas"
          tabIndex={0}
          className="max-h-[80vh] max-w-full outline-none"
          style={{ objectFit: "contain", cursor: input ? "default" : "not-allowed" }}
          onContextMenu={(e) => e.preventDefault()}
          onMouseMove={(e) => {
            const p = input ? at(e) : null;
            if (p) send({ type: "pointer_move", ...p });
          }}
          onMouseDown={(e) => {
            e.currentTarget.focus();
            const p = input ? at(e) : null;
            if (p) send({ type: "pointer_button", button: e.button, down: true, ...p });
          }}
          onMouseUp={(e) => {
            const p = input ? at(e) : null;
            if (p) send({ type: "pointer_button", button: e.button, down: false, ...p });
          }}
          onWheel={(e) => {
            const p = input ? at(e) : null;
            if (p) send({ type: "wheel", dx: wheelNotches(e.deltaX, e.deltaMode), dy: wheelNotches(e.deltaY, e.deltaMode), ...p });
          }}
          onKeyDown={(e) => {
            if (!input) return;
            e.preventDefault();
            send(keyMessage(e, true));
          }}
          onKeyUp={(e) => {
            if (!input) return;
            e.preventDefault();
            send(keyMessage(e, false));
          }}
        />
      </div>
    </div>
  );
}
