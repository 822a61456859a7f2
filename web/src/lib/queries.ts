// Shared list queries (cached by TanStack Query under stable keys).
import { useQuery } from "@tanstack/react-query";
import { api } from "../api/instance";
import type { DeviceGroup, Organization, Page, Role, Site } from "../api/types";
import { usePerms } from "../auth/session";

/** Fetches every page of a list (for small lists such as orgs, sites, roles). */
export async function fetchAll<T>(path: string, query: Record<string, string | undefined> = {}, signal?: AbortSignal, max = 2000): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await api.get<Page<T>>(path, { ...query, limit: 500, cursor }, signal);
    out.push(...page.data);
    cursor = page.next_cursor ?? undefined;
  } while (cursor && out.length < max);
  return out;
}

export function useOrgs() {
  const perms = usePerms();
  return useQuery({
    queryKey: ["orgs", "all"],
    queryFn: ({ signal }) => fetchAll<Organization>("/api/v1/orgs", { sort: "name" }, signal),
    enabled: perms.can("orgs:read"),
  });
}

export function useSites(orgId: string | null | undefined) {
  const perms = usePerms();
  return useQuery({
    queryKey: ["sites", orgId],
    queryFn: ({ signal }) => fetchAll<Site>(`/api/v1/orgs/${orgId}/sites`, { sort: "name" }, signal),
    enabled: !!orgId && perms.can("sites:read"),
  });
}

export function useGroups(orgId: string | null | undefined) {
  const perms = usePerms();
  return useQuery({
    queryKey: ["device-groups", "all", orgId ?? "any"],
    queryFn: ({ signal }) => fetchAll<DeviceGroup>("/api/v1/device-groups", { org_id: orgId ?? undefined, sort: "name" }, signal),
    enabled: perms.can("device_groups:read"),
  });
}

export function useRoles() {
  const perms = usePerms();
  return useQuery({
    queryKey: ["roles", "all"],
    queryFn: ({ signal }) => fetchAll<Role>("/api/v1/roles", {}, signal),
    enabled: perms.can("roles:read"),
  });
}
