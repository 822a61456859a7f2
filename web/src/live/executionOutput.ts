// Applies `execution.output` live events (a running script's new stdout/stderr) to the
// cached executions, so output appears as the agent sends it instead of when the script
// ends. A chunk carries its offset (UTF-8 bytes of the stream before it): it is appended
// only when it follows what the cache holds; a repeat is skipped, and a gap asks for a
// refetch. The final `execution.updated` refetches the execution, whose result replaces
// the live text.
import type { QueryClient } from "@tanstack/react-query";
import type { LiveEvent, ScriptExecution } from "../api/types";
import { isTerminal } from "../pages/scripts/ExecutionOutput";

export interface OutputChunk {
  executionId: string;
  stream: "stdout" | "stderr";
  offset: number;
  data: string;
}

/** The chunk an `execution.output` event carries, or null for any other event. */
export function outputChunk(e: LiveEvent): OutputChunk | null {
  if (e.type !== "execution.output") return null;
  const { execution_id, stream, offset, data } = e;
  if (typeof execution_id !== "string" || typeof offset !== "number" || typeof data !== "string") return null;
  if (stream !== "stdout" && stream !== "stderr") return null;
  return { executionId: execution_id, stream, offset, data };
}

const encoder = new TextEncoder();
const utf8Length = (s: string) => encoder.encode(s).length;

/** What a chunk does to one execution. */
export type Applied = { kind: "appended"; execution: ScriptExecution } | { kind: "unchanged" } | { kind: "gap" };

export function applyChunk(e: ScriptExecution, c: OutputChunk): Applied {
  if (e.id !== c.executionId || isTerminal(e.status)) return { kind: "unchanged" };
  const held = e[c.stream] ?? "";
  const len = utf8Length(held);
  if (c.offset === len) return { kind: "appended", execution: { ...e, [c.stream]: held + c.data, status: "running" } };
  // Already holds it (a refetch brought it first), or something was missed.
  return c.offset < len ? { kind: "unchanged" } : { kind: "gap" };
}

type Cached = ScriptExecution | { data: ScriptExecution } | { data: ScriptExecution[] } | undefined;

function isExecution(v: unknown): v is ScriptExecution {
  return typeof v === "object" && v !== null && "id" in v && "status" in v;
}

/** Applies the chunk to one cached value of any executions query shape; reports a gap. */
export function applyToCached(v: Cached, c: OutputChunk, onGap: () => void): Cached {
  const one = (e: ScriptExecution) => {
    const r = applyChunk(e, c);
    if (r.kind === "gap") onGap();
    return r.kind === "appended" ? r.execution : e;
  };
  if (v === undefined) return v;
  if (isExecution(v)) return one(v);
  if (Array.isArray(v.data)) {
    const next = v.data.map(one);
    return next.some((e, i) => e !== (v.data as ScriptExecution[])[i]) ? { ...v, data: next } : v;
  }
  if (isExecution(v.data)) {
    const e = one(v.data);
    return e === v.data ? v : { ...v, data: e };
  }
  return v;
}

/** Applies an `execution.output` event to every cached executions query. */
export function applyOutputEvent(client: QueryClient, e: LiveEvent) {
  const c = outputChunk(e);
  if (!c) return;
  let gap = false;
  client.setQueriesData<Cached>({ queryKey: ["executions"] }, (v) => applyToCached(v, c, () => (gap = true)));
  if (gap) void client.invalidateQueries({ queryKey: ["executions"] });
}
