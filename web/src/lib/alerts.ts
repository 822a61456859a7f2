// Alerting in the console: vocabularies, the rule builder's editable model of `conditions`
// and `targets` (and its conversion to and from the server's JSON, AlertRule in
// crates/proto/src/api/alerts.rs), and where a server validation error lands in the builder.
import type { Alert } from "../api/types";

// ---------------------------------------------------------------- vocabularies
/** Most urgent first (ALERT_SEVERITIES). */
export const SEVERITIES = ["critical", "high", "medium", "low", "info"] as const;
export type Severity = (typeof SEVERITIES)[number];
export const STATUSES = ["active", "acknowledged", "resolved", "suppressed"] as const;
/** The inbox's status filter: a status, or `open` (not resolved). */
export const STATUS_FILTERS = ["open", ...STATUSES] as const;
export const CHANNEL_TYPES = ["email", "webhook", "slack", "teams", "pagerduty", "sms"] as const;
export type ChannelType = (typeof CHANNEL_TYPES)[number];

export const CHANNEL_LABELS: Record<ChannelType, string> = {
  email: "E-mail",
  webhook: "Webhook",
  slack: "Slack",
  teams: "Microsoft Teams",
  pagerduty: "PagerDuty",
  sms: "SMS",
};

export function severityLabel(s: string): string {
  return s ? s[0].toUpperCase() + s.slice(1) : s;
}

export function severityTone(s: string): "danger" | "warn" | "primary" | "muted" {
  return s === "critical" || s === "high" ? "danger" : s === "medium" ? "warn" : s === "low" ? "primary" : "muted";
}

export function alertStatusLabel(s: string): string {
  return s === "open" ? "Open" : severityLabel(s);
}

export function alertStatusTone(s: string): "danger" | "warn" | "ok" | "muted" {
  return s === "active" ? "danger" : s === "acknowledged" ? "warn" : s === "resolved" ? "ok" : "muted";
}

export function deliveryTone(s: string): "ok" | "danger" | "muted" {
  return s === "sent" ? "ok" : s === "failed" ? "danger" : "muted";
}

/** Not resolved: acknowledge, resolve and suppress apply. */
export function isOpen(a: Pick<Alert, "status">): boolean {
  return a.status !== "resolved";
}

// ---------------------------------------------------------------- conditions
export const OPERATORS = ["gt", "gte", "lt", "lte", "eq", "neq"] as const;
export type Operator = (typeof OPERATORS)[number];
export const OPERATOR_LABELS: Record<Operator, string> = { gt: ">", gte: "≥", lt: "<", lte: "≤", eq: "=", neq: "≠" };

/** The metrics the agent reports (MetricPoint); `custom.*` ones are typed in. */
export const METRICS: Array<{ value: string; label: string }> = [
  { value: "cpu_percent", label: "CPU %" },
  { value: "ram_percent", label: "Memory %" },
  { value: "disk_percent", label: "Disk used %" },
  { value: "process_count", label: "Process count" },
  { value: "network_in_bytes", label: "Network in (bytes)" },
  { value: "network_out_bytes", label: "Network out (bytes)" },
];
/** The metric select's entry for a custom metric (`custom.<name>`, typed in). */
export const CUSTOM = "custom";

export type ConditionKind = "metric" | "status" | "no_data" | "software";

/** One row of the condition editor. Numbers are kept as typed (strings) until saved. */
export type EditCondition =
  | { kind: "metric"; metric: string; operator: Operator; value: string; duration: string }
  | { kind: "status"; status: "offline"; duration: string }
  | { kind: "no_data"; duration: string }
  | { kind: "software"; action: "installed" | "removed"; pattern: string };

export interface EditConditions {
  match: "all" | "any";
  rows: EditCondition[];
}

export function newCondition(kind: ConditionKind = "metric"): EditCondition {
  if (kind === "status") return { kind, status: "offline", duration: "10" };
  if (kind === "no_data") return { kind, duration: "30" };
  if (kind === "software") return { kind, action: "removed", pattern: "" };
  return { kind: "metric", metric: "cpu_percent", operator: "gt", value: "90", duration: "5" };
}

export function isCustomMetric(metric: string): boolean {
  return metric === CUSTOM || metric.startsWith("custom.");
}

/** A typed number as a number; anything else as typed (so the server names the bad field). */
export const num = (s: string): number | string => {
  const t = s.trim();
  if (t === "") return t;
  const n = Number(t);
  return Number.isFinite(n) ? n : t;
};

/** One row as the server's condition JSON (a bad number goes as typed: the server names it). */
export function conditionToJson(c: EditCondition): Record<string, unknown> {
  switch (c.kind) {
    case "metric": {
      const out: Record<string, unknown> = { metric: c.metric, operator: c.operator, value: num(c.value) };
      if (c.duration.trim() !== "") out.duration_minutes = num(c.duration);
      return out;
    }
    case "status":
      return { type: "status", status: c.status, duration_minutes: num(c.duration) };
    case "no_data":
      return { type: "no_data", duration_minutes: num(c.duration) };
    case "software":
      return { type: "software_change", action: c.action, name_pattern: c.pattern };
  }
}

export function conditionsToJson(c: EditConditions): Record<string, unknown> {
  return { [c.match]: c.rows.map(conditionToJson) };
}

/** A JSON object (not an array, not null). */
export const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
/** A JSON number or string as form text. */
export const text = (v: unknown): string => (typeof v === "number" ? String(v) : typeof v === "string" ? v : "");

function conditionFromJson(v: unknown): EditCondition | null {
  if (!isObj(v)) return null;
  if (typeof v.metric === "string" && (v.type === undefined || v.type === "metric")) {
    const op = OPERATORS.find((o) => o === v.operator);
    if (!op) return null;
    return { kind: "metric", metric: v.metric, operator: op, value: text(v.value), duration: text(v.duration_minutes) };
  }
  if (v.type === "status" && v.status === "offline") return { kind: "status", status: "offline", duration: text(v.duration_minutes) };
  if (v.type === "no_data") return { kind: "no_data", duration: text(v.duration_minutes) };
  if (v.type === "software_change" && (v.action === "installed" || v.action === "removed") && typeof v.name_pattern === "string")
    return { kind: "software", action: v.action, pattern: v.name_pattern };
  return null;
}

/**
 * The server's `conditions` as editor rows: one condition, or `{"all"|"any": [...]}` of
 * them. Null for a shape this editor cannot show (nested groups, an unknown condition).
 */
export function conditionsFromJson(v: unknown): EditConditions | null {
  if (!isObj(v)) return null;
  for (const match of ["all", "any"] as const) {
    if (match in v) {
      const list = v[match];
      if (!Array.isArray(list) || Object.keys(v).length !== 1) return null;
      const rows = list.map(conditionFromJson);
      return rows.every((r): r is EditCondition => r !== null) ? { match, rows } : null;
    }
  }
  const one = conditionFromJson(v);
  return one ? { match: "all", rows: [one] } : null;
}

/** Problems the console can see before asking the server, by row (-1: the whole list). */
export function validateConditions(c: EditConditions): Map<number, Partial<Record<string, string>>> {
  const out = new Map<number, Partial<Record<string, string>>>();
  if (c.rows.length === 0) out.set(-1, { _: "Add at least one condition." });
  const isNum = (s: string) => s.trim() !== "" && Number.isFinite(Number(s));
  c.rows.forEach((r, i) => {
    const e: Partial<Record<string, string>> = {};
    if (r.kind === "metric") {
      if (isCustomMetric(r.metric) && !/^custom\.[A-Za-z0-9_.-]+$/.test(r.metric)) e.metric = "Name the custom metric: custom.<name>.";
      if (!isNum(r.value)) e.value = "Enter a number.";
      if (r.duration.trim() !== "" && !(isNum(r.duration) && Number(r.duration) >= 0 && Number.isInteger(Number(r.duration)))) e.duration_minutes = "Whole minutes, 0 or more.";
    } else if (r.kind === "status" || r.kind === "no_data") {
      if (!(isNum(r.duration) && Number(r.duration) >= 1 && Number.isInteger(Number(r.duration)))) e.duration_minutes = "Whole minutes, 1 or more.";
    } else if (!r.pattern.trim()) e.name_pattern = "Enter a name or pattern, e.g. Antivirus*.";
    if (Object.keys(e).length) out.set(i, e);
  });
  return out;
}

/** Which editor input a condition JSON key belongs to. */
const KEY_TO_INPUT: Record<string, string> = {
  metric: "metric",
  operator: "operator",
  value: "value",
  duration_minutes: "duration_minutes",
  status: "status",
  action: "action",
  name_pattern: "name_pattern",
  type: "type",
};

export interface FieldTarget {
  /** A top-level form field (`name`, `severity`, `targets`, `conditions`, …). */
  field: string;
  /** For `conditions`: the row (-1 = the list as a whole). */
  row?: number;
  /** For `conditions`: the input within the row (`operator`, `value`, …). */
  input?: string;
}

/**
 * Where a 422's field path lands in the rule builder: `conditions.all[1].operator` is row 1's
 * operator, `conditions.value` (a single condition) row 0's value, `targets.site_ids[0]` the
 * targets, `notification_channels[0]` the channels.
 */
export function fieldTarget(path: string): FieldTarget {
  const m = /^conditions(?:\.(?:all|any))?(?:\[(\d+)\])?(?:\.([a-z_]+))?/.exec(path);
  if (m) {
    const [, idx, key] = m;
    const grouped = /^conditions\.(all|any)/.test(path);
    if (idx !== undefined) return { field: "conditions", row: Number(idx), input: key ? (KEY_TO_INPUT[key] ?? "_") : "_" };
    if (!grouped && key && key in KEY_TO_INPUT) return { field: "conditions", row: 0, input: KEY_TO_INPUT[key] };
    return { field: "conditions", row: -1, input: "_" };
  }
  const top = /^([a-z_]+)/.exec(path)?.[1] ?? path;
  return { field: top };
}

// ---------------------------------------------------------------- targets
export interface EditTargets {
  all: boolean;
  site_ids: string[];
  group_ids: string[];
  device_ids: string[];
  os_types: string[];
}

export const ALL_DEVICES: EditTargets = { all: true, site_ids: [], group_ids: [], device_ids: [], os_types: [] };

export function targetsToJson(t: EditTargets): Record<string, unknown> {
  if (t.all) return { all: true };
  return { site_ids: t.site_ids, group_ids: t.group_ids, device_ids: t.device_ids, os_types: t.os_types };
}

export function targetsFromJson(v: unknown): EditTargets {
  if (!isObj(v) || v.all === true) return { ...ALL_DEVICES };
  const ids = (k: string) => (Array.isArray(v[k]) ? (v[k] as unknown[]).filter((x): x is string => typeof x === "string") : []);
  return { all: false, site_ids: ids("site_ids"), group_ids: ids("group_ids"), device_ids: ids("device_ids"), os_types: ids("os_types") };
}

export function targetsEmpty(t: EditTargets): boolean {
  return !t.all && t.site_ids.length + t.group_ids.length + t.device_ids.length + t.os_types.length === 0;
}

/** A one-line summary of a rule's conditions for lists ("CPU % > 90 for 5 min"). */
export function describeConditions(v: unknown): string {
  const c = conditionsFromJson(v);
  if (!c) return "Custom conditions";
  const one = (r: EditCondition): string => {
    if (r.kind === "metric") {
      const label = METRICS.find((m) => m.value === r.metric)?.label ?? r.metric;
      const dur = Number(r.duration) > 0 ? ` for ${r.duration} min` : "";
      return `${label} ${OPERATOR_LABELS[r.operator]} ${r.value}${dur}`;
    }
    if (r.kind === "status") return `Offline for ${r.duration} min`;
    if (r.kind === "no_data") return `No data for ${r.duration} min`;
    return `Software ${r.action}: ${r.pattern}`;
  };
  return c.rows.map(one).join(c.match === "all" ? " and " : " or ");
}

/**
 * An alert's context split for display: `conditions` (the engine's per-condition values) as
 * one list of label/value pairs each, the other keys as label/value pairs.
 */
export function splitContext(ctx: unknown): { conditions: Array<Array<[string, string]>>; rest: Array<[string, string]> } {
  if (!isObj(ctx)) return { conditions: [], rest: [] };
  const list = Array.isArray(ctx.conditions) && ctx.conditions.every(isObj) ? (ctx.conditions as Array<Record<string, unknown>>) : null;
  const rest = contextEntries(list ? Object.fromEntries(Object.entries(ctx).filter(([k]) => k !== "conditions")) : ctx);
  return { conditions: list ? list.map(contextEntries) : [], rest };
}

/** A context object as label/value pairs for display (nested values as compact JSON). */
export function contextEntries(ctx: unknown): Array<[string, string]> {
  if (!isObj(ctx)) return [];
  return Object.entries(ctx).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]);
}
