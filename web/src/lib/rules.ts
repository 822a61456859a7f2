// Dynamic device-group rules: `{"all": [{"field": "os_type", "op": "eq", "value": "linux"}]}`
// (or `"any"`), as CreateDeviceGroup.rules in crates/proto/src/api.rs documents them.
import type { Device } from "../api/types";

export type Match = "all" | "any";
export type Op = "eq" | "neq" | "contains" | "not_contains" | "starts_with" | "in";

export interface Condition {
  field: RuleField;
  op: Op;
  value: string;
}
export interface RuleSet {
  match: Match;
  conditions: Condition[];
}

export type RuleField = "os_type" | "os_version" | "hostname" | "status" | "tag" | "architecture" | "agent_version" | "site_id";

export interface FieldInfo {
  field: RuleField;
  label: string;
  ops: Op[];
  /** Fixed choices; free text when absent. */
  choices?: { value: string; label: string }[];
}

export const OP_LABELS: Record<Op, string> = {
  eq: "is",
  neq: "is not",
  contains: "contains",
  not_contains: "does not contain",
  starts_with: "starts with",
  in: "is one of (comma separated)",
};

export const FIELDS: FieldInfo[] = [
  {
    field: "os_type",
    label: "Operating system",
    ops: ["eq", "neq"],
    choices: [
      { value: "windows", label: "Windows" },
      { value: "macos", label: "macOS" },
      { value: "linux", label: "Linux" },
    ],
  },
  { field: "os_version", label: "OS version", ops: ["eq", "neq", "contains", "starts_with"] },
  { field: "hostname", label: "Hostname", ops: ["eq", "neq", "contains", "not_contains", "starts_with", "in"] },
  {
    field: "status",
    label: "Status",
    ops: ["eq", "neq"],
    choices: ["online", "offline", "maintenance", "quarantined"].map((v) => ({ value: v, label: v })),
  },
  { field: "tag", label: "Tag", ops: ["eq", "neq"] },
  { field: "architecture", label: "Architecture", ops: ["eq", "neq"] },
  { field: "agent_version", label: "Agent version", ops: ["eq", "neq", "starts_with"] },
  { field: "site_id", label: "Site", ops: ["eq", "neq"] },
];

export function fieldInfo(field: string): FieldInfo | undefined {
  return FIELDS.find((f) => f.field === field);
}

export function emptyCondition(): Condition {
  return { field: "os_type", op: "eq", value: "windows" };
}

export function toJson(rs: RuleSet): Record<string, unknown> {
  return {
    [rs.match]: rs.conditions.map((c) => ({
      field: c.field,
      op: c.op,
      value: c.op === "in" ? splitList(c.value) : c.value.trim(),
    })),
  };
}

/** Reads stored rules back; unknown shapes give null so the UI can say so instead of guessing. */
export function fromJson(v: unknown): RuleSet | null {
  if (!v || typeof v !== "object") return null;
  const o = v as Record<string, unknown>;
  const match: Match | null = Array.isArray(o.all) ? "all" : Array.isArray(o.any) ? "any" : null;
  if (!match) return null;
  const conditions: Condition[] = [];
  for (const raw of o[match] as unknown[]) {
    if (!raw || typeof raw !== "object") return null;
    const c = raw as Record<string, unknown>;
    const info = fieldInfo(String(c.field));
    if (!info || !info.ops.includes(c.op as Op)) return null;
    const value = Array.isArray(c.value) ? c.value.join(", ") : String(c.value ?? "");
    conditions.push({ field: info.field, op: c.op as Op, value });
  }
  return { match, conditions };
}

function splitList(s: string): string[] {
  return s
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);
}

/** One message per condition that is not ready to save (index → message). */
export function validateRules(rs: RuleSet): Map<number, string> {
  const errors = new Map<number, string>();
  if (rs.conditions.length === 0) errors.set(-1, "Add at least one condition.");
  rs.conditions.forEach((c, i) => {
    const info = fieldInfo(c.field);
    if (!info) errors.set(i, "Unknown field.");
    else if (!info.ops.includes(c.op)) errors.set(i, `“${OP_LABELS[c.op]}” does not apply to ${info.label}.`);
    else if (!c.value.trim()) errors.set(i, "Enter a value.");
    else if (info.choices && !info.choices.some((ch) => ch.value === c.value)) errors.set(i, "Pick one of the choices.");
  });
  return errors;
}

function deviceValues(d: Device, field: RuleField): string[] {
  switch (field) {
    case "tag":
      return d.tags ?? [];
    case "site_id":
      return d.site_id ? [d.site_id] : [];
    default: {
      const v = d[field];
      return v === null || v === undefined ? [] : [String(v)];
    }
  }
}

export function conditionMatches(d: Device, c: Condition): boolean {
  const values = deviceValues(d, c.field).map((v) => v.toLowerCase());
  const want = c.value.trim().toLowerCase();
  switch (c.op) {
    case "eq":
      return values.includes(want);
    case "neq":
      return !values.includes(want);
    case "contains":
      return values.some((v) => v.includes(want));
    case "not_contains":
      return !values.some((v) => v.includes(want));
    case "starts_with":
      return values.some((v) => v.startsWith(want));
    case "in": {
      const list = splitList(want);
      return values.some((v) => list.includes(v));
    }
  }
}

export function matches(d: Device, rs: RuleSet): boolean {
  if (rs.conditions.length === 0) return false;
  return rs.match === "all"
    ? rs.conditions.every((c) => conditionMatches(d, c))
    : rs.conditions.some((c) => conditionMatches(d, c));
}
