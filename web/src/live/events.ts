// The live event stream (SSE at /api/v1/events): device status, enrollment, inventory,
// command/execution progress and a running script's output. Each event invalidates the
// cached queries it changes (output is appended to them instead), and listeners get the
// raw event. The stream is read with fetch so the access token goes in
// the Authorization header; it ends when the token expires and reconnects with a fresh one.
import { useEffect, useState } from "react";
import { api, queryClient, tokens } from "../api/instance";
import type { LiveEvent } from "../api/types";
import { applyOutputEvent } from "./executionOutput";
import { readEvents } from "./sse";

type Listener = (e: LiveEvent) => void;
const listeners = new Set<Listener>();

export function onLiveEvent(fn: Listener): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** A query key prefix that matches every cached query. */
const EVERYTHING: unknown[] = [];

const str = (v: unknown): string | null => (typeof v === "string" ? v : null);

/** Which cached queries an event makes stale. */
export function invalidationsFor(e: LiveEvent): unknown[][] {
  const t = e.type ?? "";
  // Events were dropped for us (we read too slowly): refetch everything.
  if (t === "resync") return [EVERYTHING];
  // A running script's new output: applied to the cache as it is (applyOutputEvent).
  if (t === "execution.output") return [];
  // Read loosely: an event this console does not know yet still refreshes what it names.
  const f = e as { device_id?: unknown; id?: unknown; execution_id?: unknown };
  if (t.startsWith("device.")) {
    const id = str(f.device_id) ?? str(f.id);
    return [["devices"], ["dashboard"], ...(id ? [["device", id], ["device-events", id]] : [])];
  }
  if (t.startsWith("alert.")) {
    // A raised, acknowledged or resolved alert: the inbox, the counts (nav badge, dashboard),
    // the alert itself, its rule's open count and the device's Alerts tab.
    const a = e as { alert_id?: unknown; device_id?: unknown };
    const alert = str(a.alert_id);
    const device = str(a.device_id);
    return [["alerts"], ["alert-counts"], ["alert-rules"], ...(alert ? [["alert", alert], ["alert-deliveries", alert]] : []), ...(device ? [["device-alerts", device]] : [])];
  }
  if (t.startsWith("execution.") || t.startsWith("command.")) {
    const exec = str(f.execution_id);
    const device = str(f.device_id);
    // A finished command adds a line to the device's history.
    return [["executions"], ["device-commands"], ...(exec ? [["executions", exec]] : []), ...(device ? [["device-events", device]] : [])];
  }
  return [];
}

export function dispatch(e: LiveEvent) {
  applyOutputEvent(queryClient, e);
  for (const key of invalidationsFor(e)) void queryClient.invalidateQueries({ queryKey: key });
  for (const fn of listeners) fn(e);
}

export type LiveState = "connecting" | "open" | "closed";

/** Keeps one event stream open while signed in; reconnects with a fresh token after it ends. */
export function useLiveEvents(): LiveState {
  const [state, setState] = useState<LiveState>("connecting");
  useEffect(() => {
    let abort: AbortController | null = null;
    let timer: ReturnType<typeof setTimeout> | null = null;
    let stopped = false;
    let failures = 0;
    let wasOpen = false;

    const connect = async () => {
      if (stopped) return;
      setState("connecting");
      // A fresh access token: the stream authenticates once, at connect time, and ends
      // when that token expires.
      if (!tokens.getAccess() || failures > 0) await api.refresh();
      const token = tokens.getAccess();
      if (!token || stopped) {
        setState("closed");
        return;
      }
      abort = new AbortController();
      try {
        const res = await fetch("/api/v1/events", {
          headers: { Authorization: `Bearer ${token}`, Accept: "text/event-stream" },
          cache: "no-store",
          signal: abort.signal,
        });
        if (!res.ok || !res.body) throw new Error(`event stream: HTTP ${res.status}`);
        failures = 0;
        setState("open");
        // Whatever happened while we were away is unknown: refetch it all.
        if (wasOpen) void queryClient.invalidateQueries();
        wasOpen = true;
        await readEvents(res.body, (data) => {
          try {
            dispatch(JSON.parse(data) as LiveEvent);
          } catch {
            // Not JSON: ignore it.
          }
        });
      } catch {
        // Network trouble, a refused token or our own abort: handled below.
      }
      abort = null;
      if (stopped) return;
      setState("closed");
      failures++;
      timer = setTimeout(() => void connect(), Math.min(30_000, 1000 * 2 ** Math.min(failures, 5)));
    };
    void connect();
    return () => {
      stopped = true;
      abort?.abort();
      if (timer) clearTimeout(timer);
    };
  }, []);
  return state;
}
