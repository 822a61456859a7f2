// A terminal session's recording (asciicast v2), replayed into a read-only terminal.
import { useEffect, useRef, useState } from "react";
import { Link, useParams } from "react-router";
import { useQuery } from "@tanstack/react-query";
import { Badge, PageHeader } from "../../components/ui/card";
import { Button } from "../../components/ui/button";
import { EmptyState, ErrorState, Loading, Notice } from "../../components/ui/feedback";
import { formatDateTime } from "../../lib/format";
import { getRecording, getSession } from "../../lib/remoteApi";
import { formatClock, parseAsciicast, Replay, SPEEDS, type Recording, type ReplayState, type Speed } from "../../lib/remoteRecording";
import { sessionTone, typeLabel } from "../../lib/remoteSessions";
import { openTerminal } from "../../lib/remoteXterm";

export default function RecordingPage() {
  const { id = "" } = useParams();
  const session = useQuery({ queryKey: ["remote-session", id], queryFn: ({ signal }) => getSession(id, signal) });
  const url = session.data?.recording_url ?? null;
  const cast = useQuery({
    queryKey: ["remote-recording", id, url],
    enabled: !!url,
    staleTime: Infinity,
    queryFn: async ({ signal }) => parseAsciicast(await getRecording(url ?? "", signal)),
  });

  if (session.isPending) return <Loading label="Loading the session…" />;
  if (session.isError) return <ErrorState error={session.error} retry={() => session.refetch()} title="Could not load this session" />;
  const s = session.data;
  return (
    <div className="space-y-3">
      <nav aria-label="Breadcrumb" className="text-sm text-muted-fg">
        <Link to="/remote/sessions" className="hover:underline">
          Remote sessions
        </Link>{" "}
        / Recording
      </nav>
      <PageHeader
        title={`Recording: ${s.hostname}`}
        description={
          <span className="inline-flex flex-wrap items-center gap-2">
            <span>{typeLabel(s.type)}</span>
            <Badge tone={sessionTone(s.status)}>{s.status}</Badge>
            <span>
              {s.user_email} · {formatDateTime(s.started_at ?? s.created_at)}
            </span>
          </span>
        }
      />
      {!url ? (
        <EmptyState title="No recording was kept for this session">Recordings are made of terminal sessions while recording is on, and removed after the retention period.</EmptyState>
      ) : cast.isPending ? (
        <Loading label="Loading the recording…" />
      ) : cast.isError ? (
        <ErrorState error={cast.error} retry={() => cast.refetch()} title="Could not read this recording" />
      ) : (
        <Player rec={cast.data} />
      )}
    </div>
  );
}

function Player({ rec }: { rec: Recording }) {
  const host = useRef<HTMLDivElement>(null);
  const replay = useRef<Replay | null>(null);
  const [state, setState] = useState<ReplayState>({ playing: false, speed: 1, position: 0, ended: rec.events.length === 0 });

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const { term } = openTerminal(el, { disableStdin: true, cursorBlink: false, cols: rec.header.width, rows: rec.header.height });
    const r = new Replay(rec, { write: (d) => term.write(d), resize: (c, r) => term.resize(c, r), reset: () => term.reset() });
    replay.current = r;
    const off = r.subscribe(setState);
    r.play();
    // The position shown moves between events too.
    const timer = window.setInterval(() => setState(r.current), 250);
    return () => {
      window.clearInterval(timer);
      off();
      r.dispose();
      replay.current = null;
      term.dispose();
    };
  }, [rec]);

  return (
    <div className="space-y-3">
      <div className="flex flex-wrap items-center gap-2" role="toolbar" aria-label="Replay">
        {state.playing ? (
          <Button variant="secondary" onClick={() => replay.current?.pause()}>
            Pause
          </Button>
        ) : (
          <Button onClick={() => replay.current?.play()}>{state.ended ? "Play again" : "Play"}</Button>
        )}
        <span className="text-sm text-muted-fg">Speed</span>
        {SPEEDS.map((sp: Speed) => (
          <Button key={sp} size="sm" variant={state.speed === sp ? "primary" : "secondary"} aria-pressed={state.speed === sp} onClick={() => replay.current?.setSpeed(sp)}>
            {sp}×
          </Button>
        ))}
        <Button variant="secondary" disabled={state.ended} onClick={() => replay.current?.skipToEnd()}>
          Skip to end
        </Button>
        <span className="ml-auto font-mono text-sm" aria-label="Position">
          {formatClock(state.position)} / {formatClock(rec.duration)}
        </span>
      </div>
      {rec.problems.length > 0 && (
        <Notice tone="warn">
          {rec.problems.length} line{rec.problems.length === 1 ? "" : "s"} of the recording could not be read and {rec.problems.length === 1 ? "was" : "were"} skipped
          {": "}
          {rec.problems
            .slice(0, 3)
            .map((p) => `line ${p.line}: ${p.message}`)
            .join("; ")}
          {rec.problems.length > 3 ? "; …" : ""}
        </Notice>
      )}
      <div className="overflow-auto rounded-lg border border-border bg-[#0b1020] p-2">
        <div ref={host} aria-label="Recording" data-testid="recording" />
      </div>
      <p className="text-xs text-muted-fg">
        Recorded at {rec.header.width}×{rec.header.height}
        {rec.header.timestamp ? `, started ${formatDateTime(new Date(rec.header.timestamp * 1000).toISOString())}` : ""}. Total {formatClock(rec.duration)}.
      </p>
    </div>
  );
}
