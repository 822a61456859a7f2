import type { DeviceEvent } from "../api/types";

export type EventTone = "ok" | "danger" | "warn" | "muted" | "primary";

export interface DescribedEvent {
  title: string;
  /** The reason or the facts behind the event, when it has any. */
  detail: string | null;
  tone: EventTone;
}

const str = (v: unknown): string | null => (typeof v === "string" && v.trim() ? v.trim() : null);

const COMMANDS: Record<string, string> = {
  run_script: "Script run",
  reboot: "Reboot",
  collect_inventory_now: "Inventory refresh",
  update_config: "Configuration update",
  cancel: "Cancellation",
};

function commandName(type: unknown): string {
  const t = str(type);
  return t ? (COMMANDS[t] ?? t.replace(/_/g, " ")) : "Command";
}

function reason(d: Record<string, unknown>): string | null {
  const r = str(d.reason);
  return r ? `Reason: ${r}` : null;
}

/** One line of a device's history (`GET /devices/{id}/events`) in words; a script run is named by `scriptName`. */
export function describeEvent(e: Pick<DeviceEvent, "event_type" | "details">, scriptName?: string | null): DescribedEvent {
  const d = (e.details && typeof e.details === "object" ? e.details : {}) as Record<string, unknown>;
  const was = str(d.previous_status);
  switch (e.event_type) {
    case "enrolled":
      return { title: "Enrolled", detail: [str(d.hostname), str(d.agent_version) && `agent ${str(d.agent_version)}`].filter(Boolean).join(" · ") || null, tone: "primary" };
    case "pending_device_created":
      return { title: "Added, waiting for its agent to enroll", detail: null, tone: "muted" };
    case "first_checkin":
      return { title: "First check-in", detail: "The agent started and reported in.", tone: "ok" };
    case "online":
      return { title: was === "pending" ? "First check-in" : "Back online", detail: null, tone: "ok" };
    case "offline":
      return { title: "Went offline", detail: "It stopped checking in.", tone: "danger" };
    case "maintenance":
      return { title: "Put in maintenance", detail: reason(d), tone: "warn" };
    case "quarantined":
      return { title: was === "maintenance" ? "Quarantined (was in maintenance)" : "Quarantined", detail: reason(d), tone: "danger" };
    case "device_reactivated":
      return {
        title: was === "quarantined" ? "Released from quarantine" : was === "maintenance" ? "Maintenance ended" : "Returned to service",
        detail: reason(d),
        tone: "ok",
      };
    case "device_revoked":
      return { title: "Decommissioned", detail: reason(d), tone: "danger" };
    case "ip_changed":
      return { title: "Address changed", detail: `${str(d.previous_ip) ?? "?"} → ${str(d.ip) ?? "?"}`, tone: "muted" };
    case "token_rotated":
      return { title: "Agent token renewed", detail: null, tone: "muted" };
    case "token_suspended":
      return { title: "Agent token suspended", detail: reason(d), tone: "danger" };
    case "command_result": {
      const status = str(d.status) ?? "finished";
      const detail = typeof d.exit_code === "number" ? `Exit code ${d.exit_code}` : null;
      const what = scriptName ? `Script “${scriptName}”` : commandName(d.type);
      return { title: `${what} ${status}`, detail, tone: status === "completed" ? "ok" : "danger" };
    }
    case "command_rejected":
      return { title: `${commandName(d.type)} refused by the agent`, detail: reason(d), tone: "danger" };
    default:
      return { title: e.event_type.replace(/_/g, " ").replace(/^./, (c: string) => c.toUpperCase()), detail: reason(d), tone: "muted" };
  }
}
