import { api } from "../api/instance";
import type { Device, DeviceStatus } from "../api/types";

export interface DeviceFilters {
  org_id?: string | null;
  site_id?: string | null;
  group_id?: string | null;
  status?: string | null;
  os?: string | null;
  tag?: string | null;
  q?: string | null;
}

export function deviceQuery(f: DeviceFilters, sort: string) {
  return {
    org_id: f.org_id ?? undefined,
    site_id: f.site_id ?? undefined,
    group_id: f.group_id ?? undefined,
    status: f.status ?? undefined,
    os: f.os ?? undefined,
    tag: f.tag ?? undefined,
    q: f.q?.trim() || undefined,
    sort,
  };
}

export function statusTone(s: DeviceStatus): "ok" | "danger" | "warn" | "muted" | "primary" {
  if (s === "awaiting_checkin") return "primary";
  return s === "online" ? "ok" : s === "offline" ? "danger" : s === "maintenance" || s === "quarantined" ? "warn" : "muted";
}

/** Every device status, in the order filters list them. */
export const DEVICE_STATUSES = ["online", "offline", "awaiting_checkin", "pending", "maintenance", "quarantined", "decommissioned"] as const;

/** How a status reads in the console (`awaiting_checkin`: enrolled, the agent has not run yet). */
export function statusLabel(s: DeviceStatus): string {
  return s === "awaiting_checkin" ? "waiting for first check-in" : s;
}

export function deviceName(d: Pick<Device, "display_name" | "hostname">): string {
  return d.display_name?.trim() || d.hostname;
}

export function patchDevice(id: string, body: Record<string, unknown>) {
  return api.patch<{ data: Device } | Device>(`/api/v1/devices/${id}`, body);
}

/** Runs `fn` over `items` a few at a time; returns how many failed. */
export async function forEachLimited<T>(items: T[], fn: (t: T) => Promise<unknown>, concurrency = 4): Promise<number> {
  let failed = 0;
  let i = 0;
  const worker = async () => {
    while (i < items.length) {
      const item = items[i++];
      try {
        await fn(item);
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return failed;
}

/** Unwraps `{data: T}` or a bare `T` (single-object answers). */
export function unwrap<T>(v: { data: T } | T): T {
  return v && typeof v === "object" && "data" in (v as object) && !Array.isArray((v as { data: unknown }).data)
    ? (v as { data: T }).data
    : (v as T);
}
