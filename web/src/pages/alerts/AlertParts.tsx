// Pieces the alerts inbox and the device page's Alerts tab share: the alert table, the
// acknowledge/resolve/suppress actions (one alert or many), and the alert detail dialog with
// its context values, timeline and delivery log.
import { useState } from "react";
import { Link } from "react-router";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../../api/instance";
import { errorMessage } from "../../api/client";
import type { Alert } from "../../api/types";
import { Badge, DefinitionList } from "../../components/ui/card";
import { Button } from "../../components/ui/button";
import { Dialog } from "../../components/ui/dialog";
import { DialogForm } from "../../components/ui/dialog-form";
import { Field, Input, Select, Textarea } from "../../components/ui/form";
import { EmptyState, ErrorState, Loading, Notice } from "../../components/ui/feedback";
import { Menu } from "../../components/ui/menu";
import { ActionsTh, Table, Td, Th } from "../../components/ui/table";
import { useToast } from "../../components/ui/toast";
import { usePerms, useSession } from "../../auth/session";
import { alertStatusLabel, alertStatusTone, CHANNEL_LABELS, splitContext, deliveryTone, isOpen, severityLabel, severityTone, type ChannelType } from "../../lib/alerts";
import { formatDateTime, relativeTime } from "../../lib/format";

export function SeverityChip({ severity }: { severity: string }) {
  return <Badge tone={severityTone(severity)}>{severityLabel(severity)}</Badge>;
}

export function StatusChip({ status }: { status: string }) {
  return <Badge tone={alertStatusTone(status)}>{alertStatusLabel(status)}</Badge>;
}

/** Refreshes everything an alert change touches. */
function useAlertsChanged() {
  const qc = useQueryClient();
  return () => {
    for (const k of ["alerts", "alert", "alert-counts", "device-alerts", "alert-rules", "alert-deliveries"]) void qc.invalidateQueries({ queryKey: [k] });
  };
}

export type AlertAction = { kind: "acknowledge" | "resolve" | "suppress"; alerts: Alert[] };

/**
 * The dialog that acknowledges, resolves (with a note) or suppresses (until a time) one alert
 * or many (the bulk routes take `{ids, note}`).
 */
export function AlertActionDialog({ action, onClose, onDone }: { action: AlertAction; onClose: () => void; onDone?: () => void }) {
  const toast = useToast();
  const changed = useAlertsChanged();
  const [note, setNote] = useState("");
  const [preset, setPreset] = useState("4");
  const [custom, setCustom] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const { kind, alerts } = action;
  const many = alerts.length > 1;
  const what = many ? `${alerts.length} alerts` : `“${alerts[0]?.title ?? ""}”`;
  const verb = kind === "acknowledge" ? "Acknowledge" : kind === "resolve" ? "Resolve" : "Suppress";

  const until = (): string | null => {
    if (preset === "custom") {
      const t = custom ? new Date(custom) : null;
      return t && !Number.isNaN(t.getTime()) ? t.toISOString() : null;
    }
    return new Date(Date.now() + Number(preset) * 3600_000).toISOString();
  };

  const submit = async () => {
    setError(null);
    const n = note.trim() || undefined;
    const ids = alerts.map((a) => a.id);
    setBusy(true);
    try {
      if (kind === "suppress") {
        const u = until();
        if (!u) {
          setError("Choose when the suppression ends.");
          return;
        }
        for (const a of alerts) await api.POST("/api/v1/alerts/{id}/suppress", { params: { path: { id: a.id } }, body: { until: u, note: n } });
      } else if (many) {
        await api.POST(kind === "acknowledge" ? "/api/v1/alerts/acknowledge" : "/api/v1/alerts/resolve", { body: { ids, note: n } });
      } else if (kind === "acknowledge") {
        await api.POST("/api/v1/alerts/{id}/acknowledge", { params: { path: { id: ids[0] } } });
      } else {
        await api.POST("/api/v1/alerts/{id}/resolve", { params: { path: { id: ids[0] } }, body: { note: n } });
      }
      changed();
      toast(`${many ? `${alerts.length} alerts` : "Alert"} ${kind === "acknowledge" ? "acknowledged" : kind === "resolve" ? "resolved" : "suppressed"}.`);
      onDone?.();
      onClose();
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog
      open
      onClose={onClose}
      title={`${verb} ${many ? `${alerts.length} alerts` : "alert"}`}
      footer={
        <>
          <Button variant="secondary" onClick={onClose}>
            Cancel
          </Button>
          <Button loading={busy} onClick={() => void submit()}>
            {verb}
          </Button>
        </>
      }
    >
      <DialogForm onSubmit={() => void submit()}>
        <p className="text-sm">
          {kind === "acknowledge"
            ? `Acknowledge ${what}: the escalation stops and your team sees someone is on it.`
            : kind === "resolve"
              ? `Resolve ${what}. The rule may raise a new alert after its cooldown if the condition returns.`
              : `Suppress ${what}: no notification until the time you choose.`}
        </p>
        {kind === "suppress" && (
          <div className="grid gap-3 sm:grid-cols-2">
            <Field label="Suppress for">
              {(p) => (
                <Select {...p} value={preset} onChange={(e) => setPreset(e.target.value)}>
                  <option value="1">1 hour</option>
                  <option value="4">4 hours</option>
                  <option value="24">1 day</option>
                  <option value="168">1 week</option>
                  <option value="custom">Until…</option>
                </Select>
              )}
            </Field>
            {preset === "custom" && (
              <Field label="Until">
                {(p) => <Input {...p} type="datetime-local" value={custom} onChange={(e) => setCustom(e.target.value)} />}
              </Field>
            )}
          </div>
        )}
        {(kind !== "acknowledge" || many) && (
          <Field label="Note (optional)" hint="Kept with the alert for the next technician.">
            {(p) => <Textarea {...p} rows={3} value={note} onChange={(e) => setNote(e.target.value)} maxLength={2000} />}
          </Field>
        )}
        {error && <Notice tone="danger">{error}</Notice>}
      </DialogForm>
    </Dialog>
  );
}

/** Per-row actions: Acknowledge as a button, the rest in a menu. */
export function AlertRowActions({ alert, onAction }: { alert: Alert; onAction: (a: AlertAction) => void }) {
  const perms = usePerms();
  if (!perms.can("alerts:write") || !isOpen(alert)) return null;
  const act = (kind: AlertAction["kind"]) => onAction({ kind, alerts: [alert] });
  return (
    <div className="flex items-center justify-end gap-1">
      {alert.status === "active" && (
        <Button size="sm" variant="secondary" className="hidden sm:inline-flex" onClick={() => act("acknowledge")} aria-label={`Acknowledge ${alert.title} on ${alert.hostname}`}>
          Acknowledge
        </Button>
      )}
      <Menu
        label={`More actions for ${alert.title} on ${alert.hostname}`}
        items={[
          // On a phone the Acknowledge button is folded in here.
          ...(alert.status === "active" ? [{ label: "Acknowledge", onSelect: () => act("acknowledge") }] : []),
          { label: "Resolve…", onSelect: () => act("resolve") },
          { label: "Suppress…", onSelect: () => act("suppress") },
        ]}
      >
        <span aria-hidden>⋯</span>
        <span className="sr-only">More actions for {alert.title} on {alert.hostname}</span>
      </Menu>
    </div>
  );
}

/**
 * A table of alerts. With `selected`/`onToggle` a checkbox column selects rows for the bulk
 * actions; `showDevice` is off on the device page.
 */
export function AlertsTable({
  alerts,
  onOpen,
  onAction,
  selected,
  onToggle,
  onToggleAll,
  showDevice = true,
}: {
  alerts: Alert[];
  onOpen: (a: Alert) => void;
  onAction: (a: AlertAction) => void;
  selected?: Set<string>;
  onToggle?: (id: string) => void;
  onToggleAll?: () => void;
  showDevice?: boolean;
}) {
  const selectable = !!selected && !!onToggle;
  const all = selectable && alerts.length > 0 && alerts.every((a) => selected.has(a.id));
  return (
    <Table>
      <thead>
        <tr>
          {selectable && (
            <Th className="w-8">
              <input type="checkbox" className="size-4" aria-label="Select all loaded alerts" checked={all} onChange={onToggleAll} />
            </Th>
          )}
          <Th className="hidden sm:table-cell">Severity</Th>
          <Th>Alert</Th>
          {showDevice && <Th className="hidden sm:table-cell">Device</Th>}
          <Th className="hidden lg:table-cell">Rule</Th>
          <Th>Status</Th>
          <Th className="hidden md:table-cell">Triggered</Th>
          <ActionsTh />
        </tr>
      </thead>
      <tbody>
        {alerts.map((a) => (
          <tr key={a.id} aria-selected={selectable ? selected.has(a.id) : undefined} className={selectable && selected.has(a.id) ? "bg-primary/5" : undefined}>
            {selectable && (
              <Td>
                <input type="checkbox" className="size-4" aria-label={`Select ${a.title} on ${a.hostname}`} checked={selected.has(a.id)} onChange={() => onToggle(a.id)} />
              </Td>
            )}
            <Td className="hidden sm:table-cell">
              <SeverityChip severity={a.severity} />
            </Td>
            <Td className="max-w-[16rem]">
              {/* On a phone the severity rides with the title. */}
              <span className="mr-1.5 sm:hidden">
                <SeverityChip severity={a.severity} />
              </span>
              <button type="button" className="text-left font-medium text-primary hover:underline" onClick={() => onOpen(a)}>
                {a.title}
              </button>
              {showDevice && <div className="truncate text-xs text-muted-fg sm:hidden">{a.hostname}</div>}
            </Td>
            {showDevice && (
              <Td className="hidden sm:table-cell">
                <Link to={`/devices/${a.device_id}`} className="text-primary hover:underline">
                  {a.hostname}
                </Link>
              </Td>
            )}
            <Td className="hidden lg:table-cell">{a.rule_name ?? <span className="text-muted-fg">deleted rule</span>}</Td>
            <Td>
              <StatusChip status={a.status} />
            </Td>
            <Td className="hidden md:table-cell">
              <time dateTime={a.triggered_at} title={formatDateTime(a.triggered_at)}>
                {relativeTime(a.triggered_at)}
              </time>
            </Td>
            <Td className="text-right">
              <AlertRowActions alert={a} onAction={onAction} />
            </Td>
          </tr>
        ))}
      </tbody>
    </Table>
  );
}

/** A user id as a name: "you", a colleague's name when the user list is readable, else the id. */
function useWho() {
  const { me, perms } = useSession();
  const users = useQuery({
    queryKey: ["users", "names"],
    queryFn: ({ signal }) => api.GET("/api/v1/users", { params: { query: { limit: 500 } }, signal }),
    enabled: perms.can("users:read"),
    staleTime: 300_000,
  });
  return (id: string | null | undefined): string => {
    if (!id) return "someone";
    if (id === "auto") return "Breeze (the condition cleared)";
    if (id === me?.user.id) return "you";
    const u = users.data?.data.find((x) => x.id === id);
    return u ? u.name || u.email : `user ${id.slice(0, 8)}`;
  };
}

function Timeline({ a }: { a: Alert }) {
  const who = useWho();
  const events: Array<{ at: string; text: string }> = [{ at: a.triggered_at, text: `Triggered by ${a.rule_name ?? "a deleted rule"}` }];
  if (a.escalation_step > 0) events.push({ at: a.updated_at, text: `Escalated to step ${a.escalation_step + 1}` });
  if (a.acknowledged_at) events.push({ at: a.acknowledged_at, text: `Acknowledged by ${who(a.acknowledged_by)}` });
  if (a.suppressed_until && a.status === "suppressed") events.push({ at: a.updated_at, text: `Suppressed until ${formatDateTime(a.suppressed_until)}` });
  if (a.resolved_at) events.push({ at: a.resolved_at, text: `Resolved by ${who(a.resolved_by)}${a.resolution_note ? `: “${a.resolution_note}”` : ""}` });
  events.sort((x, y) => x.at.localeCompare(y.at));
  return (
    <ol className="space-y-2 border-l-2 border-border pl-4 text-sm" aria-label="Timeline">
      {events.map((e, i) => (
        <li key={i}>
          <p>{e.text}</p>
          <time className="text-xs text-muted-fg" dateTime={e.at}>
            {formatDateTime(e.at)}
          </time>
        </li>
      ))}
    </ol>
  );
}

export function DeliveryTable({ deliveries, showChannel = true }: { deliveries: Array<import("../../api/types").Delivery>; showChannel?: boolean }) {
  return (
    <Table>
      <thead>
        <tr>
          {showChannel && <Th>Channel</Th>}
          <Th>Event</Th>
          <Th>Status</Th>
          <Th className="hidden sm:table-cell">Attempts</Th>
          <Th className="hidden sm:table-cell">Response</Th>
          <Th className="hidden md:table-cell">Error</Th>
          <Th>Time</Th>
        </tr>
      </thead>
      <tbody>
        {deliveries.map((d) => (
          <tr key={d.id}>
            {showChannel && (
              <Td>
                {d.channel_name} <span className="text-xs text-muted-fg">{CHANNEL_LABELS[d.channel_type as ChannelType] ?? d.channel_type}</span>
              </Td>
            )}
            <Td className="font-mono text-xs">{d.event}</Td>
            <Td>
              <Badge tone={deliveryTone(d.status)}>{d.status}</Badge>
            </Td>
            <Td className="hidden sm:table-cell">{d.attempts}</Td>
            <Td className="hidden sm:table-cell">{d.response_status ?? "—"}</Td>
            <Td className="hidden md:table-cell">{d.last_error ?? "—"}</Td>
            <Td>
              <time dateTime={d.sent_at ?? d.created_at} title={formatDateTime(d.sent_at ?? d.created_at)}>
                {relativeTime(d.sent_at ?? d.created_at)}
              </time>
            </Td>
          </tr>
        ))}
      </tbody>
    </Table>
  );
}

function AlertDeliveries({ id }: { id: string }) {
  const q = useQuery({
    queryKey: ["alert-deliveries", id],
    queryFn: ({ signal }) => api.GET("/api/v1/alerts/{id}/deliveries", { params: { path: { id } }, signal }),
    refetchInterval: 15_000,
  });
  if (q.isPending) return <Loading label="Loading deliveries…" />;
  if (q.isError) return <ErrorState error={q.error} retry={() => q.refetch()} title="Could not load the delivery log" />;
  if (q.data.data.length === 0) return <p className="text-sm text-muted-fg">No notification was sent for this alert (the rule names no channel, or it is queued).</p>;
  return <DeliveryTable deliveries={q.data.data} />;
}

/**
 * The values that fired an alert: each condition the engine evaluated (metric, value,
 * threshold, window…) as a row, then any other context values.
 */
export function ContextView({ context }: { context: unknown }) {
  const { conditions, rest } = splitContext(context);
  if (conditions.length === 0 && rest.length === 0) return <p className="text-sm text-muted-fg">No values recorded.</p>;
  return (
    <div className="space-y-3">
      {conditions.length > 0 && (
        <ul className="space-y-2" aria-label="Conditions evaluated">
          {conditions.map((c, i) => (
            <li key={i} className="flex flex-wrap gap-1.5 rounded-md border border-border p-2 text-xs">
              {c.map(([k, v]) => (
                <span key={k} className="rounded bg-muted px-1.5 py-0.5">
                  <span className="text-muted-fg">{k.replace(/_/g, " ")}</span> <code className="font-mono">{v}</code>
                </span>
              ))}
            </li>
          ))}
        </ul>
      )}
      {rest.length > 0 && <DefinitionList items={rest.map(([k, v]) => [k.replace(/_/g, " "), <code className="font-mono text-xs">{v}</code>])} />}
    </div>
  );
}

/** The alert in a dialog: what fired, the values that fired it, who did what, what was sent. */
export function AlertDetailDialog({ id, onClose }: { id: string; onClose: () => void }) {
  const [action, setAction] = useState<AlertAction | null>(null);
  const q = useQuery({
    queryKey: ["alert", id],
    queryFn: ({ signal }) => api.GET("/api/v1/alerts/{id}", { params: { path: { id } }, signal }),
  });
  const a = q.data;
  return (
    <>
      <Dialog open={!action} wide onClose={onClose} title={a ? a.title : "Alert"}>
        {q.isPending ? (
          <Loading label="Loading alert…" />
        ) : q.isError ? (
          <ErrorState error={q.error} retry={() => q.refetch()} title="Could not load this alert" />
        ) : a ? (
          <div className="space-y-5">
            <div className="flex flex-wrap items-center gap-2">
              <SeverityChip severity={a.severity} />
              <StatusChip status={a.status} />
              <span className="text-sm text-muted-fg">
                on{" "}
                <Link to={`/devices/${a.device_id}`} className="text-primary hover:underline" onClick={onClose}>
                  {a.hostname}
                </Link>
              </span>
              <div className="ml-auto">
                <AlertRowActions alert={a} onAction={setAction} />
              </div>
            </div>
            {a.message && <p className="text-sm">{a.message}</p>}
            <section aria-labelledby="alert-ctx">
              <h3 id="alert-ctx" className="mb-2 text-sm font-semibold">
                What fired it
              </h3>
              <ContextView context={a.context} />
            </section>
            <section aria-labelledby="alert-timeline" className="grid gap-5 md:grid-cols-2">
              <div>
                <h3 id="alert-timeline" className="mb-2 text-sm font-semibold">
                  Timeline
                </h3>
                <Timeline a={a} />
              </div>
              <div>
                <h3 className="mb-2 text-sm font-semibold">Details</h3>
                <DefinitionList
                  items={[
                    ["Rule", a.rule_name ?? "deleted"],
                    ["Escalated to step", a.escalation_step > 0 ? String(a.escalation_step + 1) : "—"],
                    ["Suppressed until", a.suppressed_until ? formatDateTime(a.suppressed_until) : "—"],
                    ["Alert id", <code className="font-mono text-xs">{a.id}</code>],
                  ]}
                />
              </div>
            </section>
            <section aria-labelledby="alert-deliveries">
              <h3 id="alert-deliveries" className="mb-2 text-sm font-semibold">
                Notifications sent
              </h3>
              <AlertDeliveries id={a.id} />
            </section>
          </div>
        ) : null}
      </Dialog>
      {action && <AlertActionDialog action={action} onClose={() => setAction(null)} />}
    </>
  );
}

export function NoAlerts({ filtered }: { filtered: boolean }) {
  return (
    <EmptyState title={filtered ? "No alert matches these filters" : "No alerts"}>
      {filtered ? "Clear a filter to see more." : "All quiet. Alerts appear here as soon as a rule fires."}
    </EmptyState>
  );
}
