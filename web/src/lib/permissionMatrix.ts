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
