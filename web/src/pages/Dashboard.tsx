import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { Bar, BarChart, Cell, Pie, PieChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { Card, CardTitle, PageHeader, Badge } from "../components/ui/card";
import { EmptyState, ErrorState, Loading } from "../components/ui/feedback";
import { usePerms, useSession } from "../auth/session";
import { useOrgScope } from "../lib/scope";
import { ALL, fetchAll } from "../lib/queries";
import { api } from "../api/instance";
import { greeting, osLabel, relativeTime } from "../lib/format";
import { statusLabel } from "../lib/devices";
import { buttonClass } from "../components/ui/button";
import { openCount, useAlertCounts } from "../lib/alertQueries";
import { SEVERITIES, severityLabel } from "../lib/alerts";

const STATUS_COLORS: Record<string, string> = {
  online: "var(--ok)",
  offline: "var(--danger)",
  maintenance: "var(--warn)",
  quarantined: "var(--warn)",
  awaiting_checkin: "var(--primary)",
};
const MAX = 10_000;

function countBy<T>(items: T[], key: (t: T) => string): Array<{ key: string; count: number }> {
  const m = new Map<string, number>();
  for (const i of items) m.set(key(i), (m.get(key(i)) ?? 0) + 1);
  return [...m.entries()].map(([k, count]) => ({ key: k, count })).sort((a, b) => b.count - a.count);
}

function Stat({ label, value, tone }: { label: string; value: number | string; tone?: string }) {
  return (
    <Card>
      <p className="text-xs font-medium uppercase tracking-wide text-muted-fg">{label}</p>
      <p className={"mt-1 text-2xl font-semibold " + (tone ?? "")}>{value}</p>
    </Card>
  );
}

/** Shown until the first device exists: the way into the first-run steps. */
function GettingStartedCard() {
  const perms = usePerms();
  return (
    <section aria-label="Getting started">
      <EmptyState
        title="Getting started"
        action={
          <div className="flex flex-wrap justify-center gap-2">
            <Link to="/get-started" className={buttonClass()}>
              Add your first device
            </Link>
            {perms.can("enrollment_keys:write") && (
              <Link to="/enrollment-keys?new=1" className={buttonClass("secondary")}>
                Create an enrollment key
              </Link>
            )}
          </div>
        }
      >
        No devices yet. Create an organization and a site, then an enrollment key, and run the install command it shows on the machine:
        the device appears here as soon as it enrolls.
      </EmptyState>
    </section>
  );
}

function DeviceOverview() {
  const scope = useOrgScope();
  const q = useQuery({
    queryKey: ["devices", "dashboard", scope.orgId, scope.siteId],
    queryFn: ({ signal }) => fetchAll((cursor) => api.GET("/api/v1/devices", { params: { query: { org_id: scope.orgId ?? undefined, site_id: scope.siteId ?? undefined, limit: ALL, cursor } }, signal }), MAX),
    refetchInterval: 60_000,
  });
  if (q.isPending) return <Loading label="Counting devices…" />;
  if (q.isError) return <ErrorState error={q.error} retry={() => q.refetch()} title="Could not load devices" />;
  const devices = q.data;
  if (devices.length === 0) return <GettingStartedCard />;
  const byStatus = countBy(devices, (d) => d.status);
  const byOs = countBy(devices, (d) => osLabel(d.os_type));
  const online = devices.filter((d) => d.status === "online").length;
  const offline = devices.filter((d) => d.status === "offline").length;
  return (
    <>
      <div className="grid grid-cols-2 gap-3 md:grid-cols-4">
        <Stat label="Devices" value={devices.length >= MAX ? `${MAX}+` : devices.length} />
        <Stat label="Online" value={online} tone="text-ok" />
        <Stat label="Offline" value={offline} tone={offline ? "text-danger" : ""} />
        <Stat label="Other" value={devices.length - online - offline} />
      </div>
      <div className="grid gap-3 md:grid-cols-2">
        <Card>
          <CardTitle>By status</CardTitle>
          <div className="h-52" role="img" aria-label={byStatus.map((s) => `${statusLabel(s.key)}: ${s.count}`).join(", ")}>
            <ResponsiveContainer>
              <PieChart>
                <Pie data={byStatus} dataKey="count" nameKey="key" innerRadius={50} outerRadius={80} isAnimationActive={false}>
                  {byStatus.map((s) => (
                    <Cell key={s.key} fill={STATUS_COLORS[s.key] ?? "var(--muted-fg)"} />
                  ))}
                </Pie>
                <Tooltip />
              </PieChart>
            </ResponsiveContainer>
          </div>
          <ul className="mt-2 flex flex-wrap gap-3 text-sm">
            {byStatus.map((s) => (
              <li key={s.key}>
                <Link className="hover:underline" to={`/devices?status=${s.key}`}>
                  {statusLabel(s.key)}: <strong>{s.count}</strong>
                </Link>
              </li>
            ))}
          </ul>
        </Card>
        <Card>
          <CardTitle>By operating system</CardTitle>
          <div className="h-60" role="img" aria-label={byOs.map((s) => `${s.key}: ${s.count}`).join(", ")}>
            <ResponsiveContainer>
              <BarChart data={byOs}>
                <XAxis dataKey="key" stroke="var(--muted-fg)" fontSize={12} />
                <YAxis allowDecimals={false} stroke="var(--muted-fg)" fontSize={12} width={36} />
                <Tooltip cursor={{ fill: "var(--muted)" }} />
                <Bar dataKey="count" fill="var(--primary)" isAnimationActive={false} />
              </BarChart>
            </ResponsiveContainer>
          </div>
        </Card>
      </div>
    </>
  );
}

/** Open alerts by severity (GET /alerts/counts), each linking to the inbox filtered to it. */
function OpenAlerts() {
  const scope = useOrgScope();
  const q = useAlertCounts(scope.orgId);
  return (
    <Card>
      <CardTitle action={<Link className="text-xs text-primary hover:underline" to="/alerts">Alerts inbox</Link>}>Open alerts</CardTitle>
      {q.isPending ? (
        <Loading label="Counting alerts…" />
      ) : q.isError ? (
        <ErrorState error={q.error} retry={() => q.refetch()} title="Could not count alerts" />
      ) : (
        <>
          <ul className="grid grid-cols-5 gap-2 text-center" aria-label="Open alerts by severity">
            {SEVERITIES.map((sev) => (
              <li key={sev}>
                <Link
                  to={`/alerts?severity=${sev}`}
                  className="block rounded-md border border-border px-1 py-2 hover:bg-muted"
                  aria-label={`${severityLabel(sev)}: ${q.data[sev]} open`}
                >
                  <span className={"block text-xl font-semibold " + (q.data[sev] > 0 ? SEVERITY_TEXT[sev] : "text-muted-fg")}>{q.data[sev]}</span>
                  <span className="block truncate text-xs text-muted-fg">{severityLabel(sev)}</span>
                </Link>
              </li>
            ))}
          </ul>
          <p className="mt-3 text-sm text-muted-fg">
            {openCount(q.data) === 0 ? (
              "No open alerts."
            ) : (
              <>
                <Link className="text-primary hover:underline" to="/alerts?status=active">
                  {q.data.active} unacknowledged
                </Link>
                {" · "}
                <Link className="text-primary hover:underline" to="/alerts?status=acknowledged">
                  {q.data.acknowledged} acknowledged
                </Link>
                {q.data.suppressed > 0 && (
                  <>
                    {" · "}
                    <Link className="text-primary hover:underline" to="/alerts?status=suppressed">
                      {q.data.suppressed} suppressed
                    </Link>
                  </>
                )}
              </>
            )}
          </p>
        </>
      )}
    </Card>
  );
}

const SEVERITY_TEXT: Record<string, string> = { critical: "text-danger", high: "text-danger", medium: "text-warn", low: "text-primary", info: "text-fg" };

function RecentActivity() {
  const q = useQuery({
    queryKey: ["audit", "recent"],
    queryFn: ({ signal }) => api.GET("/api/v1/audit/logs", { params: { query: { limit: 8 } }, signal }),
    refetchInterval: 60_000,
  });
  return (
    <Card>
      <CardTitle action={<Link className="text-xs text-primary hover:underline" to="/audit">Audit log</Link>}>Recent activity</CardTitle>
      {q.isPending ? (
        <Loading />
      ) : q.isError ? (
        <ErrorState error={q.error} retry={() => q.refetch()} />
      ) : q.data.data.length === 0 ? (
        <p className="text-sm text-muted-fg">Nothing yet.</p>
      ) : (
        <ul className="divide-y divide-border text-sm">
          {q.data.data.map((e) => (
            <li key={e.id} className="flex items-center justify-between gap-3 py-2">
              <span className="min-w-0 truncate">
                <span className="font-mono text-xs">{e.action}</span>{" "}
                <span className="text-muted-fg">{e.actor_email ?? e.actor_type}</span>
              </span>
              <span className="flex shrink-0 items-center gap-2">
                {e.result !== "success" && <Badge tone="danger">{e.result}</Badge>}
                <time className="text-xs text-muted-fg" dateTime={e.timestamp}>
                  {relativeTime(e.timestamp)}
                </time>
              </span>
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}

export default function DashboardPage() {
  const { me, perms } = useSession();
  return (
    <div className="space-y-4">
      <PageHeader title="Dashboard" description={greeting(me)} />
      {perms.can("devices:read") && <DeviceOverview />}
      <div className="grid gap-3 lg:grid-cols-2">
        {perms.can("alerts:read") && <OpenAlerts />}
        {perms.can("audit:read") && <RecentActivity />}
        {!me?.user.mfa_enabled && (
          <Card>
            <CardTitle>Protect your account</CardTitle>
            <p className="text-sm text-muted-fg">Two-factor authentication is off for your account. Turn it on in Settings.</p>
            <Link to="/settings" className={buttonClass("secondary", "sm") + " mt-3"}>
              Set up two-factor authentication
            </Link>
          </Card>
        )}
      </div>
    </div>
  );
}
