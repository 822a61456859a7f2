import { describe, expect, it } from "vitest";
import {
  conditionsFromJson,
  conditionsToJson,
  describeConditions,
  fieldTarget,
  newCondition,
  splitContext,
  targetsFromJson,
  targetsToJson,
  validateConditions,
  type EditConditions,
} from "./alerts";

describe("alert rule conditions JSON", () => {
  it("writes the seed's shapes inside all/any and reads them back", () => {
    const c: EditConditions = {
      match: "any",
      rows: [
        { kind: "metric", metric: "cpu_percent", operator: "gt", value: "90", duration: "5" },
        { kind: "status", status: "offline", duration: "10" },
        { kind: "software", action: "removed", pattern: "Antivirus*" },
        { kind: "no_data", duration: "30" },
        { kind: "metric", metric: "custom.app_response_time_ms", operator: "gte", value: "5000", duration: "" },
      ],
    };
    const json = conditionsToJson(c);
    expect(json).toEqual({
      any: [
        { metric: "cpu_percent", operator: "gt", value: 90, duration_minutes: 5 },
        { type: "status", status: "offline", duration_minutes: 10 },
        { type: "software_change", action: "removed", name_pattern: "Antivirus*" },
        { type: "no_data", duration_minutes: 30 },
        { metric: "custom.app_response_time_ms", operator: "gte", value: 5000 },
      ],
    });
    expect(conditionsFromJson(json)).toEqual(c);
  });

  it("reads a single bare condition as one row", () => {
    expect(conditionsFromJson({ metric: "disk_percent", operator: "gt", value: 90 })).toEqual({
      match: "all",
      rows: [{ kind: "metric", metric: "disk_percent", operator: "gt", value: "90", duration: "" }],
    });
  });

  it("refuses shapes the editor cannot show", () => {
    expect(conditionsFromJson({ all: [{ any: [] }] })).toBeNull();
    expect(conditionsFromJson({ metric: "cpu_percent", operator: "between", value: 1 })).toBeNull();
    expect(conditionsFromJson({ all: [], any: [] })).toBeNull();
    expect(conditionsFromJson("cpu")).toBeNull();
  });

  it("sends a mistyped number as typed so the server names it", () => {
    const json = conditionsToJson({ match: "all", rows: [{ kind: "metric", metric: "cpu_percent", operator: "gt", value: "ninety", duration: "" }] });
    expect(json).toEqual({ all: [{ metric: "cpu_percent", operator: "gt", value: "ninety" }] });
  });

  it("checks rows before saving", () => {
    const errs = validateConditions({
      match: "all",
      rows: [
        { kind: "metric", metric: "custom", operator: "gt", value: "", duration: "-1" },
        newCondition("status"),
        { kind: "software", action: "installed", pattern: " " },
      ],
    });
    expect(errs.get(0)).toEqual({ metric: expect.any(String), value: "Enter a number.", duration_minutes: expect.any(String) });
    expect(errs.has(1)).toBe(false);
    expect(errs.get(2)?.name_pattern).toBeTruthy();
    expect(validateConditions({ match: "all", rows: [] }).get(-1)).toBeTruthy();
  });

  it("summarises a rule for the list", () => {
    expect(describeConditions({ all: [{ metric: "ram_percent", operator: "gte", value: 0 }, { type: "status", status: "offline", duration_minutes: 5 }] })).toBe(
      "Memory % ≥ 0 and Offline for 5 min",
    );
    expect(describeConditions({ all: [{ weird: 1 }] })).toBe("Custom conditions");
  });
});

describe("server error paths", () => {
  it("land on the row and input they name", () => {
    expect(fieldTarget("conditions.all[1].operator")).toEqual({ field: "conditions", row: 1, input: "operator" });
    expect(fieldTarget("conditions.any[0].duration_minutes")).toEqual({ field: "conditions", row: 0, input: "duration_minutes" });
    expect(fieldTarget("conditions.all[2]")).toEqual({ field: "conditions", row: 2, input: "_" });
    expect(fieldTarget("conditions.value")).toEqual({ field: "conditions", row: 0, input: "value" });
    expect(fieldTarget("conditions.all")).toEqual({ field: "conditions", row: -1, input: "_" });
    expect(fieldTarget("conditions")).toEqual({ field: "conditions", row: -1, input: "_" });
    expect(fieldTarget("targets.site_ids[0]")).toEqual({ field: "targets" });
    expect(fieldTarget("notification_channels[1]")).toEqual({ field: "notification_channels" });
    expect(fieldTarget("name")).toEqual({ field: "name" });
  });
});

describe("alert context", () => {
  it("lists each evaluated condition, then the other values", () => {
    const ctx = { match: "all", conditions: [{ metric: "ram_percent", value: 5.7, threshold: 0 }], note: { a: 1 } };
    expect(splitContext(ctx)).toEqual({
      conditions: [
        [
          ["metric", "ram_percent"],
          ["value", "5.7"],
          ["threshold", "0"],
        ],
      ],
      rest: [
        ["match", "all"],
        ["note", '{"a":1}'],
      ],
    });
    expect(splitContext({ conditions: "x" }).rest).toEqual([["conditions", "x"]]);
    expect(splitContext(null)).toEqual({ conditions: [], rest: [] });
  });
});

describe("targets JSON", () => {
  it("all devices, or the chosen sites, groups, devices and OS", () => {
    expect(targetsToJson(targetsFromJson({ all: true }))).toEqual({ all: true });
    const t = targetsFromJson({ site_ids: ["s"], os_types: ["linux"], junk: 1 });
    expect(t).toEqual({ all: false, site_ids: ["s"], group_ids: [], device_ids: [], os_types: ["linux"] });
    expect(targetsToJson(t)).toEqual({ site_ids: ["s"], group_ids: [], device_ids: [], os_types: ["linux"] });
  });
});
