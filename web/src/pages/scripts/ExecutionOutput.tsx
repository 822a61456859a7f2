import { useEffect, useRef } from "react";
import type { ScriptExecution } from "../../api/types";

/** Statuses after which nothing changes. `lost`: the agent stopped reporting the command while it ran. */
export function isTerminal(status: string): boolean {
  return ["completed", "failed", "timeout", "cancelled", "expired", "rejected", "lost"].includes(status);
}

export function executionTone(status: string): "ok" | "danger" | "warn" | "muted" | "primary" {
  if (status === "completed") return "ok";
  if (["failed", "timeout", "rejected", "lost"].includes(status)) return "danger";
  if (status === "running") return "primary";
  if (status === "cancelled" || status === "expired") return "warn";
  return "muted";
}

/** Keeps a growing output box scrolled to its end while the script runs. */
function useFollow(text: string | null | undefined, live: boolean) {
  const ref = useRef<HTMLPreElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (live && el) el.scrollTop = el.scrollHeight;
  }, [text, live]);
  return ref;
}

export function ExecutionOutput({ execution: e }: { execution: ScriptExecution }) {
  const empty = !e.stdout && !e.stderr && !e.error_message;
  const live = !isTerminal(e.status);
  const outRef = useFollow(e.stdout ?? null, live);
  const errRef = useFollow(e.stderr ?? null, live);
  return (
    <div className="space-y-2" aria-live="polite">
      {e.error_message && <p className="text-sm text-danger">{e.error_message}</p>}
      {live && !empty && <p className="text-xs text-muted-fg">Live output: it grows while the script runs.</p>}
      {e.stdout && (
        <pre ref={outRef} className="max-h-80 overflow-auto whitespace-pre-wrap rounded-md bg-muted p-3 font-mono text-xs" data-testid="stdout">
          {e.stdout}
        </pre>
      )}
      {e.stderr && (
        <pre ref={errRef} className="max-h-60 overflow-auto whitespace-pre-wrap rounded-md border border-danger/40 bg-danger/5 p-3 font-mono text-xs" data-testid="stderr">
          {e.stderr}
        </pre>
      )}
      {empty && <p className="text-xs text-muted-fg">{isTerminal(e.status) ? "No output." : "Waiting for output…"}</p>}
    </div>
  );
}
