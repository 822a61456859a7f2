// Shared list queries (cached by TanStack Query under stable keys).
import { useQuery } from "@tanstack/react-query";
import { api } from "../api/instance";
import type { Page } from "../api/types";
import { usePerms } from "../auth/session";

/** Fetches every page of a list (for small lists such as orgs, sites, roles): `page(cursor)` asks for one page of 500. */
export async function fetchAll<T>(page: (cursor: string | undefined) => Promise<Page<T>>, max = 2000): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  do {
    const p = await page(cursor);
    out.push(...p.data);
    cursor = p.next_cursor ?? undefined;
  } while (cursor && out.length < max);
  return out;
}
/** Page size for `fetchAll`. */
export const ALL = 500;

export function useOrgs() {
  const perms = usePerms();
  return useQuery({
    queryKey: ["orgs", "all"],
    queryFn: ({ signal }) => fetchAll((cursor) => api.GET("/api/v1/orgs", { params: { query: { sort: "name", limit: ALL, cursor } }, signal })),
    enabled: perms.can("orgs:read"),
  });
}

export function useSites(orgId: string | null | undefined) {
  const perms = usePerms();
  return useQuery({
    queryKey: ["sites", orgId],
    queryFn: ({ signal }) => fetchAll((cursor) => api.GET("/api/v1/orgs/{id}/sites", { params: { path: { id: orgId ?? "" }, query: { sort: "name", limit: ALL, cursor } }, signal })),
    enabled: !!orgId && perms.can("sites:read"),
  });
}

export function useGroups(orgId: string | null | undefined) {
  const perms = usePerms();
  return useQuery({
    queryKey: ["device-groups", "all", orgId ?? "any"],
    queryFn: ({ signal }) => fetchAll((cursor) => api.GET("/api/v1/device-groups", { params: { query: { org_id: orgId ?? undefined, sort: "name", limit: ALL, cursor } }, signal })),
    enabled: perms.can("device_groups:read"),
  });
}

export function useRoles() {
  const perms = usePerms();
  return useQuery({
    queryKey: ["roles", "all"],
    queryFn: ({ signal }) => api.GET("/api/v1/roles", { signal }).then((r) => r.data),
    enabled: perms.can("roles:read"),
  });
}

/** An organization's devices (up to 5000), for target pickers. */
export function useOrgDevices(orgId: string | null | undefined) {
  return useQuery({
    queryKey: ["devices", "rule-targets", orgId],
    queryFn: ({ signal }) => fetchAll((cursor) => api.GET("/api/v1/devices", { params: { query: { org_id: orgId ?? undefined, limit: ALL, cursor, sort: "hostname" } }, signal }), 5000),
    enabled: !!orgId,
    staleTime: 60_000,
  });
}
