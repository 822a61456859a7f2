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

export function ExecutionOutput({ execution: e }: { execution: ScriptExecution }) {
  const empty = !e.stdout && !e.stderr && !e.error_message;
  return (
    <div className="space-y-2" aria-live="polite">
      {e.error_message && <p className="text-sm text-danger">{e.error_message}</p>}
      {e.stdout && (
        <pre className="max-h-80 overflow-auto whitespace-pre-wrap rounded-md bg-muted p-3 font-mono text-xs" data-testid="stdout">
          {e.stdout}
        </pre>
      )}
      {e.stderr && (
        <pre className="max-h-60 overflow-auto whitespace-pre-wrap rounded-md border border-danger/40 bg-danger/5 p-3 font-mono text-xs" data-testid="stderr">
          {e.stderr}
        </pre>
      )}
      {empty && <p className="text-xs text-muted-fg">{isTerminal(e.status) ? "No output." : "Waiting for output…"}</p>}
    </div>
  );
}
