import type { Device } from "../api/types";
import type { Perm } from "../auth/permissions";

export type DeviceAction = "run" | "edit" | "reboot" | "maintenance" | "end_maintenance" | "quarantine" | "release" | "refresh_inventory" | "decommission";

/**
 * What the device page offers for a device in its current state, as the server allows
 * it: a quarantined or pending device takes no script and no command (the server
 * answers 409), a device in maintenance still does and can still be quarantined, and
 * nothing acts on a decommissioned one. Rare and destructive actions go to `more` (the
 * overflow menu).
 */
export function deviceActions(d: Pick<Device, "status">, can: (p: Perm) => boolean): { main: DeviceAction[]; more: DeviceAction[] } {
  const s = d.status;
  if (s === "decommissioned") return { main: [], more: [] };
  const takesCommands = s === "online" || s === "offline" || s === "maintenance";
  const main: DeviceAction[] = [];
  const more: DeviceAction[] = [];
  if (takesCommands && can("scripts:execute")) main.push("run");
  if (can("devices:write")) main.push("edit");
  if (takesCommands && can("devices:execute")) main.push("reboot");
  if (can("devices:admin")) {
    if (s === "maintenance") main.push("end_maintenance");
    else if (s === "online" || s === "offline") main.push("maintenance");
    if (s === "quarantined") main.push("release");
    else main.push("quarantine");
  }
  if (takesCommands && can("devices:execute")) more.push("refresh_inventory");
  if (can("devices:delete")) more.push("decommission");
  return { main, more };
}
