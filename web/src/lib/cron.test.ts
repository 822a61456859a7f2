import { describe, expect, it } from "vitest";
import { cronProblem, describeCron, nextRuns, parseCron } from "./cron";

describe("cron parsing", () => {
  it("expands lists, ranges, steps and names", () => {
    const c = parseCron("*/15 8-10 1,15 jan-mar mon-fri");
    expect(c.minute).toEqual([0, 15, 30, 45]);
    expect(c.hour).toEqual([8, 9, 10]);
    expect(c.day).toEqual([1, 15]);
    expect(c.month).toEqual([1, 2, 3]);
    expect(c.weekday).toEqual([1, 2, 3, 4, 5]);
    expect(c.dayOr).toBe(true);
    expect(parseCron("0 0 * * 7").weekday).toEqual([0]);
    expect(parseCron("5/20 * * * *").minute).toEqual([5, 25, 45]);
  });

  it("names the field that is wrong", () => {
    expect(cronProblem("*/5 * * *")).toMatch(/5 fields.*has 4/);
    expect(cronProblem("61 * * * *")).toMatch(/outside 0–59 in the minute field/);
    expect(cronProblem("0 24 * * *")).toMatch(/hour field/);
    expect(cronProblem("0 0 0 * *")).toMatch(/day of month/);
    expect(cronProblem("*/0 * * * *")).toMatch(/step/);
    expect(cronProblem("0 0 * * x")).toMatch(/day of week/);
    expect(cronProblem("0 5-1 * * *")).toMatch(/backwards/);
    expect(cronProblem("*/5 * * * *")).toBeNull();
  });
});

describe("cron preview text", () => {
  it.each([
    ["* * * * *", "Every minute"],
    ["*/5 * * * *", "Every 5 minutes"],
    ["0 * * * *", "Every hour"],
    ["30 */6 * * *", "Every 6 hours at 30 minutes past"],
    ["30 2 * * *", "At 02:30"],
    ["0 9,17 * * 1-5", "At 09:00 and 17:00 on weekdays"],
    ["0 3 * * 0,6", "At 03:00 at weekends"],
    ["15 4 1 * *", "At 04:15 on day 1 of the month"],
    ["0 2 * * mon,fri", "At 02:00 on Monday and Friday"],
    ["0 0 1 1 *", "At 00:00 on day 1 of the month in January"],
    ["not cron", "Cron “not cron”"],
  ])("%s → %s", (expr, text) => {
    expect(describeCron(expr)).toBe(text);
  });
});

describe("next runs in a time zone", () => {
  it("counts wall-clock time in the automation's zone", () => {
    // 2026-01-10 12:00 UTC is 13:00 in Berlin (CET).
    expect(nextRuns("30 14 * * *", "Europe/Berlin", new Date("2026-01-10T12:00:00Z"), 2)).toEqual(["2026-01-10 14:30", "2026-01-11 14:30"]);
    expect(nextRuns("*/5 * * * *", "UTC", new Date("2026-01-10T12:03:10Z"))).toEqual(["2026-01-10 12:05", "2026-01-10 12:10", "2026-01-10 12:15"]);
  });

  it("skips a local time that does not exist and fires once for one that repeats", () => {
    // Berlin springs forward on 2026-03-29 (02:00 → 03:00): 02:30 does not exist that day.
    expect(nextRuns("30 2 * * *", "Europe/Berlin", new Date("2026-03-27T12:00:00Z"), 3)).toEqual(["2026-03-28 02:30", "2026-03-30 02:30", "2026-03-31 02:30"]);
    // It falls back on 2026-10-25 (03:00 → 02:00): 02:30 happens twice, fires once.
    expect(nextRuns("30 2 * * *", "Europe/Berlin", new Date("2026-10-24T12:00:00Z"), 2)).toEqual(["2026-10-25 02:30", "2026-10-26 02:30"]);
  });

  it("finds rare slots and gives nothing for a bad expression or zone", () => {
    expect(nextRuns("0 0 29 2 *", "UTC", new Date("2026-01-01T00:00:00Z"), 1)).toEqual(["2028-02-29 00:00"]);
    expect(nextRuns("bad", "UTC", new Date())).toEqual([]);
    expect(nextRuns("* * * * *", "Not/AZone", new Date())).toEqual([]);
  });
});
