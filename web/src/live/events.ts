// The live event stream (SSE at /api/v1/events): device status and execution progress.
// Each event invalidates the cached queries it changes, and listeners get the raw event.
import { useEffect, useState } from "react";
import { api, queryClient, tokens } from "../api/instance";
import type { LiveEvent } from "../api/types";

type Listener = (e: LiveEvent) => void;
const listeners = new Set<Listener>();

export function onLiveEvent(fn: Listener): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Which cached queries an event makes stale. */
export function invalidationsFor(e: LiveEvent): unknown[][] {
  const t = e.type ?? "";
  if (t.startsWith("device")) {
    const id = typeof e.device_id === "string" ? e.device_id : typeof e.id === "string" ? e.id : null;
    return [["devices"], ["dashboard"], ...(id ? [["device", id]] : [])];
  }
  if (t.startsWith("execution") || t.startsWith("script_execution") || t.startsWith("command")) {
    return [["executions"], ["device-commands"]];
  }
  return [];
}

export function dispatch(e: LiveEvent) {
  for (const key of invalidationsFor(e)) void queryClient.invalidateQueries({ queryKey: key });
  for (const fn of listeners) fn(e);
}

export type LiveState = "connecting" | "open" | "closed";

/** Keeps one EventSource open while signed in; reconnects with a fresh token after errors. */
export function useLiveEvents(): LiveState {
  const [state, setState] = useState<LiveState>("connecting");
  useEffect(() => {
    let es: EventSource | null = null;
    let timer: ReturnType<typeof setTimeout> | null = null;
    let stopped = false;
    let failures = 0;

    const connect = async () => {
      if (stopped) return;
      // A fresh access token: the stream authenticates once, at connect time.
      if (!tokens.getAccess() || failures > 0) await api.refresh();
      const token = tokens.getAccess();
      if (!token || stopped) return;
      es = new EventSource(`/api/v1/events?access_token=${encodeURIComponent(token)}`);
      es.onopen = () => {
        failures = 0;
        setState("open");
      };
      es.onmessage = (m) => {
        try {
          dispatch(JSON.parse(m.data) as LiveEvent);
        } catch {
          // Ignore keep-alives and anything that is not JSON.
        }
      };
      es.onerror = () => {
        es?.close();
        es = null;
        setState("closed");
        failures++;
        timer = setTimeout(connect, Math.min(30_000, 1000 * 2 ** Math.min(failures, 5)));
      };
    };
    void connect();
    return () => {
      stopped = true;
      es?.close();
      if (timer) clearTimeout(timer);
    };
  }, []);
  return state;
}
