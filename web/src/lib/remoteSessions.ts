// The remote sessions list: its filters as the API's query, and how a row reads.
import type { Perm } from "../auth/permissions";
import type { RemoteSession, RemoteSessionStatus, RemoteSessionType } from "../api/types";

export const SESSION_TYPES: Array<{ value: RemoteSessionType; label: string }> = [
  { value: "terminal", label: "Terminal" },
  { value: "file_transfer", label: "Files" },
  { value: "desktop", label: "Desktop" },
];
export const SESSION_STATUSES: RemoteSessionStatus[] = ["pending", "connecting", "active", "disconnected", "failed"];

export interface SessionFilters {
  device_id: string;
  user_id: string;
  type: "" | RemoteSessionType;
  status: "" | RemoteSessionStatus;
}
export const NO_FILTERS: SessionFilters = { device_id: "", user_id: "", type: "", status: "" };

/** The list query: empty filters left out; the organization from the console's scope. */
export function sessionQuery(f: SessionFilters, orgId: string | null) {
  return {
    org_id: orgId ?? undefined,
    device_id: f.device_id || undefined,
    user_id: f.user_id || undefined,
    type: f.type || undefined,
    status: f.status || undefined,
  };
}

export function typeLabel(t: RemoteSessionType): string {
  return SESSION_TYPES.find((x) => x.value === t)?.label ?? t;
}

export function sessionTone(s: RemoteSessionStatus): "ok" | "danger" | "warn" | "muted" | "primary" {
  switch (s) {
    case "active":
      return "ok";
    case "failed":
      return "danger";
    case "pending":
    case "connecting":
      return "primary";
    case "disconnected":
      return "muted";
  }
}

/** `45 s`, `3 min 07 s`, `2 h 05 min`. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return "—";
  const s = Math.floor(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
}

/** The row's duration: the server's once ended, else the time since it started (live). */
export function sessionDuration(s: Pick<RemoteSession, "status" | "started_at" | "duration_seconds">, now = Date.now()): number | null {
  if (s.duration_seconds !== null && s.duration_seconds !== undefined) return s.duration_seconds;
  if (s.status === "active" && s.started_at) {
    const t = new Date(s.started_at).getTime();
    return Number.isNaN(t) ? null : Math.max(0, (now - t) / 1000);
  }
  return null;
}

/** The console page of a session's recording, when the server kept one. */
export function recordingPage(s: Pick<RemoteSession, "id" | "recording_url">): string | null {
  return s.recording_url ? `/remote/sessions/${s.id}/recording` : null;
}

export interface RemoteLink {
  label: "Terminal" | "Files" | "Desktop";
  to: string;
}

/**
 * The device page's remote-access buttons: only while the device is online (the agent's
 * channel carries the session), and only those the user's permissions allow.
 */
export function remoteLinks(deviceId: string, status: string, can: (p: Perm) => boolean): RemoteLink[] {
  if (status !== "online") return [];
  const links: RemoteLink[] = [];
  if (can("remote:execute")) links.push({ label: "Terminal", to: `/devices/${deviceId}/terminal` }, { label: "Files", to: `/devices/${deviceId}/files` });
  if (can("remote_desktop:execute")) links.push({ label: "Desktop", to: `/devices/${deviceId}/desktop` });
  return links;
}
