// Automations in the console: the builder's editable model of a trigger, run conditions and
// the ordered step tree (condition steps hold `then`/`else` lists), its conversion to and
// from the server's JSON (crates/proto/src/api/automations.rs), where a 422's field path
// lands in the builder, and the run views' labels and step-log ordering.
import type { ScriptParameter } from "../api/types";
import { isObj, num, text } from "./alerts";
import { describeCron } from "./cron";
import { initialValues, toPayload, validateParams, type ParamValues } from "./scriptParams";

// ---------------------------------------------------------------- trigger
export const TRIGGER_TYPES = ["manual", "schedule", "event", "webhook"] as const;
export type TriggerType = (typeof TRIGGER_TYPES)[number];
export const TRIGGER_LABELS: Record<TriggerType, string> = { manual: "Manual", schedule: "Schedule", event: "Event", webhook: "Webhook" };

export const EVENTS = ["device.enrolled", "device.offline", "alert.triggered", "script.failed", "software.changed"] as const;
export type EventName = (typeof EVENTS)[number];
export const EVENT_LABELS: Record<EventName, string> = {
  "device.enrolled": "A device enrolls",
  "device.offline": "A device is offline for some minutes",
  "alert.triggered": "An alert is raised",
  "script.failed": "A script fails",
  "software.changed": "Software is installed or removed",
};

export const MISSED = ["skip", "run_once"] as const;
export type Missed = (typeof MISSED)[number];
export const MISSED_LABELS: Record<Missed, string> = { skip: "Skip slots missed while the server was down", run_once: "Run once for the slots missed" };

/** The trigger form. Every type's fields are kept so switching type back loses nothing. */
export interface EditTrigger {
  type: TriggerType;
  cron: string;
  timezone: string;
  missed: Missed;
  event: EventName;
  /** device.offline: minutes (as typed). */
  minutes: string;
  /** alert.triggered: the rule ("" = any rule). */
  rule_id: string;
  /** script.failed: the script ("" = any script). */
  script_id: string;
}

export function newTrigger(timezone = "UTC"): EditTrigger {
  return { type: "manual", cron: "0 2 * * *", timezone, missed: "skip", event: "device.offline", minutes: "15", rule_id: "", script_id: "" };
}

export function triggerToJson(t: EditTrigger): Record<string, unknown> {
  switch (t.type) {
    case "schedule":
      return { type: "schedule", cron: t.cron.trim(), timezone: t.timezone, missed: t.missed };
    case "event": {
      const out: Record<string, unknown> = { type: "event", event: t.event };
      if (t.event === "device.offline") out.minutes = num(t.minutes);
      if (t.event === "alert.triggered" && t.rule_id) out.rule_id = t.rule_id;
      if (t.event === "script.failed" && t.script_id) out.script_id = t.script_id;
      return out;
    }
    default:
      return { type: t.type };
  }
}

export function triggerFromJson(v: unknown, timezone = "UTC"): EditTrigger {
  const t = newTrigger(timezone);
  if (!isObj(v)) return t;
  const type = TRIGGER_TYPES.find((x) => x === v.type) ?? "manual";
  const event = EVENTS.find((e) => e === v.event);
  return {
    ...t,
    type,
    cron: typeof v.cron === "string" ? v.cron : t.cron,
    timezone: typeof v.timezone === "string" ? v.timezone : t.timezone,
    missed: MISSED.find((m) => m === v.missed) ?? "skip",
    event: event ?? t.event,
    minutes: v.minutes === undefined || v.minutes === null ? t.minutes : text(v.minutes),
    rule_id: typeof v.rule_id === "string" ? v.rule_id : "",
    script_id: typeof v.script_id === "string" ? v.script_id : "",
  };
}

/** A one-line summary of a trigger for lists ("Every 5 minutes (Europe/Berlin)"). */
export function describeTrigger(v: unknown): string {
  if (!isObj(v)) return "—";
  if (v.type === "schedule") return `${describeCron(String(v.cron ?? ""))} (${String(v.timezone ?? "UTC")})`;
  if (v.type === "event") {
    if (v.event === "device.offline") return `Device offline for ${text(v.minutes) || "?"} min`;
    const e = EVENTS.find((x) => x === v.event);
    return e ? `On ${e}` : `On ${String(v.event)}`;
  }
  if (v.type === "webhook") return "Webhook";
  if (v.type === "manual") return "Manual";
  return String(v.type ?? "—");
}

// ---------------------------------------------------------------- run conditions
export interface TimeWindow {
  /** ISO weekdays, 1 = Monday … 7 = Sunday. */
  days: number[];
  start: string;
  end: string;
  timezone: string;
}

/** When a device is in scope at the start of a run; a device not matching is skipped with the reason. */
export interface EditRunConditions {
  os_types: string[];
  statuses: string[];
  site_ids: string[];
  /** Comma-separated, as typed. */
  tags: string;
  window: (TimeWindow & { on: boolean }) | null;
}

export const ISO_DAYS: Array<[number, string]> = [
  [1, "Mon"],
  [2, "Tue"],
  [3, "Wed"],
  [4, "Thu"],
  [5, "Fri"],
  [6, "Sat"],
  [7, "Sun"],
];

export function newRunConditions(timezone = "UTC"): EditRunConditions {
  return { os_types: [], statuses: [], site_ids: [], tags: "", window: { on: false, days: [1, 2, 3, 4, 5], start: "08:00", end: "18:00", timezone } };
}

export const splitList = (s: string): string[] =>
  s
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);

/** The `conditions` object, or null when nothing restricts the run. */
export function runConditionsToJson(c: EditRunConditions): Record<string, unknown> | null {
  const out: Record<string, unknown> = {};
  if (c.os_types.length) out.os_types = c.os_types;
  if (c.statuses.length) out.status = c.statuses;
  if (c.site_ids.length) out.site_ids = c.site_ids;
  const tags = splitList(c.tags);
  if (tags.length) out.tags = tags;
  if (c.window?.on) out.time_window = { days: c.window.days, start: c.window.start, end: c.window.end, timezone: c.window.timezone };
  return Object.keys(out).length ? out : null;
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : typeof v === "string" ? [v] : []);

export function runConditionsFromJson(v: unknown, timezone = "UTC"): EditRunConditions {
  const c = newRunConditions(timezone);
  if (!isObj(v)) return c;
  const w = isObj(v.time_window) ? v.time_window : null;
  return {
    os_types: strings(v.os_types),
    statuses: strings(v.status ?? v.statuses),
    site_ids: strings(v.site_ids),
    tags: strings(v.tags).join(", "),
    window: w
      ? {
          on: true,
          days: Array.isArray(w.days) ? w.days.filter((d): d is number => typeof d === "number") : [],
          start: typeof w.start === "string" ? w.start : "08:00",
          end: typeof w.end === "string" ? w.end : "18:00",
          timezone: typeof w.timezone === "string" ? w.timezone : timezone,
        }
      : c.window,
  };
}

const HHMM = /^([01]\d|2[0-3]):[0-5]\d$/;

export function validateRunConditions(c: EditRunConditions): Partial<Record<"days" | "start" | "end", string>> {
  const e: Partial<Record<"days" | "start" | "end", string>> = {};
  if (!c.window?.on) return e;
  if (c.window.days.length === 0) e.days = "Choose at least one day.";
  if (!HHMM.test(c.window.start)) e.start = "A time as HH:MM.";
  if (!HHMM.test(c.window.end)) e.end = "A time as HH:MM.";
  return e;
}

// ---------------------------------------------------------------- steps
export const STEP_TYPES = ["run_script", "notify", "update_device", "run_automation", "wait", "condition"] as const;
export type StepType = (typeof STEP_TYPES)[number];
export const STEP_LABELS: Record<StepType, string> = {
  run_script: "Run a script",
  notify: "Notify",
  update_device: "Update the device",
  run_automation: "Run another automation",
  wait: "Wait",
  condition: "Condition (if / else)",
};
/** The server's limit on steps in one automation, nested ones included. */
export const MAX_STEPS = 50;

export const WAIT_UNITS = [
  ["seconds", 1],
  ["minutes", 60],
  ["hours", 3600],
] as const;
export type WaitUnit = (typeof WAIT_UNITS)[number][0];

export const TESTS = ["exit_code", "output_contains"] as const;
export type ConditionTest = (typeof TESTS)[number];
export const TEST_LABELS: Record<ConditionTest, string> = { exit_code: "Exit code of the previous step", output_contains: "Output of the previous step contains" };
export const EXIT_OPS = ["eq", "ne"] as const;
export type ExitOp = (typeof EXIT_OPS)[number];
export const EXIT_OP_LABELS: Record<ExitOp, string> = { eq: "=", ne: "≠" };

/** A branch of a condition step. */
export type Branch = "then" | "else";
/** A step's place: indexes into lists, with `then`/`else` after a condition's index ([2, "then", 0]). */
export type StepPath = Array<number | Branch>;

interface Keyed {
  /** Stable identity for rendering (not sent). */
  key: string;
}
export type EditStep = Keyed &
  (
    | { type: "run_script"; script_id: string; parameters: ParamValues; timeout: string }
    | { type: "notify"; channel_ids: string[]; message: string }
    | { type: "update_device"; tags_add: string; tags_remove: string; display_name: string }
    | { type: "run_automation"; automation_id: string }
    | { type: "wait"; amount: string; unit: WaitUnit }
    | { type: "condition"; test: ConditionTest; op: ExitOp; value: string; then: EditStep[]; else: EditStep[] }
  );
export type StepOf<T extends StepType> = Extract<EditStep, { type: T }>;

let keySeq = 0;
const newKey = () => `step-${++keySeq}`;

export function newStep(type: StepType): EditStep {
  const key = newKey();
  switch (type) {
    case "run_script":
      return { key, type, script_id: "", parameters: {}, timeout: "" };
    case "notify":
      return { key, type, channel_ids: [], message: "" };
    case "update_device":
      return { key, type, tags_add: "", tags_remove: "", display_name: "" };
    case "run_automation":
      return { key, type, automation_id: "" };
    case "wait":
      return { key, type, amount: "5", unit: "minutes" };
    case "condition":
      return { key, type, test: "exit_code", op: "eq", value: "0", then: [], else: [] };
  }
}

/** "2.then.0", the server's step-log path. */
export const pathText = (p: StepPath): string => p.join(".");

/** The list a step lives in and its index there. */
function split(path: StepPath): { list: StepPath; index: number } {
  const index = path[path.length - 1];
  if (typeof index !== "number") throw new Error(`not a step path: ${pathText(path)}`);
  return { list: path.slice(0, -1), index };
}

/** Applies `fn` to the list at `listPath` ([] = the top level, [2, "else"] = step 2's else list). */
function mapList(steps: EditStep[], listPath: StepPath, fn: (list: EditStep[]) => EditStep[]): EditStep[] {
  if (listPath.length === 0) return fn(steps);
  const [i, branch, ...rest] = listPath;
  if (typeof i !== "number" || (branch !== "then" && branch !== "else")) throw new Error(`not a list path: ${pathText(listPath)}`);
  return steps.map((s, j) => {
    if (j !== i) return s;
    if (s.type !== "condition") throw new Error(`step ${pathText(listPath.slice(0, 1))} has no branches`);
    return { ...s, [branch]: mapList(s[branch], rest, fn) };
  });
}

export function stepAt(steps: EditStep[], path: StepPath): EditStep | undefined {
  let list = steps;
  let step: EditStep | undefined;
  for (let k = 0; k < path.length; k++) {
    const seg = path[k];
    if (typeof seg === "number") {
      step = list[seg];
      if (!step) return undefined;
    } else {
      if (step?.type !== "condition") return undefined;
      list = step[seg];
      step = undefined;
    }
  }
  return step;
}

/** Adds `step` to the list at `listPath`, at `index` (default: the end). */
export function insertStep(steps: EditStep[], listPath: StepPath, step: EditStep, index?: number): EditStep[] {
  return mapList(steps, listPath, (list) => {
    const at = index === undefined ? list.length : Math.max(0, Math.min(index, list.length));
    return [...list.slice(0, at), step, ...list.slice(at)];
  });
}

export function removeStep(steps: EditStep[], path: StepPath): EditStep[] {
  const { list, index } = split(path);
  return mapList(steps, list, (l) => l.filter((_, j) => j !== index));
}

export function replaceStep(steps: EditStep[], path: StepPath, step: EditStep): EditStep[] {
  const { list, index } = split(path);
  return mapList(steps, list, (l) => l.map((s, j) => (j === index ? step : s)));
}

/** Moves a step up (-1) or down (+1) within its own list; at either end nothing changes. */
export function moveStep(steps: EditStep[], path: StepPath, delta: -1 | 1): EditStep[] {
  const { list, index } = split(path);
  return mapList(steps, list, (l) => {
    const to = index + delta;
    if (to < 0 || to >= l.length) return l;
    const out = [...l];
    [out[index], out[to]] = [out[to], out[index]];
    return out;
  });
}

/** Steps in the tree, nested ones included (the server allows MAX_STEPS). */
export function countSteps(steps: EditStep[]): number {
  return steps.reduce((n, s) => n + 1 + (s.type === "condition" ? countSteps(s.then) + countSteps(s.else) : 0), 0);
}

/** Every step with its path, in execution-listing order (a condition, then its then list, then its else list). */
export function flattenSteps(steps: EditStep[], base: StepPath = []): Array<{ path: StepPath; step: EditStep }> {
  return steps.flatMap((step, i) => {
    const path = [...base, i];
    const here = [{ path, step }];
    if (step.type !== "condition") return here;
    return [...here, ...flattenSteps(step.then, [...path, "then"]), ...flattenSteps(step.else, [...path, "else"])];
  });
}

/** A script's parameter schema by id (the builder loads scripts; unknown ids give []). */
export type ParamsOf = (scriptId: string) => ScriptParameter[];

function waitSeconds(s: StepOf<"wait">): number | string {
  const n = num(s.amount);
  const mult = WAIT_UNITS.find(([u]) => u === s.unit)?.[1] ?? 1;
  return typeof n === "number" ? n * mult : n;
}

export function stepToJson(s: EditStep, paramsOf: ParamsOf): Record<string, unknown> {
  switch (s.type) {
    case "run_script": {
      const out: Record<string, unknown> = { type: s.type, script_id: s.script_id, parameters: toPayload(paramsOf(s.script_id), s.parameters) };
      if (s.timeout.trim()) out.timeout_seconds = num(s.timeout);
      return out;
    }
    case "notify":
      return { type: s.type, channel_ids: s.channel_ids, message: s.message };
    case "update_device": {
      const out: Record<string, unknown> = { type: s.type };
      const add = splitList(s.tags_add);
      const remove = splitList(s.tags_remove);
      if (add.length) out.tags_add = add;
      if (remove.length) out.tags_remove = remove;
      if (s.display_name.trim()) out.display_name = s.display_name.trim();
      return out;
    }
    case "run_automation":
      return { type: s.type, automation_id: s.automation_id };
    case "wait":
      return { type: s.type, seconds: waitSeconds(s) };
    case "condition": {
      const test = s.test === "exit_code" ? { exit_code: { [s.op]: num(s.value) } } : { output_contains: s.value };
      return { type: s.type, if: test, then: stepsToJson(s.then, paramsOf), else: stepsToJson(s.else, paramsOf) };
    }
  }
}

export function stepsToJson(steps: EditStep[], paramsOf: ParamsOf): Array<Record<string, unknown>> {
  return steps.map((s) => stepToJson(s, paramsOf));
}

function waitFrom(seconds: number): { amount: string; unit: WaitUnit } {
  for (const [unit, mult] of [...WAIT_UNITS].reverse()) if (seconds > 0 && seconds % mult === 0) return { amount: String(seconds / mult), unit };
  return { amount: String(seconds), unit: "seconds" };
}

/** One step of the server's JSON; null for a shape this builder cannot show. */
export function stepFromJson(v: unknown, paramsOf: ParamsOf): EditStep | null {
  if (!isObj(v)) return null;
  const key = newKey();
  switch (v.type) {
    case "run_script": {
      const id = typeof v.script_id === "string" ? v.script_id : "";
      const given = isObj(v.parameters) ? v.parameters : {};
      const parameters = { ...initialValues(paramsOf(id)) };
      for (const [k, x] of Object.entries(given)) parameters[k] = typeof x === "boolean" ? x : text(x);
      return { key, type: "run_script", script_id: id, parameters, timeout: text(v.timeout_seconds) };
    }
    case "notify":
      return { key, type: "notify", channel_ids: strings(v.channel_ids), message: typeof v.message === "string" ? v.message : "" };
    case "update_device": {
      return { key, type: "update_device", tags_add: strings(v.tags_add).join(", "), tags_remove: strings(v.tags_remove).join(", "), display_name: typeof v.display_name === "string" ? v.display_name : "" };
    }
    case "run_automation":
      return { key, type: "run_automation", automation_id: typeof v.automation_id === "string" ? v.automation_id : "" };
    case "wait":
      return typeof v.seconds === "number" ? { key, type: "wait", ...waitFrom(v.seconds) } : null;
    case "condition": {
      const cond = isObj(v.if) ? v.if : null;
      if (!cond) return null;
      const then = stepsFromJson(v.then ?? [], paramsOf);
      const els = stepsFromJson(v.else ?? [], paramsOf);
      if (!then || !els) return null;
      if (isObj(cond.exit_code)) {
        const op = EXIT_OPS.find((o) => o in (cond.exit_code as object));
        if (!op) return null;
        return { key, type: "condition", test: "exit_code", op, value: text((cond.exit_code as Record<string, unknown>)[op]), then, else: els };
      }
      if (typeof cond.output_contains === "string") return { key, type: "condition", test: "output_contains", op: "eq", value: cond.output_contains, then, else: els };
      return null;
    }
    default:
      return null;
  }
}

/** The server's `actions` as builder steps; null when any step is a shape the builder cannot show. */
export function stepsFromJson(v: unknown, paramsOf: ParamsOf): EditStep[] | null {
  if (!Array.isArray(v)) return null;
  const out = v.map((x) => stepFromJson(x, paramsOf));
  return out.every((s): s is EditStep => s !== null) ? out : null;
}

/** Problems by step (path text; "" = the list as a whole) and input, before asking the server. */
export type StepErrors = Map<string, Partial<Record<string, string>>>;

export function validateSteps(steps: EditStep[], paramsOf: ParamsOf): StepErrors {
  const out: StepErrors = new Map();
  if (steps.length === 0) out.set("", { _: "Add at least one step." });
  const total = countSteps(steps);
  if (total > MAX_STEPS) out.set("", { _: `At most ${MAX_STEPS} steps (this has ${total}).` });
  const whole = (s: string) => /^\d+$/.test(s.trim());
  for (const { path, step: s } of flattenSteps(steps)) {
    const e: Partial<Record<string, string>> = {};
    if (s.type === "run_script") {
      if (!s.script_id) e.script_id = "Choose a script.";
      else for (const [k, m] of Object.entries(validateParams(paramsOf(s.script_id), s.parameters))) e[`parameters.${k}`] = m;
      if (s.timeout.trim() && !(whole(s.timeout) && Number(s.timeout) > 0)) e.timeout_seconds = "Whole seconds, 1 or more.";
    } else if (s.type === "notify") {
      if (s.channel_ids.length === 0) e.channel_ids = "Choose at least one channel.";
      if (!s.message.trim()) e.message = "Write the message.";
    } else if (s.type === "update_device") {
      if (!splitList(s.tags_add).length && !splitList(s.tags_remove).length && !s.display_name.trim()) e.tags_add = "Add or remove a tag, or rename the device.";
    } else if (s.type === "run_automation") {
      if (!s.automation_id) e.automation_id = "Choose an automation.";
    } else if (s.type === "wait") {
      if (!(whole(s.amount) && Number(s.amount) > 0)) e.seconds = "A whole number, 1 or more.";
    } else if (s.type === "condition") {
      if (s.test === "exit_code" && !/^-?\d+$/.test(s.value.trim())) e.if = "An exit code (a whole number).";
      if (s.test === "output_contains" && !s.value) e.if = "The text to look for.";
      if (s.then.length + s.else.length === 0) e._ = "Add a step to “then” or “else”.";
    }
    if (Object.keys(e).length) out.set(pathText(path), e);
  }
  return out;
}

/** Which builder input a step's JSON key belongs to. */
const STEP_INPUTS = new Set(["type", "script_id", "parameters", "timeout_seconds", "channel_ids", "message", "tags_add", "tags_remove", "display_name", "automation_id", "seconds", "if"]);

export interface StepTarget {
  /** The step's path text ("" = the list as a whole). */
  path: string;
  /** The input within the step (`script_id`, `parameters.site`, …; `_` = the step itself). */
  input: string;
}

/**
 * Where a 422's field path lands among the steps: `actions[2].then[0].script_id` (or
 * `actions.2.then.0.script_id`) is step 2.then.0's script; `actions[1].parameters.site` that
 * step's `site` parameter; `actions` the list. Null when the path is not about the steps.
 */
export function stepTarget(field: string): StepTarget | null {
  const m = /^actions((?:(?:\[\d+\]|\.\d+)(?:\.(?:then|else))?)*)(?:\.(.+))?$/.exec(field);
  if (!m) return null;
  const path = [...m[1].matchAll(/\[(\d+)\]|\.(\d+)|\.(then|else)/g)].map((x) => x[1] ?? x[2] ?? x[3]).join(".");
  if (!path) return { path: "", input: "_" };
  const rest = m[2] ?? "";
  const head = rest.split(/[.[]/)[0];
  if (head === "parameters" && rest.length > "parameters".length) return { path, input: `parameters.${rest.slice("parameters.".length).replace(/\[.*$/, "")}` };
  if (head === "if" || head === "exit_code" || head === "output_contains") return { path, input: "if" };
  return { path, input: STEP_INPUTS.has(head) ? head : "_" };
}

/** A one-line summary of a step for lists and headings. */
export function describeStep(s: EditStep, names: { script?: (id: string) => string | undefined; automation?: (id: string) => string | undefined } = {}): string {
  switch (s.type) {
    case "run_script":
      return s.script_id ? `Run ${names.script?.(s.script_id) ?? "script"}` : "Run a script";
    case "notify":
      return `Notify ${s.channel_ids.length} ${s.channel_ids.length === 1 ? "channel" : "channels"}`;
    case "update_device": {
      const parts = [splitList(s.tags_add).map((t) => `+${t}`), splitList(s.tags_remove).map((t) => `−${t}`)].flat();
      return `Update the device${parts.length ? `: ${parts.join(" ")}` : ""}`;
    }
    case "run_automation":
      return s.automation_id ? `Run ${names.automation?.(s.automation_id) ?? "automation"}` : "Run another automation";
    case "wait":
      return `Wait ${s.amount} ${s.amount === "1" ? s.unit.replace(/s$/, "") : s.unit}`;
    case "condition":
      return s.test === "exit_code" ? `If exit code ${EXIT_OP_LABELS[s.op]} ${s.value}` : `If output contains “${s.value}”`;
  }
}

// ---------------------------------------------------------------- on failure
export const ON_FAILURE = ["stop", "continue", "notify"] as const;
export type OnFailure = (typeof ON_FAILURE)[number];
export const ON_FAILURE_LABELS: Record<OnFailure, string> = {
  stop: "Stop the device's run",
  continue: "Continue with the next step",
  notify: "Stop and notify channels",
};

// ---------------------------------------------------------------- runs
export const RUN_STATUSES = ["pending", "running", "completed", "failed", "partial", "interrupted", "cancelled"] as const;

export function runStatusTone(s: string): "ok" | "danger" | "warn" | "primary" | "muted" {
  if (s === "completed" || s === "succeeded" || s === "success") return "ok";
  if (s === "failed" || s === "interrupted" || s === "error" || s === "timeout" || s === "timed_out") return "danger";
  if (s === "partial" || s === "skipped") return "warn";
  if (s === "running" || s === "pending" || s === "waiting") return "primary";
  return "muted";
}

/** Not finished yet: the run page keeps polling. */
export function runActive(s: string): boolean {
  return s === "pending" || s === "running" || s === "waiting";
}

/**
 * Orders step-log paths as they run: "1" < "1.then.0" < "1.then.1" < "1.else.0" < "2"
 * (numbers numerically, then before else).
 */
export function comparePaths(a: string, b: string): number {
  const pa = a.split(".");
  const pb = b.split(".");
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    if (pa[i] === pb[i]) continue;
    const na = Number(pa[i]);
    const nb = Number(pb[i]);
    if (Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
    return pa[i] === "then" ? -1 : pb[i] === "then" ? 1 : pa[i].localeCompare(pb[i]);
  }
  return pa.length - pb.length;
}

/** How deep a path is nested (0 = top level), for indenting the step log. */
export const pathDepth = (p: string): number => p.split(".").filter((x) => x === "then" || x === "else").length;

/** "2.then.0" as people count: "3 → then → 1". */
export function pathLabel(p: string): string {
  return p
    .split(".")
    .map((x) => (/^\d+$/.test(x) ? String(Number(x) + 1) : x))
    .join(" → ");
}

// ---------------------------------------------------------------- server errors
export type AutomationSection = "name" | "description" | "org_id" | "enabled" | "trigger" | "targets" | "conditions" | "actions" | "on_failure" | "notify_channel_ids" | "_form";

/**
 * Where a 422's field path lands in the builder: the section, and within it the input
 * (`trigger.cron` → trigger/cron, `conditions.time_window.start` → conditions/start,
 * `actions[1].then[0].seconds` → actions/"1.then.0" + seconds, `notify_channel_ids[0]` →
 * notify_channel_ids). Unknown fields go to the form's own notice.
 */
export function automationErrorTarget(field: string): { section: AutomationSection; key?: string; input?: string } {
  const step = stepTarget(field);
  if (step) return { section: "actions", key: step.path, input: step.input };
  const [head, ...rest] = field.split(/[.[]/);
  const last = rest.filter((x) => x && !/^\d+\]?$/.test(x)).pop();
  switch (head) {
    case "trigger":
      return { section: "trigger", input: last ?? "_" };
    case "conditions":
      // The window's inputs have their own place; the device filters share the section's.
      return { section: "conditions", input: last && ["days", "start", "end", "timezone"].includes(last) ? last : "_" };
    case "name":
    case "description":
    case "org_id":
    case "enabled":
    case "targets":
    case "on_failure":
    case "notify_channel_ids":
      return { section: head };
    default:
      return { section: "_form" };
  }
}
