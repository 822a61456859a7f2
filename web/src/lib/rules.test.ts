import { describe, expect, it } from "vitest";
import { fromJson, matches, toJson, validateRules, type RuleSet } from "./rules";
import type { Device } from "../api/types";

const dev = (over: Partial<Device>): Device => ({
  id: "d",
  org_id: "o",
  org_name: "Org",
  site_id: "s1",
  site_name: "Site 1",
  hostname: "web-01",
  display_name: null,
  os_type: "linux",
  os_version: "Debian 12",
  architecture: "amd64",
  agent_version: "0.1.0",
  status: "online",
  last_seen_at: null,
  enrolled_at: null,
  tags: ["prod", "web"],
  created_at: "2026-01-01T00:00:00Z",
  updated_at: "2026-01-01T00:00:00Z",
  pending_reboot: false,
  token_suspended: false,
  trust_level: "low",
  ...over,
});

describe("rule JSON", () => {
  it("writes the server's shape and reads it back", () => {
    const rs: RuleSet = {
      match: "all",
      conditions: [
        { field: "os_type", op: "eq", value: "linux" },
        { field: "hostname", op: "in", value: "web-01, web-02" },
      ],
    };
    const json = toJson(rs);
    expect(json).toEqual({
      all: [
        { field: "os_type", op: "eq", value: "linux" },
        { field: "hostname", op: "in", value: ["web-01", "web-02"] },
      ],
    });
    expect(fromJson(json)).toEqual({ ...rs, conditions: [rs.conditions[0], { ...rs.conditions[1], value: "web-01, web-02" }] });
  });
  it("refuses shapes it does not know instead of guessing", () => {
    expect(fromJson(null)).toBeNull();
    expect(fromJson({ none: [] })).toBeNull();
    expect(fromJson({ all: [{ field: "cpu", op: "eq", value: 1 }] })).toBeNull();
    expect(fromJson({ all: [{ field: "os_type", op: "contains", value: "x" }] })).toBeNull();
  });
});

describe("validateRules", () => {
  it("asks for at least one condition and for values", () => {
    expect(validateRules({ match: "all", conditions: [] }).get(-1)).toMatch(/at least one/);
    const e = validateRules({ match: "all", conditions: [{ field: "hostname", op: "eq", value: " " }] });
    expect(e.get(0)).toMatch(/value/);
  });
  it("checks choices and operators", () => {
    expect(validateRules({ match: "all", conditions: [{ field: "os_type", op: "eq", value: "beos" }] }).get(0)).toMatch(/choices/);
    expect(validateRules({ match: "all", conditions: [{ field: "os_type", op: "contains", value: "linux" }] }).get(0)).toMatch(/does not apply/);
    expect(validateRules({ match: "any", conditions: [{ field: "tag", op: "eq", value: "prod" }] }).size).toBe(0);
  });
});

describe("matches (live preview)", () => {
  const devices = [dev({ id: "1" }), dev({ id: "2", hostname: "DB-01", os_type: "windows", tags: [] }), dev({ id: "3", hostname: "web-02", status: "offline" })];
  const count = (rs: RuleSet) => devices.filter((d) => matches(d, rs)).length;
  it("all = every condition", () => {
    expect(count({ match: "all", conditions: [{ field: "os_type", op: "eq", value: "linux" }, { field: "status", op: "eq", value: "online" }] })).toBe(1);
  });
  it("any = at least one", () => {
    expect(count({ match: "any", conditions: [{ field: "os_type", op: "eq", value: "windows" }, { field: "status", op: "eq", value: "offline" }] })).toBe(2);
  });
  it("text operators are case-insensitive; tags match as a set", () => {
    expect(count({ match: "all", conditions: [{ field: "hostname", op: "starts_with", value: "db" }] })).toBe(1);
    expect(count({ match: "all", conditions: [{ field: "hostname", op: "not_contains", value: "WEB" }] })).toBe(1);
    expect(count({ match: "all", conditions: [{ field: "tag", op: "eq", value: "prod" }] })).toBe(2);
    expect(count({ match: "all", conditions: [{ field: "tag", op: "neq", value: "prod" }] })).toBe(1);
    expect(count({ match: "all", conditions: [{ field: "hostname", op: "in", value: "web-01,db-01" }] })).toBe(2);
  });
  it("an empty rule set matches nothing", () => {
    expect(count({ match: "all", conditions: [] })).toBe(0);
  });
});
