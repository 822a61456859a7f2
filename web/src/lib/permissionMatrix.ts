import type { PermissionInfo } from "../api/types";

const ACTION_ORDER = ["read", "write", "delete", "execute", "admin"];

/** Rows (resources) and columns (actions) of the permission matrix, in a stable order. */
export function matrixOf(list: PermissionInfo[]) {
  const resources = [...new Set(list.map((p) => p.resource))];
  const actions = [...new Set(list.map((p) => p.action))].sort((a, b) => {
    const ia = ACTION_ORDER.indexOf(a);
    const ib = ACTION_ORDER.indexOf(b);
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
  });
  const set = new Set(list.map((p) => `${p.resource}:${p.action}`));
  return { resources, actions, has: (p: string) => set.has(p) };
}

export function togglePermission(list: string[], p: string): string[] {
  return list.includes(p) ? list.filter((x) => x !== p) : [...list, p].sort();
}

/** What a permission allows, where its name alone does not say (shown in the role editor). */
const HINTS: Record<string, string> = {
  "devices:write": "Edit a device's display name and tags.",
  "devices:admin": "Manage devices: move to another site, quarantine, maintenance, reactivate, add pending devices (enrollment tokens).",
  "devices:execute": "Queue commands on devices (reboot, inventory, configuration).",
  "devices:delete": "Decommission devices.",
};

export function permissionHint(p: string): string | undefined {
  return HINTS[p];
}
