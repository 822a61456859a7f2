// Alerting lists shared by several screens (cached by TanStack Query under stable keys; the
// live `alert.updated` event invalidates "alerts", "alert-counts" and "alert-rules").
import { useQuery } from "@tanstack/react-query";
import { api } from "../api/instance";
import type { AlertCounts } from "../api/types";
import { usePerms } from "../auth/session";
import { ALL, fetchAll } from "./queries";

/** Open alerts (active, acknowledged or suppressed) by severity, for an organization or all reachable. */
export function useAlertCounts(orgId: string | null) {
  const perms = usePerms();
  return useQuery({
    queryKey: ["alert-counts", orgId ?? "all"],
    queryFn: ({ signal }) => api.GET("/api/v1/alerts/counts", { params: { query: { org_id: orgId ?? undefined } }, signal }),
    enabled: perms.can("alerts:read"),
    // Live events keep it fresh; the interval covers a dropped stream.
    refetchInterval: 120_000,
  });
}

export function openCount(c: AlertCounts): number {
  return c.active + c.acknowledged + c.suppressed;
}

export function useChannels(orgId: string | null | undefined) {
  const perms = usePerms();
  return useQuery({
    queryKey: ["notification-channels", "all", orgId ?? "any"],
    queryFn: ({ signal }) => fetchAll((cursor) => api.GET("/api/v1/notification-channels", { params: { query: { org_id: orgId ?? undefined, limit: ALL, cursor } }, signal })),
    enabled: perms.can("alerts:read"),
  });
}

export function usePolicies(orgId: string | null | undefined) {
  const perms = usePerms();
  return useQuery({
    queryKey: ["escalation-policies", "all", orgId ?? "any"],
    queryFn: ({ signal }) => fetchAll((cursor) => api.GET("/api/v1/escalation-policies", { params: { query: { org_id: orgId ?? undefined, limit: ALL, cursor } }, signal })),
    enabled: perms.can("alerts:read"),
  });
}

export function useAlertRules(orgId: string | null | undefined) {
  const perms = usePerms();
  return useQuery({
    queryKey: ["alert-rules", "all", orgId ?? "any"],
    queryFn: ({ signal }) => fetchAll((cursor) => api.GET("/api/v1/alert-rules", { params: { query: { org_id: orgId ?? undefined, limit: ALL, cursor } }, signal })),
    enabled: perms.can("alerts:read"),
  });
}
