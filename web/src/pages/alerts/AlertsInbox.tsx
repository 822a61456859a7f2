// The alerts inbox: every alert the user can reach, filtered (status, severity, organization,
// rule, device), paged by cursor, updated live by `alert.updated` events; select rows to
// acknowledge or resolve them together.
import { useEffect, useMemo, useState } from "react";
import { useSearchParams } from "react-router";
import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { api } from "../../api/instance";
import { PageHeader } from "../../components/ui/card";
import { Button } from "../../components/ui/button";
import { Options } from "../../components/ui/dialog-form";
import { Select } from "../../components/ui/form";
import { ErrorState, Loading } from "../../components/ui/feedback";
import { usePerms } from "../../auth/session";
import { useOrgScope } from "../../lib/scope";
import { useOrgs } from "../../lib/queries";
import { useAlertRules } from "../../lib/alertQueries";
import { oneOf } from "../../lib/sort";
import { alertStatusLabel, SEVERITIES, severityLabel, STATUS_FILTERS } from "../../lib/alerts";
import { AlertActionDialog, AlertDetailDialog, AlertsTable, NoAlerts, type AlertAction } from "./AlertParts";

const PAGE = 50;

export default function AlertsInbox() {
  const perms = usePerms();
  const scope = useOrgScope();
  const orgs = useOrgs();
  const [params, setParams] = useSearchParams();
  // The inbox opens on what needs attention: open alerts. "any" shows every status.
  const statusParam = params.get("status");
  const status = statusParam === "any" ? "" : (oneOf(statusParam, STATUS_FILTERS) ?? "open");
  const severity = oneOf(params.get("severity"), SEVERITIES) ?? "";
  const orgId = params.get("org") ?? scope.orgId ?? "";
  const ruleId = params.get("rule") ?? "";
  const deviceId = params.get("device") ?? "";
  const openId = params.get("alert");
  const rules = useAlertRules(orgId || null);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [action, setAction] = useState<AlertAction | null>(null);

  const setParam = (k: string, v: string, also: Record<string, string> = {}) => {
    const next = new URLSearchParams(params);
    for (const [key, val] of Object.entries({ [k]: v, ...also })) {
      if (val) next.set(key, val);
      else next.delete(key);
    }
    setParams(next, { replace: true });
  };

  const filters = { status, severity, orgId, ruleId, deviceId };
  const query = useInfiniteQuery({
    queryKey: ["alerts", "inbox", filters],
    queryFn: ({ pageParam, signal }) =>
      api.GET("/api/v1/alerts", {
        params: {
          query: {
            status: status || undefined,
            severity: severity || undefined,
            org_id: orgId || undefined,
            rule_id: ruleId || undefined,
            device_id: deviceId || undefined,
            limit: PAGE,
            cursor: pageParam,
          },
        },
        signal,
      }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  const rows = useMemo(() => query.data?.pages.flatMap((p) => p.data) ?? [], [query.data]);
  // The device filter names its device (from a row, or the device itself when none is loaded).
  const device = useQuery({
    queryKey: ["device", deviceId],
    queryFn: ({ signal }) => api.GET("/api/v1/devices/{id}", { params: { path: { id: deviceId } }, signal }),
    enabled: !!deviceId && !rows.some((r) => r.device_id === deviceId),
  });
  const deviceName = rows.find((r) => r.device_id === deviceId)?.hostname ?? device.data?.hostname ?? "this device";

  const filterKey = JSON.stringify(filters);
  useEffect(() => setSelected(new Set()), [filterKey]);
  // Alerts that left the list (resolved elsewhere, filtered out) leave the selection.
  const chosen = rows.filter((r) => selected.has(r.id));

  const filtered = !!(statusParam || severity || ruleId || deviceId || params.get("org"));
  const canWrite = perms.can("alerts:write");
  const toggle = (id: string) =>
    setSelected((s) => {
      const n = new Set(s);
      if (n.has(id)) n.delete(id);
      else n.add(id);
      return n;
    });

  return (
    <div>
      <PageHeader title="Alerts" description="What your rules caught, newest first. Acknowledge to stop the escalation; resolve when it is fixed." />
      <div className="mb-3 flex flex-wrap items-end gap-2" role="search" aria-label="Filter alerts">
        <Select aria-label="Status" className="w-auto" value={statusParam === "any" ? "any" : status} onChange={(e) => setParam("status", e.target.value === "open" ? "" : e.target.value)}>
          {STATUS_FILTERS.map((s) => (
            <option key={s} value={s}>
              {alertStatusLabel(s)}
            </option>
          ))}
          <option value="any">Any status</option>
        </Select>
        <Select aria-label="Severity" className="w-auto" value={severity} onChange={(e) => setParam("severity", e.target.value)}>
          <option value="">Any severity</option>
          {SEVERITIES.map((s) => (
            <option key={s} value={s}>
              {severityLabel(s)}
            </option>
          ))}
        </Select>
        {scope.canSwitch && (orgs.data?.length ?? 0) > 1 && (
          <Select aria-label="Organization" className="w-auto max-w-48" value={orgId} onChange={(e) => setParam("org", e.target.value, { rule: "" })}>
            <Options items={orgs.data} placeholder="All organizations" />
          </Select>
        )}
        <Select aria-label="Rule" className="w-auto max-w-56" value={ruleId} onChange={(e) => setParam("rule", e.target.value)}>
          <Options items={rules.data} placeholder="Any rule" />
        </Select>
        {deviceId && (
          <span className="inline-flex h-9 items-center gap-1 rounded-md border border-border bg-card pl-3 text-sm">
            Device: {deviceName}
            <Button size="sm" variant="ghost" aria-label="Clear the device filter" onClick={() => setParam("device", "")}>
              ✕
            </Button>
          </span>
        )}
        <span className="ml-auto text-sm text-muted-fg" aria-live="polite">
          {query.isSuccess && `${rows.length}${query.hasNextPage ? "+" : ""} ${rows.length === 1 && !query.hasNextPage ? "alert" : "alerts"}`}
        </span>
      </div>

      {canWrite && chosen.length > 0 && (
        <div className="mb-3 flex flex-wrap items-center gap-2 rounded-lg border border-primary/40 bg-primary/5 px-3 py-2 text-sm" role="region" aria-label="Bulk actions">
          <strong>{chosen.length} selected</strong>
          <Button size="sm" onClick={() => setAction({ kind: "acknowledge", alerts: chosen })}>
            Acknowledge selected
          </Button>
          <Button size="sm" variant="secondary" onClick={() => setAction({ kind: "resolve", alerts: chosen })}>
            Resolve selected…
          </Button>
          <Button size="sm" variant="ghost" onClick={() => setSelected(new Set())}>
            Clear selection
          </Button>
        </div>
      )}

      {query.isPending ? (
        <Loading label="Loading alerts…" />
      ) : query.isError ? (
        <ErrorState error={query.error} retry={() => query.refetch()} title="Could not load alerts" />
      ) : rows.length === 0 ? (
        <NoAlerts filtered={filtered} />
      ) : (
        <AlertsTable
          alerts={rows}
          onOpen={(a) => setParam("alert", a.id)}
          onAction={setAction}
          selected={canWrite ? selected : undefined}
          onToggle={canWrite ? toggle : undefined}
          onToggleAll={() => setSelected(rows.every((r) => selected.has(r.id)) ? new Set() : new Set(rows.map((r) => r.id)))}
        />
      )}
      {query.isFetchingNextPage && <Loading label="Loading more…" />}
      {query.hasNextPage && !query.isFetchingNextPage && (
        <div className="mt-2 text-center">
          <Button variant="ghost" size="sm" onClick={() => void query.fetchNextPage()}>
            Load more
          </Button>
        </div>
      )}
      {openId && <AlertDetailDialog id={openId} onClose={() => setParam("alert", "")} />}
      {action && <AlertActionDialog action={action} onClose={() => setAction(null)} onDone={() => setSelected(new Set())} />}
    </div>
  );
}
