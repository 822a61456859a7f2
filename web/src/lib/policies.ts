// Desired-state policies in the console: the rule editor's per-type fields, conversion of
// rules to and from the server's JSON (crates/proto/src/api/policies.rs), where a 422's
// `rules[2].path` lands, and the compliance dashboard's view models (counts as shares, devices
// worst first with their failing rules).
import { isObj, text } from "./alerts";

// ---------------------------------------------------------------- rules
export interface RuleField {
  key: string;
  label: string;
  required: boolean;
  placeholder?: string;
  /** `script`: chosen from the script library; `multiline`: expected file content. */
  kind?: "text" | "script" | "multiline";
}

export const RULE_TYPES = [
  "service_running",
  "service_stopped",
  "package_installed",
  "package_absent",
  "file_exists",
  "file_absent",
  "config_value",
  "sysctl",
  "user_present",
  "user_absent",
  "firewall_enabled",
  "disk_encryption",
  "script",
] as const;
export type RuleType = (typeof RULE_TYPES)[number];

const req = (key: string, label: string, placeholder?: string): RuleField => ({ key, label, required: true, placeholder });
const opt = (key: string, label: string, placeholder?: string): RuleField => ({ key, label, required: false, placeholder });

export const RULES: Record<RuleType, { label: string; fields: RuleField[] }> = {
  service_running: { label: "Service running", fields: [req("name", "Service", "sshd")] },
  service_stopped: { label: "Service stopped", fields: [req("name", "Service", "telnet")] },
  package_installed: { label: "Package installed", fields: [req("name", "Package", "openssh-server"), opt("min_version", "Minimum version", "8.9")] },
  package_absent: { label: "Package absent", fields: [req("name", "Package", "telnetd")] },
  file_exists: {
    label: "File exists",
    fields: [req("path", "Path", "/etc/motd"), { ...opt("content", "Exact content"), kind: "multiline" }, opt("sha256", "SHA-256", "64 hex digits"), opt("mode", "Mode", "0644")],
  },
  file_absent: { label: "File absent", fields: [req("path", "Path", "/etc/hosts.equiv")] },
  config_value: {
    label: "Config value",
    fields: [req("path", "File", "/etc/ssh/sshd_config"), req("key", "Key", "PermitRootLogin"), req("value", "Value", "no"), opt("separator", "Separator", "= (default)")],
  },
  sysctl: { label: "Sysctl value", fields: [req("key", "Key", "net.ipv4.ip_forward"), req("value", "Value", "0")] },
  user_present: { label: "User present", fields: [req("name", "User", "backup")] },
  user_absent: { label: "User absent", fields: [req("name", "User", "guest")] },
  firewall_enabled: { label: "Firewall enabled", fields: [] },
  disk_encryption: { label: "Disk encryption on", fields: [] },
  script: { label: "Check script exits 0", fields: [{ ...req("script_id", "Check script"), kind: "script" }] },
};

export interface EditRule {
  /** Stable identity for rendering (not sent). */
  key: string;
  type: RuleType;
  /** Field values as typed, by field key (only the type's fields are sent). */
  values: Record<string, string>;
}

let keySeq = 0;
export function newRule(type: RuleType = "package_installed"): EditRule {
  return { key: `rule-${++keySeq}`, type, values: {} };
}

/** Switching type keeps values of fields the new type also has. */
export function changeRuleType(r: EditRule, type: RuleType): EditRule {
  const keys = new Set(RULES[type].fields.map((f) => f.key));
  return { ...r, type, values: Object.fromEntries(Object.entries(r.values).filter(([k]) => keys.has(k))) };
}

export function ruleToJson(r: EditRule): Record<string, unknown> {
  const out: Record<string, unknown> = { type: r.type };
  for (const f of RULES[r.type].fields) {
    const raw = r.values[f.key] ?? "";
    const v = f.kind === "multiline" ? raw : raw.trim();
    if (v !== "" || f.required) out[f.key] = v;
  }
  return out;
}

export const rulesToJson = (rules: EditRule[]) => rules.map(ruleToJson);

/** The server's rules as editor rows; null when one has a type this editor does not know. */
export function rulesFromJson(v: unknown): EditRule[] | null {
  if (!Array.isArray(v)) return null;
  const out: EditRule[] = [];
  for (const x of v) {
    if (!isObj(x)) return null;
    const type = RULE_TYPES.find((t) => t === x.type);
    if (!type) return null;
    const r = newRule(type);
    for (const f of RULES[type].fields) if (x[f.key] !== undefined && x[f.key] !== null) r.values[f.key] = text(x[f.key]);
    out.push(r);
  }
  return out;
}

/** Problems by rule (-1: the list as a whole) and field key, before asking the server. */
export type RuleErrors = Map<number, Partial<Record<string, string>>>;

export function validateRules(rules: EditRule[]): RuleErrors {
  const out: RuleErrors = new Map();
  if (rules.length === 0) out.set(-1, { _: "Add at least one rule." });
  rules.forEach((r, i) => {
    const e: Partial<Record<string, string>> = {};
    for (const f of RULES[r.type].fields) {
      const v = (r.values[f.key] ?? "").trim();
      if (f.required && !v) e[f.key] = f.kind === "script" ? "Choose a script." : `Enter the ${f.label.toLowerCase()}.`;
    }
    const sha = (r.values.sha256 ?? "").trim();
    if (r.type === "file_exists" && sha && !/^[0-9a-fA-F]{64}$/.test(sha)) e.sha256 = "64 hexadecimal digits.";
    const mode = (r.values.mode ?? "").trim();
    if (r.type === "file_exists" && mode && !/^0?[0-7]{3,4}$/.test(mode)) e.mode = "An octal mode such as 0644.";
    if (Object.keys(e).length) out.set(i, e);
  });
  return out;
}

/**
 * Where a 422's field path lands in the rule editor: `rules[2].path` (or `rules.2.path`) is
 * rule 2's path input, `rules[1]` rule 1 as a whole, `rules` the list. Null for other fields.
 */
export function ruleTarget(field: string): { row: number; input: string } | null {
  const m = /^rules(?:(?:\[(\d+)\]|\.(\d+))(?:\.([a-z0-9_]+))?)?/.exec(field);
  if (!m) return null;
  const idx = m[1] ?? m[2];
  if (idx === undefined) return { row: -1, input: "_" };
  return { row: Number(idx), input: m[3] ?? "_" };
}

/** A one-line summary of a rule ("Package openssh-server installed ≥ 8.9"). */
export function describeRule(v: unknown): string {
  if (!isObj(v)) return "—";
  const s = (k: string) => text(v[k]);
  switch (v.type) {
    case "service_running":
      return `Service ${s("name")} running`;
    case "service_stopped":
      return `Service ${s("name")} stopped`;
    case "package_installed":
      return `Package ${s("name")} installed${s("min_version") ? ` ≥ ${s("min_version")}` : ""}`;
    case "package_absent":
      return `Package ${s("name")} absent`;
    case "file_exists": {
      const extra = [s("content") && "with content", s("sha256") && "with hash", s("mode") && `mode ${s("mode")}`].filter(Boolean);
      return `File ${s("path")} exists${extra.length ? ` (${extra.join(", ")})` : ""}`;
    }
    case "file_absent":
      return `File ${s("path")} absent`;
    case "config_value":
      return `${s("path")}: ${s("key")}${s("separator") || "="}${s("value")}`;
    case "sysctl":
      return `sysctl ${s("key")} = ${s("value")}`;
    case "user_present":
      return `User ${s("name")} present`;
    case "user_absent":
      return `User ${s("name")} absent`;
    case "firewall_enabled":
      return "Firewall enabled";
    case "disk_encryption":
      return "Disk encryption on";
    case "script":
      return "Check script exits 0";
    default:
      return String(v.type ?? "—");
  }
}

// ---------------------------------------------------------------- enforcement
export const ENFORCEMENTS = ["monitor", "warn", "enforce"] as const;
export type Enforcement = (typeof ENFORCEMENTS)[number];
export const ENFORCEMENT_LABELS: Record<Enforcement, string> = {
  monitor: "Monitor: record compliance",
  warn: "Warn: record and raise an event",
  enforce: "Enforce: run the remediation script",
};

// ---------------------------------------------------------------- compliance
export const COMPLIANCE_STATUSES = ["compliant", "non_compliant", "unknown", "error"] as const;
export type ComplianceStatus = (typeof COMPLIANCE_STATUSES)[number];
/** Worst first: a device's overall status is its worst rule's. */
const SEVERITY: Record<string, number> = { error: 0, non_compliant: 1, unknown: 2, compliant: 3 };

export function complianceLabel(s: string): string {
  return s === "non_compliant" ? "Non-compliant" : s ? s[0].toUpperCase() + s.slice(1) : s;
}

export function complianceTone(s: string): "ok" | "danger" | "warn" | "muted" {
  return s === "compliant" ? "ok" : s === "non_compliant" ? "danger" : s === "error" ? "warn" : "muted";
}

/** The worst of `statuses` (none: unknown). */
export function worstStatus(statuses: readonly string[]): string {
  return statuses.reduce<string | null>((w, s) => (w === null || (SEVERITY[s] ?? 2) < (SEVERITY[w] ?? 2) ? s : w), null) ?? "unknown";
}

export interface Counts {
  compliant: number;
  non_compliant: number;
  unknown: number;
  error: number;
  total: number;
}

export interface CountsView {
  total: number;
  /** Whole percent of devices compliant (null with no devices). */
  percent: number | null;
  /** Bar segments in display order, zero counts left out; widths sum to 100. */
  segments: Array<{ status: ComplianceStatus; count: number; width: number }>;
}

export function countsView(c: Counts): CountsView {
  const total = c.total || c.compliant + c.non_compliant + c.unknown + c.error;
  const segments = COMPLIANCE_STATUSES.map((status) => ({ status, count: c[status], width: total ? (c[status] / total) * 100 : 0 })).filter((s) => s.count > 0);
  return { total, percent: total ? Math.floor((c.compliant / total) * 100) : null, segments };
}

/** One rule's result on one device, as the compliance endpoint gives it (fields used here). */
export interface RuleResult {
  rule_index: number;
  status: string;
  detail?: string | null;
}

export interface DeviceCompliance<R extends RuleResult = RuleResult> {
  device_id: string;
  hostname: string;
  status: string;
  rules: R[];
}

export type DeviceRow<D extends DeviceCompliance = DeviceCompliance> = D & {
  /** The rules not compliant, worst first, with the rule they check in words. */
  failing: Array<D["rules"][number] & { rule: string }>;
};

/**
 * The per-device table: worst devices first (then by hostname), each with the rules that are
 * not compliant described from the policy's rules.
 */
export function deviceRows<D extends DeviceCompliance>(devices: D[], rules: readonly unknown[]): Array<DeviceRow<D>> {
  return devices
    .map((d) => ({
      ...d,
      failing: d.rules
        .filter((r) => r.status !== "compliant")
        .sort((a, b) => (SEVERITY[a.status] ?? 2) - (SEVERITY[b.status] ?? 2) || a.rule_index - b.rule_index)
        .map((r) => ({ ...r, rule: describeRule(rules[r.rule_index]) })),
    }))
    .sort((a, b) => (SEVERITY[a.status] ?? 2) - (SEVERITY[b.status] ?? 2) || a.hostname.localeCompare(b.hostname));
}
