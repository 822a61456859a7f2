// Automation and policy lists shared by several screens (cached by TanStack Query under
// stable keys).
import { useQuery } from "@tanstack/react-query";
import { api } from "../api/instance";
import { usePerms } from "../auth/session";
import { ALL, fetchAll } from "./queries";

export function useAutomations(orgId: string | null | undefined) {
  const perms = usePerms();
  return useQuery({
    queryKey: ["automations", "all", orgId ?? "any"],
    queryFn: ({ signal }) => fetchAll((cursor) => api.GET("/api/v1/automations", { params: { query: { org_id: orgId ?? undefined, limit: ALL, cursor } }, signal })),
    enabled: perms.can("automations:read"),
  });
}

/** An automation's newest run (for the list's "last run" column). */
export function useLastRun(automationId: string) {
  return useQuery({
    queryKey: ["automation-runs", automationId, "last"],
    queryFn: ({ signal }) => api.GET("/api/v1/automations/{id}/runs", { params: { path: { id: automationId }, query: { limit: 1 } }, signal }).then((p) => p.data[0] ?? null),
  });
}

export function useScriptsAll() {
  const perms = usePerms();
  return useQuery({
    queryKey: ["scripts", "all"],
    queryFn: ({ signal }) => fetchAll((cursor) => api.GET("/api/v1/scripts", { params: { query: { sort: "name", limit: ALL, cursor } }, signal })),
    enabled: perms.can("scripts:read"),
  });
}

export function usePolicyList(orgId: string | null | undefined) {
  const perms = usePerms();
  return useQuery({
    queryKey: ["policies", "all", orgId ?? "any"],
    queryFn: ({ signal }) => fetchAll((cursor) => api.GET("/api/v1/policies", { params: { query: { org_id: orgId ?? undefined, limit: ALL, cursor } }, signal })),
    enabled: perms.can("automations:read"),
  });
}
