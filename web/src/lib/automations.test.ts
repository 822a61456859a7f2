import { describe, expect, it } from "vitest";
import type { ScriptParameter } from "../api/types";
import {
  automationErrorTarget,
  comparePaths,
  countSteps,
  describeStep,
  describeTrigger,
  flattenSteps,
  insertStep,
  moveStep,
  newStep,
  newTrigger,
  pathLabel,
  removeStep,
  replaceStep,
  runConditionsFromJson,
  runConditionsToJson,
  newRunConditions,
  stepAt,
  stepsFromJson,
  stepsToJson,
  stepTarget,
  triggerFromJson,
  triggerToJson,
  validateRunConditions,
  validateSteps,
  type EditStep,
  type StepOf,
} from "./automations";

const PARAMS: ScriptParameter[] = [
  { name: "path", type: "string", required: true, label: null, default: null, options: null, description: null },
  { name: "days", type: "number", required: false, label: null, default: 7, options: null, description: null },
];
const paramsOf = (id: string) => (id === "s-clean" ? PARAMS : []);

/** The tree without render keys, to compare shapes. */
const shape = (steps: EditStep[]): unknown => JSON.parse(JSON.stringify(steps, (k, v: unknown) => (k === "key" ? undefined : v)));

function script(id = "s-echo"): EditStep {
  return { ...newStep("run_script"), script_id: id } as EditStep;
}
function cond(then: EditStep[] = [], els: EditStep[] = []): StepOf<"condition"> {
  return { ...(newStep("condition") as StepOf<"condition">), then, else: els };
}

describe("step tree editing", () => {
  it("adds steps at the top level and inside then/else branches", () => {
    let steps: EditStep[] = [];
    steps = insertStep(steps, [], script());
    steps = insertStep(steps, [], cond());
    steps = insertStep(steps, [1, "then"], newStep("notify"));
    steps = insertStep(steps, [1, "else"], newStep("wait"));
    steps = insertStep(steps, [1, "else"], cond());
    steps = insertStep(steps, [1, "else", 1, "then"], newStep("update_device"));
    steps = insertStep(steps, [], newStep("run_automation"), 0);
    expect(flattenSteps(steps).map(({ path, step }) => `${path.join(".")}:${step.type}`)).toEqual([
      "0:run_automation",
      "1:run_script",
      "2:condition",
      "2.then.0:notify",
      "2.else.0:wait",
      "2.else.1:condition",
      "2.else.1.then.0:update_device",
    ]);
    expect(countSteps(steps)).toBe(7);
    expect(stepAt(steps, [2, "else", 1, "then", 0])?.type).toBe("update_device");
    expect(stepAt(steps, [2, "then", 5])).toBeUndefined();
    expect(stepAt(steps, [0, "then", 0])).toBeUndefined();
  });

  it("removes, replaces and moves within the step's own list only", () => {
    const a = script("a");
    const b = script("b");
    const c = script("c");
    let steps: EditStep[] = [a, cond([b, c]), script("d")];
    steps = moveStep(steps, [1, "then", 1], -1);
    expect((stepAt(steps, [1]) as StepOf<"condition">).then.map((s) => (s as StepOf<"run_script">).script_id)).toEqual(["c", "b"]);
    // At the ends nothing moves (never across into the parent list).
    expect(moveStep(steps, [1, "then", 0], -1)).toEqual(steps);
    expect(moveStep(steps, [2], 1)).toEqual(steps);
    steps = moveStep(steps, [0], 1);
    expect(steps.map((s) => s.type)).toEqual(["condition", "run_script", "run_script"]);
    steps = removeStep(steps, [0, "then", 0]);
    expect((steps[0] as StepOf<"condition">).then).toEqual([b]);
    const w = newStep("wait");
    steps = replaceStep(steps, [0, "then", 0], w);
    expect(stepAt(steps, [0, "then", 0])).toBe(w);
    // The original tree is untouched (immutable updates).
    expect((stepAt([a, cond([b, c])], [1]) as StepOf<"condition">).then).toEqual([b, c]);
  });

  it("refuses a branch of a step that is not a condition", () => {
    expect(() => insertStep([script()], [0, "then"], newStep("wait"))).toThrow(/no branches/);
  });
});

describe("steps JSON", () => {
  it("writes the contract's action shapes and reads them back", () => {
    const steps: EditStep[] = [
      { key: "1", type: "run_script", script_id: "s-clean", parameters: { path: "/tmp", days: "3" }, timeout: "120" },
      {
        key: "2",
        type: "condition",
        test: "exit_code",
        op: "eq",
        value: "0",
        then: [{ key: "3", type: "notify", channel_ids: ["c1"], message: "cleaned {{hostname}}" }],
        else: [
          { key: "4", type: "update_device", tags_add: "needs-care, disk", tags_remove: "healthy", display_name: "" },
          { key: "5", type: "wait", amount: "2", unit: "hours" },
          { key: "6", type: "condition", test: "output_contains", op: "eq", value: "No space", then: [{ key: "7", type: "run_automation", automation_id: "a9" }], else: [] },
        ],
      },
    ];
    const json = stepsToJson(steps, paramsOf);
    expect(json).toEqual([
      { type: "run_script", script_id: "s-clean", parameters: { path: "/tmp", days: 3 }, timeout_seconds: 120 },
      {
        type: "condition",
        if: { exit_code: { eq: 0 } },
        then: [{ type: "notify", channel_ids: ["c1"], message: "cleaned {{hostname}}" }],
        else: [
          { type: "update_device", tags_add: ["needs-care", "disk"], tags_remove: ["healthy"] },
          { type: "wait", seconds: 7200 },
          { type: "condition", if: { output_contains: "No space" }, then: [{ type: "run_automation", automation_id: "a9" }], else: [] },
        ],
      },
    ]);
    const back = stepsFromJson(json, paramsOf);
    expect(back).not.toBeNull();
    expect(shape(back ?? [])).toEqual(shape(steps));
  });

  it("fills a script's parameter defaults and keeps a wait in the largest whole unit", () => {
    const [s, w, w2] = stepsFromJson(
      [
        { type: "run_script", script_id: "s-clean", parameters: { path: "/var" } },
        { type: "wait", seconds: 90 },
        { type: "wait", seconds: 300 },
      ],
      paramsOf,
    ) as EditStep[];
    expect(s).toMatchObject({ parameters: { path: "/var", days: "7" }, timeout: "" });
    expect(w).toMatchObject({ amount: "90", unit: "seconds" });
    expect(w2).toMatchObject({ amount: "5", unit: "minutes" });
  });

  it("renames the device with update_device's display_name", () => {
    const json = stepsToJson([{ key: "1", type: "update_device", tags_add: "", tags_remove: "", display_name: " web-01 " }], paramsOf);
    expect(json).toEqual([{ type: "update_device", display_name: "web-01" }]);
    expect(stepsFromJson(json, paramsOf)?.[0]).toMatchObject({ display_name: "web-01", tags_add: "" });
  });

  it("sends a mistyped number as typed so the server names it", () => {
    const json = stepsToJson([{ key: "1", type: "wait", amount: "soon", unit: "seconds" }], paramsOf);
    expect(json).toEqual([{ type: "wait", seconds: "soon" }]);
  });

  it("refuses shapes the builder cannot show", () => {
    expect(stepsFromJson([{ type: "reboot" }], paramsOf)).toBeNull();
    expect(stepsFromJson([{ type: "condition", if: { exit_code: { between: [1, 2] } }, then: [], else: [] }], paramsOf)).toBeNull();
    expect(stepsFromJson([{ type: "condition", if: { exit_code: { eq: 0 } }, then: [{ type: "nope" }] }], paramsOf)).toBeNull();
    expect(stepsFromJson({}, paramsOf)).toBeNull();
  });
});

describe("step validation and server errors", () => {
  it("names the step and input of each problem", () => {
    const steps: EditStep[] = [
      { key: "1", type: "run_script", script_id: "s-clean", parameters: { path: "", days: "x" }, timeout: "0" },
      cond([{ key: "3", type: "notify", channel_ids: [], message: " " }], [{ key: "4", type: "wait", amount: "1.5", unit: "minutes" }]),
      cond(),
      { key: "6", type: "update_device", tags_add: "", tags_remove: "", display_name: " " },
    ];
    (steps[1] as StepOf<"condition">).value = "zero";
    const e = validateSteps(steps, paramsOf);
    expect(e.get("0")).toEqual({ "parameters.path": "Required.", "parameters.days": "Enter a number.", timeout_seconds: "Whole seconds, 1 or more." });
    expect(e.get("1")).toEqual({ if: "An exit code (a whole number)." });
    expect(e.get("1.then.0")).toEqual({ channel_ids: "Choose at least one channel.", message: "Write the message." });
    expect(e.get("1.else.0")).toEqual({ seconds: "A whole number, 1 or more." });
    expect(e.get("2")).toEqual({ _: "Add a step to “then” or “else”." });
    expect(e.get("3")).toEqual({ tags_add: "Add or remove a tag, or rename the device." });
    expect(validateSteps([], paramsOf).get("")).toEqual({ _: "Add at least one step." });
    expect(validateSteps([script()], paramsOf).size).toBe(0);
  });

  it("counts nested steps against the limit of 50", () => {
    const many = Array.from({ length: 49 }, () => script());
    expect(validateSteps([...many, cond([script()])], paramsOf).get("")?._).toMatch(/At most 50 steps \(this has 51\)/);
  });

  it.each([
    ["actions[2].then[0].script_id", { path: "2.then.0", input: "script_id" }],
    ["actions.2.else.1.seconds", { path: "2.else.1", input: "seconds" }],
    ["actions[0].parameters.path", { path: "0", input: "parameters.path" }],
    ["actions[1].if.exit_code", { path: "1", input: "if" }],
    ["actions[3]", { path: "3", input: "_" }],
    ["actions[3].type", { path: "3", input: "type" }],
    ["actions", { path: "", input: "_" }],
  ])("places %s", (field, target) => {
    expect(stepTarget(field)).toEqual(target);
  });

  it("leaves fields that are not about steps alone", () => {
    expect(stepTarget("trigger.cron")).toBeNull();
    expect(stepTarget("actionsx")).toBeNull();
  });
});

describe("trigger form", () => {
  it("writes each trigger type's contract shape and reads it back", () => {
    const base = newTrigger("Europe/Berlin");
    const cases: Array<[Partial<typeof base>, Record<string, unknown>]> = [
      [{ type: "manual" }, { type: "manual" }],
      [{ type: "webhook" }, { type: "webhook" }],
      [{ type: "schedule", cron: " */5 * * * * ", missed: "run_once" }, { type: "schedule", cron: "*/5 * * * *", timezone: "Europe/Berlin", missed: "run_once" }],
      [{ type: "event", event: "device.offline", minutes: "30" }, { type: "event", event: "device.offline", minutes: 30 }],
      [{ type: "event", event: "alert.triggered", rule_id: "r1" }, { type: "event", event: "alert.triggered", rule_id: "r1" }],
      [{ type: "event", event: "alert.triggered", rule_id: "" }, { type: "event", event: "alert.triggered" }],
      [{ type: "event", event: "script.failed", script_id: "s1" }, { type: "event", event: "script.failed", script_id: "s1" }],
      [{ type: "event", event: "device.enrolled", rule_id: "stale" }, { type: "event", event: "device.enrolled" }],
    ];
    for (const [edit, json] of cases) {
      expect(triggerToJson({ ...base, ...edit })).toEqual(json);
      expect(triggerToJson(triggerFromJson(json, "Europe/Berlin"))).toEqual(json);
    }
  });

  it("summarises triggers for the list", () => {
    expect(describeTrigger({ type: "schedule", cron: "*/5 * * * *", timezone: "Europe/Berlin" })).toBe("Every 5 minutes (Europe/Berlin)");
    expect(describeTrigger({ type: "event", event: "device.offline", minutes: 15 })).toBe("Device offline for 15 min");
    expect(describeTrigger({ type: "event", event: "script.failed" })).toBe("On script.failed");
    expect(describeTrigger({ type: "webhook" })).toBe("Webhook");
    expect(describeTrigger(null)).toBe("—");
  });
});

describe("run conditions", () => {
  it("sends nothing when nothing restricts the run", () => {
    expect(runConditionsToJson(newRunConditions("UTC"))).toBeNull();
  });

  it("writes device filters and the time window, and reads them back", () => {
    const c = { ...newRunConditions("Europe/Berlin"), os_types: ["linux"], statuses: ["online"], site_ids: ["s1"], tags: "prod, web ," };
    c.window = { on: true, days: [1, 2, 3], start: "08:00", end: "18:30", timezone: "Europe/Berlin" };
    const json = runConditionsToJson(c);
    expect(json).toEqual({ os_types: ["linux"], status: ["online"], site_ids: ["s1"], tags: ["prod", "web"], time_window: { days: [1, 2, 3], start: "08:00", end: "18:30", timezone: "Europe/Berlin" } });
    expect(runConditionsFromJson(json, "UTC")).toEqual({ ...c, tags: "prod, web" });
  });

  it("checks the window", () => {
    const c = newRunConditions();
    c.window = { on: true, days: [], start: "8:00", end: "24:00", timezone: "UTC" };
    expect(validateRunConditions(c)).toEqual({ days: "Choose at least one day.", start: "A time as HH:MM.", end: "A time as HH:MM." });
    c.window.on = false;
    expect(validateRunConditions(c)).toEqual({});
  });
});

describe("run views", () => {
  it("orders the step log as it ran", () => {
    const paths = ["2", "1.else.0", "10", "1", "1.then.1", "1.then.0", "0", "1.then.0.then.0"];
    expect([...paths].sort(comparePaths)).toEqual(["0", "1", "1.then.0", "1.then.0.then.0", "1.then.1", "1.else.0", "2", "10"]);
    expect(pathLabel("2.then.0")).toBe("3 → then → 1");
  });

  it("describes steps in words", () => {
    expect(describeStep({ key: "1", type: "wait", amount: "1", unit: "hours" })).toBe("Wait 1 hour");
    expect(describeStep({ key: "1", type: "update_device", tags_add: "a", tags_remove: "b", display_name: "" })).toBe("Update the device: +a −b");
    expect(describeStep(cond(), {})).toBe("If exit code = 0");
    expect(describeStep(script("s1"), { script: (id) => (id === "s1" ? "Clean temp" : undefined) })).toBe("Run Clean temp");
  });
});

describe("server errors in the builder", () => {
  it.each([
    ["trigger.cron", { section: "trigger", input: "cron" }],
    ["trigger", { section: "trigger", input: "_" }],
    ["trigger.timezone", { section: "trigger", input: "timezone" }],
    ["conditions.time_window.start", { section: "conditions", input: "start" }],
    ["conditions.time_window.days[0]", { section: "conditions", input: "days" }],
    ["conditions.os_types[1]", { section: "conditions", input: "_" }],
    ["actions[1].then[0].seconds", { section: "actions", key: "1.then.0", input: "seconds" }],
    ["actions", { section: "actions", key: "", input: "_" }],
    ["targets.group_ids[0]", { section: "targets" }],
    ["notify_channel_ids[0]", { section: "notify_channel_ids" }],
    ["name", { section: "name" }],
    ["something_else", { section: "_form" }],
  ])("%s", (field, target) => {
    expect(automationErrorTarget(field)).toEqual(target);
  });
});
