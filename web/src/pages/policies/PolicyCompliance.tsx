// A policy's compliance dashboard: the aggregated counts (kept by the server as results
// arrive), per-rule counts, the devices worst first, and a drill-down to a device's failing
// rules with what the agent saw and the status history. "Evaluate now" queues checks.
import { useState } from "react";
import { Link, useParams } from "react-router";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../../api/instance";
import { errorMessage } from "../../api/client";
import type { DeviceCompliance, Policy, PolicyCompliance as Compliance } from "../../api/types";
import { Card, CardTitle, PageHeader } from "../../components/ui/card";
import { Button, buttonClass } from "../../components/ui/button";
import { EmptyState, ErrorState, Loading } from "../../components/ui/feedback";
import { Select } from "../../components/ui/form";
import { Table, Td, Th } from "../../components/ui/table";
import { useToast } from "../../components/ui/toast";
import { usePerms } from "../../auth/session";
import { formatDateTime, relativeTime } from "../../lib/format";
import { COMPLIANCE_STATUSES, complianceLabel, describeRule, deviceRows, type ComplianceStatus, type DeviceRow as Row } from "../../lib/policies";

type DeviceRow = Row<DeviceCompliance>;
import { ComplianceBadge, ComplianceBar } from "./ComplianceParts";

export default function PolicyCompliance() {
  const { id = "" } = useParams();
  const policy = useQuery({
    queryKey: ["policies", id],
    queryFn: ({ signal }) => api.GET("/api/v1/policies/{id}", { params: { path: { id } }, signal }),
  });
  if (policy.isPending) return <Loading label="Loading the policy…" />;
  if (policy.isError) return <ErrorState error={policy.error} retry={() => policy.refetch()} title="Could not load the policy" />;
  return <Dashboard policy={policy.data} />;
}

function Dashboard({ policy }: { policy: Policy }) {
  const perms = usePerms();
  const qc = useQueryClient();
  const toast = useToast();
  const [status, setStatus] = useState<ComplianceStatus | "">("");
  const [busy, setBusy] = useState(false);
  const [open, setOpen] = useState<string | null>(null);
  const [watching, setWatching] = useState(false);
  const q = useQuery({
    queryKey: ["policy-compliance", policy.id, status],
    queryFn: ({ signal }) => api.GET("/api/v1/policies/{id}/compliance", { params: { path: { id: policy.id }, query: { limit: 500, status: status || undefined } }, signal }),
    // After "Evaluate now", poll until no check is pending; otherwise refresh now and then.
    refetchInterval: (q) => (watching || q.state.data?.data.some((d) => d.check_pending) ? 2000 : 60_000),
  });

  const evaluate = async () => {
    setBusy(true);
    try {
      const r = await api.POST("/api/v1/policies/{id}/evaluate", { params: { path: { id: policy.id } } });
      toast(`Checks queued on ${r.queued} ${r.queued === 1 ? "device" : "devices"}${r.skipped ? `; ${r.skipped} skipped (offline or already checking)` : ""}.`);
      setWatching(true);
      setTimeout(() => setWatching(false), 60_000);
      void qc.invalidateQueries({ queryKey: ["policy-compliance", policy.id] });
    } catch (e) {
      toast(`Could not evaluate: ${errorMessage(e)}`, "danger");
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="space-y-4">
      <PageHeader
        title={policy.name}
        description={
          <>
            <Link to="/policies" className="text-primary hover:underline">
              ← All policies
            </Link>
            <span className="ml-2">
              {complianceModeText(policy)} · checked every {policy.check_interval_minutes} min
            </span>
          </>
        }
        actions={
          <>
            {perms.can("automations:execute") && (
              <Button loading={busy} onClick={() => void evaluate()}>
                Evaluate now
              </Button>
            )}
            {perms.can("automations:write") && (
              <Link to={`/policies/${policy.id}/edit`} className={buttonClass("secondary")}>
                Edit
              </Link>
            )}
          </>
        }
      />
      {q.isPending ? (
        <Loading label="Loading compliance…" />
      ) : q.isError ? (
        <ErrorState error={q.error} retry={() => q.refetch()} title="Could not load compliance" />
      ) : (
        <Body policy={policy} c={q.data} status={status} setStatus={setStatus} open={open} setOpen={setOpen} />
      )}
    </div>
  );
}

function complianceModeText(p: Policy): string {
  return p.enforcement === "enforce" ? "Enforced with remediation" : p.enforcement === "warn" ? "Warns on non-compliance" : "Monitored";
}

function Body({
  policy,
  c,
  status,
  setStatus,
  open,
  setOpen,
}: {
  policy: Policy;
  c: Compliance;
  status: ComplianceStatus | "";
  setStatus: (s: ComplianceStatus | "") => void;
  open: string | null;
  setOpen: (id: string | null) => void;
}) {
  const rows = deviceRows(c.data, policy.rules);
  return (
    <>
      <Card>
        <div className="grid gap-4 sm:grid-cols-[1fr_auto]">
          <ComplianceBar counts={c.counts} label="Policy compliance" />
          <dl className="grid grid-cols-4 gap-4 text-center" aria-label="Devices by status">
            {COMPLIANCE_STATUSES.map((s) => (
              <div key={s}>
                <dt className="text-xs text-muted-fg">{complianceLabel(s)}</dt>
                <dd className="text-xl font-semibold tabular-nums">{c.counts[s]}</dd>
              </div>
            ))}
          </dl>
        </div>
      </Card>
      <Card>
        <CardTitle>Rules</CardTitle>
        <Table>
          <thead>
            <tr>
              <Th>Rule</Th>
              {COMPLIANCE_STATUSES.map((s) => (
                <Th key={s} className="text-right">
                  {complianceLabel(s)}
                </Th>
              ))}
            </tr>
          </thead>
          <tbody>
            {policy.rules.map((r, i) => {
              const rc = c.rule_counts.find((x) => x.rule_index === i);
              return (
                <tr key={i}>
                  <Td>{describeRule(r)}</Td>
                  {COMPLIANCE_STATUSES.map((s) => (
                    <Td key={s} className="text-right tabular-nums">
                      {rc?.[s] ?? 0}
                    </Td>
                  ))}
                </tr>
              );
            })}
          </tbody>
        </Table>
      </Card>
      <Card>
        <CardTitle
          action={
            <Select aria-label="Show devices" className="h-8 w-auto" value={status} onChange={(e) => setStatus(e.target.value as ComplianceStatus | "")}>
              <option value="">All devices</option>
              {COMPLIANCE_STATUSES.map((s) => (
                <option key={s} value={s}>
                  {complianceLabel(s)}
                </option>
              ))}
            </Select>
          }
        >
          Devices
        </CardTitle>
        {rows.length === 0 ? (
          <EmptyState title={status ? `No ${complianceLabel(status).toLowerCase()} devices` : "No targeted devices"}>{!status && "Devices the policy targets appear here after its first evaluation."}</EmptyState>
        ) : (
          <Table>
            <caption className="sr-only">Device compliance</caption>
            <thead>
              <tr>
                <Th>Device</Th>
                <Th>Status</Th>
                <Th className="hidden md:table-cell">Rules not compliant</Th>
                <Th className="hidden sm:table-cell">Checked</Th>
                <Th />
              </tr>
            </thead>
            <tbody>
              {rows.map((d) => (
                <DeviceRowView key={d.device_id} d={d} policy={policy} open={open === d.device_id} toggle={() => setOpen(open === d.device_id ? null : d.device_id)} />
              ))}
            </tbody>
          </Table>
        )}
        {c.next_cursor && <p className="mt-2 text-xs text-muted-fg">Showing the first {rows.length} devices; filter by status to see others.</p>}
      </Card>
    </>
  );
}

function DeviceRowView({ d, policy, open, toggle }: { d: DeviceRow; policy: Policy; open: boolean; toggle: () => void }) {
  return (
    <>
      <tr>
        <Td>
          <Link to={`/devices/${d.device_id}`} className="font-medium text-primary hover:underline">
            {d.hostname}
          </Link>
        </Td>
        <Td>
          <ComplianceBadge status={d.status} />
          {d.check_pending && <span className="ml-2 text-xs text-muted-fg">checking…</span>}
        </Td>
        <Td className="hidden md:table-cell">{d.failing.length ? d.failing.map((f) => f.rule).join("; ") : "—"}</Td>
        <Td className="hidden sm:table-cell" title={formatDateTime(d.checked_at)}>
          {d.checked_at ? relativeTime(d.checked_at) : "not yet"}
        </Td>
        <Td className="text-right">
          <Button size="sm" variant="ghost" aria-expanded={open} aria-label={`${open ? "Hide" : "Show"} details of ${d.hostname}`} onClick={toggle}>
            {open ? "Hide" : "Details"}
          </Button>
        </Td>
      </tr>
      {open && (
        <tr>
          <Td colSpan={5} className="bg-muted/40">
            <DeviceDetail d={d} policy={policy} />
          </Td>
        </tr>
      )}
    </>
  );
}

function DeviceDetail({ d, policy }: { d: DeviceRow; policy: Policy }) {
  const history = useQuery({
    queryKey: ["policy-compliance-history", policy.id, d.device_id],
    queryFn: ({ signal }) => api.GET("/api/v1/policies/{id}/compliance/history", { params: { path: { id: policy.id }, query: { device_id: d.device_id, limit: 20 } }, signal }),
  });
  return (
    <section aria-label={`Compliance of ${d.hostname}`} className="space-y-3 py-2">
      <Table>
        <caption className="sr-only">Rules on {d.hostname}</caption>
        <thead>
          <tr>
            <Th>Rule</Th>
            <Th>Status</Th>
            <Th>Detail</Th>
            <Th className="hidden sm:table-cell">Since</Th>
          </tr>
        </thead>
        <tbody>
          {[...d.failing, ...d.rules.filter((r) => r.status === "compliant").map((r) => ({ ...r, rule: describeRule(policy.rules[r.rule_index]) }))].map((r) => (
            <tr key={r.rule_index}>
              <Td>{r.rule}</Td>
              <Td>
                <ComplianceBadge status={r.status} />
              </Td>
              <Td className="font-mono text-xs">{r.detail ?? "—"}</Td>
              <Td className="hidden sm:table-cell">{relativeTime(r.since)}</Td>
            </tr>
          ))}
        </tbody>
      </Table>
      {policy.enforcement === "enforce" && <p className="text-xs text-muted-fg">Remediation runs since last compliant: {d.remediation_attempts} of {policy.remediation_max_attempts}.</p>}
      <div>
        <p className="mb-1 text-xs font-semibold uppercase tracking-wide text-muted-fg">History</p>
        {history.isPending ? (
          <Loading label="Loading history…" />
        ) : history.isError ? (
          <ErrorState error={history.error} retry={() => history.refetch()} title="Could not load the history" />
        ) : history.data.data.length === 0 ? (
          <p className="text-sm text-muted-fg">No change recorded yet.</p>
        ) : (
          <ul className="space-y-1 text-sm">
            {history.data.data.map((h, i) => (
              <li key={i}>
                <span className="text-muted-fg">{formatDateTime(h.changed_at)}</span> {h.rule_index === null || h.rule_index === undefined ? "Device" : describeRule(policy.rules[h.rule_index])}:{" "}
                {h.previous_status ? `${complianceLabel(h.previous_status)} → ` : ""}
                <ComplianceBadge status={h.status} />
                {h.detail && <span className="ml-1 font-mono text-xs">{h.detail}</span>}
              </li>
            ))}
          </ul>
        )}
      </div>
    </section>
  );
}
