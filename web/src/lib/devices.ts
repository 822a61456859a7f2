import { api } from "../api/instance";
import type { Device, DeviceListQuery, DeviceSort, DeviceStatus, UpdateDevice } from "../api/types";
import { sortsOf } from "./sort";

/** The sorts the devices list offers: every one the server accepts. */
/** The status filter's choices: every status the server filters by. */
export const STATUS_FILTERS = ["online", "offline", "awaiting_checkin", "pending", "maintenance", "quarantined", "decommissioned"] as const satisfies NonNullable<DeviceListQuery["status"]>[];
/** The OS filter's choices. */
export const OS_FILTERS = [
  ["windows", "Windows"],
  ["macos", "macOS"],
  ["linux", "Linux"],
] as const satisfies Array<[NonNullable<DeviceListQuery["os"]>, string]>;

export const DEVICE_SORTS = sortsOf(["hostname", "status", "os_type", "last_seen_at", "created_at", "org_name", "site_name"] as const) satisfies DeviceSort[];

export interface DeviceFilters {
  org_id?: string | null;
  site_id?: string | null;
  group_id?: string | null;
  status?: DeviceListQuery["status"] | null;
  os?: DeviceListQuery["os"] | null;
  tag?: string | null;
  q?: string | null;
}

export function deviceQuery(f: DeviceFilters, sort: DeviceSort) {
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

/** How a status reads in the console (`awaiting_checkin`: enrolled, the agent has not run yet). */
export function statusLabel(s: DeviceStatus): string {
  return s === "awaiting_checkin" ? "waiting for first check-in" : s;
}

export function deviceName(d: Pick<Device, "display_name" | "hostname">): string {
  return d.display_name?.trim() || d.hostname;
}

export function patchDevice(id: string, body: UpdateDevice) {
  return api.PATCH("/api/v1/devices/{id}", { params: { path: { id } }, body });
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
