// A script's parameter schema (Script.parameters) → a form, its validation and the values
// sent to POST /scripts/:id/execute.
import type { ScriptParameter } from "../api/types";

export type ParamValues = Record<string, string | boolean>;

/** Accepts the list form `[{name,type,...}]` and the JSON-Schema-like `{properties:{...}}` form. */
export function normalizeParams(raw: unknown): ScriptParameter[] {
  if (Array.isArray(raw)) return raw.filter((p): p is ScriptParameter => !!p && typeof p === "object" && typeof (p as ScriptParameter).name === "string");
  if (raw && typeof raw === "object" && "properties" in raw) {
    const o = raw as { properties: Record<string, Record<string, unknown>>; required?: string[] };
    return Object.entries(o.properties ?? {}).map(([name, p]) => ({
      name,
      label: (p.title as string) ?? null,
      type: Array.isArray(p.enum) ? "select" : p.type === "integer" ? "number" : String(p.type ?? "string"),
      required: o.required?.includes(name) ?? false,
      default: (p.default as string | number | boolean | null) ?? null,
      options: Array.isArray(p.enum) ? (p.enum as unknown[]).map(String) : null,
      description: (p.description as string) ?? null,
    }));
  }
  return [];
}

export function initialValues(params: ScriptParameter[]): ParamValues {
  const v: ParamValues = {};
  for (const p of params) {
    if (p.type === "boolean") v[p.name] = p.default === true || p.default === "true";
    else v[p.name] = p.default === null || p.default === undefined ? "" : String(p.default);
  }
  return v;
}

export function validateParams(params: ScriptParameter[], values: ParamValues): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const p of params) {
    const v = values[p.name];
    if (p.type === "boolean") continue;
    const s = typeof v === "string" ? v.trim() : "";
    if (!s) {
      if (p.required) errors[p.name] = "Required.";
      continue;
    }
    if (p.type === "number" && !Number.isFinite(Number(s))) errors[p.name] = "Enter a number.";
    if (p.type === "select" && p.options && !p.options.includes(s)) errors[p.name] = "Pick one of the options.";
  }
  return errors;
}

/** Values as the server wants them: numbers as numbers, empty optional fields left out. */
export function toPayload(params: ScriptParameter[], values: ParamValues): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const p of params) {
    const v = values[p.name];
    if (p.type === "boolean") out[p.name] = !!v;
    else if (typeof v === "string" && v.trim() !== "") out[p.name] = p.type === "number" ? Number(v) : v;
  }
  return out;
}
